"""What analysts read: a self-contained HTML report and an Excel workbook for the remissammanställning.

Both are built from a batch run's DocResults. The report groups the bodies per proposal by stance,
quotes the evidence in context and links every quote to its place in the document; cells whose
score is below `low_confidence` are flagged for review. Document text is untrusted, so every piece
of it is escaped, and anchors are built from positions (document n, sentence index), never from ids.
Output is deterministic: the same inputs give the same bytes, so runs can be diffed.
"""
from __future__ import annotations

import bisect
import datetime
import html
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from .outputs import atomic_path, atomic_write
from .records import STANCES, Catalog, DocResult, Evidence, Prediction, Sentence

STANCE_LABEL = {
    "support": "support (tillstyrker)",
    "oppose": "oppose (avstyrker)",
    "mixed": "mixed (delvis)",
    "neutral": "neutral (ingen ställning)",
    "none": "did not address",
}
STANCE_COLOUR = {  # chart and badges: dark enough for white text
    "support": "#2e7d32",
    "oppose": "#c62828",
    "mixed": "#d98200",
    "neutral": "#546e7a",
    "none": "#cfd5db",
}
STANCE_FILL = {  # workbook cell fills: light tints of the same hues, so black text stays legible
    "support": "C8E6C9",
    "oppose": "FFCDD2",
    "mixed": "FFE0B2",
    "neutral": "CFD8DC",
    "none": "F2F2F2",
}
# Zip entries and document properties carry this instead of the run time, so workbooks can be diffed.
FIXED_TIME = datetime.datetime(2000, 1, 1)
SHEET_RESERVED = ("Matrix", "Summary", "Errors", "Run", "History")
EXCEL_CELL_MAX = 32767


def esc(value) -> str:
    return html.escape(str(value), quote=True)


# ---------------------------------------------------------------------------------------------
# Shared view of the inputs


class _Doc:
    """One document with what both outputs look up: its cells by proposal, its sentences by offset."""

    def __init__(self, n: int, result: DocResult, catalog_ids: set[str]):
        self.n = n
        self.result = result
        self.cells: dict[str, Prediction] = {}
        for p in result.predictions:
            if p.proposal_id in catalog_ids and p.proposal_id not in self.cells:
                self.cells[p.proposal_id] = p
        self.sentences = sorted(result.sentences, key=lambda s: (s.start, s.index))
        self._starts = [s.start for s in self.sentences]
        self._by_text: dict[str, Sentence] | None = None

    def sentence_of(self, ev: Evidence) -> Sentence | None:
        """The sentence whose [start, end) holds the evidence start; by text where offsets do not fit."""
        i = bisect.bisect_right(self._starts, ev.start) - 1
        if i >= 0 and self.sentences[i].start <= ev.start < self.sentences[i].end:
            return self.sentences[i]
        if self._by_text is None:
            self._by_text = {}
            for s in self.sentences:
                self._by_text.setdefault(_squash(s.text), s)
        text = _squash(ev.text)
        found = self._by_text.get(text)
        if found is None and text:
            found = next((s for s in self.sentences if text in _squash(s.text)), None)
        return found


def _squash(text: str) -> str:
    return " ".join(text.split())


def _prepare(results: list[DocResult], catalog: Catalog) -> list[_Doc]:
    ids = set(catalog.ids)
    return [_Doc(n, r, ids) for n, r in enumerate(results, 1)]


def _flagged(p: Prediction, low_confidence: float) -> bool:
    return float(p.score) < low_confidence


def _counts(docs: list[_Doc], pid: str) -> dict[str, int]:
    counts = dict.fromkeys(STANCES, 0)
    for d in docs:
        p = d.cells.get(pid)
        if p is not None and p.stance in counts:
            counts[p.stance] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# HTML report

CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d2327;background:#f4f5f7}
main{max-width:1120px;margin:0 auto;padding:20px 28px 60px;background:#fff;min-height:100vh}
h1{font-size:1.6em;margin:.2em 0 .1em}h2{font-size:1.3em;margin:1.6em 0 .4em;border-bottom:2px solid #e3e6ea;padding-bottom:.2em}
h3{font-size:1.05em;margin:1.1em 0 .4em}
a{color:#0b57a4}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #e3e6ea;padding:6px 0;z-index:2;font-size:.92em}
nav a{margin-right:1.2em}
.sub{color:#5b6670;margin:0 0 .8em}
table{border-collapse:collapse}
.run th,.run td{padding:2px 12px 2px 0;text-align:left;vertical-align:top;font-size:.9em}
.run th{color:#5b6670;font-weight:600;white-space:nowrap}
.stats{display:flex;gap:14px;flex-wrap:wrap;margin:14px 0}
.stat{border:1px solid #e3e6ea;border-radius:6px;padding:8px 14px;min-width:120px;color:inherit;text-decoration:none}
a.stat:hover{border-color:#0b57a4}
.stat b{display:block;font-size:1.5em;line-height:1.2}
.stat.warn b{color:#b35c00}
svg.chart{width:100%;height:auto;display:block}
svg.chart text{font-family:inherit}
.flag{display:inline-block;background:#fff3c4;color:#7a4b00;border:1px solid #e0b84a;border-radius:3px;font-size:.75em;font-weight:700;padding:0 5px;text-transform:uppercase;letter-spacing:.03em}
.badge{display:inline-block;color:#fff;border-radius:3px;font-size:.78em;padding:0 6px;font-weight:600}
.review li{margin:2px 0}
.prop{margin-top:2.2em}
.prop .meta{color:#5b6670;font-size:.88em}
.prop .summary{margin:.3em 0}
.prop .en{color:#5b6670;font-style:italic;margin:.2em 0}
.counts span{margin-right:1em;font-size:.9em}
.group h3{border-left:6px solid;padding-left:8px}
.cell{border:1px solid #e3e6ea;border-radius:6px;padding:8px 12px;margin:8px 0}
.cell.low{border-color:#e0b84a;background:#fffdf3}
.cell .who{font-weight:600}
.cell .info{color:#5b6670;font-size:.85em;margin-left:.6em}
blockquote{margin:6px 0 0;padding:4px 10px;border-left:3px solid #cfd5db;background:#fafbfc;font-size:.93em}
blockquote .go{font-size:.82em;margin-left:.5em;white-space:nowrap}
mark{background:#ffe98a;padding:0 1px}
.none-list{font-size:.92em}
.none-list .low{background:#fff3c4}
details.doc{border:1px solid #e3e6ea;border-radius:6px;margin:8px 0;padding:0 12px}
details.doc>summary{cursor:pointer;padding:8px 0;font-weight:600}
details.doc>summary .info{font-weight:400;color:#5b6670;font-size:.85em;margin-left:.6em}
.docmeta{font-size:.85em;color:#5b6670}
.docmeta code{word-break:break-all}
.warnings{color:#8a4b00;font-size:.88em}
.text{max-width:78ch;padding-bottom:10px}
.text .h{font-weight:700;margin:1em 0 .3em;font-size:1.02em}
.text p{margin:.45em 0}
.text p.bullet{padding-left:1.3em;position:relative;margin:.25em 0}
.text p.bullet::before{content:"•";position:absolute;left:.35em;color:#5b6670}
.s.ev{background:#fff5bf}
.tag{display:inline-block;color:#fff;border-radius:3px;font-size:.72em;padding:0 4px;margin-left:3px;text-decoration:none;vertical-align:1px}
:target{outline:2px solid #f39c12;outline-offset:1px;background:#ffe98a}
.errors td,.errors th{border-bottom:1px solid #e3e6ea;padding:4px 10px 4px 0;text-align:left;vertical-align:top;font-size:.9em}
.errors code{word-break:break-all}
.tools button{font:inherit;font-size:.85em;margin-right:6px}
.muted{color:#5b6670}
"""

# Opens the closed <details> around a linked passage, so links into the document view always land.
JS = """
function reveal(){var id=location.hash.slice(1);if(!id)return;try{id=decodeURIComponent(id)}catch(e){}
var el=document.getElementById(id);if(!el)return;
for(var p=el.parentElement;p;p=p.parentElement){if(p.tagName==='DETAILS')p.open=true}
el.scrollIntoView({block:'center'})}
function docs(open){document.querySelectorAll('details.doc').forEach(function(d){d.open=open})}
window.addEventListener('hashchange',reveal);window.addEventListener('DOMContentLoaded',reveal);
"""


def _badge(stance: str) -> str:
    colour = STANCE_COLOUR.get(stance, "#777")
    text_colour = "#1d2327" if stance == "none" else "#fff"
    return f'<span class="badge" style="background:{colour};color:{text_colour}">{esc(STANCE_LABEL.get(stance, stance))}</span>'


def _cell_id(d: _Doc, k: int) -> str:
    return f"c-{d.n}-{k}"


def _sentence_id(d: _Doc, s: Sentence) -> str:
    return f"d-{d.n}-s-{s.index}"


def _quote(d: _Doc, ev: Evidence) -> str:
    """The evidence in its sentence, the evidence itself marked, with a link to the passage."""
    s = d.sentence_of(ev)
    text = _squash(ev.text)
    if s is None:
        return f"<blockquote><mark>{esc(text)}</mark></blockquote>"
    full = s.text
    i = full.find(text) if text and text != full else -1
    if text == full or not text:
        body = f"<mark>{esc(full)}</mark>"
    elif i >= 0:
        body = f"{esc(full[:i])}<mark>{esc(text)}</mark>{esc(full[i + len(text):])}"
    else:
        body = f"<mark>{esc(text)}</mark>"
    return f'<blockquote>{body}<a class="go" href="#{_sentence_id(d, s)}">in document &#8594;</a></blockquote>'


def _text_width(text: str, size: float = 13) -> float:
    """Rough rendered width of sans-serif text: enough to keep chart labels inside their column."""
    units = sum(0.32 if c in "iljtfr.,:;'| " else 0.98 if c in "mwMW" else 0.78 if c.isupper() else 0.64
                for c in text)
    return units * size


def _fit(text: str, width: float, size: float = 13) -> str:
    if _text_width(text, size) <= width:
        return text
    while text and _text_width(text + "…", size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _chart(docs: list[_Doc], catalog: Catalog) -> str:
    """Stacked horizontal bars, one per proposal, drawn by hand: no chart library, no external asset."""
    label_w, bar_w, right_w, row_h, bar_h, top = 350, 540, 90, 30, 20, 50
    width = label_w + bar_w + right_w
    height = top + row_h * len(catalog.proposals) + 10
    total = max(len(docs), 1)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="Stances per proposal">']
    steps = [34 + 6.6 * len(STANCE_LABEL[st]) for st in STANCES]
    x = max(0.0, min(label_w + bar_w / 2 - sum(steps) / 2, width - sum(steps)))  # centred on the bars where it fits
    for st, step in zip(STANCES, steps):
        out.append(f'<rect x="{x:.1f}" y="8" width="14" height="14" fill="{STANCE_COLOUR[st]}"/>'
                   f'<text x="{x + 19:.1f}" y="20" font-size="12" fill="#1d2327">{esc(STANCE_LABEL[st])}</text>')
        x += step
    out.append(f'<text x="{label_w + bar_w + 8}" y="{top - 6}" font-size="11" fill="#5b6670">addressed</text>')
    for k, p in enumerate(catalog.proposals, 1):
        y = top + (k - 1) * row_h
        counts = _counts(docs, p.id)
        label = f"{k}. {p.title}"
        short = _fit(label, label_w - 16)
        out.append(f'<a href="#p-{k}"><title>{esc(label)}</title>'
                   f'<text x="{label_w - 10}" y="{y + bar_h - 5}" font-size="13" text-anchor="end" fill="#0b57a4">{esc(short)}</text></a>')
        out.append(f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="{bar_h}" fill="#f4f5f7"/>')
        x = float(label_w)
        for st in STANCES:
            n = counts[st]
            if not n:
                continue
            w = bar_w * n / total
            out.append(f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{bar_h}" fill="{STANCE_COLOUR[st]}">'
                       f'<title>{esc(STANCE_LABEL[st])}: {n}</title></rect>')
            if w >= 9 * len(str(n)) + 6:
                fill = "#1d2327" if st == "none" else "#fff"
                out.append(f'<text x="{x + w / 2:.2f}" y="{y + bar_h - 5}" font-size="12" text-anchor="middle" '
                           f'fill="{fill}" font-weight="600">{n}</text>')
            x += w
        addressed = len(docs) - counts["none"] - sum(1 for d in docs if p.id not in d.cells)
        out.append(f'<text x="{label_w + bar_w + 8}" y="{y + bar_h - 5}" font-size="12" fill="#5b6670">'
                   f'{addressed} of {len(docs)}</text>')
    out.append("</svg>")
    return "".join(out)


def _header(docs, errors, catalog, run, flagged, low_confidence) -> list[str]:
    title = " — ".join(x for x in (catalog.sou, catalog.title) if x) or "Stance report"
    out = [f"<header><h1>{esc(title)}</h1>",
           '<p class="sub">Remiss stance report: predicted stance of each consultation response toward each proposal.</p>',
           '<table class="run">']
    for key, value in run.items():
        out.append(f"<tr><th>{esc(key)}</th><td>{esc('—' if value is None else value)}</td></tr>")
    out.append(f"<tr><th>review threshold</th><td>score &lt; {low_confidence:g}</td></tr></table>")
    cells = sum(len(d.cells) for d in docs)
    addressed = sum(1 for d in docs for p in d.cells.values() if p.stance != "none")
    out.append('<div class="stats">'
               f'<div class="stat"><b>{len(docs)}</b>documents</div>'
               f'<div class="stat"><b>{len(catalog.proposals)}</b>proposals</div>'
               f'<div class="stat"><b>{addressed}</b>of {cells} cells with a stance</div>'
               f'<a class="stat{" warn" if flagged else ""}" href="#review"><b>{len(flagged)}</b>cells flagged for review</a>'
               f'<a class="stat{" warn" if errors else ""}" href="#errors"><b>{len(errors)}</b>files not processed</a>'
               "</div></header>")
    return out


def _review(flagged, catalog, low_confidence) -> list[str]:
    out = ['<section id="review"><h2>Cells to review</h2>']
    if not flagged:
        out.append(f'<p class="muted">No cell has a score below {low_confidence:g}.</p></section>')
        return out
    out.append(f'<p class="muted">Score below {low_confidence:g}: check these against the text before quoting them.</p>'
               '<ol class="review">')
    for d, k, p in flagged:
        out.append(f'<li><a href="#{_cell_id(d, k)}">{esc(d.result.doc_id)} — {k}. {esc(catalog.proposals[k - 1].title)}</a> '
                   f'{_badge(p.stance)} <span class="muted">score {float(p.score):.2f}</span></li>')
    out.append("</ol></section>")
    return out


def _proposal(k, prop, docs, low_confidence) -> list[str]:
    counts = _counts(docs, prop.id)
    meta = [f"id <code>{esc(prop.id)}</code>"]
    if prop.section:
        meta.append(f"section {esc(prop.section)}")
    meta.append({"forslag": "förslag (proposal)", "bedomning": "bedömning (assessment)"}.get(prop.kind, esc(prop.kind)))
    out = [f'<section class="prop" id="p-{k}"><h2>{k}. {esc(prop.title)}</h2>',
           f'<div class="meta">{" · ".join(meta)}</div>',
           f'<p class="summary">{esc(prop.summary)}</p>']
    if prop.english:
        out.append(f'<p class="en">{esc(prop.english)}</p>')
    out.append('<div class="counts">' + "".join(
        f'<span><span class="badge" style="background:{STANCE_COLOUR[st]};color:{"#1d2327" if st == "none" else "#fff"}">'
        f'{counts[st]}</span> {esc(STANCE_LABEL[st])}</span>' for st in STANCES) + "</div>")
    for st in STANCES[:-1]:
        cells = [(d, d.cells[prop.id]) for d in docs if prop.id in d.cells and d.cells[prop.id].stance == st]
        if not cells:
            continue
        out.append(f'<div class="group"><h3 style="border-color:{STANCE_COLOUR[st]}">'
                   f'{esc(STANCE_LABEL[st].capitalize())} — {len(cells)}</h3>')
        for d, p in cells:
            low = _flagged(p, low_confidence)
            out.append(f'<div class="cell{" low" if low else ""}" id="{_cell_id(d, k)}">'
                       f'<a class="who" href="#d-{d.n}">{esc(d.result.doc_id)}</a>'
                       f'<span class="info">score {float(p.score):.2f} · basis {esc(p.basis or "—")}</span>'
                       + (' <span class="flag">review</span>' if low else ""))
            out.extend(_quote(d, ev) for ev in p.evidence)
            if not p.evidence:
                out.append('<p class="muted">No evidence recorded.</p>')
            out.append("</div>")
        out.append("</div>")
    silent = [(d, d.cells[prop.id]) for d in docs if prop.id in d.cells and d.cells[prop.id].stance == "none"]
    if silent:
        items = []
        for d, p in silent:
            if _flagged(p, low_confidence):
                items.append(f'<span class="low" id="{_cell_id(d, k)}"><a href="#d-{d.n}">{esc(d.result.doc_id)}</a> '
                             f'<span class="flag">review</span> <span class="muted">{float(p.score):.2f}</span></span>')
            else:
                items.append(f'<a href="#d-{d.n}">{esc(d.result.doc_id)}</a>')
        out.append(f'<p class="none-list"><b>Did not address ({len(silent)}):</b> {", ".join(items)}</p>')
    out.append("</section>")
    return out


def _document(d: _Doc, tags: dict[int, list[str]]) -> list[str]:
    """The document's sentences in order, paragraphs kept, evidence marked and tagged with its cells."""
    r = d.result
    warn = f' · <span class="warnings">{len(r.warnings)} warning(s)</span>' if r.warnings else ""
    out = [f'<details class="doc" id="d-{d.n}"><summary>{esc(r.doc_id)}'
           f'<span class="info">{len(r.sentences)} sentences · {len(tags)} evidence sentences</span>{warn}</summary>',
           f'<div class="docmeta">file <code>{esc(r.path)}</code> · encoding {esc(r.encoding)} · '
           f'sha256 <code>{esc(r.content_sha256[:16])}</code></div>']
    if r.warnings:
        out.append('<ul class="warnings">' + "".join(f"<li>{esc(w)}</li>" for w in r.warnings) + "</ul>")
    out.append('<div class="text">')
    block, open_p = None, False
    for s in r.sentences:
        if s.is_heading or s.block != block:
            if open_p:
                out.append("</p>")
                open_p = False
            block = s.block
        sid = _sentence_id(d, s)
        marks = "".join(tags.get(s.index, ()))
        cls = "s ev" if s.index in tags else "s"
        if s.is_heading:
            out.append(f'<div class="h {cls}" id="{sid}" role="heading" aria-level="4">{esc(s.text)}{marks}</div>')
            block = None
            continue
        if not open_p:
            out.append('<p class="bullet">' if s.bullet else "<p>")
            open_p = True
        out.append(f'<span class="{cls}" id="{sid}">{esc(s.text)}</span>{marks} ')
    if open_p:
        out.append("</p>")
    out.append("</div></details>")
    return out


def _errors(errors: list[dict]) -> list[str]:
    out = ['<section id="errors"><h2>Files not processed</h2>']
    if not errors:
        out.append('<p class="muted">Every file was processed.</p></section>')
        return out
    out.append('<table class="errors"><tr><th>file</th><th>reason</th></tr>')
    for e in errors:
        out.append(f'<tr><td><code>{esc(e.get("path") or e.get("doc_id") or "?")}</code></td>'
                   f'<td>{esc(e.get("error", ""))}</td></tr>')
    out.append("</table></section>")
    return out


def render_report(results: list[DocResult], errors: list[dict], catalog: Catalog, run: dict,
                  low_confidence: float = 0.5) -> str:
    """The report as one HTML string (see write_report)."""
    docs = _prepare(results, catalog)
    flagged = [(d, k, d.cells[p.id]) for k, p in enumerate(catalog.proposals, 1)
               for d in docs if p.id in d.cells and _flagged(d.cells[p.id], low_confidence)]
    # Evidence sentence -> tags linking back to the cells it supports, per document.
    tags: list[dict[int, list[str]]] = [{} for _ in docs]
    for d in docs:
        for k, p in enumerate(catalog.proposals, 1):
            pred = d.cells.get(p.id)
            if pred is None:
                continue
            seen = set()
            for ev in pred.evidence:
                s = d.sentence_of(ev)
                if s is None or s.index in seen:
                    continue
                seen.add(s.index)
                tags[d.n - 1].setdefault(s.index, []).append(
                    f'<a class="tag" style="background:{STANCE_COLOUR.get(pred.stance, "#777")}" '
                    f'href="#{_cell_id(d, k)}" title="{esc(p.title)}: {esc(pred.stance)}">{k} {esc(pred.stance)}</a>')
    title = " ".join(x for x in (catalog.sou, catalog.title) if x) or "Stance report"
    out = ["<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{esc(title)} — stance report</title><style>{CSS}</style><script>{JS}</script></head><body><main>",
           '<nav><a href="#top">Overview</a><a href="#review">Review</a><a href="#proposals">Proposals</a>'
           '<a href="#documents">Documents</a><a href="#errors">Errors</a></nav><div id="top"></div>']
    out += _header(docs, errors, catalog, run, flagged, low_confidence)
    out.append('<section id="chart"><h2>Stances per proposal</h2>')
    out.append(_chart(docs, catalog) if docs else '<p class="muted">No documents were processed.</p>')
    out.append("</section>")
    out += _review(flagged, catalog, low_confidence)
    out.append('<div id="proposals"></div>')
    for k, p in enumerate(catalog.proposals, 1):
        out += _proposal(k, p, docs, low_confidence)
    out.append('<section id="documents"><h2>Documents</h2>'
               '<p class="tools"><button type="button" onclick="docs(true)">Expand all</button>'
               '<button type="button" onclick="docs(false)">Collapse all</button></p>')
    if not docs:
        out.append('<p class="muted">No documents.</p>')
    for d in docs:
        out += _document(d, tags[d.n - 1])
    out.append("</section>")
    out += _errors(errors)
    out.append("</main></body></html>\n")
    return "".join(out)


def write_report(results: list[DocResult], errors: list[dict], catalog: Catalog, out_dir, run: dict,
                 low_confidence: float = 0.5) -> Path:
    """Write out_dir/report.html: one self-contained page, no external assets, byte-stable for the same inputs."""
    path = Path(out_dir) / "report.html"
    atomic_write(path, render_report(results, errors, catalog, run, low_confidence))
    return path


# ---------------------------------------------------------------------------------------------
# Workbook


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


def build_workbook(results: list[DocResult], errors: list[dict], catalog: Catalog, run: dict,
                   low_confidence: float = 0.5):
    """The workbook object (see write_workbook)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    docs = _prepare(results, catalog)
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
            if _flagged(pred, low_confidence):
                cell.font = Font(bold=True, italic=True, color="9C5700")
                cell.comment = Comment(f"review: score {float(pred.score):.2f} < {low_confidence:g}", "remiss-stance")
        _put(ws, row, last, d.result.path)
    ws.freeze_panes = "B3"

    ws = wb.create_sheet("Summary")
    head = ["#", "proposal id", "title", *STANCES, "flagged for review", "sheet"]
    names = sheet_names(catalog.ids)
    for c, h in enumerate(head, 1):
        _put(ws, 1, c, h, font=bold, fill=header_fill)
    for k, p in enumerate(catalog.proposals, 1):
        counts = _counts(docs, p.id)
        low = sum(1 for d in docs if p.id in d.cells and _flagged(d.cells[p.id], low_confidence))
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
            quotes = "\n\n".join(_squash(ev.text) for ev in pred.evidence)
            values = [d.result.doc_id, pred.stance, round(float(pred.score), 4), pred.basis or "",
                      "review" if _flagged(pred, low_confidence) else "", quotes, d.result.path]
            for c, v in enumerate(values, 1):
                _put(ws, row, c, v, alignment=wrap if c == 6 else top)
            ws.cell(row=row, column=2).fill = fills.get(pred.stance, PatternFill())
            if values[4]:
                ws.cell(row=row, column=5).font = Font(bold=True, color="9C5700")
            ws.cell(row=row, column=3).number_format = "0.00"
        for col, w in zip("ABCDEFG", (32, 10, 7, 9, 8, 90, 40)):
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
             ("cells flagged for review", sum(1 for d in docs for x in d.cells.values() if _flagged(x, low_confidence))),
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


# ---------------------------------------------------------------------------------------------
# Headless Chromium: the report as a browser renders it


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _headless(html_path, args: list[str], width: int, height: int, timeout: float) -> subprocess.CompletedProcess:
    """Run headless Chromium on a local file with a throwaway profile and no network chatter."""
    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("chromium not found (looked for chromium, chromium-browser, google-chrome)")
    url = Path(html_path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},{height}", *args, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def screenshot(html_path, png_path, width: int = 1280, height: int = 2400, timeout: float = 90) -> Path:
    """PNG of the top `height` pixels of the page as headless Chromium renders it.

    To see further down, make the window taller (up to 16384): a headless screenshot of a scrolled
    page (a #fragment, scrollTo) comes out blank.
    """
    if not Path(html_path).is_file():
        raise FileNotFoundError(f"{html_path}: no such file")  # chromium would screenshot its error page
    png = Path(png_path).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    proc = _headless(html_path, [f"--screenshot={png}"], width, height, timeout)
    if not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return png


def dump_dom(html_path, width: int = 1280, height: int = 2400, timeout: float = 90) -> str:
    """The DOM after Chromium has parsed and run the page."""
    proc = _headless(html_path, ["--dump-dom"], width, height, timeout)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"chromium --dump-dom failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return proc.stdout
