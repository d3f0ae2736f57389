"""Link: which proposals a sentence is about.

Three signals, in the order a reader uses them: an explicit reference (the proposal's section
number in the sentence or its heading path), the heading's words, and the sentence's own words
weighted by how distinctive they are within the catalog ("sanktioner" names one proposal,
"kommunal" names them all). A sentence that names a proposal in its own words overrides its
heading: respondents' section numbers do not always follow the inquiry's.
"""
from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
from sklearn.base import BaseEstimator

from ..records import Catalog, Sentence
from ..registry import register
from .lexicon_sv import FUNCTION_WORDS

_WORD = re.compile(r"[a-zåäöéü]+(?:-[a-zåäö]+)*")
_REF = re.compile(r"\b(?:avsnitt|kapitel|kap\.?|punkt|förslag)\s+(\d{1,2}(?:\.\d{1,2}){0,4})\b", re.I)
_HEADING_NUMBER = re.compile(r"^(?:(?:Kapitel|Avsnitt|Bilaga)\s+)?(\d{1,2}(?:\.\d{1,2}){0,4})\b")
_SUFFIXES = sorted(
    ["erna", "arna", "orna", "ande", "ende", "heten", "het", "ens", "ets", "en", "er", "ar", "or", "na", "et", "as",
     "ad", "at", "a", "e", "t", "s"],
    key=len,
    reverse=True,
)
STOP = FUNCTION_WORDS | {
    "ska", "bör", "inte", "kunna", "finns", "får", "även", "också", "nya", "ny", "redan", "lämnade", "genomför",
    "förslag", "förslaget", "förslagen", "utredningen", "utredningens", "region", "regionen", "regionerna",
    "regionens", "kommun", "kommuner", "kommunerna", "kommunens", "vi", "bedömning", "bedömningen", "bedömer",
    "möjlighet", "möjligheten", "stärka", "stärkt", "stärkta", "stärkas", "särskild", "särskilda", "behöver",
}


def stem(word: str) -> str:
    """Crude Swedish stem: strip one inflection suffix, keep six characters (compounds share heads)."""
    word = word.lower()
    if len(word) > 5:
        for suf in _SUFFIXES:
            if word.endswith(suf) and len(word) - len(suf) >= 4:
                word = word[: -len(suf)]
                break
    return word[:6]


def stems(text: str) -> set[str]:
    out = set()
    for w in _WORD.findall(text.lower()):
        for part in w.split("-"):
            if part and part not in STOP and len(part) > 2:
                out.add(stem(part))
    return out


