"""Trainable stance classifiers: sentence-level readings learnt from the hand labels, aggregated by the
lexicon's rules into one stance per (document, proposal).

Training pairs come from the labels: a sentence that matches an evidence quote of a cell carries that
cell's stance toward its proposal, every other candidate pair of the document carries `none`. The
candidates are the pairs the linker links (plus, optionally, each sentence's `top_k` proposals by
cosine); a general statement is a candidate for every proposal. A model reads each candidate pair;
`LexiconClassifier.aggregate` turns the readings into cells (a specific statement overrides a general
one, general statements propagate with basis `general`, named-but-no-position is `neutral`).

- `LogRegClassifier`: scikit-learn LogisticRegression over pair features: sentence and proposal
  embeddings with their product and difference, cosine features, link features, the lexicon's cue
  counts and flags and the lexicon's own reading of the pair. The lexicon block is scaled up, so
  under strong L2 it is the cheap explanation and the model learns corrections on top of it.
- `FinetuneClassifier`: a cross-encoder (proposal title, heading + sentence) fine-tuned with
  `transformers.Trainer`.

Both follow the scikit-learn conventions: hyperparameters in `__init__` (so `get_params`, `clone`
and Hydra's `instantiate` work), learnt state in attributes ending in `_`, `fit`, `predict`,
`predict_proba`. Both persist to safe formats only (`save`/`load`: JSON + safetensors).
"""
from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from .classify import Cues, LexiconClassifier, Reading, negated_target, read_cues
from .evaluate import quotes_overlap
from .outputs import write_json
from .records import STANCES, Catalog, Label, Prediction, Sentence

log = logging.getLogger(__name__)
NONE = "none"
LEXICON_CLASSES = STANCES  # the lexicon block: one column per stance (none = no position)


# ------------------------------------------------------------------------------------ gold pairs


def with_heading(s: Sentence) -> str:
    """A sentence with its innermost heading (as the embed stage encodes it)."""
    return f"{s.headings[-1]}: {s.text}" if s.headings and not s.is_heading else s.text


def evidence_sentences(sentences: list[Sentence], quotes) -> tuple[set[int], list[str]]:
    """Indices of the (non-heading) sentences matching any of `quotes`, and the quotes that matched none."""
    found, unmatched = set(), []
    for q in quotes:
        hits = {s.index for s in sentences if not s.is_heading and quotes_overlap(q, s.text)}
        if not hits:
            unmatched.append(q)
        found |= hits
    return found, unmatched


def gold_links(sentences: dict[str, list[Sentence]], labels: list[Label]) -> tuple[dict, list[dict]]:
    """{(doc_id, proposal_id, sentence index): (stance, basis)} from the labels' evidence quotes,
    and the quotes that matched no sentence (reported, never silently dropped)."""
    gold, unmatched = {}, []
    for lab in labels:
        if lab.stance == NONE or lab.doc_id not in sentences:
            continue
        idx, missing = evidence_sentences(sentences[lab.doc_id], lab.evidence)
        unmatched += [{"doc_id": lab.doc_id, "proposal_id": lab.proposal_id, "quote": q} for q in missing]
        for i in idx:
            gold[(lab.doc_id, lab.proposal_id, i)] = (lab.stance, lab.basis)
    return gold, unmatched


def link_evaluation(classifier, catalog: Catalog, sentences: dict[str, list[Sentence]], embeddings,
                    labels: list[Label]) -> dict:
    """Linking alone, against the evidence quotes of the explicit labels.

    Gold: (doc, proposal, sentence) for every sentence matching an evidence quote of a cell with basis
    `explicit` (general statements are not links to one proposal: aggregation propagates them).
    Predicted: every link the classifier's linker makes. Also per cell: share of explicit cells with
    at least one evidence sentence linked to their proposal (what classification needs).
    """
    from .evaluate import link_metrics

    labelled = {lab.doc_id for lab in labels}
    gold_all, unmatched = gold_links({d: s for d, s in sentences.items() if d in labelled}, labels)
    gold = {k for k, (_, basis) in gold_all.items() if basis == "explicit"}
    predicted = set()
    for doc_id, sents in sentences.items():
        if doc_id not in labelled:
            continue
        sv = embeddings["sentences"][doc_id] if embeddings is not None else None
        pv = embeddings["proposals"] if embeddings is not None else None
        for s, ln in zip(sents, classifier.links(sents, catalog, sv, pv)):
            predicted |= {(doc_id, pid, s.index) for pid in ln}
    out = link_metrics(predicted, gold)
    cells = {(d, p) for d, p, _ in gold}
    hit = {(d, p) for d, p, i in gold if (d, p, i) in predicted}
    out["cells_with_evidence_linked"] = len(hit) / len(cells) if cells else None
    out["n_cells"] = len(cells)
    out["unmatched_quotes"] = len(unmatched)
    out["linker"] = type(getattr(classifier, "linker", None) or object()).__name__
    out["gold"] = "sentences matching evidence quotes of basis-explicit labels"
    return out


