"""No silent skips on the way in, one unit on the way out.

In: every file or folder found under an input that is not processed gets an error row and a line in
the report (unreadable file or folder, hidden, symlink loop, broken symlink, symlink out of the input
folder, FIFO), and no per-file failure stops the batch. Runs that need a file to be unreadable run
without root's permission override (setpriv drops CAP_DAC_OVERRIDE; tests and CI run as root).

Out: the outputs of a run are published as one unit (core/outputs.publish); kill -9 during the
assembly in a reused folder, a failed write, a refused concurrent run: the folder shows one run's
outputs, never two mixed, and the run's .hydra/ record and manifest are those of the run shown.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import DOCS_DIR, STANCE_SCRIPT, copies, manifest, outputs_of, read_jsonl, run_main

NO_EMBED = ("embedder=null", "linker=lexical")
GOOD = sorted(p.stem for p in DOCS_DIR.glob("*.txt"))
DROP = "-dac_override,-dac_read_search"


def unprivileged() -> list[str]:
    """A command prefix under which file permissions hold: root without its permission override."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: cannot drop root's permission override")
    return [setpriv, "--bounding-set", DROP, "--inh-caps", DROP, "--"]


def stance(args: list[str], cache_dir, hf_home, prefix=(), timeout=300) -> subprocess.CompletedProcess:
    cmd = [str(STANCE_SCRIPT)] if STANCE_SCRIPT.exists() else [sys.executable, "-m", "pipeline.cli"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "REMISS_CACHE": str(cache_dir), "HF_HOME": str(hf_home)}
    return subprocess.run([*prefix, *cmd, *args], capture_output=True, text=True, env=env, timeout=timeout)


def error_lines(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


# -- no silent skips ---------------------------------------------------------------------------------------

def build_unlisted_corpus(root: Path, outside: Path) -> dict[str, str]:
    """Good documents plus every kind of entry a listing could drop silently; {name: expected error}."""
    inp = root / "in"
    inp.mkdir(parents=True)
    for p in DOCS_DIR.glob("*.txt"):
        shutil.copy(p, inp / p.name)
    expected = {}
    shutil.copy(DOCS_DIR / "eksjo-kommun.txt", inp / "olasbar.txt")
    os.chmod(inp / "olasbar.txt", 0)
    expected["olasbar.txt"] = "cannot be read (PermissionError"
    (inp / "stangd").mkdir()
    shutil.copy(DOCS_DIR / "eksjo-kommun.txt", inp / "stangd" / "svar.txt")
    os.chmod(inp / "stangd", 0)
    expected["stangd"] = "folder cannot be read (PermissionError"
    shutil.copy(DOCS_DIR / "eksjo-kommun.txt", inp / ".dold.txt")
    expected[".dold.txt"] = "hidden file (its name starts with '.')"
    (inp / ".gomd").mkdir()
    shutil.copy(DOCS_DIR / "eksjo-kommun.txt", inp / ".gomd" / "svar.txt")
    expected[".gomd"] = "hidden folder"
    (inp / "slinga").symlink_to(".")
    expected["slinga"] = "symlink loop"
    (inp / "a.txt").symlink_to("b.txt")
    (inp / "b.txt").symlink_to("a.txt")
    expected["a.txt"] = expected["b.txt"] = "symlink loop"
    (inp / "trasig.txt").symlink_to("finns-inte.txt")
    expected["trasig.txt"] = "broken symlink"
    outside.mkdir()
    shutil.copy(DOCS_DIR / "region-sormland.txt", outside / "utanfor.txt")
    (inp / "utanfor.txt").symlink_to(outside / "utanfor.txt")
    expected["utanfor.txt"] = "outside the input folder: not read (ingest.follow_symlinks=true reads it)"
    os.mkfifo(inp / "ror.txt")
    expected["ror.txt"] = "not a regular file"
    (inp / "inne.txt").symlink_to("eksjo-kommun.txt")  # a link inside the folder: the same file, read once
    return expected


@pytest.fixture(scope="module")
def unlisted(tmp_path_factory, cache_dir, hf_home):
    root = tmp_path_factory.mktemp("unlisted")
    expected = build_unlisted_corpus(root, root / "elsewhere")
    prefix = unprivileged()
    probe = subprocess.run([*prefix, sys.executable, "-c", f"open({str(root / 'in' / 'olasbar.txt')!r}).read()"],
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "PermissionError" in probe.stderr  # the file really is unreadable here
    proc = stance(["predict", f"input={root / 'in'}", f"output={root / 'out'}", *NO_EMBED, "run.progress=false"],
                  cache_dir, hf_home, prefix)
    yield root, expected, proc
    os.chmod(root / "in" / "stangd", 0o755)
    os.chmod(root / "in" / "olasbar.txt", 0o644)


def test_every_entry_not_read_gets_an_error_row_and_the_batch_completes(unlisted):
    root, expected, proc = unlisted
    assert proc.returncode == 0, proc.stderr[-2000:]
    errors = {Path(e["path"]).name: e["error"] for e in read_jsonl(root / "out" / "errors.jsonl")}
    assert errors.keys() == expected.keys(), errors
    for name, fragment in expected.items():
        assert fragment in errors[name], (name, errors[name])
    assert {r["doc_id"] for r in read_jsonl(root / "out" / "predictions.jsonl")} == set(GOOD)
    assert manifest(root / "out")["errors"] == len(expected)


def test_the_report_lists_every_entry_not_read(unlisted):
    import html

    root, expected, _ = unlisted
    page = html.unescape((root / "out" / "report.html").read_text(encoding="utf-8"))
    for name in expected:
        assert name in page, name
    assert f"{len(expected)}</b>files not processed" in (root / "out" / "report.html").read_text(encoding="utf-8")


def test_a_symlink_out_of_the_input_folder_is_read_only_when_allowed(tmp_path, offline):
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(DOCS_DIR / "eksjo-kommun.txt", inp)
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(DOCS_DIR / "region-sormland.txt", tmp_path / "elsewhere" / "utanfor.txt")
    (inp / "utanfor.txt").symlink_to(tmp_path / "elsewhere" / "utanfor.txt")
    (inp / "mapp").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    out, allowed = tmp_path / "out", tmp_path / "allowed"
    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED, "run.progress=false"]) == 0
    assert {Path(e["path"]).name for e in read_jsonl(out / "errors.jsonl")} == {"utanfor.txt", "mapp"}
    assert run_main(["predict", f"input={inp}", f"output={allowed}", *NO_EMBED, "run.progress=false",
                     "ingest.follow_symlinks=true"]) == 0
    assert read_jsonl(allowed / "errors.jsonl") == []
    assert {r["doc_id"] for r in read_jsonl(allowed / "predictions.jsonl")} == {"eksjo-kommun", "utanfor"}


