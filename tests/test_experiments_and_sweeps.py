"""Named experiments and config sweeps: each composes into a complete run, sweeps launch, compare reads them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import compose as composed
from helpers import run_main

from pipeline.cli import CONFIG_DIR

EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))
EXPECTED = {  # experiment: (embedder, classifier target)
    "lexicon": ("kb-sbert", "lexicon.v2"),
    "logreg-e5": ("e5-bundled", "logreg.v2"),
    "logreg-kb-sbert": ("kb-sbert", "logreg.v2"),
    "finetune-kb-bert": ("kb-bert", "finetune.v2"),
    "finetune-e5": ("e5-hf", "finetune.v2"),
}


def test_the_issue_s_experiments_exist():
    assert set(EXPECTED) <= set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_experiment_is_a_complete_documented_global_config(name):
    text = (CONFIG_DIR / "experiment" / f"{name}.yaml").read_text(encoding="utf-8")
    assert text.startswith("# @package _global_\n")
    assert len([line for line in text.splitlines() if line.startswith("#")]) >= 3  # says what it is for
    cfg = composed([f"experiment={name}"])
    assert cfg.name == name
    for group in ("data", "ingest", "segmenter", "embedder", "linker", "classifier", "evaluation"):
        assert cfg.get(group) is not None, group
    if name in EXPECTED:
        assert (cfg.embedder.name, cfg.classifier._target_) == EXPECTED[name]


def test_an_experiment_differs_from_another_only_where_it_says():
    a, b = composed(["experiment=logreg-e5"]), composed(["experiment=logreg-kb-sbert"])
    assert a.classifier == b.classifier and a.linker == b.linker and a.segmenter == b.segmenter
    assert a.embedder.name != b.embedder.name


@pytest.mark.parametrize("sweep, key, values", [
    ("experiments", "experiment", "glob(*)"),
    ("logreg-c", "classifier.C", "0.01,0.1,1,10"),
    ("shards", "run.shard", "range(4)"),
])
def test_sweep_configs_are_multiruns_on_the_joblib_launcher(sweep, key, values):
    cfg = composed([f"sweep={sweep}"], hydra_cfg=True)
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher")
    assert str(cfg.hydra.sweeper.params[key]) == values


def test_command_line_sweep_then_compare(tmp_path, tiny_bert, monkeypatch, capsys):
    """`stance evaluate -m classifier.C=…` then `stance compare` on the multirun folder: the table shows the
    swept key, every job reuses the first one's embeddings, and the paired test is written."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("REMISS_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "sweep"
    assert run_main(["evaluate", "-m", f"output={out}", "embedder=tiny", f"embedder.model={tiny_bert}",
                     "classifier=logreg", "classifier.C=0.1,10", "evaluation.confusion_png=false"]) == 0
    manifests = [json.loads((out / str(i) / "manifest.json").read_text(encoding="utf-8")) for i in (0, 1)]
    assert [m["config"]["classifier"]["C"] for m in manifests] == [0.1, 10]
    assert manifests[1]["embedding"]["cache_misses"] == 0
    capsys.readouterr()
    assert run_main(["compare", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "classifier.C" in printed and "Paired test" in printed
    for name in ("compare.csv", "compare.md", "compare.png", "paired_test.json"):
        assert (Path(out) / name).is_file(), name
    header = (out / "compare.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "classifier.C" in header and "embedder" not in header.split(",")  # only the keys that differ
