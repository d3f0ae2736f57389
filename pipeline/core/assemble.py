"""A batch run's outputs, assembled from its parts in doc_id order: resumed, merged and uninterrupted
runs write the same bytes."""
from __future__ import annotations

from pathlib import Path

from ..records import Catalog
from ..report import write_report, write_workbook
from . import outputs
from .parts import Parts
from .provenance import encoder_line


def report_info(catalog: Catalog, encoder_info: dict | None, classifier: dict | None, model: dict | None,
                key: str) -> dict:
    """The run facts the report and workbook show: from a run's config and manifest fields."""
    return {"sou": catalog.sou, "title": catalog.title, "encoder": encoder_line(encoder_info),
            "classifier": (classifier or {}).get("_target_"), "model": model["path"] if model else None,
            "run_key": key}


def assemble(out_dir: Path, doc_ids: list[str], parts: Parts, errors: list[dict], catalog: Catalog, run_info: dict,
             low_confidence: float) -> int:
    """The run's outputs from the parts of `doc_ids` (the documents done), in doc_id order; errors in path
    order. Returns the number of documents written."""
    results = []
    for doc_id in sorted(doc_ids):
        result = parts.result(doc_id)
        if result is None:
            raise RuntimeError(f"{parts.path(doc_id)}: missing part for {doc_id}")
        results.append(result)
    errors.sort(key=lambda e: (e["path"], e["error"]))
    preds = [p for r in results for p in r.predictions]
    outputs.write_predictions(preds, out_dir)
    outputs.write_matrix(preds, catalog, out_dir)
    outputs.write_errors(errors, out_dir)
    write_report(results, errors, catalog, out_dir, run_info, low_confidence)
    write_workbook(results, errors, catalog, out_dir, run_info, low_confidence)
    return len(results)
