"""The analyst-facing outputs: report.html (self-contained, escaped, linked, deterministic) and the workbook.

Inputs are the real corpus run through ingest, segment and the lexicon classifier, so the report is
tested on the evidence and headings it will actually show.
"""
from __future__ import annotations

import copy
import hashlib
import html
import re
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.stages.classify.lexicon import LexiconClassifier
from pipeline.core.catalog import load_catalog
from pipeline.stages.ingest import read_document
from pipeline.stages.link import RuleLinker
from pipeline.records import STANCES, Catalog, Doc, DocResult, Evidence, Prediction, Proposal, Sentence
from pipeline.report import render_report, write_report, write_workbook
from pipeline.report.browser import dump_dom, find_chromium, screenshot
from pipeline.report.page import FIXED_TIME
from pipeline.report.workbook import sheet_names
from pipeline.stages.segment import Segmenter

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "data" / "sou-2024-72" / "docs"
CATALOG = load_catalog(ROOT / "data" / "sou-2024-72" / "proposals.yaml")
RUN = {"sou": CATALOG.sou, "title": CATALOG.title, "encoder": "e5-bundled (intfloat/multilingual-e5-small)",
       "classifier": "lexicon.v2", "model": None, "run_key": "abc123"}
ERRORS = [{"path": "in/skannad <svar>.pdf", "doc_id": "skannad <svar>", "error": "PDF has no text layer (scanned?)"}]


def _build() -> list[DocResult]:
    classifier = LexiconClassifier(linker=RuleLinker(use_embeddings=False)).bind(CATALOG)
    results = []
    for path in sorted(DOCS.glob("*.txt")):
        doc = read_document(path)
        sentences = Segmenter().segment(doc)
        results.append(DocResult(doc.doc_id, doc.path, hashlib.sha256(path.read_bytes()).hexdigest(), sentences,
                                 classifier.predict(Doc(doc.doc_id, sentences)), doc.encoding, list(doc.warnings)))
    return results


_CORPUS = _build()


@pytest.fixture
def results() -> list[DocResult]:
    """A fresh copy of the corpus results, free to change."""
    return copy.deepcopy(_CORPUS)


def _ids(page: str) -> list[str]:
    return re.findall(r'\bid="([^"]*)"', page)


def _cells(page: str) -> dict[str, str]:
    """Cell id -> the cell's HTML (stance groups) ."""
    return dict(re.findall(r'<div class="cell[^"]*" id="(c-\d+-\d+)">(.*?)</div>', page, re.S))


def _section(page: str, sid: str) -> str:
    start = page.index(f'<section id="{sid}">')
    return page[start:page.index("</section>", start)]


def _sentence_of(result: DocResult, ev: Evidence) -> Sentence:
    return next(s for s in result.sentences if s.start <= ev.start < s.end)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _cell_of(results, doc_id, proposal_id):
    n = next(i for i, r in enumerate(results, 1) if r.doc_id == doc_id)
    k = CATALOG.ids.index(proposal_id) + 1
    return f"c-{n}-{k}"


# --------------------------------------------------------------------------------------------- HTML


def test_corpus_gives_cells_of_every_kind(results):
    """The checks below mean something only if the corpus has stances with evidence, and silent cells."""
    stances = {p.stance for r in results for p in r.predictions}
    assert {"support", "oppose", "none"} <= stances
    assert all(p.evidence for r in results for p in r.predictions if p.stance != "none")


def test_report_is_self_contained(results, tmp_path):
    path = write_report(results, ERRORS, CATALOG, tmp_path, RUN)
    page = path.read_text(encoding="utf-8")
    assert path.name == "report.html" and page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(link|img|iframe|object|embed|base)\b", page, re.I)
    assert not re.search(r"\bsrc\s*=", page, re.I)
    assert not re.search(r"@import|url\(|@font-face", page, re.I)
    assert re.findall(r"<script\b[^>]*>", page) == ["<script>"]  # our inline script only
    for href in re.findall(r'\bhref\s*=\s*["\']?([^"\' >]*)', page, re.I):
        assert href.startswith("#"), href
    assert not re.findall(r"<[^>]*(?:https?:)?//[^>]*>", page)  # no URL in any tag (text is escaped, so tags are ours)


