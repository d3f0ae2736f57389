"""remissammanstallning.xlsx: Matrix, Summary, one sheet per proposal with its quotes, Errors, Run.

Every cell is written as a value, never a formula (document text is untrusted), and the zip carries
fixed timestamps, so the same inputs give the same bytes.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ..files import atomic_path
from ..records import STANCES, Catalog, DocResult
from .page import FIXED_TIME, STANCE_FILL, needs_review, prepare, review_line, squash, stance_counts

SHEET_RESERVED = ("Matrix", "Summary", "Errors", "Run", "History")
EXCEL_CELL_MAX = 32767


def sheet_names(ids, reserved=SHEET_RESERVED) -> list[str]:
    """Valid, unique (case-insensitively, as Excel compares) sheet names derived from proposal ids."""
    used = {r.lower() for r in reserved}
    names = []
    for pid in ids:
        base = re.sub(r"[\[\]:*?/\\\x00-\x1f]", "-", str(pid)).strip().strip("'") or "proposal"
        name, n = base[:31].rstrip("'"), 2
        while name.lower() in used:
            suffix = f"~{n}"
            name = base[:31 - len(suffix)].rstrip("'") + suffix
            n += 1
        used.add(name.lower())
        names.append(name)
    return names


def _xl_text(value):
    """A value a cell can hold: no XML-illegal characters, within Excel's cell limit."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None or isinstance(value, (int, float)):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    return text if len(text) <= EXCEL_CELL_MAX else text[:EXCEL_CELL_MAX - 1] + "…"


def _put(ws, row: int, col: int, value, **style):
    """Set a cell; text that starts with '=' stays text (documents are untrusted: no formula injection)."""
    cell = ws.cell(row=row, column=col, value=_xl_text(value))
    if isinstance(cell.value, str) and cell.data_type == "f":
        cell.data_type = "s"
    for key, v in style.items():
        setattr(cell, key, v)
    return cell


def _reviewed(pred) -> str:
    """An analyst's review of a cell as the workbook shows it: who, when, what it was, the note."""
    note = (pred.review or {}).get("note")
    return review_line(pred) + (f"\n{note}" if note else "")


