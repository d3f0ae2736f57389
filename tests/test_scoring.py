"""Evaluate stage: small hand-built cases whose answers are worked out by hand in the comments."""
from __future__ import annotations

import csv
import json

import pytest

from pipeline.evaluation.linking import link_metrics
from pipeline.evaluation.metrics import evaluate
from pipeline.evaluation.summary import format_summary, write_metrics
from pipeline.evidence import normalise_quote, quotes_overlap
from pipeline.records import STANCES, Evidence, Label, Prediction


def lab(doc, pid, stance, basis="explicit", confidence="high", evidence=()):
    return Label(doc, pid, stance, None if stance == "none" else basis, confidence, tuple(evidence))


def pred(doc, pid, stance, basis="explicit", evidence=(), score=0.9):
    ev = [Evidence(t, 0, len(t)) for t in evidence]
    return Prediction(doc, pid, stance, score, None if stance == "none" else basis, ev)


# Two documents, four proposals each.
#          gold                      predicted
# a p1     support  explicit  high   support explicit
# a p2     oppose   explicit  high   support explicit
# a p3     none               high   none
# a p4     neutral  general   low    neutral explicit   (basis wrong)
# b p1     support  general   high   support general
# b p2     mixed    explicit  low    mixed   explicit
# b p3     none               high   support explicit
# b p4     oppose   explicit  high   -- missing -> none
# plus a prediction for an unlabelled cell (c, p1).
LABELS = [
    lab("a", "p1", "support"),
    lab("a", "p2", "oppose"),
    lab("a", "p3", "none"),
    lab("a", "p4", "neutral", basis="general", confidence="low"),
    lab("b", "p1", "support", basis="general"),
    lab("b", "p2", "mixed", confidence="low"),
    lab("b", "p3", "none"),
    lab("b", "p4", "oppose"),
]
PREDICTIONS = [
    pred("a", "p1", "support"),
    pred("a", "p2", "support"),
    pred("a", "p3", "none"),
    pred("a", "p4", "neutral"),
    pred("b", "p1", "support", basis="general"),
    pred("b", "p2", "mixed"),
    pred("b", "p3", "support"),
    pred("c", "p1", "oppose"),
]


@pytest.fixture
def metrics():
    return evaluate(PREDICTIONS, LABELS)


def test_perfect_predictions_score_one():
    labels = [lab("a", "p1", "support"), lab("a", "p2", "oppose", basis="general", evidence=["Vi avstyrker."]),
              lab("a", "p3", "none"), lab("b", "p1", "mixed"), lab("b", "p2", "neutral")]
    preds = [pred(g.doc_id, g.proposal_id, g.stance, basis=g.basis or "explicit", evidence=g.evidence) for g in labels]
    m = evaluate(preds, labels)
    for key in ("cell_accuracy", "macro_f1", "addressed_f1", "stance_macro_f1_addressed", "basis_accuracy",
                "evidence_recall"):
        assert m[key] == 1.0, key
    assert m["missing_predictions"] == 0 and m["unlabelled_predictions"] == 0
    assert all(d["cell_accuracy"] == 1.0 and d["errors"] == [] for d in m["per_document"].values())


def test_macro_f1_only_over_occurring_labels():
    # Only support and none occur: averaging over all five would cap a perfect run at 2/5.
    labels = [lab("a", "p1", "support"), lab("a", "p2", "none")]
    m = evaluate([pred("a", "p1", "support"), pred("a", "p2", "none")], labels)
    assert m["macro_f1"] == 1.0
    assert m["macro_f1_labels"] == ["support", "none"]
    assert set(m["per_label"]) == set(STANCES)


def test_known_confusion(metrics):
    assert metrics["n_cells"] == 8
    assert metrics["cell_accuracy"] == pytest.approx(5 / 8)
    assert metrics["confusion"] == {
        "labels": list(STANCES),
        "matrix": [
            # support oppose mixed neutral none
            [2, 0, 0, 0, 0],  # gold support
            [1, 0, 0, 0, 1],  # gold oppose: a p2 -> support, b p4 -> none (missing)
            [0, 0, 1, 0, 0],  # gold mixed
            [0, 0, 0, 1, 0],  # gold neutral
            [1, 0, 0, 0, 1],  # gold none: b p3 -> support
        ],
    }
    per = metrics["per_label"]
    # support: 2 right of 4 predicted, 2 gold -> P 1/2, R 1, F1 2/3
    assert per["support"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 2})
    assert per["oppose"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert per["mixed"]["f1"] == 1.0 and per["neutral"]["f1"] == 1.0
    # none: 1 right of 2 predicted, 2 gold
    assert per["none"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert metrics["macro_f1_labels"] == list(STANCES)
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 0 + 1 + 1 + 0.5) / 5)


