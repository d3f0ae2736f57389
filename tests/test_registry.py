"""Components by registered name only: configs and artifacts can name nothing else, and the stage
contract (`requires`, fit/bind/predict) is checked the same way by every command."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import CATALOG, compose, make_doc, read_jsonl, run_main

from pipeline import registry
from pipeline.core.artifacts import load_artifact
from pipeline.core.components import build, build_classifier, check_requirements
from pipeline.errors import InputError
from pipeline.records import Doc
from pipeline.stages.classify.lexicon import LexiconClassifier
from pipeline.stages.classify.logreg import LogRegClassifier
from pipeline.stages.link import RuleLinker
from pipeline.stages.segment import Segmenter

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT / "tests" / "fixtures" / "artifact-v1-logreg"
DOCS = ROOT / "data" / "sou-2024-72" / "docs"


@pytest.mark.parametrize("target", ["numpy.load", "os.system", "builtins.eval", "pathlib.Path.write_text",
                                    "antigravity.fly", "pipeline.stages.link.LexicalLinker"])
def test_a_target_that_is_not_a_registered_name_is_refused_before_anything_is_imported(target):
    top = target.split(".")[0]
    before = top in sys.modules
    with pytest.raises(InputError) as e:
        build("linker", {"_target_": target, "file": "payload.npy"})
    assert "unknown linker" in str(e.value) and "\n" not in str(e.value)
    assert (top in sys.modules) == before  # nothing was imported to find out


def test_unknown_parameters_and_nested_components_are_refused():
    with pytest.raises(InputError, match="no parameter"):
        build("linker", {"_target_": "rules.v1", "allow_pickle": True})
    with pytest.raises(InputError, match="not nested"):
        build("classifier", {"_target_": "lexicon.v2", "general_score": {"_target_": "numpy.load"}})
    with pytest.raises(InputError, match="names no component"):
        build("classifier", {"general_score": 0.6})


def test_every_component_has_a_versioned_name_and_retired_names_fail_in_one_line():
    for kind in registry.KINDS:
        assert registry.names(kind), kind
        assert all(n.rsplit(".", 1)[-1].startswith("v") for n in registry.names(kind))
    assert registry.resolve("classifier", "logreg.v2") is LogRegClassifier
    for kind, retired in (("classifier", "pipeline.learn.LogRegClassifier"), ("linker", "pipeline.link.HybridLinker"),
                          ("linker", "hybrid.v1")):
        with pytest.raises(InputError, match=f"unknown {kind}"):
            registry.resolve(kind, retired)


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (ROOT / "configs" / "experiment").glob("*.yaml")))
def test_every_experiment_builds_its_stages(experiment):
    cfg = compose([f"experiment={experiment}"])
    assert build("ingest", cfg.ingest) is not None and build("segmenter", cfg.segmenter) is not None
    clf = build_classifier(cfg)
    assert clf.get_params(deep=False)["linker"] is clf.linker
    assert registry.resolve("embedder", cfg.embedder._target_)
    if cfg.embedder.get("fallback"):
        assert registry.resolve("embedder", cfg.embedder.fallback._target_)


def test_lexicon_and_linkers_are_sklearn_estimators():
    clf = LexiconClassifier(linker=RuleLinker(min_z=2.0))
    assert clf.get_params()["linker__min_z"] == 2.0
    assert repr(clf) == "LexiconClassifier(linker=RuleLinker(min_z=2.0))"


def test_requires_says_what_a_component_reads():
    assert LexiconClassifier(linker=RuleLinker(use_embeddings=False)).requires == frozenset()
    assert LexiconClassifier(linker=RuleLinker()).requires == {"sentence_vectors"}
    assert LogRegClassifier(linker=RuleLinker(use_embeddings=False)).requires == {"sentence_vectors"}
    assert LogRegClassifier(linker=RuleLinker(use_embeddings=False), use_embeddings=False).requires == frozenset()
    assert LogRegClassifier(linker=RuleLinker(), use_embeddings=False).requires == {"sentence_vectors"}
    with pytest.raises(InputError, match="embedder"):
        check_requirements(LogRegClassifier(linker=RuleLinker(), use_embeddings=False), frozenset())


def test_a_linker_that_reads_embeddings_raises_without_them_instead_of_going_without():
    with pytest.raises(ValueError, match="embeddings"):
        RuleLinker().fit(CATALOG)
    linker = RuleLinker().fit(CATALOG, np.eye(len(CATALOG.proposals), 4, dtype=np.float32))
    sentences = Segmenter().segment(make_doc("Kommunen tillstyrker förslaget om tandvårdsbidrag."))
    with pytest.raises(ValueError, match="embeddings"):
        linker.link(sentences)


def test_the_catalog_is_bound_once_and_predict_does_not_refit_the_linker():
    clf = LexiconClassifier(linker=RuleLinker(use_embeddings=False)).bind(CATALOG)
    linker = clf.linker_
    doc = Doc("svar", Segmenter().segment(make_doc("Kommunen tillstyrker förslaget om tandvårdsbidrag.")))
    first = clf.predict(doc)
    assert clf.linker_ is linker and clf.predict(doc) == first
    assert clf.linker.get_params() == linker.get_params() and not hasattr(clf.linker, "matcher_")  # param unfitted


@pytest.mark.parametrize("command", ["evaluate", "train"])
def test_evaluate_and_train_refuse_the_same_config_with_the_same_line(command, capsys, tmp_path, offline):
    args = [command, f"output={tmp_path / 'out'}", "classifier=logreg", "classifier.use_embeddings=false",
            "linker=hybrid", "embedder=null", "name=x", f"paths.models_dir={tmp_path / 'models'}"]
    assert run_main(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: embedder: LogRegClassifier reads sentence_vectors")


def test_an_artifact_of_a_retired_component_fails_in_one_line_asking_for_a_retrain(tmp_path, capsys, offline):
    """Trained before the registry (format v1: module paths, hybrid linker v1, logreg v1): retired since."""
    with pytest.raises(InputError, match="unknown classifier 'logreg'.*retrain"):
        load_artifact(V1)
    assert run_main(["predict", f"model={V1}", f"input={DOCS}", f"output={tmp_path / 'out'}"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "unknown classifier" in err[0] and "retrain" in err[0]


def _copy(src, tmp_path) -> Path:
    art = tmp_path / "art"
    shutil.copytree(src, art)
    return art


def test_an_artifact_naming_an_unregistered_component_fails_in_one_line_and_runs_nothing(trained, tmp_path, capsys,
                                                                                          offline):
    assert load_artifact(trained).config.linker._target_ == "rules.v1"
    art = _copy(trained, tmp_path)
    cfg = yaml.safe_load((art / "config.yaml").read_text())
    cfg["linker"] = {"_target_": "pathlib.Path.write_text", "self": str(tmp_path / "pwned"), "data": "x"}
    (art / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert run_main(["predict", f"model={art}", f"input={DOCS}", f"output={tmp_path / 'out'}"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "unknown linker 'pathlib.Path.write_text'" in err[0]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out" / "predictions.jsonl").exists()


def test_an_artifact_of_this_version_predicts_what_it_predicted_when_trained(trained, tmp_path, offline):
    """Its cross-validated predictions came from models fitted on four documents; fitted on all five it
    must at least cover every cell, and reloading it must not change a byte of what it predicts."""
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert run_main(["predict", f"model={trained}", f"input={DOCS}", f"output={out}", "run.progress=false"]) == 0
    assert (a / "predictions.jsonl").read_bytes() == (b / "predictions.jsonl").read_bytes()
    assert len(read_jsonl(a / "predictions.jsonl")) == 5 * len(load_artifact(trained).meta["training_data"]["catalog"])


def test_an_artifact_of_an_unknown_classifier_or_format_asks_for_a_retrain(trained, tmp_path):
    art = _copy(trained, tmp_path)
    meta = json.loads((art / "model.json").read_text())
    (art / "model.json").write_text(json.dumps({**meta, "classifier": "pipeline.learn.Other"}))
    with pytest.raises(InputError, match="unknown classifier"):
        load_artifact(art)
    (art / "model.json").write_text(json.dumps({**meta, "format_version": 9}))
    with pytest.raises(InputError, match="retrain"):
        load_artifact(art)


def test_predictions_written_are_read_back_by_the_one_parser(tmp_path, offline):
    out = tmp_path / "out"
    assert run_main(["predict", f"input={DOCS / 'eksjo-kommun.txt'}", f"output={out}", "embedder=null",
                     "linker=lexical", "run.progress=false"]) == 0
    from pipeline.core.outputs import read_predictions

    rows = read_jsonl(out / "predictions.jsonl")
    assert [p.to_json() for p in read_predictions(out / "predictions.jsonl")] == rows


@pytest.mark.parametrize("data", sorted(p.stem for p in (ROOT / "configs" / "data").glob("*.yaml")))
def test_every_data_config_names_a_catalog_labels_and_documents_that_exist(data):
    cfg = compose([f"data={data}"])
    corpora = list(cfg.data.corpora.values()) if cfg.data.get("corpora") else [cfg.data]
    assert corpora
    for corpus in corpora:
        assert Path(corpus.catalog).is_file() and Path(corpus.labels).is_file()
        assert any(Path(corpus.docs).glob("*.txt")), corpus.name
