"""Classify: one stance per (document, proposal), with the sentences that show it.

`read_cues` reads one sentence with the Swedish remiss lexicon; `LexiconClassifier` links
sentences to proposals and aggregates their cues the way LABELING.md defines the labels: a
specific statement overrides a general one, remarks that accept a proposal do not change support,
description of the inquiry is not stance.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

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


def _negated(text: str, start: int, end: int) -> bool:
    """A negator within the cue, up to three words before it, or two words after its first word."""
    before = re.findall(r"\w+", text[max(0, start - 40) : start])[-3:]
    inside = re.findall(r"\w+", text[start:end])
    after_first = re.findall(r"\w+", text[start:])[1:3]
    return any(w.lower() in lex.NEGATORS for w in before + inside[1:] + after_first)


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


class LexiconClassifier:
    """Rule-based stance classifier: the baseline every trained model must beat. `fit` learns nothing."""

    def __init__(self, linker: LexicalLinker | None = None, general_score: float = 0.6, comment_score: float = 0.5):
        self.linker = linker
        self.general_score = general_score
        self.comment_score = comment_score

    def fit(self, documents=None, labels=None) -> "LexiconClassifier":
        return self

    @property
    def uses_embeddings(self) -> bool:
        return bool(getattr(self.linker, "uses_embeddings", False))

    def predict(self, doc_sentences: list[Sentence], catalog: Catalog, sentence_vectors=None,
                proposal_vectors=None) -> list[Prediction]:
        linker = (self.linker or LexicalLinker()).fit(catalog)
        links = linker.link(doc_sentences, sentence_vectors, proposal_vectors)
        cues = [read_cues(s) for s in doc_sentences]
        doc_id = doc_sentences[0].doc_id if doc_sentences else ""
        order = {p.id: i for i, p in enumerate(catalog.proposals)}

        explicit: dict[str, list[tuple[Sentence, Cues, float]]] = {p.id: [] for p in catalog.proposals}
        generals: list[tuple[Sentence, Cues, int]] = []  # (sentence, cues, last catalog index addressed before)
        last_addressed = -1
        for s, c, ln in zip(doc_sentences, cues, links):
            if s.is_heading or c.description:
                continue
            if c.general:
                generals.append((s, c, last_addressed))
                continue
            for pid, strength in ln.items():
                explicit[pid].append((s, c, strength))
                if c.has_position:
                    last_addressed = max(last_addressed, order[pid])

        preds = []
        for p in catalog.proposals:
            preds.append(self._decide(doc_id, p, explicit[p.id], generals, order[p.id]))
        return preds

    def _decide(self, doc_id, p: Proposal, items, generals, index) -> Prediction:
        flip = negated_target(p)
        votes = []  # (stance, strength, sentence)
        for s, c, strength in items:
            stance, w = c.polarity()
            if stance is None:
                continue
            if flip and stance in _FLIP and not c.about_proposal:
                stance = _FLIP[stance]  # arguing against sanctions supports "no sanctions"
            votes.append((stance, w, s, strength))
        general = self._general(generals, index, flip)
        if votes:
            stance, score, ev = self._aggregate(votes)
            return Prediction(doc_id, p.id, stance, score, "explicit", ev)
        if general is not None:
            stance, s = general
            return Prediction(doc_id, p.id, stance, self.general_score, "general", [_evidence(s)])
        direct = [s for s, c, strength in items if strength > 1.0]
        if direct:
            # Addressed by name, no position taken: a comment.
            return Prediction(doc_id, p.id, "neutral", self.comment_score, "explicit", [_evidence(x) for x in direct[:3]])
        return Prediction(doc_id, p.id, "none", 0.9 if not items else 0.6, None, [])

    @staticmethod
    def _general(generals, index, flip):
        """The last general statement that covers this proposal: all of them, or the rest after it."""
        found = None
        for s, c, last in generals:
            if c.general_rest and index <= last:
                continue
            if not c.general_rest and last >= 0 and index <= last and _scoped(s):
                continue
            stance, _ = c.polarity()
            if stance in ("support", "oppose", "mixed"):
                found = (stance, s)
        return found

    @staticmethod
    def _aggregate(votes):
        strong = {st for st, w, _, _ in votes if w >= 2}
        evidence = sorted(votes, key=lambda v: (-v[1], -v[3]))
        if "mixed" in strong or {"support", "oppose"} <= strong:
            stance, score = "mixed", 0.7
        elif "support" in strong:
            stance, score = "support", 0.9
        elif "oppose" in strong:
            stance, score = "oppose", 0.9
        else:
            lean = {"support": 0, "oppose": 0}
            for st, w, _, _ in votes:
                if st in lean:
                    lean[st] += w
            if lean["support"] or lean["oppose"]:
                stance = "support" if lean["support"] > lean["oppose"] else "oppose"
                score = 0.6
            else:
                stance, score = "neutral", 0.8
        ev = [_evidence(s) for st, _, s, _ in evidence if st == stance][:3] or [_evidence(evidence[0][2])]
        return stance, score, ev


def _scoped(s: Sentence) -> bool:
    """A general statement restricted to a group ("de förslag som läggs fram för att …")."""
    return bool(re.search(r"\bde\s+förslag\s+som\b", s.text, re.I))


def _evidence(s: Sentence) -> Evidence:
    return Evidence(text=s.text, start=s.start, end=s.end)
