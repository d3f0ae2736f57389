"""The output contract other tools read: predictions.jsonl, matrix.csv, errors.jsonl.

Every file is written atomically (pipeline/files.py), so a killed run never leaves half a file.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..files import atomic_write, csv_text
from ..records import Catalog, Prediction


def write_predictions(predictions: list[Prediction], out_dir, name: str = "predictions.jsonl") -> Path:
    path = Path(out_dir) / name
    atomic_write(path, "".join(json.dumps(p.to_json(), ensure_ascii=False) + "\n" for p in predictions))
    return path


def read_predictions(path) -> list[Prediction]:
    """The rows of a predictions.jsonl; a malformed, duplicate or unknown-stance row is one InputError line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read ({type(e).__name__})") from None
    rows, seen = [], set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            p = Prediction.from_json(json.loads(line))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
            reason = str(e) if isinstance(e, ValueError) and "stance" in str(e) else "not a prediction row"
            raise InputError(path, f"line {n}: {reason}") from None
        key = (p.doc_id, p.proposal_id)
        if key in seen:
            raise InputError(path, f"line {n}: duplicate prediction for {key[0]} / {key[1]}")
        seen.add(key)
        rows.append(p)
    return rows


def write_matrix(predictions: list[Prediction], catalog: Catalog, out_dir) -> Path:
    """One row per document, one column per proposal id, the stance in each cell (spreadsheet-safe: a
    doc_id or proposal id that starts like a formula gets a leading ')."""
    cells: dict[str, dict[str, str]] = {}
    for p in predictions:
        cells.setdefault(p.doc_id, {})[p.proposal_id] = p.stance
    rows = [["doc_id", *catalog.ids]] + [[doc_id, *(cells[doc_id].get(pid, "") for pid in catalog.ids)]
                                         for doc_id in cells]
    path = Path(out_dir) / "matrix.csv"
    atomic_write(path, csv_text(rows))
    return path


def write_errors(errors: list[dict], out_dir) -> Path:
    path = Path(out_dir) / "errors.jsonl"
    atomic_write(path, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors))
    return path


def read_errors(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