def test_every_link_lands_on_a_unique_id(results, tmp_path):
    results[1].doc_id = "Region Jönköpings län/2024 remiss"  # ids are positions, never raw doc ids
    results[2].doc_id = results[3].doc_id  # two files with the same stem
    page = write_report(results, ERRORS, CATALOG, tmp_path, RUN).read_text(encoding="utf-8")
    ids = _ids(page)
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)
    targets = set(re.findall(r'href="#([^"]*)"', page))
    assert targets - {"top"} and targets <= set(ids)
    for k in range(1, len(CATALOG.proposals) + 1):
        assert f'href="#p-{k}"' in page  # the chart links every proposal section
    assert "Region Jönköpings län/2024 remiss" in page


def test_header_shows_run_and_counts(results):
    results[0].predictions[0].score = 0.1
    page = render_report(results, ERRORS, CATALOG, RUN)
    header = page[:page.index('<section id="chart">')]
    for key in ("encoder", "classifier", "model", "run_key"):
        assert f"<th>{key}</th>" in header
    assert "abc123" in header and "e5-bundled (intfloat/multilingual-e5-small)" in header
    assert f"<b>{len(results)}</b>documents" in header
    assert '<b>1</b>cells flagged for review' in header
    assert '<b>1</b>files not processed' in header


def test_chart_counts_match_predictions(results):
    page = render_report(results, [], CATALOG, RUN)
    svg = page[page.index('<svg class="chart"'):page.index("</svg>")]
    rows = svg.split('<a href="#p-')[1:]
    assert len(rows) == len(CATALOG.proposals)
    for row, pid in zip(rows, CATALOG.ids):
        drawn = {label: int(n) for label, n in re.findall(r"<title>([^<:]+): (\d+)</title>", row)}
        stances = [next(p.stance for p in r.predictions if p.proposal_id == pid) for r in results]
        expected = {html.escape(label): stances.count(st)
                    for st, label in zip(STANCES, ("support (tillstyrker)", "oppose (avstyrker)", "mixed (delvis)",
                                                   "neutral (ingen ställning)", "did not address"))
                    if stances.count(st)}
        assert drawn == expected, pid
    assert svg.count("<rect") >= len(CATALOG.proposals) + len(STANCES)


def test_each_proposal_groups_bodies_by_stance(results):
    page = render_report(results, [], CATALOG, RUN)
    cells = _cells(page)
    for k, pid in enumerate(CATALOG.ids, 1):
        start = page.index(f'<section class="prop" id="p-{k}">')
        section = page[start:page.index("</section>", start)]
        assert html.escape(CATALOG[pid].title) in section
        for n, r in enumerate(results, 1):
            p = next(p for p in r.predictions if p.proposal_id == pid)
            if p.stance == "none":
                assert f"c-{n}-{k}" not in cells
                assert f'<a href="#d-{n}">{html.escape(r.doc_id)}</a>' in section.split("Did not address")[1]
            else:
                assert f"c-{n}-{k}" in cells and f'id="c-{n}-{k}"' in section
                assert f"score {p.score:.2f}" in cells[f"c-{n}-{k}"] and f"basis {p.basis}" in cells[f"c-{n}-{k}"]
        # groups come in STANCES order, each body under its own stance heading
        heads = re.findall(r"<h3[^>]*>(\w+) \(", section)
        assert heads == sorted(heads, key=lambda h: STANCES.index(h.lower()))


def test_evidence_is_highlighted_and_linked_to_the_document(results):
    page = render_report(results, [], CATALOG, RUN)
    cells = _cells(page)
    n_checked = 0
    for n, r in enumerate(results, 1):
        for k, pid in enumerate(CATALOG.ids, 1):
            p = next(p for p in r.predictions if p.proposal_id == pid)
            for ev in p.evidence:
                s = _sentence_of(r, ev)
                cell = cells[f"c-{n}-{k}"]
                assert f"<mark>{html.escape(_squash(ev.text))}</mark>" in cell
                assert f'href="#d-{n}-s-{s.index}"' in cell
                # the sentence is marked in the document view and links back to the cell
                assert f'<span class="s ev" id="d-{n}-s-{s.index}">' in page or \
                    f'class="h s ev" id="d-{n}-s-{s.index}"' in page
                assert f'href="#c-{n}-{k}"' in page
                n_checked += 1
    assert n_checked > 20