# ------------------------------------------------------------------------------------ pair features


@dataclass
class DocPairs:
    """One document's candidate (sentence, proposal) pairs and what the features are built from."""

    doc_id: str
    sentences: list[Sentence]
    cues: list[Cues]
    links: list[dict[str, float]]
    pairs: list[tuple[int, str]]  # (sentence position in `sentences`, proposal id)
    lexicon: list[Reading]  # the lexicon's reading of each pair
    sentence_vectors: np.ndarray | None = None
    proposal_vectors: np.ndarray | None = None


CUE_NAMES = (
    "cue_support", "cue_oppose", "cue_risk", "cue_neutral", "cue_condition", "cue_contrast_mixed",
    "cue_about_proposal", "cue_general", "cue_general_rest", "negated_target",
    "negated_target_x_action", "link_direct", "link_inherited", "link_none", "link_log_strength",
    "links_share", "bullet", "cos_z", "cos_centered", "cos_top1",
)
LEXICON_NAMES = tuple(f"lexicon_{s}" for s in LEXICON_CLASSES)


def eligible(s: Sentence, c: Cues) -> bool:
    """Whether a sentence can carry a stance: not a heading, not description of the inquiry."""
    return not s.is_heading and not c.description


def candidate_pairs(sentences: list[Sentence], cues: list[Cues], links: list[dict[str, float]], catalog: Catalog,
                    cos: np.ndarray | None = None, top_k: int = 0) -> list[tuple[int, str]]:
    """Pairs a model reads: linked ones, each sentence's top-k proposals by cosine, general × all.

    Headings and description of the inquiry (`Cues.description`) are never candidates: description
    is not stance, by the labelling rules, and the aggregation skips it for every classifier.
    """
    ids = catalog.ids
    out = []
    for i, (s, c, ln) in enumerate(zip(sentences, cues, links)):
        if not eligible(s, c):
            continue
        chosen = set(ln)
        if c.general:
            chosen = set(ids)
        elif cos is not None and top_k > 0:
            chosen |= {ids[j] for j in np.argsort(-cos[i], kind="stable")[:top_k]}
        out += [(i, pid) for pid in ids if pid in chosen]
    return out


