"""Pair features: the candidate (sentence, proposal) pairs a trained classifier reads, and their features.

A candidate is a pair the linker links (plus, optionally, each sentence's `top_k` proposals by
cosine); a general statement is a candidate for every proposal. `PairFeatures` turns one
document's pairs into rows: sentence and proposal embeddings with their product and difference,
cosine features, link features, the lexicon's cue counts and flags, and the lexicon's own reading.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...records import STANCES, Catalog, Sentence
from ..cues import Cues, Reading, negated_target

NONE = "none"
LEXICON_CLASSES = STANCES  # the lexicon block: one column per stance (none = no position)


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
    catalog: Catalog | None = None  # the inquiry the pairs' proposals belong to (training spans inquiries)


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
            raise ValueError("feature spec does not match this version of pipeline/stages/classify/features.py")
        return f

    def names(self) -> list[str]:
        emb = []
        if self.use_embeddings and self.dim:
            for block in ("sent", "prop", "prod", "diff"):
                emb += [f"{block}_{k}" for k in range(self.dim)]
        return emb + list(CUE_NAMES) + list(LEXICON_NAMES)

    def transform(self, dp: DocPairs, catalog: Catalog) -> np.ndarray:
        catalog = dp.catalog or catalog
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
