"""Files from elsewhere run no code and cannot exhaust memory: crafted model artifacts, config folders
from outside the project, YAML bombs in catalogs and configs, deeply nested JSON, and CSV cells that
a spreadsheet would run as formulas.

Every hostile artifact here carries a payload that would leave a marker file if anything ran it
(a pickle whose loading touches the marker, a `.pth` that Python would run at every start); each test
asserts the one-line refusal, that the marker is absent and that the run wrote no outputs.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
import site
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import CATALOG_PATH, DOCS_DIR, LABELS_PATH, run_main

from pipeline.core.artifacts import load_artifact
from pipeline.core.catalog import load_catalog, load_labels
from pipeline.errors import InputError
from pipeline.files import FORMULA_START, csv_text, parse_yaml, spreadsheet_safe

ROOT = Path(__file__).resolve().parents[1]
ONE_DOC = DOCS_DIR / "eksjo-kommun.txt"
NO_EMBED = ("embedder=null", "linker=lexical")


class Payload:
    """Unpickling this touches `marker`: what a pickle in an artifact could do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def copy_artifact(tmp_path, trained) -> Path:
    art = tmp_path / "art"
    shutil.copytree(trained, art)
    return art


def edit_config(art: Path, **groups) -> None:
    cfg = yaml.safe_load((art / "config.yaml").read_text(encoding="utf-8"))
    cfg.update(groups)
    (art / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")


def edit_json(path: Path, **keys) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(keys)
    path.write_text(json.dumps(data), encoding="utf-8")


def refused(capsys, tmp_path, art, *fragments) -> str:
    """Predict with the artifact: exit 2, one line on stderr naming the problem, no outputs."""
    out = tmp_path / "out"
    assert run_main(["predict", f"model={art}", f"input={ONE_DOC}", f"output={out}", "run.progress=false"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    for f in fragments:
        assert f in err[0], err[0]
    assert not (out / "predictions.jsonl").exists() and not (out / "parts").exists()
    return err[0]


@pytest.fixture
def marker(tmp_path):
    m = tmp_path / "PAYLOAD-RAN"
    yield m
    assert not m.exists(), "the payload ran"


# -- crafted artifacts -------------------------------------------------------------------------------------

def test_the_payloads_are_real(tmp_path):
    import joblib

    np.save(tmp_path / "p.npy", np.array([Payload(tmp_path / "ran-numpy")], dtype=object), allow_pickle=True)
    np.load(tmp_path / "p.npy", allow_pickle=True)
    joblib.dump(Payload(tmp_path / "ran-joblib"), tmp_path / "p.joblib")
    joblib.load(tmp_path / "p.joblib")
    assert (tmp_path / "ran-numpy").exists() and (tmp_path / "ran-joblib").exists()  # loading them runs code


def test_a_numpy_pickle_named_by_the_artifact_config_is_never_loaded(tmp_path, trained, capsys, marker, offline):
    art = copy_artifact(tmp_path, trained)
    np.save(art / "payload.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    edit_config(art, linker={"_target_": "numpy.load", "file": str(art / "payload.npy"), "allow_pickle": True})
    refused(capsys, tmp_path, art, "unknown linker 'numpy.load'")


def test_a_joblib_pickle_named_by_the_artifact_config_is_never_loaded(tmp_path, trained, capsys, marker, offline):
    import joblib

    art = copy_artifact(tmp_path, trained)
    joblib.dump(Payload(marker), art / "payload.joblib")
    edit_config(art, embedder={"_target_": "joblib.load", "filename": str(art / "payload.joblib")})
    refused(capsys, tmp_path, art, "unknown embedder 'joblib.load'")


def test_a_pth_file_written_through_pathlib_never_lands_in_site_packages(tmp_path, trained, capsys, offline):
    target = Path(site.getsitepackages()[0]) / "remiss-stance-test-payload.pth"
    art = copy_artifact(tmp_path, trained)
    edit_config(art, segmenter={"_target_": "pathlib.Path.write_text", "self": str(target), "data": "import sys\n"})
    try:
        refused(capsys, tmp_path, art, "unknown segmenter 'pathlib.Path.write_text'")
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


@pytest.mark.parametrize("target", ["builtins.exec", "builtins.eval", "builtins.open", "os.system", "subprocess.run"])
def test_builtins_and_os_targets_are_refused(tmp_path, trained, capsys, marker, target, offline):
    art = copy_artifact(tmp_path, trained)
    edit_config(art, linker={"_target_": target, "_args_": [f"open({str(marker)!r}, 'w')"]})
    refused(capsys, tmp_path, art, f"unknown linker '{target}'")


def test_an_unregistered_classifier_in_model_json_is_refused(tmp_path, trained, capsys, marker, offline):
    art = copy_artifact(tmp_path, trained)
    np.save(art / "payload.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    edit_json(art / "model.json", classifier="numpy.load")
    refused(capsys, tmp_path, art, "unknown classifier 'numpy.load'")


@pytest.mark.parametrize("listed", [["../../x"], ["/etc/passwd"], ["weights.safetensors", "../features.json"]])
def test_weight_files_listed_outside_the_artifact_are_refused(tmp_path, trained, capsys, listed, offline):
    art = copy_artifact(tmp_path, trained)
    (tmp_path / "x").write_text("outside", encoding="utf-8")
    edit_json(art / "model.json", weights=listed)
    refused(capsys, tmp_path, art, "is not a file inside the artifact")


@pytest.mark.parametrize("name", ["weights.safetensors", "features.json", "config.yaml", "model.json", "sub"])
def test_a_symlink_inside_the_artifact_is_refused(tmp_path, trained, capsys, name, offline):
    art = copy_artifact(tmp_path, trained)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    if name == "sub":
        (art / "sub").symlink_to("/")  # a folder link: anything could be read through it
    else:
        shutil.move(art / name, outside / name)
        (art / name).symlink_to(outside / name)
    refused(capsys, tmp_path, art, "a symlink inside a model artifact")


def test_a_fifo_inside_the_artifact_is_refused_without_hanging(tmp_path, trained, capsys, offline):
    import os

    art = copy_artifact(tmp_path, trained)
    (art / "features.json").unlink()
    os.mkfifo(art / "features.json")
    refused(capsys, tmp_path, art, "not a regular file")


@pytest.mark.parametrize("hyper, fragment", [
    ({"_target_": "os.system"}, "unknown hyperparameter(s) _target_"),
    ({"linker": {"_target_": "numpy.load"}}, "unknown hyperparameter(s) linker"),
    ({"C": {"_target_": "numpy.load", "file": "payload.npy"}}, "must be plain values"),
])
def test_hyperparameters_the_class_does_not_take_are_refused(tmp_path, trained, capsys, hyper, fragment, offline):
    art = copy_artifact(tmp_path, trained)
    spec = json.loads((art / "features.json").read_text(encoding="utf-8"))
    spec["hyperparameters"] = {**spec["hyperparameters"], **hyper}
    (art / "features.json").write_text(json.dumps(spec), encoding="utf-8")
    refused(capsys, tmp_path, art, fragment)


def test_garbage_weights_are_one_line(tmp_path, trained, capsys, offline):
    art = copy_artifact(tmp_path, trained)
    (art / "weights.safetensors").write_bytes(b"\xff" * 64)
    refused(capsys, tmp_path, art, "unreadable weights (SafetensorError")


@pytest.mark.parametrize("text, fragment", [
    ("linker: !!python/object/apply:pathlib.Path.touch [MARKER]\n", "unreadable (ConstructorError)"),
    ("linker: {_target_: rules.v1, min_lex: '${oc.env:HOME}'}\n", "interpolation in linker.min_lex"),
    ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                                                   for p, c in zip("abcdefgh", "bcdefghi")), "expands to more than"),
    ("linker: &l {_target_: rules.v1, x: *l}\n", "refers to itself"),
])
def test_yaml_tricks_in_the_artifact_config_are_refused(tmp_path, trained, capsys, marker, text, fragment, offline):
    art = copy_artifact(tmp_path, trained)
    (art / "config.yaml").write_text(text.replace("MARKER", str(marker)), encoding="utf-8")
    refused(capsys, tmp_path, art, fragment)


def test_an_intact_copy_still_loads(tmp_path, trained):
    art = load_artifact(copy_artifact(tmp_path, trained))
    assert art.build_classifier().classes_.tolist()


# -- config folders from outside the project ---------------------------------------------------------------

def config_dir(tmp_path, files: dict[str, str]) -> Path:
    d = tmp_path / "configs"
    for name, text in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text, encoding="utf-8")
    return d


@pytest.mark.parametrize("files, select, fragment", [
    ({"experiment/evil.yaml": "# @package _global_\nhydra:\n  callbacks:\n    x:\n      _target_: pathlib.Path.touch\n"
                              "      self: MARKER\n"}, "experiment=evil", "sets hydra.callbacks"),
    ({"experiment/evil.yaml": "# @package _global_\nhydra:\n  job_logging:\n    handlers:\n      x:\n"
                              "        class: pathlib.Path.touch\n"}, "experiment=evil", "sets hydra.job_logging"),
    ({"hydra/launcher/evil.yaml": "_target_: pathlib.Path.touch\nself: MARKER\n"}, "hydra/launcher=evil",
     "may not define Hydra's own configs"),
    ({"linker/evil.yaml": "# @package hydra.callbacks\nx:\n  _target_: pathlib.Path.touch\n  self: MARKER\n"},
     "linker=evil", "packaged into Hydra's own config"),
    ({"linker/evil.yaml": "_target_: numpy.load\nfile: payload.npy\nallow_pickle: true\n"}, "linker=evil",
     "_target_ 'numpy.load' at the top is not a registered component"),
    ({"linker/evil.yaml": "_target_: rules.v1\nx:\n  (): pathlib.Path.touch\n"}, "linker=evil", "a '()' factory"),
])
def test_a_config_folder_from_outside_that_could_run_code_is_refused(tmp_path, capsys, marker, files, select,
                                                                      fragment, offline):
    d = config_dir(tmp_path, {k: v.replace("MARKER", str(marker)) for k, v in files.items()})
    out = tmp_path / "out"
    for flags in (["--config-dir", str(d)], [f"--config-dir={d}"], [f"hydra.searchpath=[file://{d}]"]):
        assert run_main(["predict", *flags, select, f"input={ONE_DOC}", f"output={out}", *NO_EMBED]) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and fragment in err[0], err
    assert not out.exists()  # refused before Hydra made the run folder


def test_a_harmless_config_folder_from_outside_works(tmp_path, offline):
    d = config_dir(tmp_path, {"linker/strict.yaml": "_target_: rules.v1\nuse_embeddings: false\nmin_lex: 0.3\n"})
    out = tmp_path / "out"
    assert run_main(["predict", "--config-dir", str(d), "linker=strict", f"input={ONE_DOC}", f"output={out}",
                     "embedder=null", "run.progress=false"]) == 0
    assert json.loads((out / "manifest.json").read_text())["config"]["linker"]["min_lex"] == 0.3


def test_experimental_rerun_which_unpickles_is_refused(tmp_path, capsys):
    assert run_main(["predict", "--experimental-rerun", str(tmp_path / "config.pickle")]) == 2
    assert "loads a pickled config" in capsys.readouterr().err


# -- bombs: YAML aliases, deep JSON -------------------------------------------------------------------------

BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def test_a_yaml_bomb_catalog_is_one_line_within_a_second(tmp_path, capsys, offline):
    bomb = tmp_path / "proposals.yaml"
    bomb.write_text(BOMB + "proposals: *i\n", encoding="utf-8")
    assert len(BOMB) < 600
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="expands to more than"):
        load_catalog(bomb)
    assert time.perf_counter() - t0 < 1.0  # a bound on a hang, not a speed claim: the check takes ~1 ms
    assert run_main(["predict", f"input={ONE_DOC}", f"output={tmp_path / 'out'}", f"data.catalog={bomb}",
                     *NO_EMBED]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == [f"error: {bomb}: YAML expands to more than 200,000 nodes through its aliases (&anchor / *alias): "
                   f"refused"]


def test_a_yaml_bomb_in_an_outside_config_folder_is_one_line(tmp_path, capsys):
    d = config_dir(tmp_path, {"linker/bomb.yaml": BOMB})
    assert run_main(["predict", "--config-dir", str(d), "linker=bomb", f"input={ONE_DOC}"]) == 2
    assert "expands to more than" in capsys.readouterr().err


def test_real_catalogs_and_configs_are_well_within_the_limits():
    for path in sorted((ROOT / "data").glob("*/proposals.yaml")) + sorted((ROOT / "configs").rglob("*.yaml")):
        parse_yaml(path.read_text(encoding="utf-8"), path, max_nodes=20_000)  # a tenth of the limit


def test_merge_keys_and_shared_anchors_within_the_limit_still_load():
    doc = parse_yaml("base: &b {kind: forslag}\nproposals:\n- {<<: *b, id: a}\n- {<<: *b, id: b}\n", "x")
    assert [p["kind"] for p in doc["proposals"]] == ["forslag", "forslag"]


def test_deeply_nested_json_in_labels_is_one_line(tmp_path):
    labels = tmp_path / "stance.jsonl"
    labels.write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 1: not valid JSON"):
        load_labels(labels, load_catalog(CATALOG_PATH))
    assert load_labels(LABELS_PATH, load_catalog(CATALOG_PATH))  # the real ones still load


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path):
    from pipeline.files import read_text

    big = tmp_path / "big.yaml"
    big.write_text("x" * 2000, encoding="utf-8")
    with pytest.raises(InputError, match="too large"):
        read_text(big, max_bytes=1000)


# -- spreadsheet-safe CSV -----------------------------------------------------------------------------------

HOSTILE_NAMES = ['=HYPERLINK("x","klick")', "+SUM(1+1)", "-2+3", "@SUM(A1)", "\tflik", "=1+1"]


def csv_cells(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def formulas_when_opened(rows: list[list[str]]) -> list[str]:
    """The cells that become formulas when the rows are typed into a sheet: openpyxl, like Excel, takes a
    text cell starting with '=' as a formula; Excel and LibreOffice also start one with + - @ (checked on
    the text, since openpyxl does not)."""
    from openpyxl import Workbook, load_workbook

    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    sheet = load_workbook(io.BytesIO(buf.getvalue())).active
    typed = [c.value for r in sheet.iter_rows() for c in r if c.data_type == "f"]
    number = __import__("re").compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
    started = [v for r in rows for v in r if v.startswith(FORMULA_START) and v != "-" and not number.fullmatch(v)]
    return typed + started


def test_the_formula_check_finds_the_raw_names():
    assert len(formulas_when_opened([HOSTILE_NAMES])) >= len(HOSTILE_NAMES)  # the check can fail


def test_matrix_csv_of_hostile_file_names_holds_no_formula(tmp_path, offline):
    inp = tmp_path / "in"
    inp.mkdir()
    for name in HOSTILE_NAMES:
        shutil.copy(ONE_DOC, inp / f"{name}.txt")
    out = tmp_path / "out"
    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED, "run.progress=false"]) == 0
    rows = csv_cells(out / "matrix.csv")
    assert formulas_when_opened(rows) == []
    assert sorted(r[0] for r in rows[1:]) == sorted("'" + n for n in HOSTILE_NAMES)
    assert {r[0] for r in rows[1:]} == {"'" + json.loads(line)["doc_id"]
                                        for line in (out / "predictions.jsonl").read_text().splitlines()}


