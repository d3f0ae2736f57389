"""`stance compare <run or multirun dirs…> [--metric M] [--output DIR] [--boot N] [--seed S]`: evaluate runs
side by side, with bootstrap 95% CIs over documents, and a paired test of the best two.

Each run is scored again from its predictions and the hand labels, cell by cell (pipeline/core/runs.py),
so that the metric can be bootstrapped (pipeline/evaluation/bootstrap.py). Writes compare.csv,
compare.md, compare.png and paired_test.json; prints the Markdown table and a plain-language line on
the paired test.
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.runs import Run, config_value, differing_keys, find_runs, load_run
from ..errors import UserError
from ..evaluation.bootstrap import (ALPHA, METRICS, N_BOOT, SEED, bootstrap_ci, mcnemar, paired_bootstrap,
                                    shared_cells)
from ..files import atomic_write, csv_text, write_json

DEFAULT_METRIC = "macro_f1"
FEW_DOCUMENTS = 30  # below this, the plain-language line warns that the test has little power


def paired_test(a: Run, b: Run, metric: str, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """Paired bootstrap and McNemar between two runs on the cells they share."""
    keys, left_out = shared_cells(a.cells, b.cells)
    result = {"metric": metric, "a": _run_ref(a), "b": _run_ref(b), "n_cells": len(keys),
              "n_documents": len({d for d, _ in keys}), "cells_left_out": left_out}
    if not keys:
        result.update(skipped="the two runs share no labelled cell with the same gold stance")
        result["summary"] = f"no paired test: {a.label} and {b.label} share no labelled cell"
        return result
    ca, cb = a.cells.select(keys), b.cells.select(keys)
    result["identical_predictions"] = bool(np.array_equal(ca.pred, cb.pred))  # stances; evidence may differ
    result["bootstrap"] = {**paired_bootstrap(ca, cb, metric, n_boot, seed), "seed": seed}
    result["mcnemar"] = mcnemar(ca, cb)
    p = result["bootstrap"]["p_value"]
    result["significant"] = bool(not math.isnan(p) and p < ALPHA)
    result["summary"] = paired_line(result)
    return result


def _run_ref(run: Run) -> dict:
    return {"label": run.label, "path": str(run.path)}


def _signed(x: float) -> str:
    return "nan" if x is None or math.isnan(x) else f"{x:+.3f}"


def _p(p: float) -> str:
    return "nan" if math.isnan(p) else f"{p:.2g}"


def paired_line(result: dict) -> str:
    """The paired test in one sentence a reader can act on."""
    boot, mc = result["bootstrap"], result["mcnemar"]
    n_docs, n_cells = result["n_documents"], result["n_cells"]
    docs = f"with only {n_docs} documents" if n_docs < FEW_DOCUMENTS else f"over {n_docs} documents"
    left = sum(result["cells_left_out"].values())
    cells = f"{n_cells} shared cells" + (f", {left} not shared left out" if left else "")
    head = f"{result['a']['label']} vs {result['b']['label']}: {result['metric']}"
    if result["identical_predictions"] and boot["difference"] == 0 and boot["ci95"] == [0.0, 0.0]:
        return f"{head} difference 0, p=1: identical predictions on the {cells} ({docs})"
    lo, hi = boot["ci95"]
    verdict = "significant" if result["significant"] else "not significant"
    # No resample as extreme: the p-value is below what n_boot resamples can resolve.
    boot_p = f"p<={_p(boot['p_value'])}" if boot.get("n_as_extreme") == 0 else f"p={_p(boot['p_value'])}"
    discordant = mc["a_right_b_wrong"] + mc["a_wrong_b_right"]
    mc_text = ("McNemar: no discordant cells, p=1" if discordant == 0 else
               f"McNemar: {mc['a_right_b_wrong']} cells only the first gets right, {mc['a_wrong_b_right']} only "
               f"the second, p={_p(mc['p_value'])}")
    return (f"{head} difference {_signed(boot['difference'])} [{_signed(lo)}, {_signed(hi)}], "
            f"{boot_p}: {verdict} at {ALPHA}, {docs} ({cells}); {mc_text}")


# ------------------------------------------------------------------------------------------- table


def encoder_text(manifest: dict) -> str:
    info = manifest.get("encoder")
    if not info:
        return "none"
    text = str(info.get("name") or info.get("model") or "?")
    if info.get("fallback_from"):
        text += f" (fallback from {info['fallback_from']})"
    return text


def _wall_time(manifest: dict) -> float | None:
    stages = manifest.get("wall_time_s")
    return round(float(sum(stages.values())), 3) if stages else None


def _cache(manifest: dict, key: str):
    return (manifest.get("embedding") or {}).get(key)


def sort_runs(runs: list[Run], metric: str) -> list[Run]:
    """Scored runs best first (undefined metric last, ties in input order), then failed jobs."""
    ok = [r for r in runs if r.ok]
    ranked = sorted(ok, key=lambda r: (math.isnan(r.scores[metric]), -np.nan_to_num(r.scores[metric])))
    return ranked + [r for r in runs if not r.ok]


def table_rows(runs: list[Run], metric: str, keys: list[str]) -> list[dict]:
    """One dict per run, in table order; numbers stay numbers (None where undefined) for the CSV."""
    rows = []
    for rank, run in enumerate(runs, 1):
        row = {"rank": rank if run.ok else None, "run": run.label, "status": run.status}
        row.update({k: (config_value(run.config, k) if run.ok else "") for k in keys})
        if run.ok:
            row.update({"n_documents": len(run.cells.documents), "n_cells": len(run.cells.keys)})
            row.update({m: _num(run.scores[m]) for m in METRICS})
            row.update({f"{metric}_ci_low": _num(run.ci[0]), f"{metric}_ci_high": _num(run.ci[1])})
            m = run.manifest
            row.update({"protocol": run.metrics.get("protocol") or "-", "encoder": encoder_text(m),
                        "wall_time_s": _wall_time(m), "cache_hits": _cache(m, "cache_hits"),
                        "cache_misses": _cache(m, "cache_misses")})
        row.update({"path": str(run.path), "error": run.error or ""})
        rows.append(row)
    return rows


def _num(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _cell(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(rows: list[dict], metric: str, keys: list[str]) -> str:
    """The scored runs as a Markdown table; `|` in a value is escaped so a label cannot break it."""
    head = ["#", "run", *keys, "docs", "cells", *METRICS, f"{metric} 95% CI", "protocol", "encoder", "wall s",
            "cache hits/misses"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        if r["status"] != "ok":
            continue
        ci = (f"[{_cell(r[f'{metric}_ci_low'])}, {_cell(r[f'{metric}_ci_high'])}]"
              if r[f"{metric}_ci_low"] is not None else "-")
        cache = "-" if r["cache_hits"] is None and r["cache_misses"] is None else f"{r['cache_hits']}/{r['cache_misses']}"
        cells = [r["rank"], r["run"], *(r[k] for k in keys), r["n_documents"], r["n_cells"],
                 *(r[m] for m in METRICS), ci, r["protocol"], r["encoder"], _cell(r["wall_time_s"], 1), cache]
        lines.append("| " + " | ".join(_cell(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def comparison_csv(rows: list[dict]) -> str:
    """compare.csv: one row per run, spreadsheet-safe (a run label like `-m x=1` is not a formula)."""
    fields = list(dict.fromkeys(k for r in rows for k in r))
    return csv_text([fields] + [[r.get(k) for k in fields] for r in rows])


def plot(runs: list[Run], metric: str, path: Path) -> None:
    """The metric per run with its bootstrap CI, best at the top; an explicit Agg canvas, no global backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = [r for r in runs if r.ok and not math.isnan(r.scores[metric])]
    fig = Figure(figsize=(10, 1.2 + 0.45 * max(len(shown), 1)))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    y = np.arange(len(shown))[::-1]
    values = np.array([r.scores[metric] for r in shown])
    lo = np.array([r.ci[0] for r in shown])
    hi = np.array([r.ci[1] for r in shown])
    err = np.vstack([np.nan_to_num(values - lo), np.nan_to_num(hi - values)]) if shown else None
    ax.errorbar(values, y, xerr=err, fmt="o", capsize=4, color="tab:blue")
    ax.set_yticks(y, [_short(r.label) for r in shown])
    ax.set_xlabel(f"{metric} (95% CI, documents resampled)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{metric} per run")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _short(text: str, width: int = 70) -> str:
    """Cut the middle, not the end: a label's tail tells two runs with the same overrides apart."""
    if len(text) <= width:
        return text
    keep = (width - 1) // 2
    return text[:keep] + "…" + text[len(text) - keep :]


