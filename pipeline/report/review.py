"""The edit view of `stance review`: report.html with an editor beside it.

The page is the report as `render_report` writes it (the run's cells with the corrections so far
applied), every cell tagged with its position, plus an editor panel (assets/review.js, review.css)
that walks the review queue. The data the editor needs is embedded as JSON in a non-executable
script element, with `<`, `>` and `&` escaped so no document string can close it; the editor only
ever puts text into the page with `textContent`. Scripts run under a per-page nonce.
"""
from __future__ import annotations

import json
from importlib import resources

from ..records import STANCES, Catalog, DocResult
from .html import render_report
from .page import STANCE_COLOUR, STANCE_LABEL, Edit, esc, prepare

REVIEW_JS = resources.files(__package__).joinpath("assets/review.js").read_text(encoding="utf-8")
REVIEW_CSS = resources.files(__package__).joinpath("assets/review.css").read_text(encoding="utf-8")
KEYS = {"support": "1", "oppose": "2", "mixed": "3", "neutral": "4", "none": "5"}


def script_json(data) -> str:
    """JSON that is safe inside <script type="application/json">: nothing in it can end the element."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def review_data(results: list[DocResult], catalog: Catalog, queue: list[dict]) -> dict:
    """What the editor reads: documents and proposals by position, every cell's value, the queue."""
    docs = prepare(results, catalog)
    n_of = {d.result.doc_id: d.n for d in docs}
    k_of = {pid: k for k, pid in enumerate(catalog.ids, 1)}
    cells = {}
    for d in docs:
        for pid, p in d.cells.items():
            evidence = sorted({s.index for s in (d.sentence_of(e) for e in p.evidence) if s is not None})
            review = p.review or {}
            cells[f"{d.n}:{k_of[pid]}"] = {
                "stance": p.stance, "basis": p.basis, "score": round(float(p.score), 4), "evidence": evidence,
                "note": review.get("note", ""), "confidence": review.get("confidence", "high"),
                "review": p.review, "doc_id": d.result.doc_id, "proposal_id": pid}
    order = [{"cell": f"{n_of[q['doc_id']]}:{k_of[q['proposal_id']]}", "tier": q["tier"], "tier_name": q["tier_name"],
              "reasons": q["reasons"]} for q in queue if q["doc_id"] in n_of and q["proposal_id"] in k_of]
    return {"docs": [{"n": d.n, "doc_id": d.result.doc_id} for d in docs],
            "proposals": [{"k": k, "id": p.id, "title": p.title} for k, p in enumerate(catalog.proposals, 1)],
            "cells": cells, "queue": order, "stances": list(STANCES), "labels": STANCE_LABEL,
            "colours": STANCE_COLOUR}


def _panel() -> str:
    stances = "".join(
        f'<button type="button" class="st" data-stance="{st}" style="--c:{STANCE_COLOUR[st]}" '
        f'title="{esc(STANCE_LABEL[st])}"><kbd>{KEYS[st]}</kbd> {esc(st)}</button>' for st in STANCES)
    return (
        '<aside id="editor" aria-label="Review editor"><div class="ed-controls">'
        '<div class="ed-top"><label>Reviewer <input id="reviewer" maxlength="100" autocomplete="name"></label>'
        '<span id="counts" class="counts-line"></span>'
        '<button type="button" id="export">Export corrected</button></div>'
        '<div id="export-result" class="muted" role="status"></div>'
        '<h3 id="cell-title"></h3><div id="cell-why" class="why"></div><div id="cell-was" class="was"></div>'
        f'<div class="stances" role="group" aria-label="Stance">{stances}</div>'
        '<div class="basis" role="group" aria-label="Basis">basis '
        '<label><input type="radio" name="basis" value="explicit"> explicit <kbd>e</kbd></label>'
        '<label><input type="radio" name="basis" value="general"> general <kbd>g</kbd></label>'
        '<label class="unsure"><input type="checkbox" id="unsure"> unsure</label></div>'
        '<textarea id="note" rows="1" maxlength="4000" placeholder="note (optional)"></textarea>'
        '<div class="ed-actions"><button type="button" id="accept" class="primary"><kbd>a</kbd> accept &amp; next</button>'
        '<button type="button" id="save"><kbd>s</kbd> save</button><span id="status" role="status"></span>'
        '<span class="ed-nav"><button type="button" id="prev" title="previous in the queue">&#9664; <kbd>p</kbd></button>'
        '<span id="pos" class="muted"></span>'
        '<button type="button" id="next" title="next unreviewed cell"><kbd>n</kbd> &#9654;</button></span></div>'
        '<h4>Evidence <span class="muted">click sentences in the document to add or remove them</span></h4>'
        '<ol id="evidence"></ol></div><div id="doctext" class="text"></div></aside>'
        '<div id="namedlg" hidden><form id="nameform"><p>Who is reviewing? Your name goes into every correction.</p>'
        '<input id="namein" maxlength="100" required autocomplete="name"> <button type="submit">Start</button>'
        '</form></div>')


def render_review(results: list[DocResult], errors: list[dict], catalog: Catalog, run: dict, low_confidence: float,
                  queue: list[dict], nonce: str) -> str:
    """The edit view: the report of `results` (corrections applied) with the editor over `queue`."""
    data = script_json(review_data(results, catalog, queue))
    edit = Edit(nonce=nonce,
                head=f"<style>{REVIEW_CSS}</style>",
                body=(_panel() + f'<script type="application/json" id="review-data">{data}</script>'
                      f'<script nonce="{esc(nonce)}">{REVIEW_JS}</script>'))
    return render_report(results, errors, catalog, run, low_confidence, edit=edit)