def test_every_csv_writer_neutralises_formulas_but_not_numbers(tmp_path):
    from pipeline.commands.compare import comparison_csv
    from pipeline.evaluation.summary import _write_per_document_csv

    _write_per_document_csv({"@SUM(1)": {"n_cells": 3, "cell_accuracy": -0.5, "macro_f1": None, "addressed_f1": 1.0,
                                         "errors": []}}, tmp_path / "per_document.csv")
    rows = csv_cells(tmp_path / "per_document.csv")
    assert rows[1][:3] == ["'@SUM(1)", "3", "-0.5000"] and rows[1][3] == "-"
    rows = csv_cells_of(comparison_csv([{"run": "-m linker=x", "macro_f1": -0.25, "note": "=cmd|' /C calc'!A0"}]))
    assert rows[1] == ["'-m linker=x", "-0.25", "'=cmd|' /C calc'!A0"]
    for rows in (csv_cells(tmp_path / "per_document.csv"), rows):
        assert formulas_when_opened(rows) == []


def csv_cells_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("value, safe", [("=1+1", "'=1+1"), ("+46 70", "'+46 70"), ("-x", "'-x"), ("@a", "'@a"),
                                         ("\tx", "'\tx"), ("\rx", "'\rx"), ("-0.25", "-0.25"), ("+3", "+3"),
                                         ("1e-5", "1e-5"), ("-", "-"), (-3, -3), ("support", "support"),
                                         ("a=b", "a=b")])
def test_spreadsheet_safe(value, safe):
    assert spreadsheet_safe(value) == safe
    assert csv_cells_of(csv_text([[value]])) == [[str(safe)]]
