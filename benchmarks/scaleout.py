"""One process against 2 local shards on each scale-out launcher, in the same run.

    python benchmarks/scaleout.py [--docs 120] [--seed 0] [--launchers submitit_local ray joblib]
                                  [--threads-per-shard N] [--workdir DIR] [--json results.json]

A synthetic folder of --docs remissvar (benchmarks/batch.py's corpus: paragraphs of the labelled
responses recombined, words perturbed so the encoder sees new sentences), then with the default
offline config (kb-sbert falling back to the bundled e5; embedding is nearly all the work) and a
fresh embedding cache for every configuration, each through the real console script:

- one process: `stance predict input=… output=…`;
- per launcher, the shard multirun `stance predict -m … run.num_shards=2 'run.shard=range(2)'
  hydra/launcher=<launcher>` then `stance merge`. `ray` runs on a Ray head node started for it
  (`ray start --head`, not timed in the sweep: its start is reported apart) inside its own network
  namespace with only loopback, and PID namespace, as tests/test_cluster.py does.

Reported per launcher: wall time of the sweep, of the merge, their sum, the speed-up of one process
over the sum (one / (sweep + merge)), and whether the merged predictions.jsonl and matrix.csv are
byte-identical to the one process's. `--threads-per-shard` sets the threads of the bundled encoder
(`+embedder.fallback.num_threads`: the default config falls back to it offline) in each shard (default:
the encoder's own choice, one per core in every process, so 2 shards on 2 cores contend).
The machine may be shared: the load average before and after each timing is recorded. The last line
printed is a JSON summary (also written to --json).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from batch import build_corpus  # noqa: E402 - benchmarks/batch.py, beside this script

STANCE = Path(sys.executable).with_name("stance")
SHARDS = ["run.num_shards=2", "run.shard=range(2)"]
LAUNCHER_ARGS = {
    "submitit_local": ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=120"],
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "ray": ["hydra/launcher=ray", "+hydra.launcher.ray.init.address=127.0.0.1:6381",
            "+hydra.launcher.ray.init.object_store_memory=null"],
}
RAY = """
set -u
ip link set lo up
t0=$(date +%s.%N)
ray start --head --node-ip-address=127.0.0.1 --port=6381 --num-cpus=2 --include-dashboard=false \\
  --disable-usage-stats --object-store-memory=100000000 --temp-dir={temp} > {temp}/ray-start.log 2>&1 || exit 97
echo "ray start seconds: $(python3 -c "import time; print(round(time.time() - $t0, 2))")"
t1=$(date +%s.%N)
"$@"
rc=$?
echo "sweep seconds: $(python3 -c "import time; print(round(time.time() - $t1, 3))")"
ray stop --force > /dev/null 2>&1
exit $rc
"""


def load() -> float:
    return round(os.getloadavg()[0], 2)


def timed(cmd: list[str], env: dict, log: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{(proc.stdout + proc.stderr)[-3000:]}")
    return round(wall, 2), proc.stdout + proc.stderr


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--launchers", nargs="+", default=["submitit_local", "ray"], choices=sorted(LAUNCHER_ARGS))
    ap.add_argument("--threads-per-shard", type=int, default=None)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="scaleout-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    corpus = build_corpus(work / "corpus", args.docs, args.seed, verbatim=False)
    base_env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    common = [f"input={work / 'corpus'}", "run.progress=false"]

    def env(name: str) -> dict:
        return {**base_env, "REMISS_CACHE": str(work / f"cache-{name}")}  # fresh: every run embeds everything

    before = load()
    one_s, _ = timed([str(STANCE), "predict", *common, f"output={work / 'one'}"], env("one"), work / "one.log")
    one = json.loads((work / "one" / "manifest.json").read_text(encoding="utf-8"))
    results = {"one_process": {"wall_s": one_s, "sentences": one["sentences_processed"],
                               "documents": one["documents"], "encoder": one["encoder"]["name"],
                               "load_before": before, "load_after": load()}}
    threads = [f"+embedder.fallback.num_threads={args.threads_per_shard}"] if args.threads_per_shard else []
    for launcher in args.launchers:
        sweep, merged = work / launcher, work / f"{launcher}-merged"
        cmd = [str(STANCE), "predict", "-m", *common, f"output={sweep}", *SHARDS, *threads, *LAUNCHER_ARGS[launcher]]
        before = load()
        if launcher == "ray":
            temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
            script = RAY.format(temp=temp)
            _, out = timed(["unshare", "--net", "--pid", "--fork", "--mount-proc", "bash", "-c", script, "ray", *cmd],
                           env(launcher), work / f"{launcher}.log")
            shutil.rmtree(temp, ignore_errors=True)
            lines = dict(line.split(": ", 1) for line in out.splitlines() if line.endswith(tuple("0123456789"))
                         and line.split(": ", 1)[0] in ("ray start seconds", "sweep seconds"))
            sweep_s, extra = float(lines["sweep seconds"]), {"ray_start_s": float(lines["ray start seconds"])}
        else:
            sweep_s, _ = timed(cmd, env(launcher), work / f"{launcher}.log")
            extra = {}
        merge_s, _ = timed([str(STANCE), "merge", str(sweep), f"output={merged}"], env(launcher),
                           work / f"{launcher}-merge.log")
        shards = [json.loads((sweep / str(i) / "manifest.json").read_text(encoding="utf-8")) for i in range(2)]
        identical = all((merged / f).read_bytes() == (work / "one" / f).read_bytes()
                        for f in ("predictions.jsonl", "matrix.csv"))
        total = round(sweep_s + merge_s, 2)
        results[launcher] = {"sweep_s": sweep_s, "merge_s": merge_s, "total_s": total,
                             "speedup_vs_one_process": round(one_s / total, 3), "identical_to_one_process": identical,
                             "shard_documents": [m["documents"] for m in shards],
                             "shard_wall_s": [round(sum(m["wall_time_s"].values()), 2) for m in shards],
                             "load_before": before, "load_after": load(), **extra}
        print(f"{launcher}: sweep {sweep_s} s + merge {merge_s} s = {total} s vs one process {one_s} s "
              f"(x{results[launcher]['speedup_vs_one_process']}), identical outputs: {identical}", flush=True)
    summary = {"corpus": corpus, "cores": len(os.sched_getaffinity(0)), "threads_per_shard": args.threads_per_shard,
               "results": results, "workdir": str(work)}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary))
    return 0 if all(r.get("identical_to_one_process", True) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