def test_a_document_the_classifier_fails_on_is_an_error_row_and_the_rest_completes(tmp_path, offline, monkeypatch):
    from pipeline.stages.classify.lexicon import LexiconClassifier

    predict = LexiconClassifier.predict

    def failing(self, doc):
        if doc.doc_id == "region-sormland":
            raise ZeroDivisionError("a bug met by one document")
        return predict(self, doc)

    monkeypatch.setattr(LexiconClassifier, "predict", failing)
    out = tmp_path / "out"
    assert run_main(["predict", f"input={DOCS_DIR}", f"output={out}", *NO_EMBED, "run.workers=0",
                     "run.progress=false"]) == 0
    errors = read_jsonl(out / "errors.jsonl")
    assert [(e["doc_id"], e["error"][:45]) for e in errors] == [
        ("region-sormland", "could not be classified (ZeroDivisionError: a")]
    assert {r["doc_id"] for r in read_jsonl(out / "predictions.jsonl")} == set(GOOD) - {"region-sormland"}


def test_a_part_without_sentences_is_recomputed_not_a_crash(tmp_path, offline):
    inp = copies(tmp_path / "in", 2)
    out = tmp_path / "out"
    args = ["predict", f"input={inp}", f"output={out}", *NO_EMBED, "run.progress=false"]
    assert run_main(args) == 0
    first = outputs_of(out)
    part_file = next((out / "parts").glob("svar-000-*.json"))
    part = json.loads(part_file.read_text(encoding="utf-8"))
    del part["sentences"]
    part_file.write_text(json.dumps(part), encoding="utf-8")  # valid JSON, right keys, no sentences
    assert run_main(args) == 0
    assert (manifest(out)["skipped_done"], manifest(out)["processed"]) == (1, 1)
    assert outputs_of(out) == first


# -- the output folder: read-only, the input folder itself ---------------------------------------------------

