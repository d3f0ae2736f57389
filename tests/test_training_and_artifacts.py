"""`stance train`, `stance evaluate` cross-validation and `stance predict model=…`, through the CLI.

The encoder is the tiny local BERT of conftest.py (no hub); the embedding cache lives in a temp dir.
"""
from __future__ import annotations

import json
import os
import shutil

import pytest

from pipeline import cli
from pipeline.records import STANCES

from conftest import CORPUS, ROOT

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("stance")


@pytest.fixture(scope="module")
def stance(tiny_bert, workdir):
    """Run `stance <command> …` in-process with the tiny encoder and temp cache/models dirs."""

    def call(command, *args, encoder=tiny_bert, models=None):
        base = [f"paths.cache_dir={workdir / 'cache'}", f"paths.models_dir={models or workdir / 'models'}",
                "evaluation.confusion_png=false"]
        if encoder:
            base += ["embedder=tiny", f"embedder.model={encoder}"]
        return cli.main([command, *base, *args])

    return call


@pytest.fixture(scope="module")
def artifact(stance, workdir):
    """One logreg artifact trained on the tiny encoder, shared by the tests that only read it."""
    assert stance("train", "name=lr-tiny", "classifier=logreg", f"output={workdir / 'run'}") == 0
    return workdir / "models" / "lr-tiny"


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: ")
    return err[-1]


def test_evaluate_logreg_is_leave_one_document_out_and_deterministic(stance, tmp_path):
    runs = []
    for k in range(2):
        out = tmp_path / f"cv{k}"
        assert stance("evaluate", f"output={out}", "classifier=logreg") == 0
        runs.append(out)
    m = json.loads((runs[0] / "metrics.json").read_text())
    assert m["protocol"] == "leave-one-document-out"
    docs = sorted(p.stem for p in CORPUS.glob("*.txt"))
    assert sorted(m["folds"]) == docs
    for held, fold in m["folds"].items():
        assert held not in fold["train_documents"] and len(fold["train_documents"]) == 4
        assert fold["training"]["documents"] == fold["train_documents"]
        assert fold["n_cells"] == 12 and 0 <= fold["cell_accuracy"] <= 1
    for key in ("cell_accuracy", "macro_f1", "addressed_f1", "stance_macro_f1_addressed", "per_label"):
        assert m[key] is not None
    link = m["linking"]
    assert {"precision", "recall", "f1", "n_gold", "n_predicted", "cells_with_evidence_linked"} <= set(link)
    preds = read_jsonl(runs[0] / "predictions.jsonl")
    assert len(preds) == 60 and {p["stance"] for p in preds} <= set(STANCES)
    # same config + data -> same numbers and predictions
    again = json.loads((runs[1] / "metrics.json").read_text())
    for key in ("cell_accuracy", "macro_f1", "stance_macro_f1_addressed", "confusion", "folds", "linking"):
        strip = lambda v: {d: {k: x for k, x in f.items() if k != "seconds"} for d, f in v.items()} if key == "folds" else v  # noqa: E731
        assert strip(again[key]) == strip(m[key]), key
    assert read_jsonl(runs[1] / "predictions.jsonl") == preds


def test_lexicon_evaluate_reports_linking_too(stance, tmp_path):
    assert stance("evaluate", f"output={tmp_path / 'lex'}") == 0
    m = json.loads((tmp_path / "lex" / "metrics.json").read_text())
    assert m["protocol"] == "no training (rules)" and "folds" not in m
    assert m["linking"]["recall"] > 0.5


