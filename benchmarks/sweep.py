"""What a sweep saves: `stance evaluate -m experiment=glob(*)` against the same experiments run one by one.

Three ways, each timed end to end (process start included), in one run of this script:
  sweep      one multirun over every experiment (joblib launcher, 2 jobs), one fresh embedding cache
  separate   each experiment its own `stance evaluate`, each with a fresh cache (separate machines or
             users: nothing shared)
  sequential each experiment its own `stance evaluate`, one after another, sharing one fresh cache

It prints per-run wall time, encoder and cache hits/misses (from each manifest), and writes --json.
Offline (HF_HUB_OFFLINE=1): kb-* encoders fall back to e5-bundled, finetune-kb-bert fails fast.

    python benchmarks/sweep.py [--workdir DIR] [--json out.json] [--experiments a,b,...]
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
STANCE = [str(Path(sys.executable).with_name("stance"))] if Path(sys.executable).with_name("stance").exists() \
    else [sys.executable, "-m", "pipeline.cli"]


def run(args: list[str], cache: Path) -> tuple[float, int]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "REMISS_CACHE": str(cache)}
    t0 = time.perf_counter()
    proc = subprocess.run(STANCE + args, env=env, cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - t0, proc.returncode


def job_summary(d: Path) -> dict:
    if (d / "failed.json").is_file():
        return {"failed": json.loads((d / "failed.json").read_text())["error"][:100]}
    if not (d / "manifest.json").is_file():
        return {"failed": "no manifest (the run stopped with an error)"}
    m = json.loads((d / "manifest.json").read_text())
    emb = m.get("embedding") or {}
    return {"encoder": (m.get("encoder") or {}).get("name"), "cache_hits": emb.get("cache_hits"),
            "cache_misses": emb.get("cache_misses"), "stage_s": round(sum(m["wall_time_s"].values()), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--experiments", default=",".join(sorted(p.stem for p in (ROOT / "configs" / "experiment").glob("*.yaml"))))
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    names = args.experiments.split(",")
    load0 = os.getloadavg()[0]

    sweep_s, rc = run(["evaluate", "-m", f"experiment={','.join(names)}", "hydra/launcher=joblib",
                       "hydra.launcher.n_jobs=2", f"output={work / 'sweep'}"], work / "cache-sweep")
    sweep_jobs = {}
    for d in sorted((work / "sweep").iterdir()):
        if d.is_dir() and (d / ".hydra" / "overrides.yaml").is_file():
            over = (d / ".hydra" / "overrides.yaml").read_text()
            name = next((n for n in names if f"experiment={n}" in over), d.name)
            sweep_jobs[name] = job_summary(d)

    separate, sequential = {}, {}
    for n in names:
        s, _ = run(["evaluate", f"experiment={n}", f"output={work / 'separate' / n}"], work / f"cache-{n}")
        separate[n] = {"wall_s": round(s, 2), **job_summary(work / "separate" / n)}
    for n in names:
        s, _ = run(["evaluate", f"experiment={n}", f"output={work / 'sequential' / n}"], work / "cache-shared")
        sequential[n] = {"wall_s": round(s, 2), **job_summary(work / "sequential" / n)}
    load1 = os.getloadavg()[0]

    sep_total = sum(r["wall_s"] for r in separate.values())
    seq_total = sum(r["wall_s"] for r in sequential.values())
    print(f"experiments: {', '.join(names)}  (load average before/after: {load0:.2f}/{load1:.2f}, 2 cores)")
    print(f"\n{'experiment':<20} {'sweep job':<44} {'separate (own cache)':<44} {'sequential (shared cache)':<44}")

    def cell(r):
        took = f"{r['wall_s']}s" if "wall_s" in r else f"{r.get('stage_s', '?')}s in stages"
        if "failed" in r:
            return f"{took if 'wall_s' in r else ''} failed".strip()
        return f"{took} {r['encoder']} hits {r['cache_hits']} misses {r['cache_misses']}"

    for n in names:
        print(f"{n:<20} {cell(sweep_jobs.get(n, {'failed': 1})):<44} {cell(separate[n]):<44} {cell(sequential[n]):<44}")
    print(f"\nsweep (one command, joblib 2 jobs, exit {rc}): {sweep_s:.1f} s")
    print(f"separate runs, own caches, summed:         {sep_total:.1f} s  ({sep_total / sweep_s:.2f}x the sweep)")
    print(f"sequential runs, shared cache, summed:     {seq_total:.1f} s  ({seq_total / sweep_s:.2f}x the sweep)")
    result = {"experiments": names, "sweep_s": round(sweep_s, 2), "sweep_exit": rc, "sweep_jobs": sweep_jobs,
              "separate": separate, "separate_total_s": round(sep_total, 2), "sequential": sequential,
              "sequential_total_s": round(seq_total, 2), "loadavg": [load0, load1], "workdir": str(work)}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