@pytest.mark.parametrize("layout", ["existing", "inside"])
def test_a_read_only_output_folder_is_one_line(tmp_path, cache_dir, hf_home, layout):
    prefix = unprivileged()
    ro = tmp_path / "ro"
    ro.mkdir()
    out = ro if layout == "existing" else ro / "new"
    os.chmod(ro, 0o555)
    try:
        proc = stance(["predict", f"input={DOCS_DIR / 'eksjo-kommun.txt'}", f"output={out}", *NO_EMBED],
                      cache_dir, hf_home, prefix)
    finally:
        os.chmod(ro, 0o755)
    assert proc.returncode == 2, proc.stderr[-1000:]
    assert "Traceback" not in proc.stderr
    assert error_lines(proc) == [f"error: {out}: cannot write the output folder (PermissionError: Permission denied)"]


@pytest.mark.parametrize("where", ["same", "parent"])
def test_the_input_folder_as_output_is_refused_and_nothing_is_written_there(tmp_path, cache_dir, hf_home, where):
    inp = copies(tmp_path / "in", 2)
    before = sorted(p.name for p in inp.iterdir())
    out = inp if where == "same" else tmp_path
    proc = stance(["predict", f"input={inp}", f"output={out}", *NO_EMBED], cache_dir, hf_home)
    assert proc.returncode == 2
    what = "is the input folder" if where == "same" else f"holds the input folder {inp}"
    assert error_lines(proc) == [f"error: output: {out} {what}: the outputs would mix with the documents; choose "
                                 f"another output folder"]
    assert sorted(p.name for p in inp.iterdir()) == before  # no .hydra/, log or lock among the documents


# -- outputs as one unit -------------------------------------------------------------------------------------

def published(out: Path) -> dict[str, bytes]:
    """Everything a user of the folder reads: the outputs, the manifest and the .hydra/ record."""
    files = outputs_of(out)
    files["manifest"] = json.dumps({k: v for k, v in manifest(out).items() if k != "wall_time_s"}).encode()
    files["overrides"] = (out / ".hydra" / "overrides.yaml").read_bytes()
    return files


def test_outputs_are_links_through_one_switch(tmp_path, offline):
    inp = copies(tmp_path / "in", 3)
    out = tmp_path / "out"
    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED, "run.progress=false"]) == 0
    for name in ("predictions.jsonl", "matrix.csv", "errors.jsonl", "report.html", "remissammanstallning.xlsx",
                 "manifest.json", ".hydra"):
        assert (out / name).is_symlink() and os.readlink(out / name) == f".current/{name}"
    assert os.readlink(out / ".current").startswith(".runs/") and len(list((out / ".runs").iterdir())) == 1
    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED, "run.progress=false"]) == 0
    assert len(list((out / ".runs").iterdir())) == 1  # the previous run's outputs are gone


def test_an_older_folder_layout_and_stray_temp_files_are_replaced(tmp_path, offline):
    inp = copies(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    for name in ("predictions.jsonl", "matrix.csv", "manifest.json"):
        (out / name).write_text("old\n", encoding="utf-8")
    (out / ".hydra").mkdir()
    (out / ".hydra" / "config.yaml").write_text("old: true\n", encoding="utf-8")
    (out / ".remissammanstallning.xlsx.k3j4.tmp").write_bytes(b"PK half")
    (out / ".runs" / "20260101-000000-killed").mkdir(parents=True)
    (out / ".runs" / "20260101-000000-killed" / "predictions.jsonl").write_text("half", encoding="utf-8")
    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED, "run.progress=false"]) == 0
    assert not list(out.glob(".*.tmp")) and [p.name for p in (out / ".runs").iterdir()] == [
        os.readlink(out / ".current").split("/")[1]]
    assert "old: true" not in (out / ".hydra" / "config.yaml").read_text() and manifest(out)["documents"] == 2


def test_a_failed_write_leaves_the_published_outputs_unchanged(tmp_path, offline, monkeypatch, capsys):
    import pipeline.core.assemble as assemble

    inp = copies(tmp_path / "in", 3)
    out = tmp_path / "out"
    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED, "run.progress=false"]) == 0
    before = published(out)
    (inp / "svar-003.txt").write_text((DOCS_DIR / "region-sormland.txt").read_text(encoding="utf-8"), encoding="utf-8")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(assemble, "write_workbook", disk_full)
    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED, "run.progress=false"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert err == [f"error: {out}: cannot write the outputs (OSError: No space left on device); the outputs "
                   f"published before are unchanged"]
    assert published(out) == before and len(list((out / ".runs").iterdir())) == 1


