"""Cell metrics: score stance predictions against the hand labels.

The unit of scoring is a *cell*, one (doc_id, proposal_id) pair that has a hand label. Every labelled
cell is scored, so a pipeline that silently drops a document is punished (its cells count as "none")
instead of looking better; predictions for unlabelled cells are ignored but counted.
"""
from __future__ import annotations

from collections import defaultdict

from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from ..evidence import EVIDENCE_JACCARD, quotes_overlap
from ..records import STANCES, Label, Prediction

NONE = "none"


# --------------------------------------------------------------------------------------------- cells


def _cell_key(record) -> tuple[str, str]:
    return (record.doc_id, record.proposal_id)


def _index_predictions(predictions: list[Prediction], labels_order) -> dict:
    """Map cell -> prediction; a duplicate or unknown stance is a pipeline bug, so it fails loudly."""
    by_cell = {}
    for p in predictions:
        key = _cell_key(p)
        if key in by_cell:
            raise ValueError(f"duplicate prediction for {key[0]} / {key[1]}")
        if p.stance not in labels_order:
            raise ValueError(f"unknown predicted stance '{p.stance}' for {key[0]} / {key[1]}")
        by_cell[key] = p
    return by_cell


def _check_labels(labels: list[Label], labels_order) -> None:
    """Gold must be unique and in the label set, or every number below is wrong."""
    if not labels:
        raise ValueError("no labels to evaluate against")
    seen = set()
    for g in labels:
        key = _cell_key(g)
        if key in seen:
            raise ValueError(f"duplicate label for {key[0]} / {key[1]}")
        if g.stance not in labels_order:
            raise ValueError(f"unknown gold stance '{g.stance}' for {key[0]} / {key[1]}")
        seen.add(key)


def _align(predictions, labels, labels_order) -> tuple[list[tuple[Label, Prediction | None]], int]:
    """Pair each label with its prediction (None when missing); return the pairs and the unlabelled count."""
    _check_labels(labels, labels_order)
    by_cell = _index_predictions(predictions, labels_order)
    pairs = [(g, by_cell.get(_cell_key(g))) for g in labels]
    labelled = {_cell_key(g) for g in labels}
    unlabelled = sum(1 for key in by_cell if key not in labelled)
    return pairs, unlabelled


def _pred_stance(p: Prediction | None) -> str:
    return p.stance if p is not None else NONE


# ------------------------------------------------------------------------------------------- scores


def _accuracy(gold: list[str], pred: list[str]) -> float | None:
    if not gold:
        return None
    return sum(g == p for g, p in zip(gold, pred)) / len(gold)


def _occurring(gold, pred, labels_order) -> list[str]:
    """Labels present in gold or predictions, in canonical order: absent labels would add a spurious 0 F1."""
    present = set(gold) | set(pred)
    return [lab for lab in labels_order if lab in present]


def _macro_f1(gold, pred, labels_order) -> tuple[float | None, list[str]]:
    labels = _occurring(gold, pred, labels_order)
    if not labels:
        return None, []
    return float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)), labels


def _addressed_f1(gold, pred) -> float | None:
    """F1 of 'addressed' (stance != none); None when neither side addresses anything (undefined, not 0)."""
    g = [s != NONE for s in gold]
    p = [s != NONE for s in pred]
    if not any(g) and not any(p):
        return None
    return float(f1_score(g, p, pos_label=True, average="binary", zero_division=0))


def _stance_macro_f1_addressed(gold, pred, labels_order) -> tuple[float | None, list[str]]:
    """Macro-F1 of the four stances on gold-addressed cells; a predicted none there lowers recall."""
    kept = [(g, p) for g, p in zip(gold, pred) if g != NONE]
    if not kept:
        return None, []
    g, p = zip(*kept)
    labels = [lab for lab in _occurring(g, p, labels_order) if lab != NONE]
    return float(f1_score(list(g), list(p), labels=labels, average="macro", zero_division=0)), labels


def _per_label(gold, pred, labels_order) -> dict:
    prec, rec, f1, support = precision_recall_fscore_support(
        gold, pred, labels=list(labels_order), zero_division=0
    )
    return {
        lab: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]), "support": int(support[i])}
        for i, lab in enumerate(labels_order)
    }


