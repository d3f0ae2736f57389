"""The output contract other tools read: predictions.jsonl, matrix.csv, errors.jsonl, manifest.json.

Every file is written atomically (temp file, then rename), so a killed run never leaves half a file.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .records import Catalog, Prediction


@contextmanager
def atomic_path(path):
    """A temp file beside `path` to write to; renamed onto `path` only when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


def write_predictions(predictions: list[Prediction], out_dir) -> Path:
    path = Path(out_dir) / "predictions.jsonl"
    atomic_write(path, "".join(json.dumps(p.to_json(), ensure_ascii=False) + "\n" for p in predictions))
    return path


def write_matrix(predictions: list[Prediction], catalog: Catalog, out_dir) -> Path:
    """One row per document, one column per proposal id, the stance in each cell."""
    cells: dict[str, dict[str, str]] = {}
    for p in predictions:
        cells.setdefault(p.doc_id, {})[p.proposal_id] = p.stance
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["doc_id", *catalog.ids])
    for doc_id in cells:
        w.writerow([doc_id, *(cells[doc_id].get(pid, "") for pid in catalog.ids)])
    path = Path(out_dir) / "matrix.csv"
    atomic_write(path, buf.getvalue())
    return path


def write_errors(errors: list[dict], out_dir) -> Path:
    path = Path(out_dir) / "errors.jsonl"
    atomic_write(path, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors))
    return path


def write_json(data: dict, path) -> Path:
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    return Path(path)
