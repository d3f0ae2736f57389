"""Evaluate stage: score stance predictions against the hand labels.

The unit of scoring is a *cell*, one (doc_id, proposal_id) pair that has a hand label. Every labelled
cell is scored, so a pipeline that silently drops a document is punished (its cells count as "none")
instead of looking better; predictions for unlabelled cells are ignored but counted.
"""
from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from .outputs import write_json
from .records import STANCES, Label, Prediction

NONE = "none"
EVIDENCE_JACCARD = 0.5


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


_WS = re.compile(r"\s+")
# A hyphen that ended a line: "instäm-mer" / "instäm- mer" -> "instämmer". Applied to both sides, so
# genuine compounds ("hälso- och") are changed the same way on each and still match.
_LINE_HYPHEN = re.compile(r"(?<=\w)-\s*(?=[a-zåäöéü])")
_TOKEN = re.compile(r"\w+")


def normalise_quote(text: str) -> str:
    """Lower-case, whitespace-collapsed, de-hyphenated text, so quotes from raw and normalised text compare."""
    text = _WS.sub(" ", text.replace("\u00ad", "-")).strip()
    return _LINE_HYPHEN.sub("", text).lower()


def _jaccard(a: str, b: str) -> float:
    ta, tb = set(_TOKEN.findall(a)), set(_TOKEN.findall(b))
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def quotes_overlap(gold: str, predicted: str, jaccard: float = EVIDENCE_JACCARD) -> bool:
    """True when one text contains the other or they share enough tokens (sentence splits differ)."""
    a, b = normalise_quote(gold), normalise_quote(predicted)
    if not a or not b:
        return False
    return a in b or b in a or _jaccard(a, b) >= jaccard


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


def link_metrics(pairs_predicted: set[tuple[str, str, int]], pairs_gold: set[tuple[str, str, int]]) -> dict:
    """Precision/recall/F1 of (doc_id, proposal_id, sentence_index) links; empty sides score 0, not an error."""
    predicted, gold = set(pairs_predicted), set(pairs_gold)
    tp = len(predicted & gold)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_positives": tp,
        "n_predicted": len(predicted),
        "n_gold": len(gold),
    }


# -------------------------------------------------------------------------------------------- write


def write_metrics(metrics: dict, out_dir, extra: dict | None = None, confusion_png: bool = True) -> None:
    """Write metrics.json, confusion.csv, per_document.csv and (optionally) confusion.png into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(_merge_extra(metrics, extra), out / "metrics.json")
    _write_confusion_csv(metrics["confusion"], out / "confusion.csv")
    _write_per_document_csv(metrics["per_document"], out / "per_document.csv")
    if confusion_png:
        _plot_confusion(metrics["confusion"], metrics.get("cell_accuracy"), out / "confusion.png")


def _merge_extra(metrics: dict, extra: dict | None) -> dict:
    """Extra keys (encoder, config) sit beside the metrics; clobbering a metric would hide a result."""
    extra = dict(extra or {})
    clash = sorted(set(extra) & set(metrics))
    if clash:
        raise ValueError(f"extra keys collide with metric keys: {', '.join(clash)}")
    return {**metrics, **extra}


def _write_confusion_csv(confusion: dict, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["gold\\predicted", *confusion["labels"]])
        for lab, row in zip(confusion["labels"], confusion["matrix"]):
            w.writerow([lab, *row])


def _fmt(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _write_per_document_csv(per_document: dict, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["doc_id", "n_cells", "cell_accuracy", "macro_f1", "addressed_f1", "n_errors"])
        for doc_id, d in per_document.items():
            w.writerow([
                doc_id,
                d["n_cells"],
                _fmt(d["cell_accuracy"], 4),
                _fmt(d["macro_f1"], 4),
                _fmt(d["addressed_f1"], 4),
                len(d["errors"]),
            ])


def _plot_confusion(confusion: dict, accuracy, path: Path) -> None:
    """Annotated heat map, drawn on an explicit Agg canvas so no display or global backend is touched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels, matrix = confusion["labels"], confusion["matrix"]
    fig = Figure(figsize=(5.5, 4.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"Stance confusion (cell accuracy {_fmt(accuracy)})")
    top = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            colour = "white" if top and count > top / 2 else "black"
            ax.text(j, i, str(count), ha="center", va="center", color=colour)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


# ------------------------------------------------------------------------------------------ summary


def format_summary(metrics: dict) -> str:
    """Compact text report for the CLI: overall, per label, per document, confusion."""
    return "\n".join(
        _overall_lines(metrics)
        + [""]
        + _per_label_lines(metrics["per_label"])
        + [""]
        + _per_document_lines(metrics["per_document"])
        + [""]
        + _confusion_lines(metrics["confusion"])
    )


def _overall_lines(m: dict) -> list[str]:
    rows = [
        ("cells", f"{m['n_cells']} ({m['missing_predictions']} missing, {m['unlabelled_predictions']} unlabelled preds)"),
        ("cell accuracy", _fmt(m["cell_accuracy"])),
        ("macro F1", f"{_fmt(m['macro_f1'])} over {', '.join(m['macro_f1_labels'])}"),
        ("addressed F1", _fmt(m["addressed_f1"])),
        ("stance macro F1 (addressed)", _fmt(m["stance_macro_f1_addressed"])),
        ("basis accuracy", f"{_fmt(m['basis_accuracy'])} (n={m['basis_cells']})"),
        ("evidence recall", f"{_fmt(m['evidence_recall'])} (n={m['evidence_quotes']})"),
    ]
    for group in ("accuracy_by_basis", "accuracy_by_confidence"):
        name = group.replace("accuracy_by_", "accuracy by ")
        parts = [f"{k} {_fmt(v['accuracy'])} (n={v['n']})" for k, v in m[group].items()]
        rows.append((name, ", ".join(parts)))
    width = max(len(k) for k, _ in rows)
    return [f"{k:<{width}}  {v}" for k, v in rows]


def _per_label_lines(per_label: dict) -> list[str]:
    lines = [f"{'label':<8} {'P':>6} {'R':>6} {'F1':>6} {'n':>5}"]
    for lab, s in per_label.items():
        lines.append(f"{lab:<8} {_fmt(s['precision']):>6} {_fmt(s['recall']):>6} {_fmt(s['f1']):>6} {s['support']:>5}")
    return lines


def _per_document_lines(per_document: dict) -> list[str]:
    width = max([len("document")] + [len(d) for d in per_document])
    lines = [f"{'document':<{width}} {'cells':>5} {'acc':>6} {'errors':>6}"]
    for doc_id, d in per_document.items():
        lines.append(f"{doc_id:<{width}} {d['n_cells']:>5} {_fmt(d['cell_accuracy']):>6} {len(d['errors']):>6}")
    return lines


def _confusion_lines(confusion: dict) -> list[str]:
    labels = confusion["labels"]
    width = max(len(lab) for lab in labels)
    corner = "gold \\ pred"  # f-string expressions may not hold a backslash before Python 3.12
    first = max(width, len(corner))
    lines = [f"{corner:<{first}} " + " ".join(f"{lab:>{width}}" for lab in labels)]
    for lab, row in zip(labels, confusion["matrix"]):
        lines.append(f"{lab:<{first}} " + " ".join(f"{c:>{width}}" for c in row))
    return lines
