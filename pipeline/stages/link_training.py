"""Training a learned linker on labelled documents: its examples are the evidence sentences of the labels."""
from __future__ import annotations

import numpy as np

from ..evidence import evidence_sentences
from ..records import Corpus
from .cues import read_document_cues


def link_targets(corpus: Corpus, doc_id: str, ids: list[str]) -> np.ndarray:
    """(n_sentences, n_proposals): 1 where a sentence is evidence of an explicit label for that proposal, 0
    elsewhere, -1 where a quote matches several identical sentences (which one was meant is unknown)."""
    sentences = corpus.docs[doc_id].sentences
    pos = {s.index: k for k, s in enumerate(sentences)}
    y = np.zeros((len(sentences), len(ids)))
    col = {pid: j for j, pid in enumerate(ids)}
    for lab in corpus.labels:
        if lab.doc_id != doc_id or lab.stance == "none" or lab.basis != "explicit" or lab.proposal_id not in col:
            continue
        for q in lab.evidence:
            hits, _ = evidence_sentences(sentences, [q])
            for i in hits:
                cell = (pos[i], col[lab.proposal_id])
                if len(hits) == 1:
                    y[cell] = 1.0
                elif y[cell] == 0:
                    y[cell] = -1.0
    return y


def train_linker(linker, corpora: list[Corpus]):
    """Fit `linker` on the labelled documents of `corpora`, bound to each one's catalog in turn (what it
    learns is about signals, not words, so it carries to other inquiries)."""
    examples = []
    for corpus in corpora:
        linker.fit(corpus.catalog, corpus.proposal_vectors)
        labelled = {lab.doc_id for lab in corpus.labels}
        for doc_id in sorted(labelled & set(corpus.docs)):
            doc = corpus.docs[doc_id]
            sig = linker.signals(doc.sentences, doc.vectors, read_document_cues(doc.sentences))
            y = link_targets(corpus, doc_id, linker.ids_)
            y[[s.is_heading for s in doc.sentences]] = -1
            examples.append((linker.pair_features(sig), y))  # while bound to this catalog
    return linker.train(examples)