def test_evidence_inside_a_sentence_is_marked_within_its_context(results):
    r = results[0]
    s = next(s for s in r.sentences if not s.is_heading and len(s.text.split()) > 8)
    words = s.text.split()
    part = " ".join(words[2:6])
    offset = s.text.index(part)
    r.predictions[0] = Prediction(r.doc_id, CATALOG.ids[0], "support", 0.9, "explicit",
                                  [Evidence(part, s.start + offset, s.start + offset + len(part))])
    page = render_report(results, [], CATALOG, RUN)
    quote = f"{html.escape(s.text[:offset])}<mark>{html.escape(part)}</mark>{html.escape(s.text[offset + len(part):])}"
    assert quote in _cells(page)["c-1-1"]


def test_evidence_with_stale_offsets_falls_back_to_text(results):
    r = results[0]
    s = next(s for s in r.sentences if not s.is_heading and s.index > 3)
    r.predictions[0] = Prediction(r.doc_id, CATALOG.ids[0], "support", 0.9, "explicit", [Evidence(s.text, 10**9, 10**9 + 5)])
    page = render_report(results, [], CATALOG, RUN)
    assert f'href="#d-1-s-{s.index}"' in _cells(page)["c-1-1"]


def test_low_confidence_cells_are_flagged_and_listed(results):
    stance_cell = next((n, k, p) for n, r in enumerate(results, 1) for k, p in enumerate(r.predictions, 1)
                       if p.stance == "oppose")
    silent_cell = next((n, k, p) for n, r in enumerate(results, 1) for k, p in enumerate(r.predictions, 1)
                       if p.stance == "none")
    stance_cell[2].score = 0.31
    silent_cell[2].score = 0.2  # a model unsure whether the body addressed it at all: also worth a look
    page = render_report(results, [], CATALOG, RUN, low_confidence=0.5)
    review = _section(page, "review")
    listed = re.findall(r'href="#(c-\d+-\d+)"', review)
    flagged = [f"c-{n}-{k}" for n, r in enumerate(results, 1) for k, p in enumerate(r.predictions, 1) if p.score < 0.5]
    assert sorted(listed) == sorted(flagged) == sorted([f"c-{stance_cell[0]}-{stance_cell[1]}",
                                                        f"c-{silent_cell[0]}-{silent_cell[1]}"])
    cells = _cells(page)
    low = f"c-{stance_cell[0]}-{stance_cell[1]}"
    assert '<span class="flag">review</span>' in cells[low] and "score 0.31" in cells[low]
    assert f'<div class="cell low" id="{low}">' in page
    for cid, body in cells.items():
        if cid != low:
            assert 'class="flag"' not in body, cid
    silent = f"c-{silent_cell[0]}-{silent_cell[1]}"
    assert re.search(rf'<span class="low" id="{silent}">.*?<span class="flag">review</span>', page)
    # a higher threshold flags more cells, consistently in list and header
    page = render_report(results, [], CATALOG, RUN, low_confidence=0.65)
    n = sum(p.score < 0.65 for r in results for p in r.predictions)
    assert n > 2 and len(re.findall(r'href="#c-', _section(page, "review"))) == n
    assert f"<b>{n}</b>cells flagged for review" in page


def test_document_text_is_escaped(results):
    r = results[0]
    last = r.sentences[-1]
    evil = "Vi tillstyrker <script>alert(1)</script> förslaget & <b>mer</b>."
    r.sentences.append(replace(last, index=last.index + 1, text=evil, start=last.end + 1, end=last.end + 1 + len(evil),
                               is_heading=False, block=last.block + 1))
    r.predictions[0] = Prediction(r.doc_id, CATALOG.ids[0], "support", 0.9, "explicit",
                                  [Evidence(evil, last.end + 1, last.end + 1 + len(evil))])
    r.doc_id = "<img src=x onerror=alert(2)>"
    r.warnings.append("<script>alert(3)</script>")
    catalog = replace(CATALOG, proposals=(replace(CATALOG.proposals[0], title="Förslag <i>ett</i>"),
                                          *CATALOG.proposals[1:]))
    page = render_report(results, ERRORS, catalog, {**RUN, "model": "<script>alert(4)</script>"})
    assert "<script>alert" not in page and "<img" not in page and "<i>ett</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f"<mark>{html.escape(evil)}</mark>" in page
    assert page.count("<script") == 1
    assert "&lt;img src=x onerror=alert(2)&gt;" in page and "&lt;script&gt;alert(3)&lt;/script&gt;" in page