def test_kill_9_during_assembly_in_a_reused_folder_never_shows_two_runs(tmp_path, cache_dir, hf_home):
    """A shows 100 documents, B 150 (same config: B's parts serve A, so both runs only assemble). B is
    killed at several points of its assembly; each time the folder shows all of A or all of B."""
    inp_b = copies(tmp_path / "b", 150)
    inp_a = tmp_path / "a"
    inp_a.mkdir()
    for p in sorted(inp_b.iterdir())[:100]:
        shutil.copy(p, inp_a / p.name)  # same names and contents: B's parts are A's
    out = tmp_path / "out"
    args = [*NO_EMBED, "run.progress=false", "run.workers=0", f"output={out}"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "REMISS_CACHE": str(cache_dir), "HF_HOME": str(hf_home)}
    with pytest.MonkeyPatch.context() as mp:
        for k in ("HF_HUB_OFFLINE", "REMISS_CACHE", "HF_HOME"):
            mp.setenv(k, env[k])
        assert run_main(["predict", f"input={inp_b}", *args]) == 0
        b = published(out)
        assert run_main(["predict", f"input={inp_a}", *args]) == 0
        a = published(out)
    assert a != b and manifest(out)["documents"] == 100

    def stage_reached(stage: str):
        runs = [d for d in (out / ".runs").iterdir() if d.resolve() != (out / ".current").resolve()]
        if not runs:
            return False
        return stage == "started" or any(p.name.startswith(stage) or p.name.startswith(f".{stage}")
                                         for p in runs[0].iterdir())

    cmd = [str(STANCE_SCRIPT)] if STANCE_SCRIPT.exists() else [sys.executable, "-m", "pipeline.cli"]
    seen = set()
    for stage in ("started", "report.html", "remissammanstallning.xlsx", ".hydra"):
        proc = subprocess.Popen([*cmd, "predict", f"input={inp_b}", *args], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and not stage_reached(stage):
            time.sleep(0.001)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL, f"the run ended before the {stage} point of its assembly"
        shown = published(out)
        assert shown in (a, b), stage
        seen.add((stage, "a" if shown == a else "b"))
        with pytest.MonkeyPatch.context() as mp:  # back to A for the next kill
            for k in ("HF_HUB_OFFLINE", "REMISS_CACHE", "HF_HOME"):
                mp.setenv(k, env[k])
            assert run_main(["predict", f"input={inp_a}", *args]) == 0
        assert published(out) == a and len(list((out / ".runs").iterdir())) == 1  # the killed run's folder is gone
    assert ("started", "a") in seen  # killed before its switch, the folder still shows A


def test_a_refused_concurrent_run_changes_neither_hydra_record_nor_manifest(tmp_path, cache_dir, hf_home, offline):
    inp = copies(tmp_path / "in", 150)
    out = tmp_path / "out"
    assert run_main(["predict", f"input={inp / 'svar-000.txt'}", f"output={out}", *NO_EMBED,
                     "run.progress=false"]) == 0
    first = published(out)
    cmd = [str(STANCE_SCRIPT)] if STANCE_SCRIPT.exists() else [sys.executable, "-m", "pipeline.cli"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "REMISS_CACHE": str(cache_dir), "HF_HOME": str(hf_home)}
    running = subprocess.Popen([*cmd, "predict", f"input={inp}", f"output={out}", *NO_EMBED, "run.workers=0",
                                "run.batch_sentences=1", "run.progress=false"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while running.poll() is None and time.monotonic() < deadline and len(list((out / "parts").glob("*.json"))) < 5:
            time.sleep(0.01)
        assert running.poll() is None, "the run ended before a second one could be tried"
        assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED, "linker.min_lex=0.3"]) == 2
        assert published(out) == first  # the refused run wrote no .hydra/ and no manifest
        assert running.wait(timeout=300) == 0
    finally:
        if running.poll() is None:
            running.kill()
    overrides = (out / ".hydra" / "overrides.yaml").read_text(encoding="utf-8")
    assert "run.batch_sentences=1" in overrides and "min_sentence_score" not in overrides
    assert manifest(out)["documents"] == 150