def _confusion(gold, pred, labels_order) -> dict:
    matrix = confusion_matrix(gold, pred, labels=list(labels_order))
    return {"labels": list(labels_order), "matrix": [[int(x) for x in row] for row in matrix]}


def _grouped_accuracy(keys, gold, pred) -> dict:
    """Accuracy per group with its count, so a small group's number is read with its size."""
    groups = defaultdict(list)
    for k, g, p in zip(keys, gold, pred):
        groups[k].append(g == p)
    return {k: {"n": len(v), "accuracy": sum(v) / len(v)} for k, v in sorted(groups.items())}


def _basis_accuracy(pairs) -> tuple[float | None, int]:
    """Share of right bases where both sides take a stance: the only cells where basis is comparable."""
    hits = [
        p.basis == g.basis
        for g, p in pairs
        if g.stance != NONE and p is not None and p.stance != NONE
    ]
    return (sum(hits) / len(hits) if hits else None), len(hits)


# ----------------------------------------------------------------------------------------- evidence


def _evidence_recall(pairs, jaccard: float) -> tuple[float | None, int]:
    """Share of gold quotes found in the evidence of cells that were rightly called addressed."""
    found = []
    for g, p in pairs:
        if g.stance == NONE or not g.evidence or p is None or p.stance == NONE:
            continue
        texts = [e.text for e in p.evidence]
        found += [any(quotes_overlap(q, t, jaccard) for t in texts) for q in g.evidence]
    return (sum(found) / len(found) if found else None), len(found)


# ------------------------------------------------------------------------------------------ evaluate


def _per_document(pairs, labels_order) -> dict:
    by_doc = defaultdict(list)
    for g, p in pairs:
        by_doc[g.doc_id].append((g, p))
    out = {}
    for doc_id in sorted(by_doc):
        cells = by_doc[doc_id]
        gold = [g.stance for g, _ in cells]
        pred = [_pred_stance(p) for _, p in cells]
        out[doc_id] = {
            "n_cells": len(cells),
            "cell_accuracy": _accuracy(gold, pred),
            "macro_f1": _macro_f1(gold, pred, labels_order)[0],
            "addressed_f1": _addressed_f1(gold, pred),
            "errors": [
                {"proposal_id": g.proposal_id, "gold": gs, "predicted": ps}
                for (g, _), gs, ps in zip(cells, gold, pred)
                if gs != ps
            ],
        }
    return out


def evaluate(
    predictions: list[Prediction],
    labels: list[Label],
    labels_order=STANCES,
    evidence_jaccard: float = EVIDENCE_JACCARD,
) -> dict:
    """Score every labelled cell; a missing prediction counts as "none". Returns a JSON-serialisable dict."""
    labels_order = tuple(labels_order)
    pairs, unlabelled = _align(predictions, labels, labels_order)
    gold = [g.stance for g, _ in pairs]
    pred = [_pred_stance(p) for _, p in pairs]
    macro, macro_labels = _macro_f1(gold, pred, labels_order)
    stance_f1, stance_labels = _stance_macro_f1_addressed(gold, pred, labels_order)
    basis_acc, basis_n = _basis_accuracy(pairs)
    ev_recall, ev_n = _evidence_recall(pairs, evidence_jaccard)
    return {
        "n_cells": len(pairs),
        "n_documents": len({g.doc_id for g, _ in pairs}),
        "missing_predictions": sum(p is None for _, p in pairs),
        "unlabelled_predictions": unlabelled,
        "cell_accuracy": _accuracy(gold, pred),
        "macro_f1": macro,
        "macro_f1_labels": macro_labels,
        "addressed_f1": _addressed_f1(gold, pred),
        "stance_macro_f1_addressed": stance_f1,
        "stance_macro_f1_addressed_labels": stance_labels,
        "per_label": _per_label(gold, pred, labels_order),
        "accuracy_by_basis": _grouped_accuracy([g.basis or NONE for g, _ in pairs], gold, pred),
        "basis_accuracy": basis_acc,
        "basis_cells": basis_n,
        "accuracy_by_confidence": _grouped_accuracy([g.confidence for g, _ in pairs], gold, pred),
        "confusion": _confusion(gold, pred, labels_order),
        "per_document": _per_document(pairs, labels_order),
        "evidence_recall": ev_recall,
        "evidence_quotes": ev_n,
    }
