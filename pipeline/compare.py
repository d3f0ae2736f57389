"""`stance compare`: put evaluate runs side by side, with uncertainty, and test the best two.

Each run is scored again from its predictions.jsonl and the hand labels, cell by cell, so that the
metric can be bootstrapped: documents are resampled with replacement (cells of one document are not
independent: one respondent writes one way), and all cells of a drawn document go in. A cell's
statistics (a one-hot confusion entry and its evidence-quote counts) are summed per document, so a
resample is a weighted sum of document rows and every metric is computed from the summed confusion
matrix exactly as pipeline/evaluate.py defines it (a missing prediction counts as "none"; macro-F1
over the labels that occur in gold or predictions, zero_division=0).

    stance compare <run or multirun dirs…> [--metric M] [--output DIR] [--boot N] [--seed S]

Writes compare.csv, compare.md, compare.png and paired_test.json; prints the Markdown table and a
plain-language line on the paired test of the best two runs.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .evaluate import EVIDENCE_JACCARD, quotes_overlap
from .outputs import atomic_write, write_json
from .records import STANCES, InputError
from .run import RUN_ONLY_KEYS

METRICS = ("cell_accuracy", "macro_f1", "addressed_f1", "stance_macro_f1_addressed", "evidence_recall")
DEFAULT_METRIC = "macro_f1"
N_BOOT = 2000
SEED = 0
ALPHA = 0.05
FEW_DOCUMENTS = 30  # below this, the plain-language line warns that the test has little power
# Config keys that differ between runs without saying anything about the method.
# Keys that say where and how a run went, not what decides its results (run.RUN_ONLY_KEYS), plus labels.
IGNORED_KEYS = {"command", "input", "name", *RUN_ONLY_KEYS}
IGNORED_PREFIXES = ("paths", "hydra.")
# Hydra overrides that only place or start a run: left out of a run's label.
LABEL_SKIP = ("command=", "output=", "hydra.", "+hydra.")

NONE = STANCES.index("none")
N_LABELS = len(STANCES)
N_STATS = N_LABELS * N_LABELS + 2  # confusion cells, then gold quotes found and gold quotes counted
MISSING = object()


class CompareError(Exception):
    """A user-facing problem: printed as one line `error: …`, exit code 2."""


# ------------------------------------------------------------------------------------------- runs


@dataclass
class Cells:
    """Per-cell arrays of one run, in label order: what every metric and resample is computed from."""

    keys: list[tuple[str, str]]
    gold: np.ndarray  # index into STANCES
    pred: np.ndarray
    quotes_found: np.ndarray  # gold quotes found in the cell's predicted evidence (evidence_recall)
    quotes: np.ndarray  # gold quotes that count for evidence_recall in this cell

    def select(self, keys) -> "Cells":
        index = {k: i for i, k in enumerate(self.keys)}
        rows = [index[k] for k in keys]
        return Cells(list(keys), self.gold[rows], self.pred[rows], self.quotes_found[rows], self.quotes[rows])

    @property
    def documents(self) -> list[str]:
        return sorted({d for d, _ in self.keys})


@dataclass
class Run:
    path: Path
    label: str
    status: str = "ok"  # or "failed"
    error: str | None = None
    metrics: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    cells: Cells | None = None
    scores: dict = field(default_factory=dict)  # recomputed point estimates, metric -> float (nan: undefined)
    ci: tuple[float, float] = (math.nan, math.nan)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _natural_key(path: Path) -> list:
    """Sort 2/ before 10/: Hydra numbers jobs without padding."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def _is_run_dir(path: Path) -> bool:
    markers = ("metrics.json", "failed.json", "predictions.jsonl", "manifest.json")
    return any((path / m).is_file() for m in markers) or (
        (path / ".hydra").is_dir() and not (path / "multirun.yaml").is_file()
    )