def test_missing_and_unlabelled_predictions(metrics):
    assert metrics["missing_predictions"] == 1
    assert metrics["unlabelled_predictions"] == 1
    assert {"proposal_id": "p4", "gold": "oppose", "predicted": "none"} in metrics["per_document"]["b"]["errors"]
    assert "c" not in metrics["per_document"]


def test_addressed_and_stance_f1(metrics):
    # addressed: gold 6, predicted 6, both on 5 -> P = R = F1 = 5/6
    assert metrics["addressed_f1"] == pytest.approx(5 / 6)
    # gold-addressed cells: gold S O Ne S M O, pred S S Ne S M none
    # support P 2/3 R 1 F1 0.8; oppose 0; mixed 1; neutral 1 -> 2.8 / 4
    assert metrics["stance_macro_f1_addressed"] == pytest.approx(0.7)
    assert metrics["stance_macro_f1_addressed_labels"] == ["support", "oppose", "mixed", "neutral"]


def test_addressed_f1_small_case():
    labels = [lab("d", "p1", "support"), lab("d", "p2", "oppose"), lab("d", "p3", "none")]
    # p2 predicted none, p3 predicted support: addressed TP 1, FP 1, FN 1 -> F1 1/2
    m = evaluate([pred("d", "p1", "support"), pred("d", "p2", "none"), pred("d", "p3", "support")], labels)
    assert m["addressed_f1"] == pytest.approx(0.5)
    # on gold-addressed cells: support P 1 R 1 -> 1; oppose R 0 -> 0; the none prediction is an error
    assert m["stance_macro_f1_addressed"] == pytest.approx(0.5)


def test_accuracy_by_basis_and_confidence(metrics):
    assert metrics["accuracy_by_basis"] == {
        "explicit": {"n": 4, "accuracy": 0.5},  # a p1 ok, a p2 no, b p2 ok, b p4 no
        "general": {"n": 2, "accuracy": 1.0},  # a p4, b p1
        "none": {"n": 2, "accuracy": 0.5},  # a p3 ok, b p3 no
    }
    # both sides take a stance on a p1, a p2, a p4, b p1, b p2; only a p4's basis is wrong
    assert metrics["basis_accuracy"] == pytest.approx(0.8)
    assert metrics["basis_cells"] == 5
    assert metrics["accuracy_by_confidence"] == {
        "high": {"n": 6, "accuracy": 0.5},
        "low": {"n": 2, "accuracy": 1.0},
    }


def test_per_document(metrics):
    a, b = metrics["per_document"]["a"], metrics["per_document"]["b"]
    assert (a["n_cells"], a["cell_accuracy"]) == (4, 0.75)
    assert a["errors"] == [{"proposal_id": "p2", "gold": "oppose", "predicted": "support"}]
    assert b["cell_accuracy"] == 0.5 and len(b["errors"]) == 2


def test_all_none_document_has_undefined_addressed_f1():
    m = evaluate([pred("a", "p1", "none")], [lab("a", "p1", "none")])
    assert m["addressed_f1"] is None and m["stance_macro_f1_addressed"] is None
    assert m["cell_accuracy"] == 1.0


def test_evidence_recall_with_hyphenated_quote():
    labels = [
        lab("a", "p1", "oppose", evidence=["FSS instäm-mer inte i förslaget.", "Kostnaderna är inte utredda."]),
        lab("a", "p2", "support", evidence=["Kommunen tillstyrker förslaget om läkarmedverkan."]),
        lab("a", "p3", "support", evidence=["Ignored: the cell is predicted none."]),
    ]
    preds = [
        # raw text with a line-break hyphen; the second gold quote is not found
        pred("a", "p1", "oppose", evidence=["Sammanfattning. FSS instäm-\nmer  inte i förslaget."]),
        # different sentence split: token Jaccard 5/7 >= 0.5
        pred("a", "p2", "support", evidence=["Kommunen tillstyrker förslaget om läkarmedverkan i stort."]),
        pred("a", "p3", "none"),
    ]
    m = evaluate(preds, labels)
    assert m["evidence_quotes"] == 3
    assert m["evidence_recall"] == pytest.approx(2 / 3)


def test_quote_normalisation():
    assert normalise_quote("instäm-\n mer") == normalise_quote("instämmer") == "instämmer"
    assert quotes_overlap("FSS instäm-mer inte", "Därför: fss instämmer inte i förslaget")
    assert not quotes_overlap("Vi avstyrker", "Regionen tillstyrker förslaget i sin helhet")