def test_document_view_keeps_order_headings_path_and_warnings(results):
    results[0].warnings.append("decoded as cp1252")
    page = render_report(results, [], CATALOG, RUN)
    for n, r in enumerate(results, 1):
        start = page.index(f'<details class="doc" id="d-{n}">')
        view = page[start:page.index("</details>", start)]
        assert html.escape(r.path) in view
        ids = [int(i) for i in re.findall(rf'id="d-{n}-s-(\d+)"', view)]
        assert ids == [s.index for s in r.sentences]
        for s in r.sentences:
            if s.is_heading:
                assert re.search(rf'<div class="h s( ev)?" id="d-{n}-s-{s.index}" role="heading"', view)
    assert "<li>decoded as cp1252</li>" in page


def test_errors_are_listed(results):
    page = render_report(results, ERRORS, CATALOG, RUN)
    errors = _section(page, "errors")
    assert "in/skannad &lt;svar&gt;.pdf" in errors and "PDF has no text layer (scanned?)" in errors
    assert "Every file was processed" in _section(render_report(results, [], CATALOG, RUN), "errors")


def test_report_is_byte_identical_for_the_same_input(tmp_path):
    a = write_report(copy.deepcopy(_CORPUS), ERRORS, CATALOG, tmp_path / "a", RUN).read_bytes()
    b = write_report(_build(), ERRORS, CATALOG, tmp_path / "b", dict(RUN)).read_bytes()
    assert a == b


def test_empty_run_and_missing_cells_render(results, tmp_path):
    page = write_report([], ERRORS, CATALOG, tmp_path, RUN).read_text(encoding="utf-8")
    assert "No documents were processed." in page and "PDF has no text layer" in page
    results[0].predictions = results[0].predictions[:3] + [Prediction(results[0].doc_id, "not-in-catalog", "support", 1.0, "explicit")]
    page = render_report(results, [], CATALOG, RUN)
    assert 'id="c-1-4"' not in page and "not-in-catalog" not in page


# --------------------------------------------------------------------------------------------- workbook


