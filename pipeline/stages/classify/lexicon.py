"""The lexicon classifier: one stance per (document, proposal), with the sentences that show it.

It links sentences to proposals, reads their cues and aggregates them the way LABELING.md defines
the labels: a specific statement overrides a general one, remarks that accept a proposal do not
change support, description of the inquiry is not stance. Trained classifiers reuse `aggregate`.
"""
from __future__ import annotations

import re

from sklearn.base import BaseEstimator, clone

from ...records import Catalog, Corpus, Doc, Evidence, Prediction, Proposal, Sentence
from ...registry import register
from ..link import LexicalLinker
from .cues import FLIP, Cues, Reading, negated_target, read_cues


@register("classifier", "lexicon.v1")
class LexiconClassifier(BaseEstimator):
    """Rule-based stance classifier: the baseline every trained model must beat; it learns nothing.

    The stage contract every classifier follows: `requires` (the inputs it reads besides sentences:
    `sentence_vectors` where it or its linker reads embeddings), `fit(corpus)` (learn, where there is
    anything to learn, and bind the inquiry), `bind(catalog, proposal_vectors)` (the inquiry to
    predict for; a trained model is bound to each new catalog), `predict(doc)`.

    `predict` = link + read cues + `aggregate`. Trained classifiers reuse `aggregate` with their own
    sentence-level `readings`, so the structure of a decision (specific overrides general, general
    statements propagate, description is not stance, comments without a position are neutral) is
    the same for every classifier; only who reads the sentences differs.
    """

    trainable = False

    def __init__(self, linker: LexicalLinker | None = None, general_score: float = 0.6, comment_score: float = 0.5):
        self.linker = linker
        self.general_score = general_score
        self.comment_score = comment_score

    @property
    def requires(self) -> frozenset[str]:
        return frozenset(getattr(self.linker, "requires", frozenset()))

    def bind(self, catalog: Catalog, proposal_vectors=None) -> "LexiconClassifier":
        """Fit the linker on the catalog, once: every `predict` then links against it."""
        self.catalog_ = catalog
        self.proposal_vectors_ = proposal_vectors
        self.linker_ = (clone(self.linker) if self.linker is not None else LexicalLinker()).fit(catalog, proposal_vectors)
        return self

    def fit(self, corpus: Corpus) -> "LexiconClassifier":
        return self.bind(corpus.catalog, corpus.proposal_vectors)

    def predict(self, doc: Doc) -> list[Prediction]:
        links = self.links(doc)
        cues = [read_cues(s) for s in doc.sentences]
        return self.aggregate(doc.sentences, self.catalog_, cues, links)

    def links(self, doc: Doc) -> list[dict[str, float]]:
        """For each sentence, {proposal_id: link strength} (see LexicalLinker.link)."""
        if not hasattr(self, "linker_"):
            raise RuntimeError(f"{type(self).__name__} is not bound to a catalog: call fit(corpus) or bind(catalog)")
        return self.linker_.link(doc.sentences, doc.vectors)

    @staticmethod
    def lexicon_reading(c: Cues, p: Proposal, general: bool = False) -> Reading:
        """The lexicon's reading of a sentence toward `p`: its polarity, flipped for a negatively
        phrased target when the sentence argues about the action rather than the proposal."""
        stance, w = c.polarity()
        if not general and stance in FLIP and negated_target(p) and not c.about_proposal:
            stance = FLIP[stance]  # arguing against sanctions supports "no sanctions"
        return Reading(stance, w)

    def aggregate(self, doc_sentences: list[Sentence], catalog: Catalog, cues: list[Cues],
                  links: list[dict[str, float]], readings: list[dict[str, Reading]] | None = None) -> list[Prediction]:
        """One Prediction per proposal from sentence-level readings.

        `readings[i][proposal_id]` is sentence i's reading toward that proposal (absent: no position);
        None reads every sentence with the lexicon. With readings given, only sentences that carry
        one take part, description sentences included (the model has seen them), and a general
        statement's stance toward a proposal is its reading toward that proposal.
        """
        doc_id = doc_sentences[0].doc_id if doc_sentences else ""
        order = {p.id: i for i, p in enumerate(catalog.proposals)}
        explicit: dict[str, list[tuple]] = {p.id: [] for p in catalog.proposals}
        # (sentence, cues, last catalog index addressed before, readings, proposals addressed before)
        generals: list[tuple] = []
        last_addressed = -1
        addressed: set[str] = set()
        for i, (s, c, ln) in enumerate(zip(doc_sentences, cues, links)):
            if s.is_heading:
                continue
            rd = None if readings is None else readings[i]
            if c.description and (rd is None or not any(r.stance for r in rd.values())):
                continue
            if c.general:
                generals.append((s, c, last_addressed, rd, frozenset(addressed)))
                continue
            for pid, strength in ln.items():
                explicit[pid].append((s, c, strength, rd))
                positioned = c.has_position if rd is None else rd.get(pid, Reading(None)).stance is not None
                if positioned:
                    last_addressed = max(last_addressed, order[pid])
                    addressed.add(pid)
            if rd is not None:  # a trained model may find a stance toward a proposal the linker missed
                for pid, r in rd.items():
                    if pid not in ln and r.stance is not None:
                        explicit[pid].append((s, c, 0.0, rd))
                        last_addressed = max(last_addressed, order[pid])
                        addressed.add(pid)
        return [self._decide(doc_id, p, explicit[p.id], generals, order[p.id]) for p in catalog.proposals]

    def _decide(self, doc_id, p: Proposal, items, generals, index) -> Prediction:
        votes = []  # (stance, strength, sentence, link strength, probability)
        none_probs = []
        for s, c, strength, rd in items:
            r = self.lexicon_reading(c, p) if rd is None else rd.get(p.id, Reading(None))
            if r.stance is None:
                if r.prob is not None:
                    none_probs.append(r.prob)
                continue
            votes.append((r.stance, r.weight, s, strength, r.prob))
        general = self._general(generals, index, negated_target(p), p)
        # A neutral lean is a comment without a position (the lexicon's neutral is always explicit,
        # "tar inte ställning"): it yields to a general statement, as LABELING.md has it.
        comments = [v for v in votes if v[0] == "neutral" and v[1] < 2]
        votes = [v for v in votes if not (v[0] == "neutral" and v[1] < 2)]
        if votes:
            stance, score, ev = self._aggregate(votes)
            return Prediction(doc_id, p.id, stance, score, "explicit", ev)
        if general is not None:
            stance, s, *prob = general
            score = prob[0] if prob and prob[0] is not None else self.general_score
            return Prediction(doc_id, p.id, stance, score, "general", [_evidence(s)])
        if comments:
            comments.sort(key=lambda v: (-(v[4] or 0.0), -v[3]))
            score = max((v[4] for v in comments if v[4] is not None), default=self.comment_score)
            return Prediction(doc_id, p.id, "neutral", score, "explicit", [_evidence(v[2]) for v in comments[:3]])
        direct = [s for s, c, strength, rd in items if strength > 1.0 and not c.description]
        if direct:
            # Addressed by name, no position taken: a comment.
            return Prediction(doc_id, p.id, "neutral", self.comment_score, "explicit", [_evidence(x) for x in direct[:3]])
        if none_probs:
            return Prediction(doc_id, p.id, "none", min(none_probs), None, [])
        return Prediction(doc_id, p.id, "none", 0.9 if not items else 0.6, None, [])

    @staticmethod
    def _general(generals, index, flip, proposal: Proposal | None = None):
        """The last general statement that covers this proposal: all of them, or the ones not addressed before it.

        "Övriga förslag" are those the respondent has not taken a position on so far, wherever they
        stand in the catalog; a statement on a group ("de förslag som …") covers those after the last
        one addressed. Returns (stance, sentence) for the lexicon, (stance, sentence, probability) for readings.
        """
        found = None
        for s, c, last, *rest in generals:
            done = rest[1] if len(rest) > 1 else None
            if c.general_rest and (index <= last if done is None or proposal is None else proposal.id in done):
                continue
            if not c.general_rest and last >= 0 and index <= last and _scoped(s):
                continue
            rd = rest[0] if rest else None
            if rd is None:
                stance, _ = c.polarity()
                if stance in ("support", "oppose", "mixed"):
                    found = (stance, s)
            else:
                r = rd.get(proposal.id, Reading(None)) if proposal is not None else Reading(None)
                if r.stance in ("support", "oppose", "mixed"):
                    found = (r.stance, s, r.prob)
        return found

    @staticmethod
    def _aggregate(votes):
        """(stance, score, evidence) from votes (stance, strength, sentence, link strength[, probability]).

        Rule scores for the lexicon; with probabilities, the score is the highest probability among
        the votes that carry the decision.
        """
        votes = [tuple(v) + (None,) * (5 - len(v)) for v in votes]
        strong = {st for st, w, _, _, _ in votes if w >= 2}
        evidence = sorted(votes, key=lambda v: (-v[1], -v[3], -(v[4] or 0.0)))
        if "mixed" in strong or {"support", "oppose"} <= strong:
            stance, score = "mixed", 0.7
            carriers = [v for v in votes if v[1] >= 2 and v[0] in ("mixed", "support", "oppose")]
        elif "support" in strong:
            stance, score = "support", 0.9
            carriers = [v for v in votes if v[1] >= 2 and v[0] == stance]
        elif "oppose" in strong:
            stance, score = "oppose", 0.9
            carriers = [v for v in votes if v[1] >= 2 and v[0] == stance]
        else:
            lean = {"support": 0, "oppose": 0}
            for st, w, _, _, _ in votes:
                if st in lean:
                    lean[st] += w
            if lean["support"] or lean["oppose"]:
                stance = "support" if lean["support"] > lean["oppose"] else "oppose"
                score = 0.6
            else:
                stance, score = "neutral", 0.8
            carriers = [v for v in votes if v[0] == stance]
        probs = [v[4] for v in carriers if v[4] is not None]
        if probs:
            score = max(probs)
        ev = [_evidence(s) for st, _, s, _, _ in evidence if st == stance][:3] or [_evidence(evidence[0][2])]
        return stance, score, ev


def _scoped(s: Sentence) -> bool:
    """A general statement restricted to a group ("de förslag som läggs fram för att …")."""
    return bool(re.search(r"\bde\s+förslag\s+som\b", s.text, re.I))


def _evidence(s: Sentence) -> Evidence:
    return Evidence(text=s.text, start=s.start, end=s.end)
