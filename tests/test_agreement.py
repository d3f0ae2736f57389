"""`stance agreement`: Cohen's κ (stance, basis, addressed-vs-none) with bootstrap CIs over documents."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from helpers import LABELS_PATH, run_main
from pipeline.core.catalog import load_labels
from pipeline.evaluation.agreement import agreement, kappa
from pipeline.records import STANCES, Label


def perturbed(labels: list[Label], share: float, seed: int) -> list[Label]:
    """A second annotator who disagrees on about `share` of the cells."""
    rng = random.Random(seed)
    out = []
    for lab in labels:
        if rng.random() < share:
            stance = rng.choice([s for s in STANCES if s != lab.stance])
            lab = Label(lab.doc_id, lab.proposal_id, stance, None if stance == "none" else rng.choice(["explicit", "general"]))
        out.append(lab)
    return out


def test_kappa_is_cohens_kappa():
    gold = load_labels(LABELS_PATH, None)
    other = perturbed(gold, 0.2, seed=3)
    result = agreement(gold, other, n_boot=200)
    assert result.n_cells == len(gold) == 60 and result.n_documents == 5
    assert result.kappa["stance"] == pytest.approx(cohen_kappa_score([g.stance for g in gold], [o.stance for o in other]))
    addressed = lambda labs: ["none" if x.stance == "none" else "a" for x in labs]  # noqa: E731
    assert result.kappa["addressed"] == pytest.approx(cohen_kappa_score(addressed(gold), addressed(other)))
    both = [(g.basis, o.basis) for g, o in zip(gold, other) if g.basis and o.basis]
    assert result.cells["basis"] == len(both)
    assert result.kappa["basis"] == pytest.approx(cohen_kappa_score(*zip(*both)))
    assert np.sum(result.confusion["stance"]) == 60
    assert len(result.disagreements) == sum((g.stance, g.basis) != (o.stance, o.basis) for g, o in zip(gold, other))
    lo, hi = result.ci95["stance"]
    assert lo <= result.kappa["stance"] <= hi and hi - lo > 0


def test_identical_labels_agree_fully_and_one_category_throughout_is_undefined():
    gold = load_labels(LABELS_PATH, None)
    same = agreement(gold, gold, n_boot=100)
    assert same.kappa["stance"] == 1.0 and same.ci95["stance"] == [1.0, 1.0] and same.disagreements == []
    assert np.isnan(kappa(np.array([[5, 0], [0, 0]])))  # chance agreement is 1: κ is not defined
    assert np.isnan(kappa(np.array([[0, 0], [0, 0]])))  # no cells


def test_bootstrap_is_over_documents_and_seeded():
    gold = load_labels(LABELS_PATH, None)
    other = perturbed(gold, 0.3, seed=1)
    a, b = agreement(gold, other, n_boot=300, seed=5), agreement(gold, other, n_boot=300, seed=5)
    assert a.ci95 == b.ci95
    assert agreement(gold, other, n_boot=300, seed=6).ci95 != a.ci95


def test_the_command_prints_kappa_the_confusion_and_the_disputed_cells_and_writes_a_page(tmp_path, capsys):
    gold = load_labels(LABELS_PATH, None)
    other = perturbed(gold, 0.15, seed=2)
    hostile = '<script>alert(1)</script>'
    rows = [{"doc_id": x.doc_id, "proposal_id": x.proposal_id, "stance": x.stance, "basis": x.basis,
             "evidence": [], "note": ""} for x in other]
    rows.append({"doc_id": hostile, "proposal_id": "befintlig-struktur", "stance": "none", "basis": None})
    b = tmp_path / "b.jsonl"
    b.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    page = tmp_path / "agreement.html"
    assert run_main(["agreement", str(LABELS_PATH), str(b), "--html", str(page), "--boot", "200"]) == 0
    out = capsys.readouterr().out
    assert "60 cells labelled by both in 5 documents (only in A: 0, only in B: 1)" in out
    assert "| Stance | 60 |" in out and "stance confusion (rows A, columns B)" in out
    n_dis = sum((g.stance, g.basis) != (o.stance, o.basis) for g, o in zip(gold, other))
    assert f"cells they disagree on: {n_dis}" in out and n_dis > 0
    html = page.read_text(encoding="utf-8")
    assert "Cohen's κ" in html and hostile not in html


def test_the_command_says_what_is_wrong_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    assert run_main(["agreement", str(LABELS_PATH), str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {bad}: line 1: not valid JSON")
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"doc_id": "x", "proposal_id": "y", "stance": "none", "basis": None}) + "\n",
                     encoding="utf-8")
    assert run_main(["agreement", str(LABELS_PATH), str(other)]) == 2
    assert "no cell in common" in capsys.readouterr().err
