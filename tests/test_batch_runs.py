"""Batch runs (`stance predict` over folders): bad-input corpus, resume after kill -9, force, shards and
merge (in-process and through Hydra's joblib launcher), parallel workers, .docx input, determinism.

Runs skip the embed stage (embedder=null) unless a test is about embeddings: what is tested here is
the batch machinery, which is the same with or without an encoder.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import (DOCS_DIR, STANCE_SCRIPT, copies, manifest, offline_env, outputs_of, read_jsonl, run_main,
                     text_pdf_bytes, workbook_values)

from pipeline.core.inputs import assign_ids, shard_of

# No embed stage: the lexical linker (the hybrid one reads embeddings and says so when it gets none).
NO_EMBED = ("embedder=null", "linker=lexical")
GOOD = sorted(p.stem for p in DOCS_DIR.glob("*.txt"))
SWEDISH = ("Kommunen har tagit del av betänkandet och lämnar följande synpunkter. Kommunen tillstyrker "
           "förslaget om en ny lag och ser positivt på att det blir tydligare för alla som arbetar i vården. ")


# -- the bad-input corpus ----------------------------------------------------------------------------------

def build_bad_corpus(root: Path) -> dict[str, str]:
    """The five labelled documents plus one file of every kind of bad input; returns
    {file name: expected fragment of its error row} for the files that must fail."""
    from fpdf import FPDF
    from PIL import Image
    from pypdf import PdfWriter

    root.mkdir(parents=True)
    for p in DOCS_DIR.glob("*.txt"):
        shutil.copy(p, root / p.name)
    expected = {}
    (root / "tomt.txt").write_bytes(b"")
    expected["tomt.txt"] = "empty file"
    (root / "binar.txt").write_bytes(bytes(range(256)) * 40)
    expected["binar.txt"] = "binary file"
    png = root / "bild.png.tmp"
    Image.new("RGB", (64, 64), (10, 120, 200)).save(png, format="PNG")
    png.rename(root / "bild.pdf")  # an image renamed .pdf
    expected["bild.pdf"] = "not a PDF"
    plain = text_pdf_bytes(["Kommunen tillstyrker förslaget om en ny lag om läkarmedverkan."])
    writer = PdfWriter(clone_from=__import__("io").BytesIO(plain))
    writer.encrypt(user_password="hemligt", owner_password="agare")
    with open(root / "krypterad.pdf", "wb") as f:
        writer.write(f)
    expected["krypterad.pdf"] = "encrypted PDF"
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    (root / "skannad.pdf").write_bytes(bytes(pdf.output()))
    expected["skannad.pdf"] = "no text layer"
    (root / "stor.txt").write_text(SWEDISH * (5_000_000 // len(SWEDISH) + 1), encoding="utf-8")  # > 5 MB
    expected["stor.txt"] = "too large"
    (root / "english.txt").write_text(
        "Response to the inquiry.\n\nThe municipality has read the report and supports the proposal on a new law. "
        "It welcomes clearer rules for everyone who works in health care, and it has no further comments.\n" * 3,
        encoding="utf-8")
    expected["english.txt"] = "reads as English, not Swedish"
    (root / "bilagor").mkdir()  # a folder with no supported files: its files are reported, not dropped
    (root / "bilagor" / "eksjo-kommun.odt").write_bytes(b"PK\x03\x04 odt")  # its stem is a good document's
    expected["eksjo-kommun.odt"] = "unsupported file type '.odt'"
    # Processed, not errors: latin-1 text (with a warning) and the same stem in two folders.
    (root / "latin1.txt").write_bytes((DOCS_DIR / "eksjo-kommun.txt").read_text(encoding="utf-8").encode("cp1252"))
    for sub in ("nord", "syd"):
        (root / sub).mkdir()
        (root / sub / "kommun.txt").write_text("Yttrande\n\n" + SWEDISH * 2, encoding="utf-8")
    return expected


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory, cache_dir, hf_home):
    root = tmp_path_factory.mktemp("bad")
    expected = build_bad_corpus(root / "in")
    with offline_env(cache_dir, hf_home):
        assert run_main(["predict", f"input={root / 'in'}", f"output={root / 'out'}", *NO_EMBED]) == 0
        assert run_main(["predict", f"input={DOCS_DIR}", f"output={root / 'clean'}", *NO_EMBED]) == 0
    return root, expected


def test_bad_inputs_each_get_an_error_row_and_the_rest_completes(bad_run):
    root, expected = bad_run
    out = root / "out"
    errors = {Path(e["path"]).name: e["error"] for e in read_jsonl(out / "errors.jsonl")}
    assert set(errors) == set(expected), errors
    for name, fragment in expected.items():
        assert fragment in errors[name], (name, errors[name])
        assert "\n" not in errors[name]
    done = {r["doc_id"] for r in read_jsonl(out / "predictions.jsonl")}
    assert done == set(GOOD) | {"latin1", "nord/kommun", "syd/kommun"}
    man = manifest(out)
    assert man["documents"] == len(done) and man["errors"] == len(expected)


def test_bad_inputs_do_not_change_the_good_documents_results(bad_run):
    root, _ = bad_run
    bad = [r for r in read_jsonl(root / "out" / "predictions.jsonl") if r["doc_id"] in GOOD]
    assert bad == read_jsonl(root / "clean" / "predictions.jsonl")


def test_latin1_document_is_read_with_a_warning(bad_run):
    root, _ = bad_run
    part = next(json.loads(p.read_text(encoding="utf-8")) for p in (root / "out" / "parts").glob("latin1-*.json"))
    assert part["encoding"] in ("cp1252", "latin-1") and any("not UTF-8" in w for w in part["warnings"])
    rows = read_jsonl(root / "out" / "predictions.jsonl")
    stances = {r["proposal_id"]: r["stance"] for r in rows if r["doc_id"] == "latin1"}
    assert stances == {r["proposal_id"]: r["stance"] for r in rows if r["doc_id"] == "eksjo-kommun"}  # same text


def test_report_and_workbook_of_the_bad_run(bad_run):
    root, expected = bad_run
    html = (root / "out" / "report.html").read_text(encoding="utf-8")
    for name in expected:
        assert name in html
    values = workbook_values(root / "out" / "remissammanstallning.xlsx")
    with open(root / "out" / "matrix.csv", newline="", encoding="utf-8") as f:
        matrix = list(csv.reader(f))
    assert len(values["Matrix"]) >= len(matrix)  # one row per document, plus headers
    docs_in_sheet = {row[0] for row in values["Matrix"]}
    assert {r[0] for r in matrix[1:]} <= docs_in_sheet


def test_folder_without_supported_files_is_a_run_level_error(tmp_path, cache_dir, hf_home):
    from helpers import run_stance

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "svar.odt").write_bytes(b"PK\x03\x04")
    proc = run_stance(["predict", f"input={tmp_path / 'in'}", f"output={tmp_path / 'out'}", *NO_EMBED],
                      cache_dir, hf_home)
    assert proc.returncode == 2, proc.stderr[-1000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {tmp_path / 'in'}: no supported files (.txt, .pdf, .docx) in this folder"]


def test_same_stem_ids_depend_only_on_the_colliding_files():
    root = Path("/corpus")
    found = [(root / "a" / "svar.txt", root), (root / "b" / "svar.txt", root), (root / "c" / "annat.txt", root),
             (root / "svar.pdf", root), (root / "x" / "y.pdf", root), (root / "x" / "y.txt", root)]
    ids = [f.doc_id for f in assign_ids(found)]
    assert ids == ["a/svar", "b/svar", "annat", "svar", "x/y.pdf", "x/y.txt"]
    assert len(set(ids)) == len(ids)


# -- .docx -------------------------------------------------------------------------------------------------

def test_docx_paragraphs_and_tables_are_read_in_order(tmp_path):
    import docx

    from pipeline.stages.ingest import read_document

    d = docx.Document()
    d.add_heading("Yttrande över SOU 2024:72", level=1)
    d.add_paragraph("Kommunen tillstyrker förslaget om en ny lag.")
    table = d.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Avsnitt 4.4"
    table.rows[0].cells[1].text = "Kommunen avstyrker förslaget om utbildning."
    d.add_paragraph("Slutligen har kommunen inga fler synpunkter.")
    p = tmp_path / "svar.docx"
    d.save(p)
    doc = read_document(p)
    assert doc.encoding == "docx" and doc.doc_id == "svar"
    lines = [line for line in doc.text.splitlines() if line.strip()]
    assert lines == ["Yttrande över SOU 2024:72", "Kommunen tillstyrker förslaget om en ny lag.", "Avsnitt 4.4",
                     "Kommunen avstyrker förslaget om utbildning.", "Slutligen har kommunen inga fler synpunkter."]


@pytest.mark.parametrize("content, fragment", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old Word format (.doc) or encrypted .docx"),
    ("Detta är text med fel filändelse.".encode(), "not a Word .docx file"),
    (b"PK\x03\x04 trasig zip", "unreadable .docx"),
])
def test_bad_docx_files(tmp_path, content, fragment):
    from pipeline.stages.ingest import read_document
    from pipeline.errors import InputError

    p = tmp_path / "svar.docx"
    p.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_document(p)
    assert fragment in str(info.value) and str(p) in str(info.value) and "\n" not in str(info.value)


def test_docx_without_text(tmp_path):
    import docx

    from pipeline.stages.ingest import read_document
    from pipeline.errors import InputError

    p = tmp_path / "tom.docx"
    docx.Document().save(p)
    with pytest.raises(InputError, match="no text in this Word file"):
        read_document(p)


# -- resume, force, kill -9 --------------------------------------------------------------------------------

def test_rerun_skips_done_documents_and_recomputes_what_changed(tmp_path, offline):
    inp = copies(tmp_path / "in", 6)
    out = tmp_path / "out"
    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED]) == 0
    first = outputs_of(out)
    assert manifest(out)["processed"] == 6

    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED]) == 0
    man = manifest(out)
    assert (man["skipped_done"], man["processed"]) == (6, 0)
    assert outputs_of(out) == first

    shutil.copy(DOCS_DIR / "region-sormland.txt", inp / "svar-000.txt")  # new content under an old name
    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED]) == 0
    man = manifest(out)
    assert (man["skipped_done"], man["processed"]) == (5, 1)

    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED, "run.force=true"]) == 0
    assert manifest(out)["processed"] == 6

    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED, "linker.min_lex=0.3"]) == 0
    assert manifest(out)["processed"] == 6  # another config: nothing reusable


def test_kill_9_midway_then_rerun_skips_finished_and_equals_an_uninterrupted_run(tmp_path, cache_dir, hf_home):
    n = 150
    inp = copies(tmp_path / "in", n)
    args = ["predict", f"input={inp}", *NO_EMBED, "run.workers=0", "run.batch_sentences=1", "run.progress=false"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "REMISS_CACHE": str(cache_dir), "HF_HOME": str(hf_home)}
    cmd = [str(STANCE_SCRIPT)] if STANCE_SCRIPT.exists() else [sys.executable, "-m", "pipeline.cli"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd + args + [f"output={killed}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    parts = killed / "parts"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if parts.is_dir() and sum(1 for p in parts.glob("*.json")) >= 5:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    finished = sorted(p.name for p in parts.glob("*.json"))
    assert 5 <= len(finished) < n
    assert not (killed / "predictions.jsonl").exists()
    for p in parts.glob("*.json"):  # every part on disk is whole
        assert json.loads(p.read_text(encoding="utf-8"))["doc_id"]

    assert run_main(args + [f"output={killed}"]) == 0
    man = manifest(killed)
    assert man["skipped_done"] >= len(finished) and man["skipped_done"] + man["processed"] == n
    assert man["processed"] > 0
    full = tmp_path / "full"
    assert run_main(args + [f"output={full}"]) == 0
    assert outputs_of(killed) == outputs_of(full)


def test_leftover_temp_files_of_a_killed_run_are_cleaned(tmp_path, offline):
    inp = copies(tmp_path / "in", 2)
    out = tmp_path / "out"
    (out / "parts").mkdir(parents=True)
    (out / "parts" / ".svar-000-abc.json.123.tmp").write_text('{"half": ', encoding="utf-8")
    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED]) == 0
    assert not list((out / "parts").glob(".*.tmp"))
    assert manifest(out)["processed"] == 2


# -- parallel workers, shards, merge -----------------------------------------------------------------------

def test_worker_processes_give_the_same_outputs(tmp_path, offline):
    inp = copies(tmp_path / "in", 10)
    (inp / "tomt.txt").write_bytes(b"")
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_main(["predict", f"input={inp}", f"output={one}", *NO_EMBED, "run.workers=0"]) == 0
    assert run_main(["predict", f"input={inp}", f"output={two}", *NO_EMBED, "run.workers=2"]) == 0
    assert manifest(two)["workers"] == 2 and manifest(one)["workers"] == 0
    assert outputs_of(one) == outputs_of(two)
    assert {"ingest", "segment", "classify"} <= set(manifest(one)["wall_time_s"])
    assert set(manifest(two)["worker_seconds"]) == {"ingest", "segment"}  # summed over the workers
    assert "ingest" not in manifest(two)["wall_time_s"] and "classify" in manifest(two)["wall_time_s"]


def test_shards_partition_the_inputs_and_merge_equals_one_run(tmp_path, offline):
    inp = copies(tmp_path / "in", 12)
    (inp / "tomt.txt").write_bytes(b"")
    whole = tmp_path / "whole"
    assert run_main(["predict", f"input={inp}", f"output={whole}", *NO_EMBED]) == 0
    shards = [tmp_path / "shards" / str(i) for i in range(3)]
    for i, out in enumerate(shards):
        assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED, f"run.shard={i}",
                         "run.num_shards=3"]) == 0
    per_shard = [{r["doc_id"] for r in read_jsonl(out / "predictions.jsonl")} for out in shards]
    assert all(per_shard) and sum(map(len, per_shard)) == 12 and set.union(*per_shard) == {f"svar-{i:03d}" for i in range(12)}
    for i, docs in enumerate(per_shard):
        assert all(shard_of(d, 3) == i for d in docs)
    merged = tmp_path / "merged"
    assert run_main(["merge", str(tmp_path / "shards"), f"output={merged}"]) == 0
    assert outputs_of(merged) == outputs_of(whole)


def test_merge_refuses_missing_shards_and_mixed_configs(tmp_path, offline, capsys):
    inp = copies(tmp_path / "in", 4)
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_main(["predict", f"input={inp}", f"output={a}", *NO_EMBED, "run.shard=0", "run.num_shards=2"]) == 0
    assert run_main(["merge", str(a), f"output={tmp_path / 'm'}"]) == 2
    assert "need each shard 0..n-1 exactly once" in capsys.readouterr().err
    assert run_main(["predict", f"input={inp}", f"output={b}", *NO_EMBED, "run.shard=1", "run.num_shards=2",
                     "linker.min_lex=0.3"]) == 0
    assert run_main(["merge", str(a), str(b), f"output={tmp_path / 'm'}"]) == 2
    assert "run_key differs" in capsys.readouterr().err


def test_joblib_multirun_over_shards_then_merge(tmp_path, offline):
    inp = copies(tmp_path / "in", 8)
    whole, sweep = tmp_path / "whole", tmp_path / "sweep"
    assert run_main(["predict", f"input={inp}", f"output={whole}", *NO_EMBED]) == 0
    assert run_main(["predict", "-m", f"input={inp}", f"output={sweep}", *NO_EMBED, "run.num_shards=2",
                     "run.shard=range(2)", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "run.workers=0"]) == 0
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    assert run_main(["merge", str(sweep), f"output={tmp_path / 'merged'}"]) == 0
    assert outputs_of(tmp_path / "merged") == outputs_of(whole)


# -- determinism and the manifest --------------------------------------------------------------------------

def test_same_config_and_data_give_identical_predictions_and_manifest_keys(tmp_path, offline):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert run_main(["evaluate", f"output={out}", *NO_EMBED]) == 0
    assert (a / "predictions.jsonl").read_bytes() == (b / "predictions.jsonl").read_bytes()
    ma, mb = manifest(a), manifest(b)
    assert ma["config_hash"] == mb["config_hash"] and ma["data_hash"] == mb["data_hash"]
    assert ma["config"]["classifier"]["_target_"] == "lexicon.v2"
    assert {"commit", "dirty"} <= set(ma["git"]) and ma["packages"]["torch"]
    assert ma["seed"] == 0 and ma["wall_time_s"]


def test_resume_with_the_bundled_encoder_equals_one_pass(tmp_path, monkeypatch, hf_home):
    """With embeddings the batches of a resumed run hold other documents than an uninterrupted run's;
    the outputs must still be the same (fresh caches, so no vector comes from the other run)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(hf_home))
    inp = tmp_path / "in"
    inp.mkdir()
    for p in DOCS_DIR.glob("*.txt"):
        shutil.copy(p, inp / p.name)
    one = tmp_path / "one"
    monkeypatch.setenv("REMISS_CACHE", str(tmp_path / "cache-one"))
    assert run_main(["predict", f"input={inp}", f"output={one}", "embedder=e5-bundled", "run.batch_sentences=100000"]) == 0
    resumed = tmp_path / "resumed"
    monkeypatch.setenv("REMISS_CACHE", str(tmp_path / "cache-two"))
    n, shard = next((n, i) for n in range(2, 9) for i in range(n)
                    if 0 < sum(shard_of(d, n) == i for d in GOOD) < len(GOOD))  # a run cut short: some documents
    assert run_main(["predict", f"input={inp}", f"output={resumed}", "embedder=e5-bundled", "run.batch_sentences=1",
                     f"run.shard={shard}", f"run.num_shards={n}"]) == 0
    first = manifest(resumed)["documents"]
    assert 0 < first < 5
    assert run_main(["predict", f"input={inp}", f"output={resumed}", "embedder=e5-bundled", "run.batch_sentences=1"]) == 0
    assert (manifest(resumed)["skipped_done"], manifest(resumed)["processed"]) == (first, 5 - first)
    assert outputs_of(resumed) == outputs_of(one)


def test_output_inside_the_input_folder_and_a_file_given_twice(tmp_path, offline):
    inp = copies(tmp_path / "in", 2)
    out = inp / "results"
    args = ["predict", f"input=[{inp},{inp / 'svar-000.txt'}]", f"output={out}", *NO_EMBED]
    assert run_main(args) == 0
    assert run_main(args) == 0  # the second run sees the first one's outputs inside its input folder
    assert read_jsonl(out / "errors.jsonl") == []
    assert sorted({r["doc_id"] for r in read_jsonl(out / "predictions.jsonl")}) == ["svar-000", "svar-001"]

