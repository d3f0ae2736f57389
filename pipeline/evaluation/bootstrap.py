"""Uncertainty over documents: per-cell statistics, bootstrap resamples, paired tests.

Documents are resampled with replacement (cells of one document are not independent: one respondent
writes one way), and all cells of a drawn document go in. A cell's statistics (a one-hot confusion
entry and its evidence-quote counts) are summed per document, so a resample is a weighted sum of
document rows and every metric is computed from the summed confusion matrix exactly as
metrics.evaluate defines it (a missing prediction counts as "none"; macro-F1 over the labels that
occur in gold or predictions, zero_division=0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..evidence import EVIDENCE_JACCARD, quotes_overlap
from ..records import STANCES

METRICS = ("cell_accuracy", "macro_f1", "addressed_f1", "stance_macro_f1_addressed", "evidence_recall")
N_BOOT = 2000
SEED = 0
ALPHA = 0.05
NONE = STANCES.index("none")
N_LABELS = len(STANCES)
N_STATS = N_LABELS * N_LABELS + 2  # confusion cells, then gold quotes found and gold quotes counted


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


def align_cells(labels, predictions: dict, jaccard: float = EVIDENCE_JACCARD) -> Cells:
    """One entry per labelled cell, as evaluate() pairs them: a missing prediction is "none".

    `predictions`: {(doc_id, proposal_id): Prediction}."""
    gold, pred, found, counted = [], [], [], []
    for g in labels:
        row = predictions.get((g.doc_id, g.proposal_id))
        stance = row.stance if row is not None else "none"
        gold.append(STANCES.index(g.stance))
        pred.append(STANCES.index(stance))
        hits = []
        if g.stance != "none" and g.evidence and stance != "none":
            texts = [e.text for e in row.evidence]
            hits = [any(quotes_overlap(q, t, jaccard) for t in texts) for q in g.evidence]
        found.append(sum(hits))
        counted.append(len(hits))
    return Cells([(g.doc_id, g.proposal_id) for g in labels], np.array(gold, dtype=int), np.array(pred, dtype=int),
                 np.array(found, dtype=float), np.array(counted, dtype=float))



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
