"""`stance compare`: run discovery, config diff, metric recomputation, bootstrap CIs, paired tests, outputs.

Real runs (a Hydra multirun of two lexical evaluate jobs, no embed stage) are made in-process once per
module; everything else uses synthetic run dirs written here, with a small catalog and labels, whose
metrics.json is computed by pipeline.evaluate.evaluate from the same predictions (as a real run is).
"""
from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers import offline_env, run_main

from pipeline.commands import compare as cmp
from pipeline.core import runs
from pipeline.evaluation import bootstrap
from pipeline.evaluation.metrics import evaluate
from pipeline.records import STANCES, Evidence, Label, Prediction

# No embed stage: the lexical linker (the hybrid one reads embeddings and says so when it gets none).
NO_EMBED = ("embedder=null", "linker=lexical")
PROPOSALS = ["p1", "p2", "p3", "p4", "p5"]


# -- helpers -----------------------------------------------------------------------------------------------


def compare_main(args, capsys) -> tuple[int, str, str]:
    rc = cmp.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def write_corpus(root: Path, n_docs: int, skip=(), stance_of=None) -> tuple[Path, Path]:
    """A catalog and labels for documents d00…; gold cycles through every stance (or `stance_of(doc, proposal)`).
    `skip`: cells left unlabelled."""
    root.mkdir(parents=True, exist_ok=True)
    catalog = root / "proposals.yaml"
    catalog.write_text(yaml.safe_dump({"sou": "SOU 2030:1", "proposals": [
        {"id": p, "title": f"Förslag {p}", "summary": f"Utredningen föreslår {p}."} for p in PROPOSALS]}),
        encoding="utf-8")
    rows = []
    for d in range(n_docs):
        for j, p in enumerate(PROPOSALS):
            if (f"d{d:02d}", p) in skip:
                continue
            stance = stance_of(d, j) if stance_of else STANCES[(d + j) % len(STANCES)]
            rows.append({"doc_id": f"d{d:02d}", "proposal_id": p, "stance": stance,
                         "basis": None if stance == "none" else "explicit",
                         "evidence": [] if stance == "none" else [f"Vi tycker något om förslag {p} i dokument {d}."]})
    labels = root / "stance.jsonl"
    labels.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return catalog, labels


def gold_of(labels_path: Path) -> dict:
    rows = [json.loads(line) for line in labels_path.read_text(encoding="utf-8").splitlines()]
    return {(r["doc_id"], r["proposal_id"]): r for r in rows}


def with_errors(gold: dict, rate: float, seed: int = 0) -> dict:
    """Predictions = gold, with a share of cells turned into the next stance (a wrong answer)."""
    rng = random.Random(seed)
    out = {}
    for key, row in gold.items():
        stance = row["stance"]
        if rng.random() < rate:
            stance = STANCES[(STANCES.index(stance) + 1) % len(STANCES)]
        out[key] = stance
    return out


def deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def make_run(path: Path, corpus: tuple[Path, Path], stances: dict, config: dict | None = None,
             encoder: dict | None = None, overrides: list[str] | None = None) -> Path:
    """A run dir as `stance evaluate` writes it, scored by the real evaluate()."""
    from pipeline.core.catalog import load_catalog, load_labels

    catalog_path, labels_path = corpus
    gold = gold_of(labels_path)
    preds = []
    for (doc, prop), stance in stances.items():
        right = gold.get((doc, prop), {}).get("stance") == stance
        quotes = gold.get((doc, prop), {}).get("evidence") or ["Något annat."]
        evidence = [Evidence(quotes[0] if right else "Helt andra ord här.", 0, 1)] if stance != "none" else []
        preds.append(Prediction(doc, prop, stance, 0.9, None if stance == "none" else "explicit", evidence))
    cfg = deep_merge({
        "data": {"name": "synthetic", "catalog": str(catalog_path), "labels": str(labels_path)},
        "paths": {"root_dir": str(path)},
        "linker": {"_target_": "pipeline.link.LexicalLinker", "min_sentence_score": 2.0},
        "classifier": {"_target_": "pipeline.classify.LexiconClassifier", "general_score": 0.6},
        "evaluation": {"evidence_jaccard": 0.5},
        "command": "evaluate", "output": str(path), "seed": 0,
    }, config or {})
    manifest = {"command": "evaluate", "config": cfg, "data_hash": "d1", "git": {"commit": "c1", "dirty": False},
                "encoder": encoder, "embedding": {"cache_hits": 7, "cache_misses": 1} if encoder else None,
                "wall_time_s": {"ingest": 0.25, "classify": 1.0}}
    metrics = evaluate(preds, load_labels(labels_path, load_catalog(catalog_path)))
    metrics.update(protocol="no training (rules)", encoder=encoder, manifest=manifest, config=cfg)
    path.mkdir(parents=True, exist_ok=True)
    (path / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (path / "predictions.jsonl").write_text("".join(json.dumps(p.to_json()) + "\n" for p in preds), encoding="utf-8")
    if overrides is not None:
        (path / ".hydra").mkdir()
        (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides), encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus", n_docs=8)


# -- real runs -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_multirun(tmp_path_factory, cache_dir, hf_home) -> Path:
    """Two real `stance evaluate` jobs of one Hydra multirun: lexical linker, min_lex 0.2 and 0.6."""
    sweep = tmp_path_factory.mktemp("real") / "multirun"
    with offline_env(cache_dir, hf_home):
        rc = run_main(["evaluate", *NO_EMBED, "linker=lexical", "linker.min_lex=0.2,0.6",
                       "evaluation.confusion_png=false", f"hydra.sweep.dir={sweep}", "-m"])
    assert rc == 0
    assert (sweep / "0" / "metrics.json").is_file() and (sweep / "1" / "metrics.json").is_file()
    return sweep


def test_real_runs_point_estimates_equal_metrics_json(real_multirun):
    comparison = cmp.compare([real_multirun], n_boot=200)
    assert len(comparison.runs) == 2
    for run in comparison.runs:
        recorded = json.loads((run.path / "metrics.json").read_text(encoding="utf-8"))
        assert run.scores["cell_accuracy"] == pytest.approx(recorded["cell_accuracy"], abs=1e-12)
        assert run.scores["macro_f1"] == pytest.approx(recorded["macro_f1"], abs=1e-12)
        for m in ("addressed_f1", "stance_macro_f1_addressed", "evidence_recall"):
            assert run.scores[m] == pytest.approx(recorded[m], abs=1e-12), m
        assert len(run.cells.keys) == recorded["n_cells"] == 60
    assert comparison.notes == []  # nothing recomputed differs from metrics.json
    assert comparison.keys == ["linker.min_lex"]  # the swept key; output, paths, … say nothing


def test_real_multirun_table_and_paired_test(real_multirun, capsys):
    rc, out, err = compare_main([real_multirun, "--boot", "300"], capsys)
    assert rc == 0, err
    comparison_md = (real_multirun / "compare.md").read_text(encoding="utf-8")  # default output: the multirun dir
    assert comparison_md.strip() in out
    rows = list(csv.DictReader((real_multirun / "compare.csv").open(encoding="utf-8")))
    # Labels are the Hydra overrides (without command=/hydra.*); the only differing key is the swept one.
    assert [r["run"] for r in rows] == ["embedder=null linker=lexical linker.min_lex=0.2 "
                                        "evaluation.confusion_png=False",
                                        "embedder=null linker=lexical linker.min_lex=0.6 "
                                        "evaluation.confusion_png=False"]
    assert [r["linker.min_lex"] for r in rows] == ["0.2", "0.6"]
    assert float(rows[0]["macro_f1"]) > float(rows[1]["macro_f1"])
    assert rows[0]["protocol"] == "no training (rules)" and rows[0]["encoder"] == "none"
    paired = json.loads((real_multirun / "paired_test.json").read_text(encoding="utf-8"))
    assert paired["n_cells"] == 60 and paired["n_documents"] == 5
    assert paired["bootstrap"]["difference"] == pytest.approx(float(rows[0]["macro_f1"]) - float(rows[1]["macro_f1"]))
    assert "with only 5 documents" in out


def test_failed_job_is_listed_not_fatal(real_multirun, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    shutil.copytree(real_multirun / "0", sweep / "0")
    (sweep / "multirun.yaml").write_text("hydra: {}\n", encoding="utf-8")
    (sweep / "1").mkdir()
    (sweep / "1" / "failed.json").write_text(json.dumps(
        {"error": "embedder: model not cached\n(offline)", "overrides": ["command=evaluate", "embedder=kb-bert"]}))
    (sweep / "2" / ".hydra").mkdir(parents=True)  # a job that was killed: Hydra's folder, nothing else
    (sweep / "2" / ".hydra" / "overrides.yaml").write_text("- linker=hybrid\n", encoding="utf-8")
    rc, out, err = compare_main([sweep, "--boot", "100"], capsys)
    assert rc == 0, err
    assert "Failed jobs:" in out and "embedder=kb-bert" in out and "embedder: model not cached (offline)" in out
    assert "linker=hybrid" in out and "still running, or killed" in out
    rows = list(csv.DictReader((sweep / "compare.csv").open(encoding="utf-8")))
    assert [r["status"] for r in rows] == ["ok", "failed", "failed"]
    assert rows[1]["error"] == "embedder: model not cached (offline)" and rows[1]["macro_f1"] == ""
    paired = json.loads((sweep / "paired_test.json").read_text(encoding="utf-8"))
    assert paired["skipped"] == "only one scored run" and "no paired test" in out


def test_all_jobs_failed_exits_1(tmp_path, capsys):
    (tmp_path / "sweep" / "0").mkdir(parents=True)
    (tmp_path / "sweep" / "0" / "failed.json").write_text(json.dumps({"error": "boom", "overrides": []}))
    rc, out, _ = compare_main([tmp_path / "sweep", "--output", tmp_path / "out"], capsys)
    assert rc == 1 and "No run could be scored" in out and "boom" in out


# -- metric definitions ----------------------------------------------------------------------------------------


def test_recomputed_metrics_equal_evaluate_on_random_cells():
    """score_totals reproduces evaluate() exactly: macro over occurring labels, missing = none, None = nan."""
    rng = random.Random(3)
    for _ in range(60):
        present = rng.sample(STANCES, rng.randint(1, len(STANCES)))
        labels, preds, rows = [], [], {}
        for i in range(rng.randint(1, 25)):
            g = rng.choice(present)
            quotes = tuple(rng.choice(["a b c", "d e f"]) for _ in range(rng.randint(0, 2))) if g != "none" else ()
            labels.append(Label(f"d{i % 3}", f"p{i}", g, None if g == "none" else "explicit", evidence=quotes))
            if rng.random() < 0.85:  # else missing: counts as none
                s = rng.choice(present if rng.random() < 0.7 else STANCES)
                ev = [Evidence(rng.choice(["a b c", "x y z"]), 0, 1)] if s != "none" else []
                p = Prediction(f"d{i % 3}", f"p{i}", s, 0.5, None, ev)
                preds.append(p)
                rows[(p.doc_id, p.proposal_id)] = p
        expected = evaluate(preds, labels)
        cells = bootstrap.align_cells(labels, rows)
        for m in bootstrap.METRICS:
            got = bootstrap.score_cells(cells, m)
            if expected[m] is None:
                assert np.isnan(got), m
            else:
                assert got == pytest.approx(expected[m], abs=1e-12), m


def test_point_estimate_equals_metrics_json_and_ci_contains_it(tmp_path, corpus):
    gold = gold_of(corpus[1])
    run = runs.load_run(make_run(tmp_path / "r", corpus, with_errors(gold, 0.3)))
    recorded = json.loads((run.path / "metrics.json").read_text(encoding="utf-8"))
    for m in bootstrap.METRICS:
        assert run.scores[m] == pytest.approx(recorded[m], abs=1e-12), m
        lo, hi = bootstrap.bootstrap_ci(run.cells, m, n_boot=500, seed=1)
        assert lo <= run.scores[m] <= hi and lo < hi, m


def test_ci_narrows_with_more_documents(tmp_path):
    widths = []
    for n_docs in (5, 60):
        corpus = write_corpus(tmp_path / f"c{n_docs}", n_docs)
        run = runs.load_run(make_run(tmp_path / f"r{n_docs}", corpus, with_errors(gold_of(corpus[1]), 0.3, seed=n_docs)))
        lo, hi = bootstrap.bootstrap_ci(run.cells, "cell_accuracy", n_boot=1000, seed=0)
        widths.append(hi - lo)
    assert widths[1] < 0.6 * widths[0], widths


def test_bootstrap_resamples_whole_documents(corpus, tmp_path):
    """One document is all wrong, the rest all right: a resample's error count is a multiple of its 5 cells."""
    gold = gold_of(corpus[1])
    preds = {k: (STANCES[(STANCES.index(v["stance"]) + 1) % 5] if k[0] == "d03" else v["stance"]) for k, v in gold.items()}
    run = runs.load_run(make_run(tmp_path / "r", corpus, preds))
    (totals,) = bootstrap.bootstrap_totals([bootstrap.document_stats(run.cells)], n_boot=200, seed=0)
    confusion = totals[:, : len(STANCES) ** 2].reshape(-1, len(STANCES), len(STANCES))
    assert np.all(confusion.sum(axis=(1, 2)) == 8 * len(PROPOSALS))  # 8 documents drawn, 5 cells each
    wrong = confusion.sum(axis=(1, 2)) - np.trace(confusion, axis1=1, axis2=2)
    assert np.all(wrong % len(PROPOSALS) == 0) and len(set(wrong)) > 2
    # The seed fixes the draws.
    (again,) = bootstrap.bootstrap_totals([bootstrap.document_stats(run.cells)], n_boot=200, seed=0)
    assert np.array_equal(totals, again)
    # Clustered errors: drawing whole documents gives a wide CI (the bad document drawn 3 times in over
    # 2.5% of resamples: accuracy 0.625); resampling loose cells would give a lower bound near 0.76.
    lo, hi = bootstrap.bootstrap_ci(run.cells, "cell_accuracy", n_boot=2000, seed=0)
    assert lo <= 0.65 and hi == 1.0


# -- config diff, labels, order -------------------------------------------------------------------------------


def test_differing_keys_show_choices_not_noise():
    base = {"data": {"name": "sou", "labels": "l"}, "paths": {"root_dir": "/a"}, "output": "/a", "command": "evaluate",
            "linker": {"_target_": "pipeline.link.LexicalLinker", "min_sentence_score": 2.0},
            "embedder": {"name": "e5-bundled", "batch_size": 64}, "seed": 0}
    other = deep_merge(base, {"paths": {"root_dir": "/b"}, "output": "/b",
                              "linker": {"_target_": "pipeline.link.HybridLinker", "min_sentence_score": 2,
                                         "embedding_weight": 0.8}})
    no_embed = {k: v for k, v in base.items() if k != "embedder"}
    newer = deep_merge(base, {"new_setting": 3, "run": {"batch_sentences": 2048}, "seed": 1})
    keys, partial = runs.differing_keys([base, other, no_embed, newer])
    # linker swap: one column (not _target_), min_sentence_score 2 == 2.0, hybrid-only keys implied;
    # embedder removed in one run; output/paths/run.batch_sentences (run-only) ignored; new_setting only in
    # newer code -> note.
    assert keys == ["linker", "embedder", "seed"]
    assert partial == ["new_setting"]
    assert [runs.config_value(c, "linker") for c in (base, other)] == ["LexicalLinker", "HybridLinker"]
    assert runs.config_value(no_embed, "embedder") == "null" and runs.config_value(base, "embedder") == "e5-bundled"
    assert runs.differing_keys([base, dict(base)]) == ([], [])


def test_run_label_from_overrides(tmp_path):
    assert runs.run_label(tmp_path / "x", ["command=evaluate", "output=/o", "~embedder", "hydra.sweep.dir=/s",
                                          "experiment=logreg-e5"]) == "embedder=null experiment=logreg-e5"
    assert runs.run_label(tmp_path / "x", ["command=evaluate"]) == "x"


def test_sort_order_follows_the_chosen_metric(tmp_path, corpus, capsys):
    gold = gold_of(corpus[1])
    majority = {k: "none" for k in gold}  # right on every none cell, nothing else: accuracy 0.2, macro tiny
    make_run(tmp_path / "runs" / "all-none", corpus, majority)
    make_run(tmp_path / "runs" / "good", corpus, with_errors(gold, 0.1))
    make_run(tmp_path / "runs" / "poor", corpus, with_errors(gold, 0.6))
    comparison = cmp.compare([tmp_path / "runs"], metric="macro_f1", n_boot=100)
    order = [r.label for r in comparison.runs]
    assert order == ["good", "poor", "all-none"]
    values = [r.scores["macro_f1"] for r in comparison.runs]
    assert values == sorted(values, reverse=True)
    rc, out, err = compare_main([tmp_path / "runs", "--metric", "cell_accuracy", "--boot", "50",
                                 "--output", tmp_path / "out"], capsys)
    assert rc == 0, err
    table = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| #")]
    assert [line.split(" | ")[1] for line in table] == ["good", "poor", "all-none"]
    assert "cell_accuracy 95% CI" in out


def test_chosen_metric_changes_the_order(tmp_path):
    """Mostly-none gold: predicting none everywhere wins on accuracy and loses on macro-F1."""
    corpus = write_corpus(tmp_path / "c", n_docs=10, stance_of=lambda d, j: STANCES[d % 4] if j == 0 else "none")
    gold = gold_of(corpus[1])
    none_heavy = [k for k, v in gold.items() if v["stance"] == "none"]
    eager = {k: v["stance"] for k, v in gold.items()}
    eager.update({k: "support" for k in none_heavy[:15]})  # every stance right, 15 none cells called support
    make_run(tmp_path / "runs" / "all-none", corpus, {k: "none" for k in gold})
    make_run(tmp_path / "runs" / "eager", corpus, eager)
    by_macro = cmp.compare([tmp_path / "runs"], metric="macro_f1", n_boot=50).runs
    by_accuracy = cmp.compare([tmp_path / "runs"], metric="cell_accuracy", n_boot=50).runs
    assert [r.label for r in by_macro] == ["eager", "all-none"]
    assert [r.label for r in by_accuracy] == ["all-none", "eager"]
    assert by_accuracy[0].scores["cell_accuracy"] == pytest.approx(0.8)


# -- paired test -----------------------------------------------------------------------------------------------


def test_identical_runs_difference_zero_p_one(tmp_path, corpus):
    preds = with_errors(gold_of(corpus[1]), 0.3)
    make_run(tmp_path / "runs" / "a", corpus, preds)
    make_run(tmp_path / "runs" / "b", corpus, preds, config={"seed": 1})
    paired = cmp.compare([tmp_path / "runs"], n_boot=300).paired
    assert paired["identical_predictions"] is True
    assert paired["bootstrap"]["difference"] == 0 and paired["bootstrap"]["p_value"] == 1.0
    assert paired["bootstrap"]["ci95"] == [0.0, 0.0]
    assert paired["mcnemar"] == {"a_right_b_wrong": 0, "a_wrong_b_right": 0, "p_value": 1.0}
    assert paired["significant"] is False and "identical predictions" in paired["summary"]


def test_same_stances_other_evidence_differ_on_evidence_recall(tmp_path, corpus, capsys):
    gold = gold_of(corpus[1])
    stances = {k: v["stance"] for k, v in gold.items()}
    make_run(tmp_path / "runs" / "quotes", corpus, stances)
    other = make_run(tmp_path / "runs" / "vague", corpus, stances)
    rows = [json.loads(line) for line in (other / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in rows[::2]:
        for e in r["evidence"]:
            e["text"] = "Helt andra ord här."
    (other / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rc, out, err = compare_main([tmp_path / "runs", "--metric", "evidence_recall", "--boot", "300",
                                 "--output", tmp_path / "out"], capsys)
    assert rc == 0, err
    paired = json.loads((tmp_path / "out" / "paired_test.json").read_text(encoding="utf-8"))
    assert paired["a"]["label"] == "quotes" and paired["identical_predictions"] is True
    assert paired["bootstrap"]["difference"] > 0.3 and paired["mcnemar"]["p_value"] == 1.0
    assert "identical predictions" not in paired["summary"] and "evidence_recall 95% CI" in out


def test_no_discordant_cells_but_different_predictions(tmp_path, corpus):
    """Both wrong on a cell, differently: predictions differ, per-cell correctness does not."""
    gold = gold_of(corpus[1])
    a = with_errors(gold, 0.3, seed=5)
    b = dict(a)
    wrong = next(k for k in a if a[k] != gold[k]["stance"])
    b[wrong] = next(s for s in STANCES if s not in (a[wrong], gold[wrong]["stance"]))
    make_run(tmp_path / "runs" / "a", corpus, a)
    make_run(tmp_path / "runs" / "b", corpus, b)
    paired = cmp.compare([tmp_path / "runs"], n_boot=200).paired
    assert paired["identical_predictions"] is False
    assert paired["mcnemar"]["p_value"] == 1.0 and "no discordant cells" in paired["summary"]


def test_clearly_better_run_small_p(tmp_path):
    corpus = write_corpus(tmp_path / "c", n_docs=30)
    gold = gold_of(corpus[1])
    make_run(tmp_path / "runs" / "better", corpus, with_errors(gold, 0.05, seed=1))
    make_run(tmp_path / "runs" / "worse", corpus, with_errors(gold, 0.6, seed=2))
    paired = cmp.compare([tmp_path / "runs"], n_boot=1000).paired
    assert paired["a"]["label"] == "better"
    assert paired["bootstrap"]["difference"] > 0.3
    lo, hi = paired["bootstrap"]["ci95"]
    assert 0 < lo <= paired["bootstrap"]["difference"] <= hi
    assert paired["bootstrap"]["p_value"] < 0.01 and paired["mcnemar"]["p_value"] < 1e-6
    assert paired["mcnemar"]["a_right_b_wrong"] > paired["mcnemar"]["a_wrong_b_right"]
    assert paired["significant"] is True and "p<=0.001: significant at 0.05, over 30 documents" in paired["summary"]


def test_close_runs_not_significant(tmp_path, corpus):
    gold = gold_of(corpus[1])
    a = with_errors(gold, 0.3, seed=7)
    b = dict(a)
    flip = next(k for k in a if a[k] != gold[k]["stance"])
    b[flip] = gold[flip]["stance"]  # one more cell right
    make_run(tmp_path / "runs" / "a", corpus, a)
    make_run(tmp_path / "runs" / "b", corpus, b)
    paired = cmp.compare([tmp_path / "runs"], metric="cell_accuracy", n_boot=500).paired
    assert paired["a"]["label"] == "b" and paired["bootstrap"]["difference"] == pytest.approx(1 / 40)
    assert paired["bootstrap"]["p_value"] > 0.05 and paired["mcnemar"]["p_value"] == 1.0
    assert "not significant at 0.05" in paired["summary"]


def test_paired_test_uses_shared_cells(tmp_path):
    full = write_corpus(tmp_path / "full", n_docs=6)
    dropped = {("d00", "p1"), ("d03", "p4"), ("d05", "p2")}
    partial = write_corpus(tmp_path / "partial", n_docs=6, skip=dropped)
    gold = gold_of(full[1])
    make_run(tmp_path / "runs" / "a", full, with_errors(gold, 0.1))
    make_run(tmp_path / "runs" / "b", partial, with_errors(gold, 0.5))
    comparison = cmp.compare([tmp_path / "runs"], n_boot=200)
    paired = comparison.paired
    assert paired["n_cells"] == 6 * len(PROPOSALS) - 3
    assert paired["cells_left_out"] == {"only_in_a": 3, "only_in_b": 0, "gold_differs": 0}
    assert "27 shared cells, 3 not shared left out" in paired["summary"]


# -- outputs and CLI -------------------------------------------------------------------------------------------


def test_outputs_written(tmp_path, corpus, capsys):
    gold = gold_of(corpus[1])
    encoder = {"name": "e5-bundled", "model": "intfloat/multilingual-e5-small", "fallback_from": "kb-sbert"}
    make_run(tmp_path / "one", corpus, with_errors(gold, 0.1), encoder=encoder,
             overrides=["command=evaluate", "output=/x", "embedder=kb-sbert"])
    make_run(tmp_path / "two", corpus, with_errors(gold, 0.4), config={"linker": {"min_sentence_score": 4}})
    out_dir = tmp_path / "cmp"
    rc, out, err = compare_main([tmp_path / "one", tmp_path / "two", "--output", out_dir, "--boot", "200"], capsys)
    assert rc == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["compare.csv", "compare.md", "compare.png", "paired_test.json"]
    assert (out_dir / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((out_dir / "compare.csv").open(encoding="utf-8")))
    assert [r["run"] for r in rows] == ["embedder=kb-sbert", "two"]
    assert rows[0]["encoder"] == "e5-bundled (fallback from kb-sbert)" and rows[1]["encoder"] == "none"
    assert rows[0]["cache_hits"] == "7" and rows[0]["cache_misses"] == "1" and rows[1]["cache_hits"] == ""
    assert float(rows[0]["wall_time_s"]) == 1.25
    assert [r["linker.min_sentence_score"] for r in rows] == ["2", "4"]
    assert float(rows[0]["macro_f1_ci_low"]) <= float(rows[0]["macro_f1"]) <= float(rows[0]["macro_f1_ci_high"])
    md = (out_dir / "compare.md").read_text(encoding="utf-8")
    assert "| # | run | linker.min_sentence_score | docs |" in md and "macro_f1 95% CI" in md
    assert "| 1 | embedder=kb-sbert | 2 | 8 | 40 |" in md
    assert md.strip() in out and "Paired test:" in out
    paired = json.loads((out_dir / "paired_test.json").read_text(encoding="utf-8"))
    assert paired["a"]["label"] == "embedder=kb-sbert" and paired["n_cells"] == 40


def test_default_output_is_cwd_compare(tmp_path, corpus, monkeypatch, capsys):
    make_run(tmp_path / "one", corpus, with_errors(gold_of(corpus[1]), 0.1))
    monkeypatch.chdir(tmp_path)
    rc, out, _ = compare_main([tmp_path / "one", "--boot", "20"], capsys)
    assert rc == 0 and (tmp_path / "compare" / "compare.md").is_file()
    assert "no paired test: only one scored run" in out


def test_changed_labels_are_noted(tmp_path, corpus):
    run_dir = make_run(tmp_path / "r", corpus, with_errors(gold_of(corpus[1]), 0.3))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    metrics["macro_f1"] += 0.1
    (run_dir / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    notes = cmp.compare([run_dir], n_boot=20).notes
    assert len(notes) == 1 and "macro_f1 recomputed" in notes[0] and "labels changed" in notes[0]


@pytest.mark.parametrize("setup, needles", [
    ("missing", ["nope", "no such directory"]),
    ("empty", ["empty", "no runs below it"]),
    ("predict", ["predict-run", "stance predict", "no metrics.json"]),
    ("train", ["train-run", "no predictions.jsonl"]),
    ("duplicate", ["predictions.jsonl", "duplicate prediction"]),
])
def test_bad_dirs_exit_2_one_line(tmp_path, corpus, capsys, setup, needles):
    if setup == "missing":
        target = tmp_path / "nope"
    elif setup == "empty":
        target = tmp_path / "empty"
        target.mkdir()
    elif setup == "predict":
        target = tmp_path / "predict-run"
        target.mkdir()
        (target / "predictions.jsonl").write_text('{"doc_id": "d00", "proposal_id": "p1", "stance": "none"}\n')
        (target / "manifest.json").write_text("{}")
    elif setup == "train":
        target = make_run(tmp_path / "train-run", corpus, with_errors(gold_of(corpus[1]), 0.1))
        (target / "predictions.jsonl").unlink()
    else:
        target = make_run(tmp_path / "dup", corpus, with_errors(gold_of(corpus[1]), 0.1))
        with (target / "predictions.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps({"doc_id": "d00", "proposal_id": "p1", "stance": "none"}) + "\n")
    rc, _, err = compare_main([target, "--output", tmp_path / "out"], capsys)
    assert_one_line_error(rc, err, *needles)
    assert not (tmp_path / "out").exists()


def test_bad_arguments_exit_2_one_line(tmp_path, corpus, capsys):
    run_dir = make_run(tmp_path / "r", corpus, with_errors(gold_of(corpus[1]), 0.1))
    assert_one_line_error(*compare_main([run_dir, "--metric", "f2"], capsys)[::2], "invalid choice")
    assert_one_line_error(*compare_main([], capsys)[::2], "dirs")
    assert_one_line_error(*compare_main([run_dir, "--boot", "0"], capsys)[::2], "--boot")
