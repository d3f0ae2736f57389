"""`stance labels export`: an analyst's reviewed cells as hand labels in the corpus format (data/LABELING.md),
so that `stance train` can learn from them (`data.extra`).

A label's evidence quotes are cut from the document as it is now (`raw[start:end]` of the file the
run read, whitespace-normalised, a hyphen that ended a line kept) and checked against the sentence
the analyst clicked: a changed or vanished document, or a proposal no longer in the catalog, gives
one line and the cell is left out; the rest are written.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..evidence import quotes_overlap
from ..files import atomic_write, file_sha256
from ..records import Correction, DocResult
from .components import build
from .corrections import CorrectionLog, Run, load_run


def quote(raw: str, start: int, end: int) -> str:
    """The passage as LABELING.md quotes it: the file's text, whitespace collapsed."""
    return " ".join(raw[start:end].split())


def label_row(c: Correction, raw: str) -> dict:
    """The label of one reviewed cell; ValueError when an evidence quote no longer matches its sentence."""
    quotes = []
    for e in c.new.evidence:
        q = quote(raw, e.start, e.end)
        if not quotes_overlap(q, e.text):
            raise ValueError(f"evidence at {e.start}:{e.end} no longer reads {e.text[:60]!r} in the document")
        quotes.append(q)
    return {"doc_id": c.doc_id, "proposal_id": c.proposal_id, "stance": c.new.stance, "basis": c.new.basis,
            "confidence": c.new.confidence, "evidence": quotes, "note": c.new.note,
            "reviewer": c.reviewer, "time": c.time}


def _document_text(run: Run, result: DocResult, reader) -> str:
    path = Path(result.path)
    if not path.is_file():
        raise ValueError(f"its file {path} no longer exists")
    if result.content_sha256 and file_sha256(path) != result.content_sha256:
        raise ValueError(f"its file {path} changed since the run")
    return reader.read(path, doc_id=result.doc_id).raw


def export_labels(run_dir, output) -> tuple[int, list[str]]:
    """Write the labels of the run's reviewed cells to `output`; (labels written, one line per cell left out).
    Nothing is written when no cell could be exported."""
    run = load_run(run_dir)
    log = CorrectionLog(run.dir)
    entries, problems = log.read()
    latest = {c.key: (n, c) for n, c in entries}
    if not latest:
        raise InputError(log.path, "no reviewed cells (review the run with `stance review` first)")
    reader = build("ingest", run.config.get("ingest") or {"_target_": "reader.v1"})
    docs = {r.doc_id: r for r in run.results}
    order = {pid: k for k, pid in enumerate(run.catalog.ids)}
    rows, texts = [], {}
    for (doc_id, pid), (n, c) in sorted(latest.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 1e9))):
        where = f"{log.path}: line {n}"
        if doc_id not in docs:
            problems.append(f"{where}: document '{doc_id}' is not in this run: left out")
            continue
        if pid not in order:
            problems.append(f"{where}: proposal '{pid}' is not in the catalog {run.catalog.path}: left out")
            continue
        if doc_id not in texts:
            try:
                texts[doc_id] = _document_text(run, docs[doc_id], reader)
            except InputError as e:
                texts[doc_id] = ValueError(f"its file cannot be read ({e.problem})")
            except ValueError as e:
                texts[doc_id] = e
        try:
            if isinstance(texts[doc_id], ValueError):
                raise texts[doc_id]
            rows.append(label_row(c, texts[doc_id]))
        except ValueError as e:
            problems.append(f"{where}: document '{doc_id}': {e}: left out")
    if rows:
        atomic_write(output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return len(rows), problems
