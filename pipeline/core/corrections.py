"""An analyst's corrections of a finished predict run (`stance review`): the run read back, the append-only
log `<run>/corrections.jsonl`, and the corrected outputs in `<run>/corrected/`.

Every save rewrites the log through a temp file, fsync and a rename under an exclusive lock
(`<run>/.corrections.lock`): a crash leaves the log as it was before or after the save, never half a
line, and two tabs or two servers on one run take turns. The latest line of a cell is its value; the
originals (predictions.jsonl, report.html, …) are never touched.
"""
from __future__ import annotations

import datetime
import fcntl
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..files import atomic_path
from ..records import BASES, STANCES, Catalog, CellValue, Correction, DocResult, Evidence, Prediction
from ..report import write_report, write_workbook
from . import outputs
from .assemble import report_info
from .catalog import load_catalog
from .parts import Parts

CORRECTIONS = "corrections.jsonl"
CORRECTED_DIR = "corrected"
CORRECTED_FILES = ("predictions.jsonl", "matrix.csv", "report.html", "remissammanstallning.xlsx")
MAX_NOTE = 4000
MAX_REVIEWER = 100
REVIEWED_SCORE = 1.0  # an analyst's cell: never flagged for review again


@dataclass
class Run:
    """A finished predict (or merge) run folder, read back: its catalog, documents, errors and settings."""

    dir: Path
    manifest: dict
    catalog: Catalog
    results: list[DocResult]  # doc_id order, as assembled
    errors: list[dict]
    info: dict  # the run facts the report and workbook show
    low_confidence: float

    @property
    def config(self) -> dict:
        return self.manifest.get("config") or {}

    def result(self, doc_id: str) -> DocResult | None:
        return next((r for r in self.results if r.doc_id == doc_id), None)

    def cells(self) -> dict[tuple[str, str], Prediction]:
        return {(p.doc_id, p.proposal_id): p for r in self.results for p in r.predictions}