def test_train_writes_a_safe_versioned_artifact_that_predict_uses(stance, artifact, workdir, tmp_path, tiny_bert,
                                                                   capsys):
    art = artifact
    names = {p.name for p in art.iterdir()}
    assert names == {"model.json", "config.yaml", "weights.safetensors", "features.json", "metrics.json",
                     "cv_predictions.jsonl", "MODEL_CARD.md"}
    for p in art.iterdir():
        assert not p.read_bytes().startswith(b"\x80")  # no pickle
    meta = json.loads((art / "model.json").read_text())
    assert meta["labels"] == list(STANCES) and meta["classifier"] == "logreg.v2"
    assert meta["encoder"]["name"] == "tiny" and meta["encoder"]["model"] == tiny_bert and meta["encoder"]["fingerprint"]
    assert len(meta["training_data"]["data_hash"]) == 16 and len(meta["training_data"]["documents"]) == 5
    assert meta["cv"]["protocol"] == "leave-one-document-out" and meta["cv"]["cell_accuracy"] is not None
    assert meta["train_command"].startswith("stance train") and "name=lr-tiny" in meta["train_command"]
    card = (art / "MODEL_CARD.md").read_text()
    for section in ("## Intended use", "## Training data", "## Metrics", "## Limitations", "## How to retrain"):
        assert section in card
    assert len(read_jsonl(art / "cv_predictions.jsonl")) == 60
    assert "folds" in json.loads((art / "metrics.json").read_text())

    # predict with it: the artifact brings its encoder config; nothing to override
    out = tmp_path / "pred"
    assert stance("predict", f"model={art}", f"input={CORPUS}", f"output={out}", encoder=None) == 0
    preds = read_jsonl(out / "predictions.jsonl")
    assert len(preds) == 60
    man = json.loads((out / "manifest.json").read_text())
    assert man["model"]["name"] == "lr-tiny" and man["encoder"]["name"] == "tiny"

    # retraining reproduces it: same weights, same predictions
    assert stance("train", "name=lr-tiny-2", "classifier=logreg", f"output={tmp_path / 'run2'}") == 0
    again = workdir / "models" / "lr-tiny-2"
    assert (again / "weights.safetensors").read_bytes() == (art / "weights.safetensors").read_bytes()
    out2 = tmp_path / "pred2"
    assert stance("predict", f"model={again}", f"input={CORPUS}", f"output={out2}", encoder=None) == 0
    assert read_jsonl(out2 / "predictions.jsonl") == preds

    # an existing name is not overwritten without run.overwrite=true
    capsys.readouterr()
    assert stance("train", "name=lr-tiny", "classifier=logreg") == 2
    assert "exists" in one_line_error(capsys)


def test_artifact_with_another_encoder_or_label_set_is_refused(stance, artifact, tmp_path, tiny_bert_other, capsys):
    capsys.readouterr()
    # another encoder named on the command line: one line, exit 2, no predictions
    out = tmp_path / "pred"
    assert stance("predict", f"model={artifact}", f"input={CORPUS}", f"output={out}", encoder=tiny_bert_other) == 2
    line = one_line_error(capsys)
    assert "trained with encoder tiny" in line and "embedder=tiny" in line
    assert not (out / "predictions.jsonl").exists()
    # another label set
    art = tmp_path / "copy"
    shutil.copytree(artifact, art)
    meta = json.loads((art / "model.json").read_text())
    meta["labels"] = ["support", "oppose", "none"]
    (art / "model.json").write_text(json.dumps(meta))
    assert stance("predict", f"model={art}", f"input={CORPUS}", f"output={out}") == 2
    assert "label set" in one_line_error(capsys)
    # not an artifact at all
    assert stance("predict", f"model={tmp_path}", f"input={CORPUS}", f"output={out}") == 2
    assert "not a model artifact" in one_line_error(capsys)


def test_a_learned_linker_with_the_lexicon_trains_into_an_artifact_that_predict_uses(stance, tmp_path, capsys):
    """The lexicon learns nothing, its linker does: `stance train linker=learned` writes the linker's
    weights and the lexicon's settings; predict with the artifact uses the learned linker."""
    models = tmp_path / "models"
    assert stance("train", "name=ll", "linker=learned", f"output={tmp_path / 't'}", models=models) == 0
    art = models / "ll"
    meta = json.loads((art / "model.json").read_text())
    assert meta["classifier"] == "lexicon.v2" and set(meta["weights"]) == {"lexicon.json", "linker.json"}
    assert json.loads((art / "lexicon.json").read_text())["hyperparameters"]["general_score"] == 0.6
    out = tmp_path / "p"
    assert stance("predict", f"model={art}", f"input={CORPUS}", f"output={out}", "run.progress=false") == 0
    assert "p=" in (out / "predictions.jsonl").read_text()  # the learned linker's probability in the reasons
    spec = json.loads((art / "lexicon.json").read_text())
    (art / "lexicon.json").write_text(json.dumps({"hyperparameters": {**spec["hyperparameters"], "_target_": "os.system"}}))
    assert stance("predict", f"model={art}", f"input={CORPUS}", f"output={tmp_path / 'q'}") == 2
    assert "unknown hyperparameter(s) _target_" in one_line_error(capsys)