# ----------------------------------------------------------------------------------------- compare


@dataclass
class Comparison:
    runs: list[Run]  # table order: best first, failed jobs last
    metric: str
    keys: list[str]
    paired: dict
    n_boot: int
    seed: int
    multiruns: list[Path]
    notes: list[str]

    @property
    def rows(self) -> list[dict]:
        return table_rows(self.runs, self.metric, self.keys)

    def markdown(self) -> str:
        ok = [r for r in self.runs if r.ok]
        lines = [f"# Compare: {self.metric}, {len(ok)} scored run(s)", ""]
        if ok:
            lines += [markdown_table(self.rows, self.metric, self.keys), ""]
            lines.append(f"95% CI: percentile bootstrap over documents ({self.n_boot} resamples, seed {self.seed}).")
        else:
            lines.append("No run could be scored.")
        failed = [r for r in self.runs if not r.ok]
        if failed:
            lines += ["", "Failed jobs:"] + [f"- {r.label} ({r.path}): {r.error}" for r in failed]
        lines += ["", f"Paired test: {self.paired['summary']}"]
        if self.notes:
            lines += ["", "Notes:"] + [f"- {w}" for w in self.notes]
        return "\n".join(lines) + "\n"


def _unique_labels(runs: list[Run]) -> None:
    """Two runs with the same overrides (separate output dirs) get their dir added to the label."""
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r in runs:
        if seen[r.label] > 1:
            r.label = f"{r.label} [{r.path.parent.name}/{r.path.name}]"


