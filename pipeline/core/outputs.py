"""The output contract other tools read: predictions.jsonl, matrix.csv, errors.jsonl; and how a run's
outputs are published as one unit.

Every file is written atomically (pipeline/files.py), so a killed run never leaves half a file. The
outputs of a run (`UNIT`) are published together: written into a fresh folder `out/.runs/<id>/`, then
switched in with one rename of the link `out/.current`; each name in `out/` is a link through it
(`out/predictions.jsonl -> .current/predictions.jsonl`). Whoever opens `out/` sees one run's outputs,
all of the old run's or all of the new one's, whenever a run is killed or fails (disk full).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

from ..errors import InputError
from ..files import atomic_write, csv_text
from ..records import Catalog, Prediction

log = logging.getLogger(__name__)
UNIT = ("predictions.jsonl", "matrix.csv", "errors.jsonl", "report.html", "remissammanstallning.xlsx",
        "manifest.json", ".hydra")
RUNS, CURRENT = ".runs", ".current"


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


def publish(out_dir: Path, write) -> Path:
    """Write a run's outputs with `write(folder)` into a fresh folder and switch them in at once.

    The caller holds the folder's lock (parts.exclusive). A failed `write` leaves the published outputs
    as they were (an OSError, e.g. a full disk, is one InputError line). Returns the new run folder.
    """
    out_dir = Path(out_dir)
    previous = current_run(out_dir)
    clean_stale(out_dir, keep=previous)
    folder = out_dir / RUNS / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True)
        write(folder)
        for name in UNIT:  # each name a link through .current (replacing the files of an older layout)
            if (folder / name).exists() or ((out_dir / name).exists() and not (out_dir / name).is_symlink()):
                _link(out_dir / name, f"{CURRENT}/{name}")
        _link(out_dir / CURRENT, f"{RUNS}/{folder.name}")  # the switch: one rename
    except BaseException as e:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(e, OSError):
            raise InputError(out_dir, f"cannot write the outputs ({type(e).__name__}: {e.strerror or e}); the "
                                      f"outputs published before are unchanged") from None
        raise
    if previous is not None and previous != folder:
        shutil.rmtree(previous, ignore_errors=True)
    return folder


def current_run(out_dir: Path) -> Path | None:
    """The run folder `out/.current` points to, if any."""
    link = Path(out_dir) / CURRENT
    if not link.is_symlink():
        return None
    target = (link.parent / os.readlink(link)).resolve()
    return target if target.is_dir() else None


def clean_stale(out_dir: Path, keep: Path | None) -> None:
    """Remove what killed runs left: unfinished run folders, temp links and temp files beside the outputs."""
    runs = out_dir / RUNS
    if runs.is_dir():
        for d in runs.iterdir():
            if keep is None or d.resolve() != keep:
                log.info("removing the unfinished outputs of a killed run: %s", d)
                if d.is_dir() and not d.is_symlink():
                    shutil.rmtree(d, ignore_errors=True)
                else:
                    d.unlink(missing_ok=True)
    for tmp in out_dir.glob(".*.tmp"):
        if tmp.is_file() or tmp.is_symlink():
            tmp.unlink(missing_ok=True)


def _link(path: Path, target: str) -> None:
    """Make `path` a relative symlink to `target`, atomically (a temp link renamed over it)."""
    if path.is_symlink() and os.readlink(path) == target:
        return
    if path.is_dir() and not path.is_symlink():  # .hydra/ of an older layout
        shutil.rmtree(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