class PairFeatures:
    """Feature spec of a (sentence, proposal) pair; `spec()` is JSON and rebuilds it exactly."""

    def __init__(self, use_embeddings: bool = True, embedding_scale: float = 1.0, lexicon_scale: float = 3.0,
                 dim: int | None = None):
        self.use_embeddings = use_embeddings
        self.embedding_scale = float(embedding_scale)
        self.lexicon_scale = float(lexicon_scale)
        self.dim = dim

    def spec(self) -> dict:
        return {"use_embeddings": self.use_embeddings, "embedding_scale": self.embedding_scale,
                "lexicon_scale": self.lexicon_scale, "dim": self.dim, "names": self.names()}

    @classmethod
    def from_spec(cls, spec: dict) -> "PairFeatures":
        f = cls(spec["use_embeddings"], spec["embedding_scale"], spec["lexicon_scale"], spec["dim"])
        if f.names() != list(spec["names"]):
            raise ValueError("feature spec does not match this version of pipeline/learn.py")
        return f

    def names(self) -> list[str]:
        emb = []
        if self.use_embeddings and self.dim:
            for block in ("sent", "prop", "prod", "diff"):
                emb += [f"{block}_{k}" for k in range(self.dim)]
        return emb + list(CUE_NAMES) + list(LEXICON_NAMES)

    def transform(self, dp: DocPairs, catalog: Catalog) -> np.ndarray:
        n = len(dp.pairs)
        col = {pid: j for j, pid in enumerate(catalog.ids)}
        have_vecs = dp.sentence_vectors is not None and dp.proposal_vectors is not None
        if self.use_embeddings and not have_vecs:
            raise ValueError("this classifier reads embeddings: configure an embedder (e.g. embedder=e5-bundled)")
        if have_vecs:
            sv, pv = np.asarray(dp.sentence_vectors, np.float64), np.asarray(dp.proposal_vectors, np.float64)
            cos = sv @ pv.T
            z = (cos - cos.mean(1, keepdims=True)) / (cos.std(1, keepdims=True) + 1e-6)
            centered = cos - cos.mean(1, keepdims=True)
            top1 = cos.argmax(1)
        blocks = []
        if self.use_embeddings:
            if self.dim is not None and sv.shape[1] != self.dim:
                raise ValueError(f"embedding dimension {sv.shape[1]} differs from the model's {self.dim}")
            ii = np.array([i for i, _ in dp.pairs], dtype=int)
            jj = np.array([col[p] for _, p in dp.pairs], dtype=int)
            s, p = sv[ii], pv[jj]
            d = sv.shape[1]
            blocks.append(self.embedding_scale * np.hstack([s, p, s * p * math.sqrt(d), s - p]))
        cues = np.zeros((n, len(CUE_NAMES)))
        lexicon = np.zeros((n, len(LEXICON_NAMES)))
        for r, ((i, pid), lex) in enumerate(zip(dp.pairs, dp.lexicon)):
            c, ln = dp.cues[i], dp.links[i]
            strength = ln.get(pid, 0.0)
            neg = negated_target(catalog[pid])
            j = col[pid]
            cues[r] = [
                min(c.support, 4) / 2, min(c.oppose, 4) / 2, c.risk / 2, c.neutral, c.condition, c.contrast_mixed,
                c.about_proposal, c.general, c.general_rest, neg, neg and not c.about_proposal,
                strength > 1.0, strength == 1.0, strength == 0.0, math.log1p(strength), 1.0 / max(1, len(ln)),
                dp.sentences[i].bullet,
                z[i, j] / 3 if have_vecs else 0.0, centered[i, j] * 10 if have_vecs else 0.0,
                float(top1[i] == j) if have_vecs else 0.0,
            ]
            lexicon[r, LEXICON_CLASSES.index(lex.stance or NONE)] = lex.weight / 2 if lex.stance else 1.0
        blocks += [cues, self.lexicon_scale * lexicon]
        return np.hstack(blocks) if n else np.zeros((0, len(self.names())))


# ------------------------------------------------------------------------------------ base class