def _consistency_warnings(run: Run) -> list[str]:
    """Recomputed scores must equal metrics.json; if not, the labels changed since the run."""
    out = []
    for m in METRICS:
        recorded, now = run.metrics.get(m), run.scores[m]
        if recorded is None and math.isnan(now):
            continue
        if recorded is None or math.isnan(now) or abs(float(recorded) - now) > 1e-9:
            out.append(f"{run.label}: {m} recomputed from predictions.jsonl is {_cell(_num(now))}, metrics.json "
                       f"says {_cell(recorded)} (labels changed since the run?); the table uses the recomputed value")
    return out


def provenance_notes(runs: list[Run], partial_keys: list[str]) -> list[str]:
    """What a reader must know before trusting a difference: other data, other code."""
    notes = []
    hashes = {r.manifest.get("data_hash") for r in runs} - {None}
    if len(hashes) > 1:
        notes.append("the runs were made on different data (data_hash " + ", ".join(sorted(hashes)) + ")")
    commits = {(r.manifest.get("git") or {}).get("commit") for r in runs} - {None}
    if len(commits) > 1:
        notes.append(f"the runs come from {len(commits)} git commits")
    if partial_keys:
        notes.append("config keys only some runs have (another code version?), not in the table: "
                     + ", ".join(partial_keys))
    return notes


def compare(paths, metric: str = DEFAULT_METRIC, n_boot: int = N_BOOT, seed: int = SEED) -> Comparison:
    """Load, score, bootstrap and rank the runs under `paths`; test the best two. Writes nothing."""
    if metric not in METRICS:
        raise UserError("compare", f"unknown metric '{metric}' (expected one of {', '.join(METRICS)})")
    if n_boot < 1:
        raise UserError("compare", "--boot must be at least 1")
    dirs, multiruns = find_runs(paths)
    gold_cache: dict = {}
    runs = [load_run(d, gold_cache) for d in dirs]
    _unique_labels(runs)
    notes = [w for r in runs if r.ok for w in _consistency_warnings(r)]
    for r in runs:
        if r.ok:
            r.ci = bootstrap_ci(r.cells, metric, n_boot, seed)
    runs = sort_runs(runs, metric)
    ok = [r for r in runs if r.ok]
    keys, partial = differing_keys([r.config for r in ok]) if len(ok) > 1 else ([], [])
    notes += provenance_notes(ok, partial)
    if len(ok) >= 2:
        paired = paired_test(ok[0], ok[1], metric, n_boot, seed)
    else:
        reason = "only one scored run" if ok else "no scored run"
        paired = {"metric": metric, "skipped": reason, "summary": f"no paired test: {reason}"}
    return Comparison(runs, metric, keys, paired, n_boot, seed, multiruns, notes)


def write_outputs(comparison: Comparison, out_dir) -> dict[str, Path]:
    """compare.csv, compare.md, compare.png and paired_test.json in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("compare.csv", "compare.md", "compare.png", "paired_test.json")}
    atomic_write(paths["compare.csv"], comparison_csv(comparison.rows))
    atomic_write(paths["compare.md"], comparison.markdown())
    plot(comparison.runs, comparison.metric, paths["compare.png"])
    write_json(_json_safe(comparison.paired), paths["paired_test.json"])
    return paths


def _json_safe(value):
    """NaN is not JSON: write null instead."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def default_output(multiruns: list[Path]) -> Path:
    return multiruns[0] if multiruns else Path.cwd() / "compare"


# -------------------------------------------------------------------------------------------- CLI


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise UserError("compare", message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="stance compare", description="Compare `stance evaluate` runs: table, bootstrap CIs over "
                                                   "documents, a paired test of the best two.")
    p.add_argument("dirs", nargs="+", help="run dirs and/or multirun dirs (searched for run dirs)")
    p.add_argument("--metric", default=DEFAULT_METRIC, choices=METRICS, help="metric to rank, bootstrap and test")
    p.add_argument("--output", help="where to write (default: the first multirun dir given, else ./compare)")
    p.add_argument("--boot", type=int, default=N_BOOT, help="bootstrap resamples (default %(default)s)")
    p.add_argument("--seed", type=int, default=SEED, help="seed of the resampling (default %(default)s)")
    return p


def main(argv=None) -> int:
    """`stance compare …`: 0 on success, 1 when no run could be scored, 2 on a usage or input error."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        comparison = compare(args.dirs, args.metric, args.boot, args.seed)
        out_dir = Path(args.output) if args.output else default_output(comparison.multiruns)
        written = write_outputs(comparison, out_dir)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0) if isinstance(e.code, int) else 2
    print(comparison.markdown(), end="")
    print(f"\nwritten: {', '.join(p.name for p in written.values())} in {out_dir}")
    return 0 if any(r.ok for r in comparison.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
