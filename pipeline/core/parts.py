"""Finished documents of a run folder, one JSON file each, written atomically: what resume and merge read.

A part holds a DocResult (records.DocResult.to_json) with the run key it was made under; a part
with another run key or content hash is stale and the document is recomputed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError
from ..files import write_json
from ..records import PART_FORMAT, DocResult


class Parts:
    """Finished documents of a run folder, one JSON file each, written atomically."""

    def __init__(self, out_dir):
        self.dir = Path(out_dir) / "parts"

    def path(self, doc_id: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", doc_id)[:80]
        return self.dir / f"{slug}-{hashlib.sha1(doc_id.encode('utf-8')).hexdigest()[:10]}.json"

    def clean(self) -> None:
        """Temp files left by a killed run."""
        if self.dir.is_dir():
            for p in self.dir.glob(".*.tmp"):
                p.unlink(missing_ok=True)

    def load(self, doc_id: str) -> dict | None:
        """The part of `doc_id`, or None when there is none or it is not a whole, readable part (it is
        then recomputed): a part that is JSON of the right format but lacks a field is no part."""
        p = self.path(doc_id)
        try:
            part = json.loads(p.read_text(encoding="utf-8"))
            if not isinstance(part, dict) or part.get("format") != PART_FORMAT or part.get("doc_id") != doc_id:
                return None
            DocResult.from_json(part)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None
        return part

    def is_done(self, doc_id: str, sha: str, key: str) -> bool:
        part = self.load(doc_id)
        return part is not None and part.get("content_sha256") == sha and part.get("run_key") == key

    def save(self, result: DocResult, key: str) -> None:
        write_json({"format": PART_FORMAT, "run_key": key, **result.to_json()}, self.path(result.doc_id))

    def result(self, doc_id: str) -> DocResult | None:
        part = self.load(doc_id)
        return None if part is None else DocResult.from_json(part)


_HELD: set[Path] = set()  # folders this process holds the lock of (the CLI takes it, a command re-enters)


@contextmanager
def exclusive(out_dir: Path):
    """One run at a time per output folder: two would interleave their parts and outputs. The lock is
    taken before anything is written there (the CLI takes it before it records the run's config)."""
    import fcntl

    out_dir = Path(out_dir)
    key = Path(os.path.realpath(out_dir))
    if key in _HELD:
        yield
        return
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        f = open(out_dir / ".lock", "a+")
    except OSError as e:
        raise InputError(out_dir, f"cannot write to this output folder ({type(e).__name__}: {e.strerror})") from None
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(out_dir, "another run is writing to this output folder") from None
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            fcntl.flock(f, fcntl.LOCK_UN)