def test_user_errors_of_train_and_predict_are_one_line(stance, tmp_path, capsys):
    assert stance("train", "classifier=logreg") == 2
    assert "name=" in one_line_error(capsys)
    assert stance("train", "name=../x", "classifier=logreg") == 2
    one_line_error(capsys)
    assert stance("train", "name=lex") == 2
    assert "learns nothing" in one_line_error(capsys)
    assert stance("predict", "classifier=logreg", f"input={CORPUS}", f"output={tmp_path / 'p'}") == 2
    assert "not trained" in one_line_error(capsys)
    assert stance("evaluate", "classifier=logreg", f"output={tmp_path / 'e'}", "embedder=null", "linker=lexical",
                  encoder=None) == 2
    assert "embedder" in one_line_error(capsys)


def test_finetune_config_builds_through_the_registry(tiny_bert):
    """The finetune config's keys are the classifier's parameters (training itself:
    test_trainable_classifiers.py)."""
    from helpers import compose

    from pipeline.core.components import build_classifier
    from pipeline.stages.classify.finetune import CrossEncoderClassifier

    cfg = compose(["classifier=finetune", f"classifier.model={tiny_bert}", "seed=3"])
    clf = build_classifier(cfg)
    assert isinstance(clf, CrossEncoderClassifier) and clf.component == "finetune.v2"
    assert clf.model == tiny_bert and clf.seed == 3 and clf.freeze_layers == 4
    assert clf.get_params(deep=False)["learning_rate"] == pytest.approx(2e-4)
    assert clf.cache_dir == str(cfg.paths.cache_dir)  # handed in by the core, not part of the model
    assert "cache_dir" not in clf.hyperparameters()
    assert type(clf.linker).__name__ == "RuleLinker" and clf.requires == {"sentence_vectors"}


def test_train_on_all_corpora_reports_each_apart_and_retrains_byte_for_byte(tmp_path, offline):
    """`stance train data=all`: leave-one-document-out within each corpus and leave-one-inquiry-out in
    the card, a learned linker's weights in the artifact, and the same weights from a second run."""
    from helpers import run_main

    args = ["train", "data=all", "classifier=logreg", "classifier.use_embeddings=false", "linker=learned",
            "linker.use_embeddings=false", "embedder=null", f"paths.models_dir={tmp_path / 'models'}"]
    assert run_main([*args, "name=a", f"output={tmp_path / 'ta'}"]) == 0
    assert run_main([*args, "name=b", f"output={tmp_path / 'tb'}"]) == 0
    a, b = tmp_path / "models" / "a", tmp_path / "models" / "b"
    for f in ("weights.safetensors", "linker.json", "features.json"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    meta = json.loads((a / "model.json").read_text())
    assert set(meta["cv"]["per_corpus"]) == {"sou-2024-72", "sou-2024-72-authored", "dricksvatten-authored"}
    for per in meta["cv"]["per_corpus"].values():
        assert per["leave-one-inquiry-out"]["n_cells"] == per["leave-one-document-out"]["n_cells"] > 0
    card = (a / "MODEL_CARD.md").read_text()
    assert "leave-one-inquiry-out" in card and "dricksvatten-authored" in card
    # the artifact predicts on a catalog it was not trained on, with the linker it learned
    out = tmp_path / "p"
    docs = ROOT / "data" / "dricksvatten-authored"
    assert run_main(["predict", f"model={a}", f"input={docs / 'docs'}", f"data.catalog={docs / 'proposals.yaml'}",
                     f"output={out}", "run.progress=false"]) == 0
    assert "p=" in (out / "predictions.jsonl").read_text()  # the learned linker's probability in the reasons