class TrainableClassifier(LexiconClassifier, BaseEstimator):
    """Shared machinery: candidate pairs, training pairs from labels, readings, aggregation.

    Subclasses implement `_fit_pairs(docs, y, catalog)` and `_proba(docs, catalog) -> (n_pairs,
    n_classes)` over `self.classes_`, plus `save`/`load`.
    """

    kind = "trainable"
    trainable = True

    # -- inputs --------------------------------------------------------------------------------
    def doc_pairs(self, doc_sentences: list[Sentence], catalog: Catalog, sentence_vectors=None,
                  proposal_vectors=None, extra: set[tuple[int, str]] = frozenset()) -> DocPairs:
        links = self.links(doc_sentences, catalog, sentence_vectors, proposal_vectors)
        cues = [read_cues(s) for s in doc_sentences]
        cos = None
        if sentence_vectors is not None and proposal_vectors is not None:
            cos = np.asarray(sentence_vectors) @ np.asarray(proposal_vectors).T
        pairs = candidate_pairs(doc_sentences, cues, links, catalog, cos, self.top_k)
        extra = {(i, pid) for i, pid in extra if eligible(doc_sentences[i], cues[i])}
        if extra:
            pairs = sorted(set(pairs) | extra, key=lambda x: (x[0], catalog.ids.index(x[1])))
        lexicon = [self.lexicon_reading(cues[i], catalog[pid], general=cues[i].general) for i, pid in pairs]
        doc_id = doc_sentences[0].doc_id if doc_sentences else ""
        return DocPairs(doc_id, doc_sentences, cues, links, pairs, lexicon, sentence_vectors, proposal_vectors)

    def training_pairs(self, documents: dict[str, list[Sentence]], labels: list[Label], catalog: Catalog,
                       sentence_vectors: dict | None = None, proposal_vectors=None) -> tuple[list[DocPairs], list[str]]:
        """Candidate pairs plus gold evidence pairs of the labelled documents, with sentence-level targets.

        A general statement that is evidence of some cell of its document but not of this proposal's
        (a specific statement overrode it, or it is scoped to a group) is left out: it is not `none`.
        """
        labelled = {lab.doc_id for lab in labels}
        gold, unmatched = gold_links({d: s for d, s in documents.items() if d in labelled}, labels)
        self.unmatched_quotes_ = unmatched
        docs, y = [], []
        for doc_id in sorted(documents):
            if doc_id not in labelled:
                continue
            sents = documents[doc_id]
            pos = {s.index: k for k, s in enumerate(sents)}
            extra = {(pos[i], pid) for d, pid, i in gold if d == doc_id}
            sv = sentence_vectors.get(doc_id) if sentence_vectors is not None else None
            dp = self.doc_pairs(sents, catalog, sv, proposal_vectors, extra)
            cited = {pos[i] for d, _, i in gold if d == doc_id}
            keep, targets = [], []
            for r, (k, pid) in enumerate(dp.pairs):
                g = gold.get((doc_id, pid, sents[k].index))
                if g is None and dp.cues[k].general and k in cited:
                    continue
                keep.append(r)
                targets.append(g[0] if g else NONE)
            dp.pairs = [dp.pairs[r] for r in keep]
            dp.lexicon = [dp.lexicon[r] for r in keep]
            docs.append(dp)
            y += targets
        return docs, y

    # -- sklearn-style API -------------------------------------------------------------------------
    def fit(self, documents: dict[str, list[Sentence]], labels: list[Label], catalog: Catalog = None,
            sentence_vectors: dict | None = None, proposal_vectors=None):
        """Fit on labelled documents: `documents` {doc_id: sentences}, `sentence_vectors` {doc_id: array}."""
        if catalog is None:
            raise ValueError("fit needs the catalog")
        docs, y = self.training_pairs(documents, labels, catalog, sentence_vectors, proposal_vectors)
        if not y:
            raise ValueError("no training pairs: are the labelled documents among the inputs?")
        counts = {c: y.count(c) for c in STANCES if c in y}
        self.training_summary_ = {"documents": [d.doc_id for d in docs], "pairs": len(y), "targets": counts,
                                  "unmatched_quotes": len(self.unmatched_quotes_)}
        log.info("%s: fit on %d pairs from %d documents %s", type(self).__name__, len(y), len(docs), counts)
        self._fit_pairs(docs, np.asarray(y), catalog)
        return self

    def predict_proba(self, doc_sentences: list[Sentence], catalog: Catalog, sentence_vectors=None,
                      proposal_vectors=None) -> tuple[list[tuple[int, str]], np.ndarray]:
        """Sentence-level probabilities: the candidate pairs (sentence index, proposal id) and an
        (n_pairs, n_classes) array whose columns follow `classes_`."""
        dp = self.doc_pairs(doc_sentences, catalog, sentence_vectors, proposal_vectors)
        proba = self._proba([dp], catalog) if dp.pairs else np.zeros((0, len(self.classes_)))
        return [(doc_sentences[i].index, pid) for i, pid in dp.pairs], proba

    def predict(self, doc_sentences: list[Sentence], catalog: Catalog, sentence_vectors=None,
                proposal_vectors=None) -> list[Prediction]:
        self._check_fitted()
        dp = self.doc_pairs(doc_sentences, catalog, sentence_vectors, proposal_vectors)
        proba = self._proba([dp], catalog) if dp.pairs else np.zeros((0, len(self.classes_)))
        readings: list[dict[str, Reading]] = [{} for _ in doc_sentences]
        for (i, pid), lex, row in zip(dp.pairs, dp.lexicon, proba):
            readings[i][pid] = self._reading(row, lex)
        return self.aggregate(doc_sentences, catalog, dp.cues, dp.links, readings)

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

    @property
    def uses_embeddings(self) -> bool:
        return bool(getattr(self, "use_embeddings", False) or getattr(self.linker, "uses_embeddings", False))

    def hyperparameters(self) -> dict:
        return {k: v for k, v in self.get_params(deep=False).items() if k != "linker"}


# ------------------------------------------------------------------------------------ logreg


