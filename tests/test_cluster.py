"""Scale-out on real engines: the shard multirun through Hydra's submitit launcher (local executor: one
process per job, as on a SLURM node) and through the Ray launcher on a Ray cluster the test starts,
then `stance merge`; each must give the same outputs as one process. A fault test kills one shard's
worker mid-run: rerunning that shard resumes from its parts and the merge is still identical.

The Ray cluster runs in its own network namespace (only a loopback interface: Ray listens on every
interface it has, so here that is 127.0.0.1 alone, and nothing can leave the machine) and its own
PID namespace (`ray stop` there sees only this cluster's processes; all of them end with it).

Marked `cluster`; they need the `cluster` extra (pip install -e ".[dev,cluster]", as .ci/run does).
Where it is missing they skip, saying so, unless REMISS_REQUIRE_CLUSTER=1 (set by .ci/run): then they fail.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers import STANCE_SCRIPT, copies, outputs_of, run_main

pytestmark = pytest.mark.cluster
NO_EMBED = ("embedder=null", "linker=lexical")
SHARDS = ("run.num_shards=2", "run.shard=range(2)")


def need(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("REMISS_REQUIRE_CLUSTER") == "1":
            pytest.fail(f"{what} is not installed (pip install -e '.[dev,cluster]')")
        pytest.skip(f"{what} is not installed (pip install -e '.[dev,cluster]')")


def stance_cmd() -> list[str]:
    return [str(STANCE_SCRIPT)] if STANCE_SCRIPT.exists() else [sys.executable, "-m", "pipeline.cli"]


def env_for(cache_dir, hf_home) -> dict:
    bin_dir = str(Path(sys.executable).parent)  # `ray` and `stance` of this environment, activated or not
    return {**os.environ, "HF_HUB_OFFLINE": "1", "REMISS_CACHE": str(cache_dir), "HF_HOME": str(hf_home),
            "RAY_USAGE_STATS_ENABLED": "0", "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, cache_dir, hf_home):
    """12 documents and the outputs of one process over them."""
    root = tmp_path_factory.mktemp("cluster")
    inp = copies(root / "in", 12)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env_for(cache_dir, hf_home).items():
            mp.setenv(k, v)
        assert run_main(["predict", f"input={inp}", f"output={root / 'one'}", *NO_EMBED, "run.progress=false"]) == 0
    return root, inp, outputs_of(root / "one")


def merged(sweep: Path, out: Path) -> dict:
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".")) == ["0", "1"]
    assert run_main(["merge", str(sweep), f"output={out}"]) == 0
    return outputs_of(out)


def test_submitit_local_shards_then_merge_equal_one_process(corpus, cache_dir, hf_home):
    need("hydra_plugins.hydra_submitit_launcher", "hydra-submitit-launcher")
    root, inp, one = corpus
    sweep = root / "submitit"
    proc = subprocess.run([*stance_cmd(), "predict", "-m", f"input={inp}", f"output={sweep}", *NO_EMBED, *SHARDS,
                           "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10", "run.progress=false"],
                          env=env_for(cache_dir, hf_home), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Submitit 'local' sweep output dir" in proc.stdout + proc.stderr
    assert (sweep / ".submitit").is_dir()  # the jobs really went through submitit
    assert merged(sweep, root / "submitit-merged") == one


RAY_SCRIPT = """
set -u
ip link set lo up
ray start --head --node-ip-address=127.0.0.1 --port={port} --num-cpus=2 --include-dashboard=false \\
  --disable-usage-stats --object-store-memory=100000000 --temp-dir={temp} > {temp}/ray-start.log 2>&1 || \\
  {{ cat {temp}/ray-start.log; exit 97; }}
"$@"
rc=$?
ray stop --force > /dev/null 2>&1
exit $rc
"""


def in_ray_cluster(args: list[str], env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run `args` beside a fresh Ray head node, in a network namespace with only loopback and a PID
    namespace of its own."""
    need("ray", "ray")
    need("hydra_plugins.hydra_ray_launcher", "hydra-ray-launcher")
    if not (shutil.which("unshare") and shutil.which("ip")):
        pytest.skip("unshare or ip (util-linux, iproute2) missing: cannot start Ray on loopback only")
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must stay under 108 bytes
    try:
        script = RAY_SCRIPT.format(port=6380, temp=temp)
        return subprocess.run(["unshare", "--net", "--pid", "--fork", "--mount-proc", "bash", "-c", script, "ray",
                               *args], env=env, capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


RAY_LAUNCHER = ("hydra/launcher=ray", "+hydra.launcher.ray.init.address=127.0.0.1:6380",
                # the launcher adds object_store_memory, which ray.init refuses when joining a cluster
                "+hydra.launcher.ray.init.object_store_memory=null")


def test_ray_shards_on_a_local_cluster_then_merge_equal_one_process(corpus, cache_dir, hf_home):
    root, inp, one = corpus
    sweep = root / "ray"
    proc = in_ray_cluster([*stance_cmd(), "predict", "-m", f"input={inp}", f"output={sweep}", *NO_EMBED, *SHARDS,
                           *RAY_LAUNCHER, "run.progress=false"], env_for(cache_dir, hf_home))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "Connected to Ray cluster" in proc.stdout + proc.stderr  # the jobs ran on the cluster we started
    assert merged(sweep, root / "ray-merged") == one


def lock_holder(folder: Path) -> int | None:
    """The pid of the process that holds `folder/.lock` open: the worker running that shard."""
    lock = str(folder / ".lock")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == lock for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    return None


def test_a_shard_whose_worker_is_killed_reruns_from_its_parts_and_the_merge_is_identical(tmp_path, cache_dir,
                                                                                       hf_home):
    need("hydra_plugins.hydra_submitit_launcher", "hydra-submitit-launcher")
    inp = copies(tmp_path / "in", 60)
    env = env_for(cache_dir, hf_home)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        assert run_main(["predict", f"input={inp}", f"output={tmp_path / 'one'}", *NO_EMBED, "run.progress=false"]) == 0
    sweep = tmp_path / "sweep"
    slow = ("run.batch_sentences=1", "run.workers=0", "run.progress=false")
    sweep_run = subprocess.Popen([*stance_cmd(), "predict", "-m", f"input={inp}", f"output={sweep}", *NO_EMBED, *SHARDS,
                                  *slow, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    victim, deadline = None, time.monotonic() + 300
    while sweep_run.poll() is None and time.monotonic() < deadline:
        if len(list((sweep / "1" / "parts").glob("*.json"))) >= 5:
            victim = lock_holder(sweep / "1")
            if victim is not None:
                break
        time.sleep(0.01)
    assert victim is not None and victim != sweep_run.pid, "shard 1's worker was not found running"
    os.kill(victim, signal.SIGKILL)
    stderr = sweep_run.communicate(timeout=300)[1]
    assert sweep_run.returncode != 0  # the sweep reports the lost job
    assert not (sweep / "1" / "manifest.json").exists() and (sweep / "0" / "manifest.json").exists(), stderr[-2000:]
    done_before = len(list((sweep / "1" / "parts").glob("*.json")))
    assert done_before >= 5

    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        assert run_main(["predict", f"input={inp}", f"output={sweep / '1'}", *NO_EMBED, "run.shard=1",
                         "run.num_shards=2", *slow]) == 0
        from helpers import manifest

        assert manifest(sweep / "1")["skipped_done"] >= done_before  # resumed, not redone
        assert run_main(["merge", str(sweep), f"output={tmp_path / 'merged'}"]) == 0
    assert outputs_of(tmp_path / "merged") == outputs_of(tmp_path / "one")
