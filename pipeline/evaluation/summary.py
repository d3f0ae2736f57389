"""What an evaluation writes and prints: metrics.json, confusion.csv/png, per_document.csv, a text summary."""
from __future__ import annotations

from pathlib import Path

from ..files import atomic_write, csv_text, write_json


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
    rows = [["gold\\predicted", *confusion["labels"]]]
    rows += [[lab, *row] for lab, row in zip(confusion["labels"], confusion["matrix"])]
    atomic_write(path, csv_text(rows))


def _fmt(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _write_per_document_csv(per_document: dict, path: Path) -> None:
    rows = [["doc_id", "n_cells", "cell_accuracy", "macro_f1", "addressed_f1", "n_errors"]]
    rows += [[doc_id, d["n_cells"], _fmt(d["cell_accuracy"], 4), _fmt(d["macro_f1"], 4), _fmt(d["addressed_f1"], 4),
              len(d["errors"])] for doc_id, d in per_document.items()]
    atomic_write(path, csv_text(rows))


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


def corpus_headline(m: dict) -> dict:
    """The numbers summary.json keeps per corpus, from one corpus' metrics."""
    link = m.get("linking") or {}
    return {"real": m.get("real"), "protocol": m.get("protocol"), "n_cells": m["n_cells"],
            "cell_accuracy": m["cell_accuracy"], "macro_f1": m["macro_f1"],
            "stance_macro_f1_addressed": m["stance_macro_f1_addressed"], "oppose_f1": m["per_label"]["oppose"]["f1"],
            "evidence_recall": m["evidence_recall"], "link_precision": link.get("precision"),
            "link_recall": link.get("recall")}


def corpus_table(results: dict[str, dict]) -> str:
    """One Markdown row per corpus (real and authored apart, never pooled)."""
    head = ["corpus", "real", "protocol", "cells", "cell accuracy", "macro F1", "stance macro F1 (addressed)",
            "oppose F1", "evidence recall", "link precision", "link recall"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in results.items():
        link = m.get("linking") or {}
        real = {True: "real", False: "authored"}.get(m.get("real"), "-")
        cells = [name, real, m.get("protocol", "-"), str(m["n_cells"]), _fmt(m["cell_accuracy"]), _fmt(m["macro_f1"]),
                 _fmt(m["stance_macro_f1_addressed"]), _fmt(m["per_label"]["oppose"]["f1"]), _fmt(m["evidence_recall"]),
                 _fmt(link.get("precision")), _fmt(link.get("recall"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
