"""Agreement between two annotators' labels of the same cells (`stance agreement`): Cohen's κ for the
stance, the basis and addressed-vs-none, with a bootstrap 95% CI over documents.

Documents are resampled as in bootstrap.py (one respondent's cells are not independent): each
document's confusion counts are one row, a resample is a weighted sum of rows, and κ is computed
from the summed confusion exactly as from the whole. Basis is compared on the cells both annotators
gave a stance (none has no basis).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..records import BASES, STANCES, Label
from .bootstrap import ALPHA, N_BOOT, SEED, bootstrap_totals

AXES = {"stance": list(STANCES), "basis": list(BASES), "addressed": ["addressed", "none"]}


def _category(axis: str, lab: Label) -> str | None:
    if axis == "stance":
        return lab.stance
    if axis == "basis":
        return lab.basis
    return "none" if lab.stance == "none" else "addressed"


def kappa(conf: np.ndarray) -> np.ndarray:
    """Cohen's κ of confusion matrices (..., k, k); nan where undefined (no cells, or both annotators used
    one and the same category throughout: chance agreement is 1)."""
    conf = np.asarray(conf, dtype=float)
    n = conf.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        po = np.trace(conf, axis1=-2, axis2=-1) / n
        pe = (conf.sum(axis=-1) * conf.sum(axis=-2)).sum(axis=-1) / (n * n)
        k = (po - pe) / (1 - pe)
    return np.where((n > 0) & (pe < 1 - 1e-12), k, np.nan)


@dataclass
class Agreement:
    n_cells: int
    n_documents: int
    only_a: int
    only_b: int
    kappa: dict = field(default_factory=dict)  # axis -> κ
    ci95: dict = field(default_factory=dict)  # axis -> [lo, hi]
    observed: dict = field(default_factory=dict)  # axis -> share of cells both put in the same category
    cells: dict = field(default_factory=dict)  # axis -> cells compared
    confusion: dict = field(default_factory=dict)  # axis -> rows A, columns B, in AXES order
    disagreements: list = field(default_factory=list)
    n_boot: int = N_BOOT
    seed: int = SEED

    def to_json(self) -> dict:
        def num(x):
            return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)

        return {"n_cells": self.n_cells, "n_documents": self.n_documents, "only_in_a": self.only_a,
                "only_in_b": self.only_b, "axes": {ax: {"categories": AXES[ax], "kappa": num(self.kappa[ax]),
                                                         "ci95": [num(v) for v in self.ci95[ax]],
                                                         "observed": num(self.observed[ax]), "cells": self.cells[ax],
                                                         "confusion": self.confusion[ax]} for ax in AXES},
                "disagreements": self.disagreements, "bootstrap": {"n_boot": self.n_boot, "seed": self.seed,
                                                                   "unit": "document"}}


def agreement(a: list[Label], b: list[Label], n_boot: int = N_BOOT, seed: int = SEED) -> Agreement:
    """κ, CIs, confusions and the disagreeing cells over the cells both label files have."""
    la = {(x.doc_id, x.proposal_id): x for x in a}
    lb = {(x.doc_id, x.proposal_id): x for x in b}
    keys = [k for k in la if k in lb]
    documents = sorted({d for d, _ in keys})
    row = {d: i for i, d in enumerate(documents)}
    sizes = {ax: len(cats) ** 2 for ax, cats in AXES.items()}
    offsets, total = {}, 0
    for ax in AXES:
        offsets[ax], total = total, total + sizes[ax]
    stats = np.zeros((len(documents), total))
    out = Agreement(len(keys), len(documents), len(la) - len(keys), len(lb) - len(keys), n_boot=n_boot, seed=seed)
    for key in keys:
        x, y = la[key], lb[key]
        for ax, cats in AXES.items():
            cx, cy = _category(ax, x), _category(ax, y)
            if cx is None or cy is None:
                continue
            stats[row[key[0]], offsets[ax] + cats.index(cx) * len(cats) + cats.index(cy)] += 1
        if (x.stance, x.basis) != (y.stance, y.basis):
            out.disagreements.append({"doc_id": key[0], "proposal_id": key[1], "a": {"stance": x.stance, "basis": x.basis},
                                      "b": {"stance": y.stance, "basis": y.basis}})
    totals = stats.sum(axis=0)
    boot = bootstrap_totals([stats], n_boot, seed)[0] if documents else np.zeros((0, total))
    for ax, cats in AXES.items():
        k = len(cats)
        conf = totals[offsets[ax]:offsets[ax] + sizes[ax]].reshape(k, k)
        out.confusion[ax] = conf.astype(int).tolist()
        out.cells[ax] = int(conf.sum())
        out.observed[ax] = float(np.trace(conf) / conf.sum()) if conf.sum() else math.nan
        out.kappa[ax] = float(kappa(conf))
        values = kappa(boot[:, offsets[ax]:offsets[ax] + sizes[ax]].reshape(-1, k, k))
        values = values[~np.isnan(values)]
        out.ci95[ax] = ([float(v) for v in np.percentile(values, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])]
                        if len(values) else [math.nan, math.nan])
    return out
