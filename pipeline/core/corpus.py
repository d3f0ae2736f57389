"""A labelled corpus (the data config's documents, catalog and hand labels), read, segmented and embedded
once for every fold and every command that scores against labels."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
    """A corpus and what loading it found: files that could not be read, the encoder that embedded it;
    its name, the inquiry it answers and whether its responses are real (quality is reported apart)."""

    corpus: Corpus
    errors: list[dict] = field(default_factory=list)
    embed_stats: dict | None = None
    name: str = ""
    inquiry: str = ""
    real: bool | None = None

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
    files, errors = list_inputs(input_paths, follow_symlinks=build_reader(cfg).follow_symlinks)
    return files, *read_files(cfg, files, errors, timer)


def read_files(cfg: DictConfig, files, errors: list[dict], timer: Timer) -> tuple[dict[str, list[Sentence]], list[dict]]:
    reader, segmenter = build_reader(cfg), build_segmenter(cfg)
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
    return sentences, errors


def embed_corpus(cfg: DictConfig, catalog: Catalog, sentences: dict[str, list[Sentence]], timer: Timer,
                 encoder=None):
    """(Corpus, embed stats): sentence and proposal vectors where the config names an embedder."""
    if cfg.get("embedder") is None:
        return Corpus(catalog, {d: Doc(d, s) for d, s in sentences.items()}), None
    with timer("embed"):
        encoder = encoder or load_encoder(cfg.embedder, cache_dir=cfg.paths.cache_dir)
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


def corpus_specs(cfg: DictConfig) -> list:
    """The corpora a data config names: `data.corpora` (data=all), else the data config itself."""
    corpora = cfg.data.get("corpora")
    return list(corpora.values()) if corpora else [cfg.data]


def load_spec(cfg: DictConfig, spec, timer: Timer, encoder=None) -> Loaded:
    """One labelled corpus (and its `extra` labelled documents): segmented, embedded, labels checked
    against the documents and the catalog."""
    catalog = load_catalog(spec.catalog)
    files, sentences, errors = read_all(cfg, spec.docs, timer)
    labels = load_labels(spec.labels, catalog, doc_ids=[f.doc_id for f in files])
    extra_sentences, extra_labels, extra_errors = load_extra(cfg, spec, catalog, set(sentences), timer)
    sentences.update(extra_sentences)
    labels += extra_labels
    errors += extra_errors
    corpus, stats = embed_corpus(cfg, catalog, sentences, timer, encoder)
    corpus.labels = labels
    name = str(spec.get("name") or Path(str(spec.docs)).parent.name)
    return Loaded(corpus, errors, stats, name, str(spec.get("inquiry") or catalog.path), spec.get("real"))


def load_corpora(cfg: DictConfig, timer: Timer) -> list[Loaded]:
    """Every labelled corpus of the data config, embedded by one encoder."""
    encoder = None
    if cfg.get("embedder") is not None:
        with timer("load_encoder"):
            encoder = load_encoder(cfg.embedder, cache_dir=cfg.paths.cache_dir)
    return [load_spec(cfg, spec, timer, encoder) for spec in corpus_specs(cfg)]


def load_corpus(cfg: DictConfig, timer: Timer) -> Loaded:
    """The labelled corpus of cfg.data (one corpus)."""
    specs = corpus_specs(cfg)
    if len(specs) != 1:
        raise InputError("data", f"data={cfg.data.get('name')} names {len(specs)} corpora: this needs one (data=<corpus>)")
    return load_spec(cfg, specs[0], timer)


def load_extra(cfg: DictConfig, spec, catalog: Catalog, known: set[str], timer: Timer):
    """Labelled documents beside the corpus, `data.extra: [{docs: <folder>, labels: <labels.jsonl>}]` (an
    analyst's corrections from `stance labels export`): labels checked against the corpus' catalog,
    only the labelled documents read. Returns (sentences by doc_id, labels, error rows)."""
    sentences: dict[str, list[Sentence]] = {}
    labels, errors = [], []
    for k, extra in enumerate(spec.get("extra") or []):
        if not isinstance(extra, Mapping) or not extra.get("docs") or not extra.get("labels"):
            raise InputError(f"data.extra[{k}]", "expected {docs: <folder or files>, labels: <labels.jsonl>}")
        files, errs = list_inputs(extra["docs"], follow_symlinks=build_reader(cfg).follow_symlinks)
        found = load_labels(extra["labels"], catalog, doc_ids=[f.doc_id for f in files])
        wanted = {lab.doc_id for lab in found}
        clash = sorted(wanted & (known | set(sentences)))
        if clash:
            raise InputError(extra["labels"], f"document '{clash[0]}' is also in data.docs or another data.extra: "
                                              f"a document takes its labels from one file")
        read, errs = read_files(cfg, [f for f in files if f.doc_id in wanted], [], timer)
        sentences.update(read)
        labels += found
        errors += errs
    return sentences, labels, errors