def build_workbook(results: list[DocResult], errors: list[dict], catalog: Catalog, run: dict,
                   low_confidence: float = 0.5):
    """The workbook object (see write_workbook)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    docs = prepare(results, catalog)
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    fills = {st: PatternFill("solid", start_color=c, end_color=c) for st, c in STANCE_FILL.items()}
    header_fill = PatternFill("solid", start_color="E3E6EA", end_color="E3E6EA")
    wb = Workbook()

    ws = wb.active
    ws.title = "Matrix"
    _put(ws, 1, 1, "body (doc_id)", font=bold, fill=header_fill)
    _put(ws, 2, 1, "proposal", font=Font(italic=True), fill=header_fill)
    for k, p in enumerate(catalog.proposals, 2):
        _put(ws, 1, k, p.id, font=bold, fill=header_fill, alignment=wrap)
        _put(ws, 2, k, p.title, font=Font(italic=True, size=9), fill=header_fill, alignment=wrap)
        ws.column_dimensions[get_column_letter(k)].width = 18
    last = len(catalog.proposals) + 2
    _put(ws, 1, last, "file", font=bold, fill=header_fill)
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions[get_column_letter(last)].width = 50
    ws.row_dimensions[2].height = 90
    for row, d in enumerate(docs, 3):
        _put(ws, row, 1, d.result.doc_id, font=bold)
        for k, p in enumerate(catalog.proposals, 2):
            pred = d.cells.get(p.id)
            if pred is None:
                continue
            cell = _put(ws, row, k, pred.stance, fill=fills.get(pred.stance, PatternFill()))
            if needs_review(pred, low_confidence):
                cell.font = Font(bold=True, italic=True, color="9C5700")
                cell.comment = Comment(f"review: score {float(pred.score):.2f} < {low_confidence:g}", "remiss-stance")
            elif pred.review:
                cell.font = Font(bold=True)
                cell.comment = Comment(_xl_text(_reviewed(pred)), "remiss-stance")
        _put(ws, row, last, d.result.path)
    ws.freeze_panes = "B3"

    ws = wb.create_sheet("Summary")
    head = ["#", "proposal id", "title", *STANCES, "flagged for review", "sheet"]
    names = sheet_names(catalog.ids)
    for c, h in enumerate(head, 1):
        _put(ws, 1, c, h, font=bold, fill=header_fill)
    for k, p in enumerate(catalog.proposals, 1):
        counts = stance_counts(docs, p.id)
        low = sum(1 for d in docs if p.id in d.cells and needs_review(d.cells[p.id], low_confidence))
        for c, v in enumerate([k, p.id, p.title, *(counts[st] for st in STANCES), low, names[k - 1]], 1):
            _put(ws, k + 1, c, v, alignment=wrap if c == 3 else top)
    for col, w in zip("ABCDEFGHIJ", (4, 30, 60, 9, 9, 9, 9, 9, 10, 30)):
        ws.column_dimensions[col].width = w
    ws.freeze_panes = "A2"

    order = {st: i for i, st in enumerate(STANCES)}
    for k, (p, name) in enumerate(zip(catalog.proposals, names), 1):
        ws = wb.create_sheet(name)
        _put(ws, 1, 1, f"{k}. {p.title}", font=Font(bold=True, size=12))
        _put(ws, 2, 1, p.summary, alignment=Alignment(wrap_text=False))
        _put(ws, 3, 1, f"proposal id: {p.id}" + (f" · section {p.section}" if p.section else ""),
             font=Font(italic=True, color="5B6670"))
        head = ["body (doc_id)", "stance", "score", "basis", "review", "evidence", "file"]
        for c, h in enumerate(head, 1):
            _put(ws, 4, c, h, font=bold, fill=header_fill)
        rows = sorted((d for d in docs if p.id in d.cells), key=lambda d: (order.get(d.cells[p.id].stance, 99), d.n))
        for row, d in enumerate(rows, 5):
            pred = d.cells[p.id]
            quotes = "\n\n".join(squash(ev.text) for ev in pred.evidence)
            flag = "review" if needs_review(pred, low_confidence) else _reviewed(pred)
            values = [d.result.doc_id, pred.stance, round(float(pred.score), 4), pred.basis or "", flag, quotes,
                      d.result.path]
            for c, v in enumerate(values, 1):
                _put(ws, row, c, v, alignment=wrap if c == 6 else top)
            ws.cell(row=row, column=2).fill = fills.get(pred.stance, PatternFill())
            if values[4]:
                ws.cell(row=row, column=5).font = Font(bold=True, color="1B5E20" if pred.review else "9C5700")
                ws.cell(row=row, column=5).alignment = wrap
            ws.cell(row=row, column=3).number_format = "0.00"
        for col, w in zip("ABCDEFG", (32, 10, 7, 9, 24 if any(d.cells[p.id].review for d in rows) else 8, 90, 40)):
            ws.column_dimensions[col].width = w
        ws.freeze_panes = "B5"

    ws = wb.create_sheet("Errors")
    for c, h in enumerate(["file", "doc_id", "reason"], 1):
        _put(ws, 1, c, h, font=bold, fill=header_fill)
    for row, e in enumerate(errors, 2):
        for c, v in enumerate([e.get("path", ""), e.get("doc_id", ""), e.get("error", "")], 1):
            _put(ws, row, c, v)
    for col, w in zip("ABC", (50, 30, 80)):
        ws.column_dimensions[col].width = w
    ws.freeze_panes = "A2"

    ws = wb.create_sheet("Run")
    info = [(k, v) for k, v in (("sou", catalog.sou), ("title", catalog.title)) if k not in run]
    info += [(str(k), "—" if v is None else str(v)) for k, v in run.items()]
    info += [("documents", len(docs)), ("files not processed", len(errors)),
             ("cells flagged for review", sum(1 for d in docs for x in d.cells.values() if needs_review(x, low_confidence))),
             ("review threshold", f"score < {low_confidence:g}")]
    for c, h in enumerate(["key", "value"], 1):
        _put(ws, 1, c, h, font=bold, fill=header_fill)
    for row, (key, value) in enumerate(info, 2):
        _put(ws, row, 1, key, font=bold)
        _put(ws, row, 2, value)
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 90

    wb.properties.creator = "remiss-stance"
    wb.properties.title = f"Remissammanställning {catalog.sou}".strip()
    wb.properties.created = wb.properties.modified = FIXED_TIME
    return wb


class _FixedTimeZip(zipfile.ZipFile):
    """A zip whose entries carry FIXED_TIME, not the time of writing: same workbook, same bytes."""

    def writestr(self, name, data, compress_type=None, compresslevel=None):
        if isinstance(name, str):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            name = info
        super().writestr(name, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        self.writestr(arcname or Path(filename).name, Path(filename).read_bytes())


def write_workbook(results: list[DocResult], errors: list[dict], catalog: Catalog, out_dir, run: dict,
                   low_confidence: float = 0.5) -> Path:
    """Write out_dir/remissammanstallning.xlsx: Matrix, Summary, one sheet per proposal, Errors, Run.

    Saved through a temp file and a rename (a killed run leaves no half workbook), with fixed
    timestamps, so the same inputs give the same bytes.
    """
    from openpyxl.writer.excel import ExcelWriter

    path = Path(out_dir) / "remissammanstallning.xlsx"
    wb = build_workbook(results, errors, catalog, run, low_confidence)
    with atomic_path(path) as tmp:
        ExcelWriter(wb, _FixedTimeZip(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    return path