@register("linker", "lexical.v1")
class LexicalLinker(BaseEstimator):
    """Scores (sentence, proposal) pairs; `link` returns the proposals a sentence is about.

    `fit(catalog)` learns the catalog's vocabulary once; `link(sentences)` is then called per document.
    """

    requires: frozenset[str] = frozenset()

    def __init__(self, min_sentence_score: float = 2.0, relative: float = 0.6, min_heading_score: float = 0.8,
                 section_weight: float = 0.8, generic_weight: float = 0.3):
        self.min_sentence_score = min_sentence_score
        self.relative = relative
        self.min_heading_score = min_heading_score
        self.section_weight = section_weight
        self.generic_weight = generic_weight

    def fit(self, catalog: Catalog, proposal_vectors=None) -> "LexicalLinker":
        self.catalog_ = catalog
        self.terms_ = {p.id: stems(f"{p.title} {p.summary}") for p in catalog.proposals}
        df = Counter(t for ts in self.terms_.values() for t in ts)
        generic = stems(catalog.title)
        n = len(catalog.proposals)
        # A word found in one proposal only weighs 1, whatever the catalog's size.
        self.weights_ = {
            t: math.log(1 + n / df[t]) / math.log(1 + n) * (self.generic_weight if t in generic else 1.0) for t in df
        }
        return self

    def text_scores(self, text: str) -> dict[str, float]:
        """Distinctiveness-weighted word overlap of a text with each proposal."""
        words = stems(text)
        return {
            pid: sum(self.weights_[t] for t in words & terms)
            for pid, terms in self.terms_.items()
        }

    def _section_scores(self, numbers) -> dict[str, float]:
        out = {}
        for p in self.catalog_.proposals:
            if p.section and p.section in numbers:
                out[p.id] = self.section_weight
        return out

    def heading_scores(self, heading: str, number: str | None) -> dict[str, float]:
        scores = self.text_scores(heading)
        for pid, s in self._section_scores({number} if number else set()).items():
            scores[pid] = scores.get(pid, 0.0) + s
        return scores

    def _best(self, scores: dict[str, float], floor: float) -> dict[str, float]:
        top = max(scores.values(), default=0.0)
        if top < floor:
            return {}
        return {pid: s for pid, s in scores.items() if s >= max(floor, self.relative * top)}

    def own_scores(self, sentences: list[Sentence], sentence_vectors=None) -> list[dict[str, float]]:
        """Each sentence's score for each proposal from its own text (and explicit references)."""
        out = []
        for s in sentences:
            own = self.text_scores(s.text)
            for pid, v in self._section_scores(set(_REF.findall(s.text))).items():
                own[pid] = own.get(pid, 0.0) + v
            out.append(own)
        return out

    def link(self, sentences: list[Sentence], sentence_vectors=None) -> list[dict[str, float]]:
        """For each sentence, {proposal_id: strength} of the proposals it is about (empty: none).

        Strength > 1 marks a link from the sentence's own words or an explicit reference; a link
        inherited from a heading or a bullet's lead sentence has strength 1.
        """
        heading_links: dict[tuple[str, ...], dict[str, float]] = {}
        block_lead: dict[int, dict[str, float]] = {}
        out = []
        for s, own in zip(sentences, self.own_scores(sentences, sentence_vectors)):
            direct = self._best(own, self.min_sentence_score)
            if s.is_heading:
                out.append({})
                continue
            inherited: dict[str, float] = {}
            if s.bullet and s.block in block_lead:
                inherited = block_lead[s.block]
            else:
                inherited = self._from_headings(s, heading_links)
            if s.bullet and s.block not in block_lead:
                block_lead[s.block] = direct or inherited
            if direct:
                out.append({pid: 1.0 + v for pid, v in direct.items()})
            else:
                out.append({pid: 1.0 for pid in inherited})
        return out

    def _from_headings(self, s: Sentence, cache) -> dict[str, float]:
        """The proposals named by the deepest heading in the path that names any."""
        key = s.headings
        if key not in cache:
            found: dict[str, float] = {}
            for depth in range(len(s.headings), 0, -1):
                heading = s.headings[depth - 1]
                m = _HEADING_NUMBER.match(heading)
                number = m.group(1) if m else None
                found = self._best(self.heading_scores(heading, number), self.min_heading_score)
                if found:
                    break
            cache[key] = found
        return cache[key]


@register("linker", "hybrid.v1")
class HybridLinker(LexicalLinker):
    """The lexical linker plus sentence-embedding similarity to each proposal's title and summary.

    Embeddings find the proposal a sentence is about when the respondent paraphrases instead of
    repeating the inquiry's words. The cosine enters as a z-score across the catalog (how much
    closer this proposal is than the others), so encoders with different cosine ranges behave alike.
    """

    requires = frozenset({"sentence_vectors"})

    def __init__(self, min_sentence_score: float = 2.0, relative: float = 0.6, min_heading_score: float = 0.8,
                 section_weight: float = 0.8, generic_weight: float = 0.3, embedding_weight: float = 0.8,
                 min_z: float = 1.5):
        super().__init__(min_sentence_score, relative, min_heading_score, section_weight, generic_weight)
        self.embedding_weight = embedding_weight
        self.min_z = min_z

    def fit(self, catalog: Catalog, proposal_vectors=None) -> "HybridLinker":
        if proposal_vectors is None:
            raise ValueError("the hybrid linker needs proposal vectors: configure an embedder, or linker=lexical")
        self.proposal_vectors_ = np.asarray(proposal_vectors)
        return super().fit(catalog)

    def own_scores(self, sentences, sentence_vectors=None):
        out = super().own_scores(sentences)
        if sentence_vectors is None:
            raise ValueError("the hybrid linker needs sentence vectors: configure an embedder, or linker=lexical")
        cos = np.asarray(sentence_vectors) @ self.proposal_vectors_.T
        z = (cos - cos.mean(axis=1, keepdims=True)) / (cos.std(axis=1, keepdims=True) + 1e-6)
        ids = [p.id for p in self.catalog_.proposals]
        for row, own in zip(z, out):
            for j, pid in enumerate(ids):
                if row[j] > self.min_z:
                    own[pid] = own.get(pid, 0.0) + self.embedding_weight * (row[j] - self.min_z)
        return out