def test_workbook_matrix_sheets_errors_and_run(results, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    low = results[2].predictions[1]
    low.score = 0.3
    path = write_workbook(results, ERRORS, CATALOG, tmp_path, RUN)
    assert path.name == "remissammanstallning.xlsx"
    wb = openpyxl.load_workbook(path)
    names = sheet_names(CATALOG.ids)
    assert wb.sheetnames == ["Matrix", "Summary", *names, "Errors", "Run"]

    m = wb["Matrix"]
    assert m.freeze_panes == "B3"
    rows = list(m.iter_rows(values_only=True))
    assert list(rows[0][1:-1]) == CATALOG.ids and rows[0][-1] == "file"
    assert list(rows[1][1:-1]) == [p.title for p in CATALOG.proposals]
    assert len(rows) == 2 + len(results)
    for row, r in zip(rows[2:], results):
        by_id = {p.proposal_id: p.stance for p in r.predictions}
        assert row[0] == r.doc_id and list(row[1:-1]) == [by_id[pid] for pid in CATALOG.ids] and row[-1] == r.path
    colours: dict[str, set] = {}
    for i in range(3, 3 + len(results)):
        for j in range(2, 2 + len(CATALOG.ids)):
            colours.setdefault(m.cell(row=i, column=j).value, set()).add(m.cell(row=i, column=j).fill.start_color.rgb)
    assert len(colours) >= 3 and all(len(c) == 1 for c in colours.values())  # one colour per stance ...
    assert len(set.union(*colours.values())) == len(colours)  # ... and a different one for each
    assert m.cell(row=5, column=3).comment is not None and "review" in m.cell(row=5, column=3).comment.text

    for name, pid in zip(names, CATALOG.ids):
        ws = wb[name]
        assert ws.cell(row=4, column=1).value == "body (doc_id)"
        body = {row[0]: row for row in ws.iter_rows(min_row=5, values_only=True)}
        assert set(body) == {r.doc_id for r in results}
        order = [STANCES.index(row[1]) for row in ws.iter_rows(min_row=5, values_only=True)]
        assert order == sorted(order)
        for r in results:
            p = next(p for p in r.predictions if p.proposal_id == pid)
            row = body[r.doc_id]
            assert row[1] == p.stance and row[2] == pytest.approx(p.score) and row[6] == r.path
            assert (row[4] == "review") == (p is low)
            for ev in p.evidence:
                assert _squash(ev.text) in row[5]

    assert list(wb["Errors"].iter_rows(min_row=2, values_only=True)) == [
        ("in/skannad <svar>.pdf", "skannad <svar>", "PDF has no text layer (scanned?)")]
    run = dict(wb["Run"].iter_rows(min_row=2, values_only=True))
    assert run["run_key"] == "abc123" and run["model"] == "—" and run["sou"] == "SOU 2024:72"
    assert run["cells flagged for review"] == 1
    assert wb.properties.created == FIXED_TIME and wb.properties.modified == FIXED_TIME


def test_workbook_is_byte_identical_for_the_same_input(tmp_path):
    a = write_workbook(copy.deepcopy(_CORPUS), ERRORS, CATALOG, tmp_path / "a", RUN).read_bytes()
    b = write_workbook(_build(), ERRORS, CATALOG, tmp_path / "b", RUN).read_bytes()
    assert a == b
    with zipfile.ZipFile(tmp_path / "a" / "remissammanstallning.xlsx") as z:  # no run time in the entries either
        assert {i.date_time for i in z.infolist()} == {FIXED_TIME.timetuple()[:6]}
    assert not list((tmp_path / "a").glob(".*.tmp"))  # the temp file was renamed, not left behind


def test_sheet_names_valid_and_unique_for_odd_proposal_ids(results, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    ids = ["kommunernas-mojlighet-att-anstalla-lakare-del-1", "kommunernas-mojlighet-att-anstalla-lakare-del-2",
           "a/b:c", "x[1]*?\\", "Matrix", "matrix", "'citerad'", "Errors", "Särskilda medel för vidareutbildning"]
    names = sheet_names(ids)
    assert len(names) == len(ids) and len({n.lower() for n in names} | {"matrix", "summary", "errors", "run"}) == len(ids) + 4
    for n in names:
        assert 0 < len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) and not n.startswith("'") and not n.endswith("'")
    catalog = Catalog("SOU 2099:1", "Syntetisk", tuple(Proposal(i, f"Förslag {i}", "Sammanfattning.") for i in ids))
    r = results[0]
    s = r.sentences[5]
    preds = [Prediction(r.doc_id, pid, "support" if j % 2 else "oppose", 0.9, "explicit",
                        [Evidence("=HYPERLINK(\"x\")" if j == 0 else s.text, s.start, s.end)]) for j, pid in enumerate(ids)]
    doc = DocResult(r.doc_id, r.path, r.content_sha256, r.sentences, preds)
    wb = openpyxl.load_workbook(write_workbook([doc], [], catalog, tmp_path, {}))
    assert wb.sheetnames[2:-2] == names
    cell = wb[names[0]].cell(row=5, column=6)
    assert cell.value == '=HYPERLINK("x")' and cell.data_type == "s"  # untrusted text never becomes a formula
    page = render_report([doc], [], catalog, {})
    assert len(_cells(page)) == len(ids)


# --------------------------------------------------------------------------------------------- browser

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium): "
                                    "the headless render check needs it")


@needs_chromium
def test_headless_chromium_renders_the_report(results, tmp_path):
    import matplotlib.image as mpimg

    results[2].predictions[1].score = 0.3
    report = write_report(results, ERRORS, CATALOG, tmp_path / "out", RUN)
    dom = dump_dom(report, timeout=60)
    assert '<svg class="chart"' in dom and dom.count("<rect") >= len(CATALOG.proposals)
    assert len(re.findall(r'<section class="prop" id="p-\d+">', dom)) == len(CATALOG.proposals)
    assert '<section id="review">' in dom and '<section id="errors">' in dom
    png = screenshot(report, tmp_path / "report.png", 1280, 2400, timeout=60)
    pixels = mpimg.imread(png)
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels[..., :3].var() > 1e-3  # text, chart and colours, not a blank page
    chart_band = pixels[300:1100, :, :3]
    greens = ((chart_band[..., 1] > 0.4) & (chart_band[..., 0] < 0.3) & (chart_band[..., 2] < 0.3)).sum()
    assert greens > 1000  # the support segments of the chart were painted


@needs_chromium
def test_screenshot_script(tmp_path):
    report = write_report(copy.deepcopy(_CORPUS), [], CATALOG, tmp_path, RUN)
    out = tmp_path / "shot.png"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot_report.py"), str(report), str(out),
                           "--width", "900", "--height", "700"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    import matplotlib.image as mpimg

    assert mpimg.imread(out).shape[:2] == (700, 900)
