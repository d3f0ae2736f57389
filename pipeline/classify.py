"""Classify: one stance per (document, proposal), with the sentences that show it.

`read_cues` reads one sentence with the Swedish remiss lexicon; `LexiconClassifier` links
sentences to proposals and aggregates their cues the way LABELING.md defines the labels: a
specific statement overrides a general one, remarks that accept a proposal do not change support,
description of the inquiry is not stance.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from . import lexicon_sv as lex
from .link import LexicalLinker
from .records import Catalog, Evidence, Prediction, Proposal, Sentence

_COMPILED = {
    "phrases": [(re.compile(r"\b" + p, re.I), pol, w) for p, pol, w in lex.PHRASES],
    "cues": [(re.compile(r"\b(?:" + p + r")", re.I), pol, w) for p, pol, w in lex.CUES],
    "risks": [re.compile(r"\b" + p, re.I) for p in lex.RISKS],
    "conditions": [re.compile(r"\b" + p, re.I) for p in lex.CONDITIONS],
    "contrast": re.compile(lex.CONTRAST, re.I),
}
_FLIP = {"support": "oppose", "oppose": "support"}


@dataclass
class Cues:
    """What one sentence says, read with the lexicon. Scores are summed cue strengths."""

    support: int = 0
    oppose: int = 0
    risk: int = 0
    neutral: bool = False
    condition: bool = False
    contrast_mixed: bool = False
    about_proposal: bool = True  # speaks of "förslaget"/"bedömningen" rather than the action itself
    description: bool = False
    general: bool = False
    general_rest: bool = False
    matches: list[str] = field(default_factory=list)

    @property
    def has_position(self) -> bool:
        return bool(self.support or self.oppose or self.risk or self.neutral or self.condition)

    def polarity(self) -> tuple[str | None, int]:
        """(stance, strength) of the sentence on its own; strength 2 is explicit, 1 a lean."""
        s, o = self.support, self.oppose
        if self.condition and (s or o):
            return "mixed", 2
        if self.contrast_mixed:
            return "mixed", 2
        if s >= 2 and o >= 2:
            return "mixed", 2
        if s >= 2:
            return "support", 2
        if o >= 2:
            return "oppose", 2
        if s and (o or self.risk):
            return ("support", 1) if s > o + self.risk else ("oppose", 1)
        if s:
            return "support", 1
        if o or self.risk:
            return "oppose", 1
        if self.neutral:
            return "neutral", 2
        return None, 0


_CLAUSE_BREAK = re.compile(r"[,;:.!?]")


def _negated(text: str, start: int, end: int) -> bool:
    """A negator within the cue, up to three words before it, or two words after its first word.

    The window stays inside the cue's clause ("tillstyrker förslaget, inte minst …" is not negated),
    and a negator that only emphasises ("inte minst", "inte bara") does not count.
    """
    before = re.findall(r"\w+", _CLAUSE_BREAK.split(text[max(0, start - 40) : start])[-1])
    after = re.findall(r"\w+", _CLAUSE_BREAK.split(text[start:])[0])
    words = [w.lower() for w in before + after]
    n_inside = len(re.findall(r"\w+", text[start:end]))
    nb = len(before)
    window = list(range(max(0, nb - 3), nb)) + list(range(nb + 1, min(len(words), nb + max(n_inside, 3))))
    return any(
        words[i] in lex.NEGATORS and (i + 1 == len(words) or words[i + 1] not in lex.NOT_NEGATING_NEXT)
        for i in window
    )


def read_cues(sentence: Sentence) -> Cues:
    text = sentence.text
    low = text.lower()
    c = Cues()
    masked = list(low)
    events: list[tuple[int, str, int]] = []  # (position, polarity, strength)

    def mask(a: int, b: int) -> None:
        masked[a:b] = "#" * (b - a)

    for rx, pol, w in _COMPILED["phrases"]:
        for m in rx.finditer("".join(masked)):
            events.append((m.start(), pol, w))
            c.matches.append(m.group(0))
            mask(m.start(), m.end())
    current = "".join(masked)
    for rx, pol, w in _COMPILED["cues"]:
        for m in rx.finditer(current):
            if "#" in m.group(0):
                continue
            p = _FLIP[pol] if _negated(current, m.start(), m.end()) else pol
            events.append((m.start(), p, w))
            c.matches.append(m.group(0))
            mask(m.start(), m.end())
            current = "".join(masked)
    risk_positions = []
    for rx in _COMPILED["risks"]:
        for m in rx.finditer(current):
            if not _negated(current, m.start(), m.end()):
                risk_positions.append(m.start())
                c.matches.append(m.group(0))
    c.risk = min(len(risk_positions), 2)
    c.condition = any(rx.search(low) for rx in _COMPILED["conditions"])
    for pos, pol, w in events:
        if pol == "support":
            c.support += w
        elif pol == "oppose":
            c.oppose += w
        elif pol == "neutral":
            c.neutral = True
    contrast = _COMPILED["contrast"].search(low)
    supports = [pos for pos, pol, _ in events if pol == "support"]
    if supports and risk_positions and not c.oppose:
        first = min(supports)
        after = [r for r in risk_positions if r > first]
        between_contrast = contrast is not None and first < contrast.start() < min(after, default=0)
        if after and not between_contrast and c.support >= 2 and min(after) - first < 80:
            # "instämmer i bedömningen att det finns problem": agreeing that there are problems.
            c.oppose, c.support, c.risk = 1, 0, c.risk
    if contrast and c.support == 1 and (c.oppose or c.risk) and any(p > contrast.start() for p, pol, _ in events if pol == "oppose"):
        c.contrast_mixed = True  # "ser inga hinder …, men anser att X är att föredra"
    c.about_proposal = bool(lex.PROPOSAL_REFERENCE.search(low))
    first_word_subject = lex.DESCRIPTION_START.search(text) and lex.DESCRIPTION_VERBS.search(text)
    in_description_section = any(lex.DESCRIPTION_HEADINGS.search(h) for h in sentence.headings)
    c.description = bool(first_word_subject or in_description_section) and not c.has_position
    if (c.support or c.oppose) and lex.GENERAL_OBJECT.search(text):
        c.general = True
        c.general_rest = bool(lex.GENERAL_REST.search(text))
    return c


def negated_target(p: Proposal) -> bool:
    return bool(lex.NEGATED_TARGET.search(p.title))


class Reading(NamedTuple):
    """What one sentence says about one proposal: its stance (None: no position), strength 2 for an
    explicit position and 1 for a lean, and the probability a trained model gives it (None for rules)."""

    stance: str | None
    weight: int = 2
    prob: float | None = None


class LexiconClassifier:
    """Rule-based stance classifier: the baseline every trained model must beat. `fit` learns nothing.

    `predict` = link + read cues + `aggregate`. Trained classifiers (pipeline/learn.py) reuse
    `aggregate` with their own sentence-level `readings`, so the structure of a decision (specific
    overrides general, general statements propagate, description is not stance, comments without a
    position are neutral) is the same for every classifier; only who reads the sentences differs.
    """

    def __init__(self, linker: LexicalLinker | None = None, general_score: float = 0.6, comment_score: float = 0.5):
        self.linker = linker
        self.general_score = general_score
        self.comment_score = comment_score

    def fit(self, documents=None, labels=None, *args, **kwargs) -> "LexiconClassifier":
        return self

    @property
    def uses_embeddings(self) -> bool:
        return bool(getattr(self.linker, "uses_embeddings", False))

    def predict(self, doc_sentences: list[Sentence], catalog: Catalog, sentence_vectors=None,
                proposal_vectors=None) -> list[Prediction]:
        links = self.links(doc_sentences, catalog, sentence_vectors, proposal_vectors)
        cues = [read_cues(s) for s in doc_sentences]
        return self.aggregate(doc_sentences, catalog, cues, links)

    def links(self, doc_sentences: list[Sentence], catalog: Catalog, sentence_vectors=None,
              proposal_vectors=None) -> list[dict[str, float]]:
        """For each sentence, {proposal_id: link strength} (see LexicalLinker.link)."""
        linker = (self.linker or LexicalLinker()).fit(catalog)
        return linker.link(doc_sentences, sentence_vectors, proposal_vectors)

    @staticmethod
    def lexicon_reading(c: Cues, p: Proposal, general: bool = False) -> Reading:
        """The lexicon's reading of a sentence toward `p`: its polarity, flipped for a negatively
        phrased target when the sentence argues about the action rather than the proposal."""
        stance, w = c.polarity()
        if not general and stance in _FLIP and negated_target(p) and not c.about_proposal:
            stance = _FLIP[stance]  # arguing against sanctions supports "no sanctions"
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
