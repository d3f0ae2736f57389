"""Evaluate: score predictions against hand labels, one way for every command.

`Scorer` is built from the `evaluation` config group and used by `stance evaluate`, the folds of
cross-validation, `stance train`'s model card and `stance compare` (whose bootstrap recomputes the
same metrics from per-cell statistics, see bootstrap.py).
"""
from __future__ import annotations

from collections.abc import Mapping

from ..evidence import EVIDENCE_JACCARD
from ..records import STANCES, Corpus, Label, Prediction
from .bootstrap import Cells, align_cells
from .linking import HeldOutLinks, calibration, link_evaluation, link_scores
from .metrics import evaluate

HEADLINE = ("n_cells", "cell_accuracy", "macro_f1", "addressed_f1", "stance_macro_f1_addressed", "basis_accuracy",
            "evidence_recall")


class Scorer:
    """Cell metrics, linking metrics and bootstrap cells under one set of scoring settings."""

    def __init__(self, evidence_jaccard: float = EVIDENCE_JACCARD, labels_order=STANCES):
        self.evidence_jaccard = float(evidence_jaccard)
        self.labels_order = tuple(labels_order)

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> "Scorer":
        """From the `evaluation` config group (its other keys say what to write, not how to score)."""
        return cls(evidence_jaccard=(cfg or {}).get("evidence_jaccard", EVIDENCE_JACCARD))

    def score(self, predictions: list[Prediction], labels: list[Label]) -> dict:
        return evaluate(predictions, labels, self.labels_order, self.evidence_jaccard)

    def links(self, classifier, corpus: Corpus, held: HeldOutLinks | None = None) -> dict:
        """The classifier's linker (bound to corpus.catalog) against the labels' evidence sentences; or what
        held-out models' linkers did (cross-validation), when given: their links and the calibration of
        their probabilities."""
        if held is None:
            return link_evaluation(classifier, corpus)
        name = type(getattr(classifier, "linker_", None) or object()).__name__
        return {**link_scores(held.links, corpus, name), "calibration": calibration(held.probabilities)}

    def cells(self, labels: list[Label], predictions: dict) -> Cells:
        """Per-cell arrays for bootstrap and paired tests; `predictions`: {(doc_id, proposal_id): Prediction}."""
        return align_cells(labels, predictions, self.evidence_jaccard)


def headline(metrics: dict) -> dict:
    """The numbers a model card and a fold report: the headline metrics and F1 per label."""
    out = {k: metrics.get(k) for k in HEADLINE}
    out["per_label_f1"] = {lab: v["f1"] for lab, v in metrics["per_label"].items()}
    return out