class LogRegClassifier(TrainableClassifier):
    """Multinomial logistic regression over (sentence, proposal) pair features; see the module doc."""

    kind = "logreg"

    def __init__(self, linker=None, C: float = 0.1, class_weight: str | None = "balanced", max_iter: int = 2000,
                 random_state: int = 0, use_embeddings: bool = True, embedding_scale: float = 1.0,
                 lexicon_scale: float = 3.0, top_k: int = 0, strong: float = 0.5, min_override: float = 0.5,
                 backoff_unseen: bool = True, general_score: float = 0.6, comment_score: float = 0.5):
        super().__init__(linker=linker, general_score=general_score, comment_score=comment_score)
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state
        self.use_embeddings = use_embeddings
        self.embedding_scale = embedding_scale
        self.lexicon_scale = lexicon_scale
        self.top_k = top_k
        self.strong = strong
        self.min_override = min_override
        self.backoff_unseen = backoff_unseen

    def _features(self, docs: list[DocPairs], catalog: Catalog) -> np.ndarray:
        return np.vstack([self.features_.transform(d, catalog) for d in docs])

    def _fit_pairs(self, docs, y, catalog) -> None:
        from sklearn.linear_model import LogisticRegression

        dim = None
        if self.use_embeddings:
            first = next((d.sentence_vectors for d in docs if d.sentence_vectors is not None), None)
            if first is None:
                raise ValueError("logreg reads embeddings: configure an embedder (e.g. embedder=e5-bundled)")
            dim = int(np.asarray(first).shape[1])
        self.features_ = PairFeatures(self.use_embeddings, self.embedding_scale, self.lexicon_scale, dim)
        X = self._features(docs, catalog)
        model = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter,
                                   random_state=self.random_state)
        model.fit(X, y)
        self.coef_, self.intercept_ = model.coef_, model.intercept_
        self.classes_ = np.asarray(model.classes_)
        self.n_iter_ = model.n_iter_
        self.n_features_in_ = X.shape[1]

    def _proba(self, docs, catalog) -> np.ndarray:
        X = self._features(docs, catalog)
        logits = X @ self.coef_.T + self.intercept_
        if logits.shape[1] == 1:  # two classes: sklearn stores one row
            logits = np.hstack([-logits, logits]) / 2
        logits -= logits.max(1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(1, keepdims=True)

    def top_features(self, n: int = 10) -> dict[str, list[tuple[str, float]]]:
        """The largest coefficients per class: what the model leans on."""
        names, coef = self.features_.names(), self.coef_
        out = {}
        for k, cls in enumerate(self.classes_ if coef.shape[0] > 1 else self.classes_[1:]):
            order = np.argsort(-np.abs(coef[k]))[:n]
            out[str(cls)] = [(names[j], round(float(coef[k, j]), 3)) for j in order]
        return out

    # -- persistence: JSON + safetensors ---------------------------------------------------------
    def save(self, directory) -> dict:
        from safetensors.numpy import save_file

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({"coef": np.ascontiguousarray(self.coef_, dtype=np.float64),
                   "intercept": np.ascontiguousarray(self.intercept_, dtype=np.float64)},
                  str(directory / "weights.safetensors"))
        os.chmod(directory / "weights.safetensors", 0o644)
        spec = {"classes": [str(c) for c in self.classes_], "features": self.features_.spec(),
                "hyperparameters": self.hyperparameters()}
        write_json(spec, directory / "features.json")
        return {"weights": ["weights.safetensors", "features.json"]}

    @classmethod
    def load(cls, directory, linker=None, **overrides) -> "LogRegClassifier":
        from safetensors.numpy import load_file

        directory = Path(directory)
        spec = json.loads((directory / "features.json").read_text(encoding="utf-8"))
        clf = cls(linker=linker, **{**spec["hyperparameters"], **overrides})
        tensors = load_file(str(directory / "weights.safetensors"))
        clf.coef_, clf.intercept_ = tensors["coef"], tensors["intercept"]
        clf.classes_ = np.asarray(spec["classes"])
        clf.features_ = PairFeatures.from_spec(spec["features"])
        clf.n_features_in_ = clf.coef_.shape[1]
        if clf.n_features_in_ != len(clf.features_.names()):
            raise ValueError(f"{directory}: weights have {clf.n_features_in_} features, the spec names "
                             f"{len(clf.features_.names())}")
        return clf


# ------------------------------------------------------------------------------------ finetune


class FinetuneClassifier(TrainableClassifier):
    """Cross-encoder: [CLS] proposal title [SEP] heading: sentence [SEP] -> stance, fine-tuned with
    `transformers.Trainer` (class-weighted cross-entropy; a GPU when present, else CPU).

    `model`: a hub id (default KB/bert-base-swedish-cased; `revision` pins it) or a local directory.
    `none_per_positive` caps the `none` pairs (sampled with the seed) to keep CPU training short.
    """

    kind = "finetune"

    def __init__(self, linker=None, model: str = "KB/bert-base-swedish-cased", revision: str | None = None,
                 epochs: float = 3.0, learning_rate: float = 3e-5, batch_size: int = 16, max_length: int = 128,
                 weight_decay: float = 0.01, warmup_ratio: float = 0.1, max_steps: int = -1, seed: int = 0,
                 none_per_positive: float = 3.0, top_k: int = 0, strong: float = 0.5, min_override: float = 0.5,
                 backoff_unseen: bool = True, general_score: float = 0.6, comment_score: float = 0.5):
        super().__init__(linker=linker, general_score=general_score, comment_score=comment_score)
        self.model = model
        self.revision = revision
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_length = max_length
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.max_steps = max_steps
        self.seed = seed
        self.none_per_positive = none_per_positive
        self.top_k = top_k
        self.strong = strong
        self.min_override = min_override
        self.backoff_unseen = backoff_unseen

    use_embeddings = False  # the cross-encoder reads text; embeddings only serve a hybrid linker

    @staticmethod
    def _texts(docs: list[DocPairs], catalog: Catalog) -> tuple[list[str], list[str]]:
        first, second = [], []
        for d in docs:
            for i, pid in d.pairs:
                first.append(catalog[pid].title)
                second.append(with_heading(d.sentences[i]))
        return first, second

    def _load_base(self, num_labels: int):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from .embed import EncoderUnavailable, _is_load_error, _looks_local, _quiet_hub

        labels = [str(c) for c in self.classes_]
        kw = dict(revision=self.revision, trust_remote_code=False)
        where = str(Path(self.model).expanduser()) if _looks_local(str(self.model)) else str(self.model)
        try:
            with _quiet_hub():
                tok = AutoTokenizer.from_pretrained(where, **kw)
                model = AutoModelForSequenceClassification.from_pretrained(
                    where, num_labels=num_labels, id2label=dict(enumerate(labels)),
                    label2id={c: k for k, c in enumerate(labels)}, **kw)
        except Exception as e:
            if not _is_load_error(e):
                raise
            raise EncoderUnavailable(f"cannot load the fine-tuning base model {self.model}: "
                                     f"{' '.join(str(e).split())[:300]}") from None
        return tok, model

    def _device(self):
        import torch

        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def _fit_pairs(self, docs, y, catalog) -> None:
        import tempfile

        import torch
        from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, set_seed

        from .embed import available_cores

        torch.set_num_threads(available_cores())
        set_seed(self.seed)
        self.classes_ = np.asarray([c for c in STANCES if c in set(y)])
        first, second = self._texts(docs, catalog)
        keep = self._subsample(y)
        first, second, y = [first[k] for k in keep], [second[k] for k in keep], y[keep]
        tok, model = self._load_base(len(self.classes_))
        index = {c: k for k, c in enumerate(self.classes_)}
        enc = tok(first, second, truncation="longest_first", max_length=self.max_length)
        rows = [{"input_ids": enc["input_ids"][k], "attention_mask": enc["attention_mask"][k],
                 **({"token_type_ids": enc["token_type_ids"][k]} if "token_type_ids" in enc else {}),
                 "labels": index[y[k]]} for k in range(len(y))]
        counts = np.bincount([r["labels"] for r in rows], minlength=len(self.classes_))
        weights = torch.tensor(len(rows) / (len(self.classes_) * np.maximum(counts, 1)), dtype=torch.float)

        class WeightedTrainer(Trainer):
            def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
                labels = inputs.pop("labels")
                outputs = model(**inputs)
                loss = torch.nn.functional.cross_entropy(outputs.logits, labels, weight=weights.to(outputs.logits.device))
                return (loss, outputs) if return_outputs else loss

        with tempfile.TemporaryDirectory(prefix="stance-finetune-") as tmp:
            args = self._training_args(tmp, len(rows))
            trainer = WeightedTrainer(model=model, args=args, train_dataset=rows,
                                      data_collator=DataCollatorWithPadding(tok))
            trainer.remove_callback(PrinterCallback)  # the run's log says what it needs
            result = trainer.train()
        self.train_loss_ = float(result.training_loss)
        self.train_steps_ = int(result.global_step)
        model.eval()
        self.tokenizer_, self.model_ = tok, model

    def _training_args(self, tmp: str, n_rows: int):
        from transformers import TrainingArguments

        steps_per_epoch = max(1, math.ceil(n_rows / self.batch_size))
        total = self.max_steps if self.max_steps and self.max_steps > 0 else math.ceil(steps_per_epoch * self.epochs)
        return TrainingArguments(
            output_dir=tmp, num_train_epochs=self.epochs, max_steps=self.max_steps,
            learning_rate=self.learning_rate, per_device_train_batch_size=self.batch_size,
            weight_decay=self.weight_decay, warmup_steps=int(round(self.warmup_ratio * total)), seed=self.seed,
            data_seed=self.seed, save_strategy="no", eval_strategy="no", logging_strategy="no", report_to=[],
            disable_tqdm=True, use_cpu=self._device().type == "cpu", dataloader_num_workers=0,
        )

    def _subsample(self, y: np.ndarray) -> np.ndarray:
        """All stance pairs, and at most `none_per_positive` times as many `none` pairs (seeded)."""
        idx = np.arange(len(y))
        pos, neg = idx[y != NONE], idx[y == NONE]
        cap = int(math.ceil(self.none_per_positive * max(1, len(pos)))) if self.none_per_positive else len(neg)
        if len(neg) > cap:
            neg = np.sort(np.random.default_rng(self.seed).choice(neg, size=cap, replace=False))
        return np.sort(np.concatenate([pos, neg]))

    def _proba(self, docs, catalog) -> np.ndarray:
        import torch

        first, second = self._texts(docs, catalog)
        device = next(self.model_.parameters()).device
        out = []
        with torch.inference_mode():
            for b in range(0, len(first), 64):
                enc = self.tokenizer_(first[b:b + 64], second[b:b + 64], truncation="longest_first",
                                      max_length=self.max_length, padding=True, return_tensors="pt")
                logits = self.model_(**{k: v.to(device) for k, v in enc.items()}).logits
                out.append(torch.softmax(logits.float(), -1).cpu().numpy())
        return np.vstack(out) if out else np.zeros((0, len(self.classes_)))

    # -- persistence: save_pretrained (safetensors) + JSON ---------------------------------------
    def save(self, directory) -> dict:
        self._check_fitted()
        directory = Path(directory)
        (directory / "model").mkdir(parents=True, exist_ok=True)
        from .embed import _quiet_hub, _resolved_revision

        with _quiet_hub():
            self.model_.save_pretrained(directory / "model")  # safetensors: transformers writes no pickle
            self.tokenizer_.save_pretrained(directory / "model")

        spec = {"classes": [str(c) for c in self.classes_], "hyperparameters": self.hyperparameters(),
                "base_model": {"model": str(self.model), "revision": _resolved_revision(str(self.model), self.revision)},
                "train_loss": getattr(self, "train_loss_", None), "train_steps": getattr(self, "train_steps_", None)}
        write_json(spec, directory / "finetune.json")
        return {"weights": ["model/", "finetune.json"]}

    @classmethod
    def load(cls, directory, linker=None, **overrides) -> "FinetuneClassifier":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        directory = Path(directory)
        spec = json.loads((directory / "finetune.json").read_text(encoding="utf-8"))
        clf = cls(linker=linker, **{**spec["hyperparameters"], **overrides})
        clf.classes_ = np.asarray(spec["classes"])
        from .embed import _quiet_hub

        kw = dict(trust_remote_code=False, local_files_only=True, use_safetensors=True)
        with _quiet_hub():
            clf.tokenizer_ = AutoTokenizer.from_pretrained(str(directory / "model"), trust_remote_code=False,
                                                           local_files_only=True)
            clf.model_ = AutoModelForSequenceClassification.from_pretrained(str(directory / "model"), **kw)
        clf.model_.to(clf._device()).eval()
        return clf


CLASSIFIERS = {"logreg": LogRegClassifier, "finetune": FinetuneClassifier}


def is_trainable(classifier) -> bool:
    return bool(getattr(classifier, "trainable", False))
