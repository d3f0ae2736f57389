"""report.html: one self-contained page (no external assets) for the people who write the remissammanställning.

It groups the bodies per proposal by stance, quotes the evidence in context and links every quote to
its place in the document; cells whose score is below `low_confidence` are flagged for review.
Document text is untrusted, so every piece of it is escaped, and anchors are built from positions
(document n, sentence index), never from ids. The same inputs give the same bytes.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..files import atomic_write
from ..records import STANCES, Catalog, DocResult, Evidence, Sentence
from .page import STANCE_COLOUR, STANCE_LABEL, DocView, Edit, esc, needs_review, prepare, review_line, squash, stance_counts

CSS = resources.files(__package__).joinpath("assets/report.css").read_text(encoding="utf-8")
JS = resources.files(__package__).joinpath("assets/report.js").read_text(encoding="utf-8")


def _badge(stance: str) -> str:
    colour = STANCE_COLOUR.get(stance, "#777")
    text_colour = "#1d2327" if stance == "none" else "#fff"
    return f'<span class="badge" style="background:{colour};color:{text_colour}">{esc(STANCE_LABEL.get(stance, stance))}</span>'


def _cell_id(d: DocView, k: int) -> str:
    return f"c-{d.n}-{k}"


def _sentence_id(d: DocView, s: Sentence) -> str:
    return f"d-{d.n}-s-{s.index}"


def _quote(d: DocView, ev: Evidence) -> str:
    """The evidence in its sentence, the evidence itself marked, with a link to the passage."""
    s = d.sentence_of(ev)
    text = squash(ev.text)
    why = f'<span class="why">linked by {esc(ev.why)}</span>' if ev.why else ""
    if s is None:
        return f"<blockquote><mark>{esc(text)}</mark>{why}</blockquote>"
    full = s.text
    i = full.find(text) if text and text != full else -1
    if text == full or not text:
        body = f"<mark>{esc(full)}</mark>"
    elif i >= 0:
        body = f"{esc(full[:i])}<mark>{esc(text)}</mark>{esc(full[i + len(text):])}"
    else:
        body = f"<mark>{esc(text)}</mark>"
    return f'<blockquote>{body}<a class="go" href="#{_sentence_id(d, s)}">in document &#8594;</a>{why}</blockquote>'


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


def _chart(docs: list[DocView], catalog: Catalog) -> str:
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
        counts = stance_counts(docs, p.id)
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


def _cell_attr(d: DocView, k: int, edit: Edit | None) -> str:
    """In the edit view every cell names its position (document n, proposal k) for the editor."""
    return f' data-cell="{d.n}:{k}"' if edit is not None else ""


def _proposal(k, prop, docs, low_confidence, edit: Edit | None = None) -> list[str]:
    counts = stance_counts(docs, prop.id)
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
            low = needs_review(p, low_confidence)
            score = "" if p.review else f"score {float(p.score):.2f} · "
            out.append(f'<div class="cell{" low" if low else ""}{" reviewed" if p.review else ""}" '
                       f'id="{_cell_id(d, k)}"{_cell_attr(d, k, edit)}>'
                       f'<a class="who" href="#d-{d.n}">{esc(d.result.doc_id)}</a>'
                       f'<span class="info">{score}basis {esc(p.basis or "—")}</span>'
                       + (' <span class="flag">review</span>' if low else "")
                       + (f' <span class="rev">{esc(review_line(p))}</span>' if p.review else ""))
            if p.review and p.review.get("note"):
                out.append(f'<p class="note">{esc(p.review["note"])}</p>')
            out.extend(_quote(d, ev) for ev in p.evidence)
            if not p.evidence:
                out.append('<p class="muted">No evidence recorded.</p>')
            out.append("</div>")
        out.append("</div>")
    silent = [(d, d.cells[prop.id]) for d in docs if prop.id in d.cells and d.cells[prop.id].stance == "none"]
    if silent:
        items = []
        for d, p in silent:
            attr = _cell_attr(d, k, edit)
            if needs_review(p, low_confidence):
                items.append(f'<span class="low" id="{_cell_id(d, k)}"{attr}><a href="#d-{d.n}">{esc(d.result.doc_id)}</a> '
                             f'<span class="flag">review</span> <span class="muted">{float(p.score):.2f}</span></span>')
            elif p.review:
                items.append(f'<span id="{_cell_id(d, k)}"{attr}><a href="#d-{d.n}">{esc(d.result.doc_id)}</a> '
                             f'<span class="rev">{esc(review_line(p))}</span></span>')
            elif edit is not None:
                items.append(f'<span id="{_cell_id(d, k)}"{attr}><a href="#d-{d.n}">{esc(d.result.doc_id)}</a></span>')
            else:
                items.append(f'<a href="#d-{d.n}">{esc(d.result.doc_id)}</a>')
        out.append(f'<p class="none-list"><b>Did not address ({len(silent)}):</b> {", ".join(items)}</p>')
    out.append("</section>")
    return out


def _document(d: DocView, tags: dict[int, list[str]]) -> list[str]:
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
                  low_confidence: float = 0.5, edit: Edit | None = None) -> str:
    """The report as one HTML string (see write_report); with `edit`, the edit view of `stance review`."""
    docs = prepare(results, catalog)
    flagged = [(d, k, d.cells[p.id]) for k, p in enumerate(catalog.proposals, 1)
               for d in docs if p.id in d.cells and needs_review(d.cells[p.id], low_confidence)]
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
           f"<title>{esc(title)} — stance report</title><style>{CSS}</style>"
           + (f'<script nonce="{esc(edit.nonce)}">{JS}</script>{edit.head}</head><body class="edit"><main>' if edit else
              f"<script>{JS}</script></head><body><main>"),
           '<nav><a href="#top">Overview</a><a href="#review">Review</a><a href="#proposals">Proposals</a>'
           '<a href="#documents">Documents</a><a href="#errors">Errors</a></nav><div id="top"></div>']
    out += _header(docs, errors, catalog, run, flagged, low_confidence)
    out.append('<section id="chart"><h2>Stances per proposal</h2>')
    out.append(_chart(docs, catalog) if docs else '<p class="muted">No documents were processed.</p>')
    out.append("</section>")
    out += _review(flagged, catalog, low_confidence)
    out.append('<div id="proposals"></div>')
    for k, p in enumerate(catalog.proposals, 1):
        out += _proposal(k, p, docs, low_confidence, edit)
    out.append('<section id="documents"><h2>Documents</h2>'
               '<p class="tools"><button type="button" data-docs="open">Expand all</button>'
               '<button type="button" data-docs="close">Collapse all</button></p>')
    if not docs:
        out.append('<p class="muted">No documents.</p>')
    for d in docs:
        out += _document(d, tags[d.n - 1])
    out.append("</section>")
    out += _errors(errors)
    out.append("</main>" + (edit.body if edit else "") + "</body></html>\n")
    return "".join(out)


def write_report(results: list[DocResult], errors: list[dict], catalog: Catalog, out_dir, run: dict,
                 low_confidence: float = 0.5) -> Path:
    """Write out_dir/report.html: one self-contained page, no external assets, byte-stable for the same inputs."""
    path = Path(out_dir) / "report.html"
    atomic_write(path, render_report(results, errors, catalog, run, low_confidence))
    return path
