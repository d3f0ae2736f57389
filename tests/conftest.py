"""Shared fixtures. Nothing here needs the network: models are built locally from the corpus."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import offline_env, set_offline

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "sou-2024-72" / "docs"


def corpus_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))]


def build_bert(out_dir, seed=0, vocab_size=4000, **config) -> str:
    """A randomly initialised BERT + a cased WordPiece tokenizer trained on the corpus, saved like a hub model."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizer

    wp = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    wp.train_from_iterator(corpus_texts(), vocab_size=vocab_size, show_progress=False,
                           special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tokenizer = BertTokenizer(vocab=wp.get_vocab(), do_lower_case=False, strip_accents=False, model_max_length=512)
    torch.manual_seed(seed)
    cfg = dict(vocab_size=wp.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=64, max_position_embeddings=512)
    model = BertModel(BertConfig(**{**cfg, **config}))
    tokenizer.save_pretrained(out_dir)
    model.save_pretrained(out_dir)
    return str(out_dir)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """Directory of a tiny BERT (hidden 32, 2 layers, 2 heads), loadable with from_pretrained."""
    return build_bert(tmp_path_factory.mktemp("tiny-bert"), seed=0)


@pytest.fixture(scope="session")
def tiny_bert_other(tmp_path_factory) -> str:
    """Same architecture and tokenizer, other weights: a 'changed model' for cache tests."""
    return build_bert(tmp_path_factory.mktemp("tiny-bert-other"), seed=1)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("remiss-cache")


@pytest.fixture(scope="session")
def hf_home(tmp_path_factory):
    return tmp_path_factory.mktemp("hf-home")  # empty: no hub model is cached


@pytest.fixture
def offline(monkeypatch, cache_dir, hf_home):
    set_offline(monkeypatch, cache_dir, hf_home)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, cache_dir, hf_home):
    """A small artifact of this version: logreg without embeddings on the labelled corpus."""
    models = tmp_path_factory.mktemp("models")
    with offline_env(cache_dir, hf_home):
        from helpers import run_main

        assert run_main(["train", "name=small", "classifier=logreg", "classifier.use_embeddings=false",
                         "linker=lexical", "embedder=null", f"paths.models_dir={models}",
                         f"output={tmp_path_factory.mktemp('train')}"]) == 0
    return models / "small"