def test_invalid_inputs_fail_loudly():
    with pytest.raises(ValueError, match="duplicate prediction"):
        evaluate([pred("a", "p1", "none"), pred("a", "p1", "none")], [lab("a", "p1", "none")])
    with pytest.raises(ValueError, match="unknown predicted stance"):
        evaluate([pred("a", "p1", "maybe")], [lab("a", "p1", "none")])
    with pytest.raises(ValueError, match="no labels"):
        evaluate([], [])


def test_write_metrics_files(metrics, tmp_path):
    extra = {"encoder": {"name": "e5-small", "dim": 384}, "config": {"seed": 0, "root": tmp_path}}
    write_metrics(metrics, tmp_path / "out", extra=extra)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "confusion.csv", "confusion.png", "metrics.json", "per_document.csv"
    ]
    loaded = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert {k: loaded[k] for k in metrics} == metrics
    assert loaded["encoder"] == {"name": "e5-small", "dim": 384}
    assert loaded["config"]["root"] == str(tmp_path)
    assert (out / "confusion.png").read_bytes().startswith(b"\x89PNG")
    rows = list(csv.reader((out / "confusion.csv").open(encoding="utf-8")))
    assert rows[0][1:] == list(STANCES)
    assert rows[2] == ["oppose", "1", "0", "0", "0", "1"]
    docs = list(csv.DictReader((out / "per_document.csv").open(encoding="utf-8")))
    assert [d["doc_id"] for d in docs] == ["a", "b"] and docs[1]["n_errors"] == "2"


def test_write_metrics_options(metrics, tmp_path):
    write_metrics(metrics, tmp_path, confusion_png=False)
    assert not (tmp_path / "confusion.png").exists()
    assert (tmp_path / "metrics.json").exists()
    with pytest.raises(ValueError, match="collide"):
        write_metrics(metrics, tmp_path, extra={"macro_f1": 1.0})


def test_metrics_json_keeps_swedish_characters(tmp_path):
    m = evaluate([pred("växjö", "p1", "support")], [lab("växjö", "p1", "support")])
    write_metrics(m, tmp_path, confusion_png=False)
    assert "växjö" in (tmp_path / "metrics.json").read_text(encoding="utf-8")


def test_format_summary(metrics):
    text = format_summary(metrics)
    for part in ("cell accuracy", "0.625", "macro F1", "support", "gold \\ pred", "a ", "b "):
        assert part in text
    assert len(text.splitlines()) > 15


def test_link_metrics():
    predicted = {("a", "p1", 0), ("a", "p1", 1)}
    gold = {("a", "p1", 1), ("a", "p2", 3)}
    m = link_metrics(predicted, gold)
    assert (m["precision"], m["recall"], m["f1"]) == (0.5, 0.5, 0.5)
    assert m["true_positives"] == 1
    assert link_metrics(set(), gold)["f1"] == 0.0


# -- calibration of a learned linker's probabilities ----------------------------------------------------------

def test_calibration_of_perfectly_calibrated_probabilities_is_zero():
    from pipeline.evaluation.linking import calibration

    # 10 pairs at p=0.05 of which none quoted would be off by 0.05; at p=0.25 a quarter quoted is exact
    pairs = [(0.25, 1)] * 2 + [(0.25, 0)] * 6 + [(0.95, 1)] * 19 + [(0.95, 0)] * 1
    cal = calibration(pairs)
    assert cal["pairs"] == 28 and cal["quoted"] == 21
    assert cal["ece"] == pytest.approx(0.0) and cal["ece_from_first_bin"] == pytest.approx(0.0)
    # Brier: 2*(0.75^2) + 6*(0.25^2) + 19*(0.05^2) + 1*(0.95^2), over 28
    assert cal["brier"] == pytest.approx((2 * 0.5625 + 6 * 0.0625 + 19 * 0.0025 + 0.9025) / 28)
    assert [b["pairs"] for b in cal["bins"]] == [8, 20]


def test_calibration_of_overconfident_probabilities():
    from pipeline.evaluation.linking import calibration

    # 90 easy negatives at 0.01 (off by 0.01); 10 pairs at 0.9 of which half are quoted (off by 0.4)
    cal = calibration([(0.01, 0)] * 90 + [(0.9, 1)] * 5 + [(0.9, 0)] * 5)
    assert cal["ece"] == pytest.approx((90 * 0.01 + 10 * 0.4) / 100)
    assert cal["ece_from_first_bin"] == pytest.approx(0.4) and cal["pairs_from_first_bin"] == 10
    assert calibration([]) is None
