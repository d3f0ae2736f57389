"""Trainable stance classifiers: sentence-level readings learnt from the hand labels, aggregated by the
lexicon's rules into one stance per (document, proposal).

Training pairs come from the labels: a sentence that matches an evidence quote of a cell carries that
cell's stance toward its proposal, every other candidate pair of the document carries `none`. A model
reads each candidate pair (pipeline/stages/classify/features.py); `LexiconClassifier.aggregate` turns
the readings into cells (a specific statement overrides a general one, general statements propagate
with basis `general`, named-but-no-position is `neutral`).

Subclasses (logreg, finetune) follow the scikit-learn conventions: hyperparameters in `__init__` (so
`get_params` and `clone` work), learnt state in attributes ending in `_`, `fit` returns self. They
persist to safe formats only (`save`/`load`: JSON + safetensors).
"""
from __future__ import annotations

import logging

import numpy as np

from ...errors import InputError
from ...evidence import gold_links
from ...records import STANCES, Corpus, Doc, Prediction
from ..cues import Reading, read_document_cues
from .features import NONE, DocPairs, candidate_pairs, eligible
from .lexicon import LexiconClassifier, as_corpora

log = logging.getLogger(__name__)


class TrainableClassifier(LexiconClassifier):
    """Shared machinery: candidate pairs, training pairs from labels, readings, aggregation.

    Subclasses implement `_fit_pairs(docs, y, catalog)` and `_proba(docs, catalog) -> (n_pairs,
    n_classes)` over `self.classes_`, plus `save`/`load`.
    """

    trainable = True

    # -- inputs --------------------------------------------------------------------------------
    def doc_pairs(self, doc: Doc, extra: set[tuple[int, str]] = frozenset()) -> DocPairs:
        catalog = self.catalog_
        sentences = doc.sentences
        cues = read_document_cues(sentences)
        links = self.about(doc, cues)
        cos = None
        if doc.vectors is not None and self.proposal_vectors_ is not None:
            cos = np.asarray(doc.vectors) @ np.asarray(self.proposal_vectors_).T
        pairs = candidate_pairs(sentences, cues, links, catalog, cos, self.top_k)
        extra = {(i, pid) for i, pid in extra if eligible(sentences[i], cues[i])}
        if extra:
            pairs = sorted(set(pairs) | extra, key=lambda x: (x[0], catalog.ids.index(x[1])))
        per = {i: self.pair_cues(sentences[i], cues[i], links[i]) for i in {i for i, _ in pairs}}
        lexicon = [self.lexicon_reading(per[i].get(pid, cues[i]), catalog[pid], general=cues[i].general)
                   for i, pid in pairs]
        doc_id = sentences[0].doc_id if sentences else doc.doc_id
        vectors = None if cos is None else doc.vectors
        return DocPairs(doc_id, sentences, cues, links, pairs, lexicon, vectors,
                        None if cos is None else self.proposal_vectors_, catalog)

    def training_pairs(self, corpus: Corpus) -> tuple[list[DocPairs], list[str]]:
        """Candidate pairs plus gold evidence pairs of the labelled documents, with sentence-level targets.

        A general statement that is evidence of some cell of its document but not of this proposal's
        (a specific statement overrode it, or it is scoped to a group) is left out: it is not `none`.
        So is every pair of a cell without a label: a document an analyst reviewed in part (`stance
        labels export`) teaches only its reviewed cells (a corpus labels every cell: nothing left out).
        """
        labels = corpus.labels
        labelled = {lab.doc_id for lab in labels}
        cells = {(lab.doc_id, lab.proposal_id) for lab in labels}
        gold, unmatched = gold_links({d: doc.sentences for d, doc in corpus.docs.items() if d in labelled}, labels)
        self.unmatched_quotes_ = unmatched
        docs, y = [], []
        for doc_id in sorted(corpus.docs):
            if doc_id not in labelled:
                continue
            doc = corpus.docs[doc_id]
            sents = doc.sentences
            pos = {s.index: k for k, s in enumerate(sents)}
            extra = {(pos[i], pid) for d, pid, i in gold if d == doc_id}
            dp = self.doc_pairs(doc, extra)
            cited = {pos[i] for d, _, i in gold if d == doc_id}
            keep, targets = [], []
            for r, (k, pid) in enumerate(dp.pairs):
                g = gold.get((doc_id, pid, sents[k].index))
                if (doc_id, pid) not in cells or (g is None and dp.cues[k].general and k in cited):
                    continue
                keep.append(r)
                targets.append(g[0] if g else NONE)
            dp.pairs = [dp.pairs[r] for r in keep]
            dp.lexicon = [dp.lexicon[r] for r in keep]
            docs.append(dp)
            y += targets
        return docs, y

    # -- the stage contract ----------------------------------------------------------------------
    def fit(self, corpus) -> "TrainableClassifier":
        """Learn from the labelled documents of `corpus` (one Corpus, or several: inquiries of their own),
        and bind the (last) catalog."""
        corpora = as_corpora(corpus)
        self.fit_linker(corpora)
        docs, y, unmatched = [], [], 0
        for c in corpora:
            self.bind(c.catalog, c.proposal_vectors)
            d, t = self.training_pairs(c)
            docs, y, unmatched = docs + d, y + t, unmatched + len(self.unmatched_quotes_)
        if not y:
            raise ValueError("no training pairs: are the labelled documents among the inputs?")
        counts = {c: y.count(c) for c in STANCES if c in y}
        if len(counts) < 2:
            raise InputError("data.labels", f"the training pairs of {', '.join(d.doc_id for d in docs)} are all "
                                            f"'{next(iter(counts))}': label (or review) more cells")
        self.training_summary_ = {"documents": [d.doc_id for d in docs], "pairs": len(y), "targets": counts,
                                  "unmatched_quotes": unmatched}
        log.info("%s: fit on %d pairs from %d documents %s", type(self).__name__, len(y), len(docs), counts)
        self._fit_pairs(docs, np.asarray(y), corpora[-1].catalog)
        return self

    def predict_proba(self, doc: Doc) -> tuple[list[tuple[int, str]], np.ndarray]:
        """Sentence-level probabilities: the candidate pairs (sentence index, proposal id) and an
        (n_pairs, n_classes) array whose columns follow `classes_`."""
        dp = self.doc_pairs(doc)
        proba = self._proba([dp], self.catalog_) if dp.pairs else np.zeros((0, len(self.classes_)))
        return [(doc.sentences[i].index, pid) for i, pid in dp.pairs], proba

    def predict(self, doc: Doc) -> list[Prediction]:
        self._check_fitted()
        dp = self.doc_pairs(doc)
        proba = self._proba([dp], self.catalog_) if dp.pairs else np.zeros((0, len(self.classes_)))
        readings: list[dict[str, Reading]] = [{} for _ in doc.sentences]
        for (i, pid), lex, row in zip(dp.pairs, dp.lexicon, proba):
            readings[i][pid] = self._reading(row, lex)
        return self.aggregate(doc.sentences, self.catalog_, dp.cues, dp.links, readings)

    def _reading(self, row: np.ndarray, lexicon: Reading) -> Reading:
        """The model's reading of one pair, as a correction of the lexicon's.

        - a class the training data never showed cannot be predicted: the lexicon's reading stands;
        - the model overrides the lexicon only with probability >= `min_override`, else the lexicon's
          reading stands (with the model's probability for it);
        - where model and lexicon agree, the lexicon's strength (explicit 2 / lean 1) stands;
        - an overriding support/oppose/mixed is explicit (weight 2) from probability `strong`, a lean
          below; an overriding neutral is a comment (weight 1), which yields to a general statement.
        """
        classes = list(self.classes_)
        lex_class = lexicon.stance or NONE
        if self.backoff_unseen and lex_class not in classes:
            return lexicon  # a class the training data never showed: the lexicon's reading stands
        k = int(np.argmax(row))
        stance, p = classes[k], float(row[k])
        if stance != lex_class and p < self.min_override:
            stance, p = lex_class, float(row[classes.index(lex_class)])
        if stance == NONE:
            return Reading(None, 0, p)
        if stance == lexicon.stance:
            return Reading(stance, lexicon.weight, p)  # agreement: the lexicon's strength stands
        if stance == "neutral":
            return Reading(stance, 1, p)
        return Reading(stance, 2 if p >= self.strong else 1, p)

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise RuntimeError(f"{type(self).__name__} is not trained: run `stance train` or pass model=<artifact>")
