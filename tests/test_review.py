"""`stance review`: the corrections log, the review queue, the corrected outputs and the server's safety.

Runs skip the embed stage (embedder=null linker=lexical): what is tested is the loop around a
finished run, not the model. The browser itself is driven in test_review_browser.py.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers import (HOSTILE, HOSTILE_DOC, HOSTILE_NAME, NORRBY, SODERBY, STANCE_SCRIPT, read_jsonl, run_main,
                     write_catalog)
from pipeline.core.corrections import CorrectionLog, apply, cell_value, export, load_run
from pipeline.core.review_queue import DISAGREE, LOW, REST, review_queue
from pipeline.core.review_server import MAX_BODY, ReviewApp, ReviewServer
from pipeline.errors import InputError

NO_EMBED = ("embedder=null", "linker=lexical")


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
    docs = root / "docs"
    docs.mkdir()
    (docs / "norrby.txt").write_text(NORRBY, encoding="utf-8")
    (docs / "soderby.txt").write_text(SODERBY, encoding="utf-8")
    (docs / f"{HOSTILE_NAME}.txt").write_text(HOSTILE_DOC, encoding="utf-8")
    catalog = write_catalog(root / "proposals.yaml")
    out = root / "run"
    assert run_main(["predict", f"input={docs}", f"output={out}", f"data.catalog={catalog}", *NO_EMBED]) == 0
    return out


@pytest.fixture
def run_dir(base_run, tmp_path):
    """A fresh copy of the finished run for every test that writes to it."""
    dst = tmp_path / "run"
    shutil.copytree(base_run, dst)
    return dst


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()
            and p.name not in ("corrections.jsonl", ".corrections.lock")}


def register_cell(run):
    return next(p for p in run.cells().values() if p.doc_id == "norrby" and p.proposal_id == "munhalsoregister")


def burden_index(run) -> int:
    return next(s.index for s in run.result("norrby").sentences if "administrativ börda" in s.text)


# ---------------------------------------------------------------------------------------------- corrections


def test_a_save_is_one_line_with_old_and_new_value_and_the_next_save_starts_from_it(run_dir):
    run = load_run(run_dir)
    log = CorrectionLog(run_dir)
    before = register_cell(run)
    assert before.stance == "neutral"  # the lexicon finds no cue in "an administrative burden"
    value = cell_value(run.result("norrby"), "oppose", "explicit", [burden_index(run)], "burden = opposition")
    first = log.save(run, "norrby", "munhalsoregister", value, "Anna Analytiker")
    assert (first.old.stance, first.new.stance) == ("neutral", "oppose") and first.changed
    rows = read_jsonl(run_dir / "corrections.jsonl")
    assert len(rows) == 1 and rows[0]["reviewer"] == "Anna Analytiker" and re.match(r"\d{4}-\d\d-\d\dT", rows[0]["time"])
    ev = rows[0]["new"]["evidence"][0]
    raw = NORRBY
    assert " ".join(raw[ev["start"]:ev["end"]].split()) == ev["text"]  # offsets into the original file
    again = log.save(run, "norrby", "munhalsoregister", cell_value(run.result("norrby"), "mixed", "explicit", []), "Bo")
    assert again.old.stance == "oppose" and again.old.evidence == value.evidence
    assert [c.new.stance for _, c in log.read()[0]] == ["oppose", "mixed"]  # append-only: the first line stays


def test_two_tabs_saving_at_once_leave_every_save_whole(run_dir):
    run = load_run(run_dir)
    cells = [(p.doc_id, p.proposal_id) for p in run.cells().values()]

    def tab(name):
        log = CorrectionLog(run_dir)  # each tab: its own handle on the lock, as two requests have
        for i in range(15):
            doc_id, pid = cells[i % len(cells)]
            log.save(run, doc_id, pid, cell_value(run.result(doc_id), "support", "explicit", []), name)

    threads = [threading.Thread(target=tab, args=(f"tab{k}",)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with multiprocessing.get_context("fork").Pool(2) as pool:  # two server processes on one run
        pool.map(_process_saves, [(str(run_dir), "proc0"), (str(run_dir), "proc1")])
    entries, problems = CorrectionLog(run_dir).read()
    assert problems == [] and len(entries) == 60
    assert sorted({c.reviewer for _, c in entries}) == ["proc0", "proc1", "tab0", "tab1"]


def _process_saves(args):
    run_dir, name = args
    run = load_run(run_dir)
    log = CorrectionLog(run_dir)
    doc_id, pid = "soderby", "tandvardsbidrag"
    for _ in range(15):
        log.save(run, doc_id, pid, cell_value(run.result(doc_id), "oppose", "explicit", []), name)


def test_editor_input_is_checked(run_dir):
    run = load_run(run_dir)
    r = run.result("norrby")
    with pytest.raises(InputError, match="unknown stance"):
        cell_value(r, "maybe", "explicit", [])
    with pytest.raises(InputError, match="no sentence"):
        cell_value(r, "oppose", "explicit", [10_000])
    with pytest.raises(InputError, match="basis"):
        cell_value(r, "oppose", "sideways", [])
    assert cell_value(r, "none", "explicit", [burden_index(run)]).evidence == ()  # none has no evidence
    with pytest.raises(InputError, match="reviewer"):
        CorrectionLog(run_dir).save(run, "norrby", "munhalsoregister", cell_value(r, "oppose", None, []), "  ")


def test_a_log_that_escapes_the_run_folder_is_refused(run_dir, tmp_path):
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text("", encoding="utf-8")
    (run_dir / "corrections.jsonl").symlink_to(outside)
    with pytest.raises(InputError, match="outside the run folder"):
        CorrectionLog(run_dir)


# -------------------------------------------------------------------------------------------- queue


def test_queue_puts_low_scores_first_then_disagreements_then_the_rest(base_run):
    run = load_run(base_run)
    queue = review_queue(run.results, run.catalog, run.low_confidence, run.config.get("linker"))
    assert len(queue) == len(run.cells()) == 18
    tiers = [q.tier for q in queue]
    assert tiers == sorted(tiers) and tiers[0] == LOW and REST in tiers
    low = [q for q in queue if q.tier == LOW]
    assert all(q.score < run.low_confidence for q in low)
    assert {(q.doc_id, q.proposal_id) for q in low} >= {("norrby", "munhalsoregister"), ("soderby", "munhalsoregister")}
    assert all(q.reasons for q in queue if q.tier in (LOW, DISAGREE))
    rest = [q.score for q in queue if q.tier == REST]
    assert rest == sorted(rest)


def test_a_cell_left_none_beside_a_linked_position_is_a_disagreement(tmp_path):
    from helpers import CATALOG, make_doc
    from pipeline.core.review_queue import disagreements, words_linker
    from pipeline.records import DocResult, Prediction
    from pipeline.stages.segment import Segmenter

    raw = "Yttrande\n\nVi avstyrker bestämt tandhygienisterna.\n"
    sents = Segmenter().segment(make_doc(raw, "x"))
    preds = [Prediction("x", p.id, "none", 0.9, None) for p in CATALOG.proposals]
    found = disagreements(DocResult("x", "x.txt", "", sents, preds), CATALOG, words_linker({}).fit(CATALOG))
    assert list(found) == ["tandhygienist-hemtjanst"]
    assert "a sentence linked here reads oppose; the cell says none" in found["tandhygienist-hemtjanst"]


# ------------------------------------------------------------------------------------------ export


def test_export_writes_corrected_outputs_beside_the_untouched_originals(run_dir):
    originals = digest(run_dir)
    run = load_run(run_dir)
    log = CorrectionLog(run_dir)
    log.save(run, "norrby", "munhalsoregister",
             cell_value(run.result("norrby"), "oppose", "explicit", [burden_index(run)], "a burden"), "Anna")
    kept = next(p for p in run.cells().values() if (p.doc_id, p.proposal_id) == ("norrby", "tandvardsbidrag"))
    indices = [s.index for s in run.result("norrby").sentences if any(e.start == s.start for e in kept.evidence)]
    log.save(run, "norrby", "tandvardsbidrag", cell_value(run.result("norrby"), kept.stance, kept.basis, indices),
             "Anna")  # an acceptance: the value stays
    folder, problems = export(run, log)
    assert problems == [] and folder == (run_dir / "corrected").resolve()
    assert sorted(p.name for p in folder.iterdir()) == ["matrix.csv", "predictions.jsonl", "remissammanstallning.xlsx",
                                                        "report.html"]
    assert digest(run_dir) == originals
    rows = {(r["doc_id"], r["proposal_id"]): r for r in read_jsonl(folder / "predictions.jsonl")}
    fixed = rows[("norrby", "munhalsoregister")]
    assert fixed["stance"] == "oppose" and fixed["score"] == 1.0
    assert fixed["review"]["reviewer"] == "Anna" and fixed["review"]["original"]["stance"] == "neutral"
    assert fixed["review"]["changed"] is True and rows[("norrby", "tandvardsbidrag")]["review"]["changed"] is False
    assert "review" not in rows[("soderby", "munhalsoregister")]
    assert len(rows) == len(read_jsonl(run_dir / "predictions.jsonl"))
    matrix = (folder / "matrix.csv").read_text(encoding="utf-8").splitlines()
    norrby = next(line for line in matrix if line.startswith("norrby,"))
    assert norrby.split(",")[1 + [p for p in matrix[0].split(",")[1:]].index("munhalsoregister")] == "oppose"
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "reviewed by Anna" in html and "was neutral" in html and "a burden" in html
    from openpyxl import load_workbook

    ws = load_workbook(folder / "remissammanstallning.xlsx")["Matrix"]
    comments = [c.comment.text for row in ws.iter_rows() for c in row if c.comment]
    assert any("reviewed by Anna" in t and "was neutral" in t for t in comments)
    sheet = load_workbook(folder / "remissammanstallning.xlsx")["munhalsoregister"]
    assert any("reviewed by Anna" in str(c.value) for row in sheet.iter_rows() for c in row)
    again, _ = export(run, log)  # a second export replaces the first, whole
    assert again == folder and (folder / "report.html").is_file() and not list(run_dir.glob(".corrected-*"))


def test_corrections_for_cells_that_no_longer_exist_give_one_line_each(run_dir):
    log = CorrectionLog(run_dir)
    run = load_run(run_dir)
    log.save(run, "norrby", "munhalsoregister", cell_value(run.result("norrby"), "oppose", None, []), "Anna")
    lines = (run_dir / "corrections.jsonl").read_text(encoding="utf-8")
    row = json.loads(lines)
    gone = [{**row, "doc_id": "vanished"}, {**row, "proposal_id": "struck-from-catalog"}]
    (run_dir / "corrections.jsonl").write_text(lines + "".join(json.dumps(r) + "\n" for r in gone) + "{broken\n",
                                               encoding="utf-8")
    results, problems = apply(run, log)
    assert len(problems) == 3
    assert "line 4: not a correction" in problems[0]
    assert "line 2: document 'vanished' is not in this run" in problems[1]
    assert "line 3: proposal 'struck-from-catalog' is not in the catalog" in problems[2]
    assert all("\n" not in p for p in problems)
    assert any(p.review for r in results for p in r.predictions)


# ------------------------------------------------------------------------------------------ server


@pytest.fixture
def server(run_dir):
    srv = ReviewServer(ReviewApp(run_dir)).start()
    yield srv
    srv.stop()


def request(srv, method, path, body=None, token=True, headers=None, raw_body=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=10)
    h = {"Content-Type": "application/json", **(headers or {})}
    if token:
        h["X-Review-Token"] = srv.app.token
    data = raw_body if raw_body is not None else (None if body is None else json.dumps(body).encode())
    conn.request(method, path, body=data, headers=h)
    resp = conn.getresponse()
    out = resp.status, resp.read(), dict(resp.getheaders())
    conn.close()
    return out


def test_server_listens_on_loopback_only_and_wants_the_token_on_every_request(server):
    assert server.server_address[0] == "127.0.0.1" and server.server_address[1] > 0
    assert server.url.startswith(f"http://127.0.0.1:{server.server_address[1]}/?token=")
    for method, path in [("GET", "/"), ("GET", "/api/cells"), ("POST", "/api/save"), ("POST", "/api/export")]:
        assert request(server, method, path, {} if method == "POST" else None, token=False)[0] == 403
        assert request(server, method, path, {} if method == "POST" else None, token=False,
                       headers={"X-Review-Token": "guess"})[0] == 403
    assert request(server, "GET", f"/?token={server.app.token}", token=False)[0] == 200
    assert request(server, "GET", "/api/cells")[0] == 200
    assert request(server, "GET", "/", headers={"Host": "evil.example:80"})[0] == 403  # DNS rebinding
    assert request(server, "DELETE", "/")[0] == 405


@pytest.mark.parametrize("path", ["/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd",
                                  "/api/../manifest.json", "/manifest.json", "/parts/", "/corrections.jsonl",
                                  "/api/cells/../../predictions.jsonl", "/etc/passwd", "http://127.0.0.1/etc/passwd",
                                  "/..%2f..%2fmanifest.json"])
def test_no_url_reads_a_file(server, path):
    status, body, _ = request(server, "GET", path)
    assert status in (403, 404) and b"root:" not in body and b"run_key" not in body  # 403: an absolute URL names another Host


@pytest.mark.parametrize("doc_id", ["../../../../tmp/evil", "/etc/passwd", "..", "norrby/../../x"])
def test_no_request_writes_outside_the_run_folder(server, run_dir, tmp_path, doc_id):
    before = sorted(p for p in tmp_path.parent.rglob("*") if "run" not in p.parts)
    status, body, _ = request(server, "POST", "/api/save", {"doc_id": doc_id, "proposal_id": "munhalsoregister",
                                                            "stance": "oppose", "reviewer": "x"})
    assert status == 400 and b"no such cell" in body
    status, body, _ = request(server, "POST", "/api/export", {"dir": "/tmp/elsewhere", "output": "../x"})
    assert status == 400 and not Path("/tmp/elsewhere").exists()
    assert sorted(p for p in tmp_path.parent.rglob("*") if "run" not in p.parts) == before
    assert not (run_dir / "corrections.jsonl").exists()


def test_request_bodies_are_limited_and_must_be_json(server):
    big = b'{"note": "' + b"x" * MAX_BODY + b'"}'
    assert request(server, "POST", "/api/save", raw_body=big)[0] == 413
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    conn.putrequest("POST", "/api/save")
    conn.putheader("X-Review-Token", server.app.token)
    conn.endheaders()
    assert conn.getresponse().status == 411
    conn.close()
    assert request(server, "POST", "/api/save", raw_body=b"{not json")[0] == 400
    assert request(server, "POST", "/api/save", raw_body=b"[1, 2]")[0] == 400
    assert request(server, "POST", "/api/save", {}, headers={"Content-Type": "text/plain"})[0] == 415


def test_save_and_export_through_the_server(server, run_dir):
    run = server.app.run
    status, body, _ = request(server, "POST", "/api/save", {
        "doc_id": "norrby", "proposal_id": "munhalsoregister", "stance": "oppose", "basis": "explicit",
        "evidence": [burden_index(run)], "note": "", "reviewer": "Anna"})
    assert status == 200
    cell = json.loads(body)["cell"]
    assert cell["stance"] == "oppose" and cell["evidence"] == [burden_index(run)] and cell["review"]["reviewer"] == "Anna"
    status, body, _ = request(server, "POST", "/api/export", {})
    assert status == 200 and json.loads(body)["files"] == ["predictions.jsonl", "matrix.csv", "report.html",
                                                          "remissammanstallning.xlsx"]
    assert (run_dir / "corrected" / "report.html").is_file()


def test_every_document_string_is_escaped_in_the_edit_view(server):
    status, body, headers = request(server, "GET", "/")
    page = body.decode("utf-8")
    assert status == 200 and "text/html" in headers["Content-Type"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", headers["Content-Security-Policy"]).group(1)
    assert "unsafe-inline" not in headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    scripts = re.findall(r"<script([^>]*)>", page)
    assert len(scripts) == 3  # the report's, the editor's data (not executable), the editor's
    assert sorted(s.strip() for s in scripts) == sorted([f'nonce="{nonce}"', 'type="application/json" id="review-data"',
                                                         f'nonce="{nonce}"'])
    for s in HOSTILE[:2] + (HOSTILE_NAME,):
        assert s not in page
    assert "&lt;script&gt;alert(&#x27;doc&#x27;)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", page, re.I)
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", page, re.I)  # no inline event handler at all
    data = page.split('id="review-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and ">" not in data
    assert json.loads(data)["docs"][0]["doc_id"] == HOSTILE_NAME  # the JSON carries it unharmed


def test_the_command_prints_the_url_and_stops_cleanly(run_dir):
    cmd = [str(STANCE_SCRIPT)] if STANCE_SCRIPT.exists() else [sys.executable, "-m", "pipeline.cli"]
    proc = subprocess.Popen([*cmd, "review", f"output={run_dir}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        url = None
        for _ in range(10):
            line = proc.stdout.readline()
            m = re.search(r"(http://127\.0\.0\.1:(\d+)/\?token=\S+)", line)
            if m:
                url, port = m.group(1), int(m.group(2))
                break
        assert url, proc.stderr.read() if proc.poll() is not None else "no URL printed"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", url.split(str(port), 1)[1])
        assert conn.getresponse().status == 200
        conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert "stopped" in proc.stdout.read()
        with pytest.raises(OSError):
            http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_review_command_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert run_main(["review", f"output={tmp_path}"]) == 2
    assert capsys.readouterr().err.strip().startswith(f"error: {tmp_path}: not a finished")
    assert run_main(["review"]) == 2
