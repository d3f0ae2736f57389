"""A labelled corpus (the data config's documents, catalog and hand labels), read, segmented and embedded
once for every fold and every command that scores against labels."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from omegaconf import DictConfig

from ..errors import InputError
from ..records import Catalog, Corpus, Doc, Sentence
from .catalog import load_catalog, load_labels
from .components import VECTORS, build_reader, build_segmenter, load_encoder
from .inputs import list_inputs
from .provenance import Timer, embed_stats
from .stream import error_row, prepare

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    """A corpus and what loading it found: files that could not be read, the encoder that embedded it."""

    corpus: Corpus
    errors: list[dict] = field(default_factory=list)
    embed_stats: dict | None = None

    def for_component(self, component) -> Corpus:
        """The corpus as `component` may read it: vectors only where it requires them, so that training
        and prediction see the same inputs."""
        if VECTORS in getattr(component, "requires", ()):
            return self.corpus
        c = self.corpus
        return Corpus(c.catalog, {d: Doc(d, doc.sentences) for d, doc in c.docs.items()}, c.labels)


def read_all(cfg: DictConfig, input_paths, timer: Timer) -> tuple[list, dict[str, list[Sentence]], list[dict]]:
    """Read and segment every file in this process (a labelled corpus: a handful of files); a bad file
    becomes an error row and the rest go on. Returns the input files, sentences by doc_id, error rows."""
    reader, segmenter = build_reader(cfg), build_segmenter(cfg)
    files, errors = list_inputs(input_paths, follow_symlinks=reader.follow_symlinks)
    sentences: dict[str, list[Sentence]] = {}
    for f in files:
        try:
            result = prepare(f, reader, segmenter, timer=timer)
        except InputError as e:
            log.error("%s", e)
            errors.append(error_row(f, e))
            continue
        for w in result.warnings:
            log.warning("%s", w)
        sentences[f.doc_id] = result.sentences
    return files, sentences, errors


def embed_corpus(cfg: DictConfig, catalog: Catalog, sentences: dict[str, list[Sentence]], timer: Timer):
    """(Corpus, embed stats): sentence and proposal vectors where the config names an embedder."""
    if cfg.get("embedder") is None:
        return Corpus(catalog, {d: Doc(d, s) for d, s in sentences.items()}), None
    with timer("embed"):
        encoder = load_encoder(cfg.embedder, cache_dir=cfg.paths.cache_dir)
        texts = [s.with_heading for doc in sentences.values() for s in doc]
        sent_vecs = encoder.encode(texts, role="sentence") if texts else None
        prop_vecs = encoder.encode([p.text for p in catalog.proposals], role="proposal")
    docs, i = {}, 0
    for doc_id, sents in sentences.items():
        docs[doc_id] = Doc(doc_id, sents, sent_vecs[i : i + len(sents)] if sent_vecs is not None else None)
        i += len(sents)
    stats = embed_stats(encoder, len(texts))
    log.info("embed: %s; cache hits %s, misses %s; windowed %s", stats["encoder"].get("name"), stats["cache_hits"],
             stats["cache_misses"], stats["windowed"])
    return Corpus(catalog, docs, proposal_vectors=prop_vecs), stats


def load_corpus(cfg: DictConfig, timer: Timer) -> Loaded:
    """The labelled corpus of cfg.data: documents segmented (and embedded), labels checked against both."""
    catalog = load_catalog(cfg.data.catalog)
    files, sentences, errors = read_all(cfg, cfg.data.docs, timer)
    labels = load_labels(cfg.data.labels, catalog, doc_ids=[f.doc_id for f in files])
    corpus, stats = embed_corpus(cfg, catalog, sentences, timer)
    corpus.labels = labels
    return Loaded(corpus, errors, stats)