def find_runs(paths) -> tuple[list[Path], list[Path]]:
    """(run dirs, multirun dirs) for the dirs given: each is a run itself, or runs are searched below it."""
    runs: list[Path] = []
    multiruns: list[Path] = []
    for given in map(Path, paths):
        if not given.is_dir():
            raise CompareError(f"{given}: no such directory")
        if _is_run_dir(given):
            found = [given]
        else:
            below = {p.parent for m in ("metrics.json", "failed.json", "predictions.jsonl") for p in given.rglob(m)}
            below |= {p.parent for p in given.rglob(".hydra") if p.is_dir()}
            found = sorted(below, key=_natural_key)
            if not found:
                raise CompareError(f"{given}: not a run directory and no runs below it (no metrics.json or failed.json)")
            multiruns.append(given)
        runs += [r.resolve() for r in found if r.resolve() not in runs]
    return runs, multiruns


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CompareError(f"{path}: cannot read ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise CompareError(f"{path}: expected a JSON object")
    return data


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def run_label(path: Path, overrides=None) -> str:
    """The Hydra overrides that made the run (what a reader set), else the directory name."""
    if overrides is None:
        overrides = _read_yaml(path / ".hydra" / "overrides.yaml")
    shown = []
    for o in overrides if isinstance(overrides, list) else []:
        o = str(o)
        if o.startswith(LABEL_SKIP):
            continue
        if o.startswith("~"):  # the CLI spells `embedder=null` as Hydra's `~embedder`
            o = f"{o[1:].split('=', 1)[0]}=null"
        shown.append(o)
    return " ".join(shown) or path.name


def _run_config(path: Path, metrics: dict, manifest: dict) -> dict:
    """The run's effective config: metrics.json holds it after a model artifact was applied."""
    for candidate in (metrics.get("config"), manifest.get("config"), _read_yaml(path / "config.yaml"),
                      _read_yaml(path / ".hydra" / "config.yaml")):
        if isinstance(candidate, dict):
            return candidate
    raise CompareError(f"{path}: no config in metrics.json, manifest.json or .hydra/config.yaml")


def load_run(path: Path, gold_cache: dict | None = None) -> Run:
    """Read one run dir; a failed or unfinished job becomes a failed Run, a run that cannot be scored an error."""
    gold_cache = {} if gold_cache is None else gold_cache
    if (path / "failed.json").is_file() and not (path / "metrics.json").is_file():
        failed = _read_json(path / "failed.json")
        overrides = None if (path / ".hydra" / "overrides.yaml").is_file() else failed.get("overrides")
        error = " ".join(str(failed.get("error") or "failed (no message)").split())  # one line in the table
        return Run(path, run_label(path, overrides), status="failed", error=error)
    if not (path / "metrics.json").is_file():
        if (path / "predictions.jsonl").is_file():
            raise CompareError(f"{path}: a `stance predict` run (no metrics.json): only `stance evaluate` runs "
                               f"can be scored")
        if (path / ".hydra").is_dir():
            return Run(path, run_label(path), status="failed",
                       error="no metrics.json or failed.json (still running, or killed)")
        raise CompareError(f"{path}: not a run directory (no metrics.json or failed.json)")
    metrics = _read_json(path / "metrics.json")
    manifest = _read_json(path / "manifest.json") if (path / "manifest.json").is_file() else metrics.get("manifest") or {}
    if not manifest and (path / "model.json").is_file():  # a models/<name>/ artifact: its encoder is in model.json
        manifest = {"encoder": _read_json(path / "model.json").get("encoder")}
    predictions = next((p for p in (path / "predictions.jsonl", path / "cv_predictions.jsonl") if p.is_file()), None)
    if predictions is None:
        raise CompareError(f"{path}: metrics.json but no predictions.jsonl (a `stance train` run? compare "
                           f"models/<name>/ instead): per-cell predictions are needed")
    config = _run_config(path, metrics, manifest)
    gold = _gold(config, path, gold_cache)
    jaccard = float((config.get("evaluation") or {}).get("evidence_jaccard", EVIDENCE_JACCARD))
    cells = align_cells(gold, read_predictions(predictions), jaccard)
    run = Run(path, run_label(path), metrics=metrics, manifest=manifest, config=config, cells=cells)
    run.scores = {m: score_cells(cells, m) for m in METRICS}
    return run


def _gold(config: dict, path: Path, cache: dict) -> list:
    """The hand labels the run was scored against (read once per labels file)."""
    from .data import load_catalog, load_labels

    data = config.get("data") or {}
    if not data.get("labels") or not data.get("catalog"):
        raise CompareError(f"{path}: its config names no data.labels / data.catalog to score against")
    key = (str(data["catalog"]), str(data["labels"]))
    if key not in cache:
        try:
            cache[key] = load_labels(data["labels"], load_catalog(data["catalog"]))
        except InputError as e:
            raise CompareError(f"{e} (the labels of run {path})") from None
    return cache[key]


def read_predictions(path: Path) -> dict:
    """{(doc_id, proposal_id): row}; a duplicate or unknown stance would silently change the score."""
    rows = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise CompareError(f"{path}: cannot read ({type(e).__name__})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            key = (row["doc_id"], row["proposal_id"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise CompareError(f"{path}: line {n}: not a prediction row") from None
        if key in rows:
            raise CompareError(f"{path}: line {n}: duplicate prediction for {key[0]} / {key[1]}")
        if row.get("stance") not in STANCES:
            raise CompareError(f"{path}: line {n}: unknown stance {row.get('stance')!r}")
        rows[key] = row
    return rows


def align_cells(labels, predictions: dict, jaccard: float = EVIDENCE_JACCARD) -> Cells:
    """One entry per labelled cell, as evaluate() pairs them: a missing prediction is "none"."""
    gold, pred, found, counted = [], [], [], []
    for g in labels:
        row = predictions.get((g.doc_id, g.proposal_id))
        stance = row["stance"] if row is not None else "none"
        gold.append(STANCES.index(g.stance))
        pred.append(STANCES.index(stance))
        hits = []
        if g.stance != "none" and g.evidence and stance != "none":
            texts = [e.get("text", "") for e in row.get("evidence") or []]
            hits = [any(quotes_overlap(q, t, jaccard) for t in texts) for q in g.evidence]
        found.append(sum(hits))
        counted.append(len(hits))
    return Cells([(g.doc_id, g.proposal_id) for g in labels], np.array(gold, dtype=int), np.array(pred, dtype=int),
                 np.array(found, dtype=float), np.array(counted, dtype=float))


# ---------------------------------------------------------------------------------------- metrics


def cell_stats(cells: Cells) -> np.ndarray:
    """(n_cells, N_STATS): a cell's one-hot confusion entry and its evidence counts; sums give any metric."""
    stats = np.zeros((len(cells.keys), N_STATS))
    stats[np.arange(len(cells.keys)), cells.gold * N_LABELS + cells.pred] = 1.0
    stats[:, -2] = cells.quotes_found
    stats[:, -1] = cells.quotes
    return stats


def document_stats(cells: Cells, documents=None) -> np.ndarray:
    """(n_documents, N_STATS): cell statistics summed per document, the unit that is resampled."""
    documents = cells.documents if documents is None else documents
    row = {d: i for i, d in enumerate(documents)}
    out = np.zeros((len(documents), N_STATS))
    np.add.at(out, [row[d] for d, _ in cells.keys], cell_stats(cells))
    return out


def _f1(tp, fp, fn):
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(denom, dtype=float), where=denom > 0)


def _mean_where(values, mask):
    """Mean over the labels in `mask`; nan where there are none (evaluate's None)."""
    n = mask.sum(axis=-1)
    total = np.where(mask, values, 0.0).sum(axis=-1)
    return np.divide(total, n, out=np.full(n.shape, np.nan), where=n > 0)


def score_totals(totals: np.ndarray, metric: str) -> np.ndarray:
    """A metric from summed statistics (..., N_STATS), vectorised over resamples; nan where undefined."""
    totals = np.asarray(totals, dtype=float)
    conf = totals[..., : N_LABELS * N_LABELS].reshape(*totals.shape[:-1], N_LABELS, N_LABELS)
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    rows, cols = conf.sum(axis=-1), conf.sum(axis=-2)
    n = rows.sum(axis=-1)
    if metric == "cell_accuracy":
        return np.divide(tp.sum(axis=-1), n, out=np.full(n.shape, np.nan), where=n > 0)
    if metric == "macro_f1":
        return _mean_where(_f1(tp, cols - tp, rows - tp), (rows + cols) > 0)
    addressed = np.arange(N_LABELS) != NONE
    if metric == "addressed_f1":
        a_tp = conf[..., addressed, :][..., :, addressed].sum(axis=(-2, -1))
        a_fn = conf[..., addressed, NONE].sum(axis=-1)
        a_fp = conf[..., NONE, addressed].sum(axis=-1)
        defined = (a_tp + a_fn + a_fp) > 0  # nobody addresses anything: undefined, not 0
        return np.where(defined, _f1(a_tp, a_fp, a_fn), np.nan)
    if metric == "stance_macro_f1_addressed":
        kept = conf[..., addressed, :]  # gold-addressed rows; a predicted none there is a miss
        k_tp = np.diagonal(kept[..., :, addressed], axis1=-2, axis2=-1)
        k_rows, k_cols = kept.sum(axis=-1), kept[..., :, addressed].sum(axis=-2)
        values = _mean_where(_f1(k_tp, k_cols - k_tp, k_rows - k_tp), (k_rows + k_cols) > 0)
        return np.where(kept.sum(axis=(-2, -1)) > 0, values, np.nan)
    if metric == "evidence_recall":
        found, counted = totals[..., -2], totals[..., -1]
        return np.divide(found, counted, out=np.full(counted.shape, np.nan), where=counted > 0)
    raise ValueError(f"unknown metric '{metric}' (expected one of {', '.join(METRICS)})")


def score_cells(cells: Cells, metric: str) -> float:
    return float(score_totals(cell_stats(cells).sum(axis=0), metric))


def _resample_weights(n_documents: int, n_boot: int, seed: int, chunk: int):
    """Yield (chunk, n_documents) draw counts: how often each document is drawn in each resample."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        draws = rng.integers(0, n_documents, size=(size, n_documents))
        flat = (draws + n_documents * np.arange(size)[:, None]).ravel()
        yield np.bincount(flat, minlength=size * n_documents).reshape(size, n_documents).astype(float)
        done += size


def bootstrap_totals(doc_stats: list[np.ndarray], n_boot: int = N_BOOT, seed: int = SEED) -> list[np.ndarray]:
    """Summed statistics of n_boot document resamples, the same draws for every array given (paired)."""
    n_documents = doc_stats[0].shape[0]
    chunk = max(1, min(n_boot, 4_000_000 // max(n_documents, 1)))
    parts: list[list[np.ndarray]] = [[] for _ in doc_stats]
    for weights in _resample_weights(n_documents, n_boot, seed, chunk):
        for part, stats in zip(parts, doc_stats):
            part.append(weights @ stats)
    return [np.concatenate(p) for p in parts]


def _percentile_ci(values: np.ndarray) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    if not len(values):
        return math.nan, math.nan
    lo, hi = np.percentile(values, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return float(lo), float(hi)


def bootstrap_ci(cells: Cells, metric: str, n_boot: int = N_BOOT, seed: int = SEED) -> tuple[float, float]:
    """Percentile 95% CI of the metric, resampling documents with replacement."""
    (totals,) = bootstrap_totals([document_stats(cells)], n_boot, seed)
    return _percentile_ci(score_totals(totals, metric))


# ------------------------------------------------------------------------------------ paired test


def shared_cells(a: Cells, b: Cells) -> tuple[list, dict]:
    """Cells both runs scored with the same gold stance, and counts of what was left out (and why)."""
    gold_a = dict(zip(a.keys, a.gold))
    gold_b = dict(zip(b.keys, b.gold))
    both = [k for k in a.keys if k in gold_b]
    keys = [k for k in both if gold_a[k] == gold_b[k]]
    return keys, {"only_in_a": len(a.keys) - len(both), "only_in_b": len(b.keys) - len(both),
                  "gold_differs": len(both) - len(keys)}


def mcnemar(a: Cells, b: Cells) -> dict:
    """Exact McNemar test on per-cell correctness: a binomial test on the discordant cells."""
    from scipy.stats import binomtest

    right_a, right_b = a.gold == a.pred, b.gold == b.pred
    a_only, b_only = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    p = 1.0 if a_only + b_only == 0 else float(binomtest(a_only, a_only + b_only, 0.5).pvalue)
    return {"a_right_b_wrong": a_only, "a_wrong_b_right": b_only, "p_value": p}


def paired_bootstrap(a: Cells, b: Cells, metric: str, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """Difference a - b with a percentile CI and a two-sided p-value, the same documents drawn for both.

    The p-value comes from the bootstrap distribution shifted to the null (difference 0): the share of
    resampled differences that lie as far from the observed one as the observed one lies from 0, with
    one added above and below so that it is never 0.
    """
    documents = a.documents
    stats_a, stats_b = document_stats(a, documents), document_stats(b, documents)
    observed = float(score_totals(stats_a.sum(axis=0), metric) - score_totals(stats_b.sum(axis=0), metric))
    totals_a, totals_b = bootstrap_totals([stats_a, stats_b], n_boot, seed)
    diffs = score_totals(totals_a, metric) - score_totals(totals_b, metric)
    diffs = diffs[~np.isnan(diffs)]
    if math.isnan(observed) or not len(diffs):
        return {"difference": observed, "ci95": [math.nan, math.nan], "p_value": math.nan, "n_boot": int(len(diffs))}
    extreme = np.sum(np.abs(diffs - observed) >= abs(observed) - 1e-12)
    p = min(1.0, float((1 + extreme) / (1 + len(diffs))))
    return {"difference": observed, "ci95": list(_percentile_ci(diffs)), "p_value": p, "n_boot": int(len(diffs)),
            "n_as_extreme": int(extreme)}


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


# ----------------------------------------------------------------------------------- config diff


def flatten(config, prefix: str = "") -> dict:
    """Dotted keys; a top-level group also gets its own key (its name or class) so a swap shows once."""
    out = {}
    for key, value in (config or {}).items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            if not prefix:
                out[dotted] = _group_choice(value)
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _group_choice(group: dict) -> str:
    if group.get("name") is not None:
        return str(group["name"])
    if group.get("_target_"):
        return str(group["_target_"]).rsplit(".", 1)[-1]
    return "{…}"


def _ignored(key: str) -> bool:
    return key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES)


def _same(values) -> bool:
    def norm(v):
        if isinstance(v, bool) or v is None or v is MISSING:
            return repr(v)
        if isinstance(v, (int, float)):
            return repr(float(v))  # 2 (an override) and 2.0 (YAML) are the same setting
        return json.dumps(v, sort_keys=True, default=str)

    return len({norm(v) for v in values}) <= 1


def differing_keys(configs: list[dict]) -> tuple[list[str], list[str]]:
    """(keys to show, keys only some runs have), in config order.

    Shown: a key whose value differs among the runs that have it, and a top-level group that was
    swapped or removed (`~embedder`). A key that some runs lack but that is equal wherever present
    comes from another code version or is implied by a group swap (hybrid-only linker keys): it
    would only add noise, so it is named in a note instead (unless its group's column explains it).
    """
    flats = [flatten(c) for c in configs]
    groups = {k for c in configs for k, v in (c or {}).items() if isinstance(v, dict)}
    shown, partial = [], []
    for key in dict.fromkeys(k for f in flats for k in f):
        values = [f.get(key, MISSING) for f in flats]
        if _ignored(key) or _same(values):
            continue
        if key in groups or not _same([v for v in values if v is not MISSING]):
            shown.append(key)
        else:
            partial.append(key)
    shown_groups = {k for k in shown if k in groups}
    shown = [k for k in shown if not _names_group(k, shown_groups)  # the group's column already says it
             and not _explained_by_group(k, shown_groups, flats)]
    partial = [k for k in partial if k.partition(".")[0] not in shown_groups]
    return shown, partial


def _explained_by_group(key: str, groups, flats: list[dict]) -> bool:
    """A key of a swapped group (embedder.max_length when embedder is e5-bundled in one run and kb-sbert in
    another) that is the same among the runs with the same choice of that group: the swap explains it."""
    group = key.partition(".")[0]
    if group not in groups or "." not in key:
        return False
    by_choice: dict[str, list] = {}
    for f in flats:
        by_choice.setdefault(json.dumps(f.get(group, None), default=str), []).append(f.get(key, MISSING))
    return all(_same(values) for values in by_choice.values())


def _names_group(key: str, groups) -> bool:
    group, _, leaf = key.partition(".")
    return group in groups and leaf in ("name", "_target_")


def config_value(config: dict, key: str) -> str:
    """A config value as shown: a group removed with `~group` reads null, a key the run lacks '-'."""
    value = flatten(config).get(key, MISSING)
    if value is MISSING:
        return "null" if "." not in key else "-"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"{value:g}"  # 2 and 2.0 are one setting
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


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


def csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for r in rows for k in r))
    w = csv.DictWriter(buf, fieldnames=fields, restval="")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()


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
        raise CompareError(f"unknown metric '{metric}' (expected one of {', '.join(METRICS)})")
    if n_boot < 1:
        raise CompareError("--boot must be at least 1")
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
    atomic_write(paths["compare.csv"], csv_text(comparison.rows))
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
        raise CompareError(message)


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
    except CompareError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0) if isinstance(e.code, int) else 2
    print(comparison.markdown(), end="")
    print(f"\nwritten: {', '.join(p.name for p in written.values())} in {out_dir}")
    return 0 if any(r.ok for r in comparison.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