def load_run(run_dir) -> Run:
    """The run in `run_dir`; one InputError line when it is not a finished predict run."""
    run_dir = Path(run_dir)
    man_path = run_dir / "manifest.json"
    if not run_dir.is_dir() or not man_path.is_file():
        raise InputError(run_dir, "not a finished `stance predict` output folder (no manifest.json)")
    try:
        manifest = json.loads(man_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(man_path, f"cannot read ({type(e).__name__})") from None
    if manifest.get("command") not in ("predict", "merge") or not isinstance(manifest.get("config"), dict):
        raise InputError(man_path, "not the manifest of a `stance predict` or `stance merge` run")
    cfg = manifest["config"]
    catalog_path = (cfg.get("data") or {}).get("catalog")
    if not catalog_path:
        raise InputError(man_path, "its config names no data.catalog")
    catalog = load_catalog(catalog_path)
    preds = outputs.read_predictions(run_dir / "predictions.jsonl") if (run_dir / "predictions.jsonl").is_file() else None
    if preds is None:
        raise InputError(run_dir, "no predictions.jsonl: the run did not finish")
    parts = Parts(run_dir)
    results = []
    for doc_id in dict.fromkeys(p.doc_id for p in preds):
        result = parts.result(doc_id)
        if result is None:
            raise InputError(parts.path(doc_id), f"missing part for '{doc_id}' (the run's parts/ folder is incomplete)")
        results.append(result)
    errors = outputs.read_errors(run_dir / "errors.jsonl") if (run_dir / "errors.jsonl").is_file() else []
    info = report_info(catalog, manifest.get("encoder"), cfg.get("classifier"), manifest.get("model"),
                       manifest.get("run_key") or "")
    low = float((cfg.get("report") or {}).get("low_confidence", 0.5))
    return Run(run_dir, manifest, catalog, results, errors, info, low)


def inside(run_dir: Path, name: str) -> Path:
    """`run_dir / name`, refused when it resolves outside the run folder (a symlink, `..`, an absolute name)."""
    root = Path(run_dir).resolve()
    path = (root / name).resolve()
    if path != root and root not in path.parents:
        raise InputError(Path(run_dir) / name, "resolves outside the run folder: refused")
    return path


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cell_value(result: DocResult, stance: str, basis, sentence_indices, note: str = "",
               confidence: str = "high") -> CellValue:
    """A cell value from an editor's choice: evidence by sentence index of the document, checked."""
    if stance not in STANCES:
        raise InputError("stance", f"unknown stance {stance!r} (expected one of {', '.join(STANCES)})")
    if stance == "none":
        basis, sentence_indices = None, []
    elif basis is None:
        basis = "explicit"
    if basis is not None and basis not in BASES:
        raise InputError("basis", f"unknown basis {basis!r} (expected explicit or general)")
    if confidence not in ("high", "low"):
        raise InputError("confidence", f"unknown confidence {confidence!r} (expected high or low)")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InputError("note", f"a note is text of at most {MAX_NOTE} characters")
    by_index = {s.index: s for s in result.sentences}
    evidence = []
    for i in sentence_indices or []:
        if not isinstance(i, int) or isinstance(i, bool) or i not in by_index:
            raise InputError("evidence", f"no sentence {i!r} in document '{result.doc_id}'")
        s = by_index[i]
        if all(e.start != s.start for e in evidence):
            evidence.append(Evidence(s.text, s.start, s.end))
    evidence.sort(key=lambda e: e.start)
    return CellValue(stance, basis, tuple(evidence), note.strip(), confidence)


def predicted_value(p: Prediction) -> CellValue:
    return CellValue(p.stance, p.basis, tuple(p.evidence))


class CorrectionLog:
    """`<run>/corrections.jsonl`: append-only, one Correction a line, every save atomic and locked."""

    def __init__(self, run_dir):
        self.dir = Path(run_dir)
        self.path = inside(self.dir, CORRECTIONS)
        self.lock_path = inside(self.dir, ".corrections.lock")

    @contextmanager
    def locked(self):
        with open(self.lock_path, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def read(self) -> tuple[list[tuple[int, Correction]], list[str]]:
        """(line number, correction) in order, and one line per line that is not a correction."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return [], []
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(self.path, f"cannot read ({type(e).__name__})") from None
        found, problems = [], []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                found.append((n, Correction.from_json(json.loads(line))))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
                problems.append(f"{self.path}: line {n}: not a correction ({' '.join(str(e).split()) or type(e).__name__})")
        return found, problems

    def latest(self) -> dict[tuple[str, str], tuple[int, Correction]]:
        """The last correction of every cell (its line number with it)."""
        return {c.key: (n, c) for n, c in self.read()[0]}

    def save(self, run: Run, doc_id: str, proposal_id: str, new: CellValue, reviewer: str) -> Correction:
        """Record `new` as the cell's value; its old value is read under the lock, so two tabs agree."""
        reviewer = " ".join(str(reviewer or "").split())
        if not reviewer or len(reviewer) > MAX_REVIEWER:
            raise InputError("reviewer", f"give the reviewer's name (1-{MAX_REVIEWER} characters)")
        pred = run.cells().get((doc_id, proposal_id))
        if pred is None:
            raise InputError("cell", f"no cell '{doc_id}' / '{proposal_id}' in this run")
        with self.locked():
            last = self.latest().get((doc_id, proposal_id))
            old = last[1].new if last else predicted_value(pred)
            correction = Correction(doc_id, proposal_id, old, new, reviewer, now())
            self._append(json.dumps(correction.to_json(), ensure_ascii=False) + "\n")
        return correction

    def _append(self, line: str) -> None:
        try:
            before = self.path.read_bytes()
        except FileNotFoundError:
            before = b""
        if before and not before.endswith(b"\n"):
            before += b"\n"
        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as f:
                f.write(before + line.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())


def reviewed(pred: Prediction, c: Correction) -> Prediction:
    """The prediction as the analyst left it, marked with who reviewed it, when, and what it was."""
    v = c.new
    review = {"reviewer": c.reviewer, "time": c.time, "changed": c.changed, "note": v.note, "confidence": v.confidence,
              "original": {"stance": pred.stance, "score": round(float(pred.score), 4), "basis": pred.basis}}
    return Prediction(pred.doc_id, pred.proposal_id, v.stance, REVIEWED_SCORE, v.basis, list(v.evidence), review)


def apply(run: Run, log: CorrectionLog) -> tuple[list[DocResult], list[str]]:
    """The run's results with the latest correction of each cell applied, and one line per correction
    that fits no cell of the run (a document or proposal that no longer exists) or no line at all."""
    entries, problems = log.read()
    latest = {c.key: (n, c) for n, c in entries}
    docs = {r.doc_id for r in run.results}
    known = set(run.catalog.ids)
    for (doc_id, pid), (n, _) in latest.items():
        if doc_id not in docs:
            problems.append(f"{log.path}: line {n}: document '{doc_id}' is not in this run: correction skipped")
        elif pid not in known:
            problems.append(f"{log.path}: line {n}: proposal '{pid}' is not in the catalog {run.catalog.path}: "
                            f"correction skipped")
    results = []
    for r in run.results:
        preds = [reviewed(p, latest[(r.doc_id, p.proposal_id)][1]) if (r.doc_id, p.proposal_id) in latest else p
                 for p in r.predictions]
        results.append(DocResult(r.doc_id, r.path, r.content_sha256, r.sentences, preds, r.encoding, r.warnings))
    return results, problems


def review_summary(results: list[DocResult]) -> str:
    rows = [p.review for r in results for p in r.predictions if p.review]
    if not rows:
        return "none"
    who = ", ".join(sorted({x["reviewer"] for x in rows}))
    last = max(x["time"] for x in rows)
    return f"{len(rows)} cells ({sum(x['changed'] for x in rows)} changed) by {who}; last {last}"


def export(run: Run, log: CorrectionLog) -> tuple[Path, list[str]]:
    """Write the corrected predictions.jsonl, matrix.csv, report.html and remissammanstallning.xlsx to
    `<run>/corrected/`, as one unit: built in a temp folder beside it, then renamed into place."""
    with log.locked():  # one export at a time; saves wait for it
        return _export(run, log)


def _export(run: Run, log: CorrectionLog) -> tuple[Path, list[str]]:
    results, problems = apply(run, log)
    final = inside(run.dir, CORRECTED_DIR)
    for stale in run.dir.glob(".corrected-*"):  # left by an export that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=run.dir, prefix=".corrected-"))
    try:
        preds = [p for r in results for p in r.predictions]
        info = {**run.info, "reviewed": review_summary(results)}
        outputs.write_predictions(preds, tmp)
        outputs.write_matrix(preds, run.catalog, tmp)
        write_report(results, run.errors, run.catalog, tmp, info, run.low_confidence)
        write_workbook(results, run.errors, run.catalog, tmp, info, run.low_confidence)
        os.chmod(tmp, 0o755)
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(dir=run.dir, prefix=".corrected-old-"))
            os.replace(final, old / CORRECTED_DIR)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final, problems
