"""Cues: what one sentence says, read with the Swedish remiss lexicon (pipeline/stages/lexicon_sv.py).

`read_cues` finds support, opposition, risks, conditions, neutrality and general statements with
negation scope; `Reading` is one sentence's stance toward one proposal, the unit every classifier
hands to the aggregation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from ..records import Proposal, Sentence
from . import lexicon_sv as lex

_COMPILED = {
    "phrases": [(re.compile(r"\b" + p, re.I), pol, w) for p, pol, w in lex.PHRASES],
    "cues": [(re.compile(r"\b(?:" + p + r")", re.I), pol, w) for p, pol, w in lex.CUES],
    "risks": [re.compile(r"\b" + p, re.I) for p in lex.RISKS],
    "conditions": [re.compile(r"\b" + p, re.I) for p in lex.CONDITIONS],
    "hedges": [re.compile(r"\b" + p, re.I) for p in lex.HEDGES],
    "contrast": re.compile(lex.CONTRAST, re.I),
}
FLIP = {"support": "oppose", "oppose": "support"}


@dataclass
class Cues:
    """What one sentence says, read with the lexicon. Scores are summed cue strengths."""

    support: int = 0
    oppose: int = 0
    risk: int = 0
    hedge: int = 0  # hesitation: a lean against alone, mixed beside support
    neutral: bool = False
    condition: bool = False
    contrast_mixed: bool = False
    about_proposal: bool = True  # speaks of "förslaget"/"bedömningen" rather than the action itself
    restates_negation: bool = False  # "det bör inte införas X": a negatively phrased proposal as phrased
    description: bool = False
    normative: bool = False  # says what should be done: a view, if no position
    voiced: bool = False  # the respondent states a view of its own ("Nämnden anser att …")
    general: bool = False
    general_rest: bool = False
    scope_text: str | None = None  # where a general statement's group is named, when not in itself
    matches: list[str] = field(default_factory=list)

    @property
    def has_position(self) -> bool:
        return bool(self.support or self.oppose or self.risk or self.neutral or self.condition or self.hedge)

    def polarity(self) -> tuple[str | None, int]:
        """(stance, strength) of the sentence on its own; strength 2 is explicit, 1 a lean."""
        s, o = self.support, self.oppose
        if self.condition and (s or o):
            return "mixed", 2
        if self.contrast_mixed or (self.hedge and s):
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
        if self.hedge and not o:
            return "mixed", 1  # hesitation: mixed beside support in the same cell, else a lean against
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
    masked = list(lex.INSERTED.sub(lambda m: " " * len(m.group(0)), low))
    events: list[tuple[int, str, int]] = []  # (position, polarity, strength)

    def mask(a: int, b: int) -> None:
        masked[a:b] = "#" * (b - a)

    for rx, pol, w in _COMPILED["phrases"]:
        for m in rx.finditer("".join(masked)):
            events.append((m.start(), pol, w))
            c.matches.append(m.group(0))
            mask(m.start(), m.end())
            if "skillnad" in m.group(0) or "motsats" in m.group(0):
                c.matches.append("(against the inquiry)")
    for rx in _COMPILED["hedges"]:
        for m in rx.finditer("".join(masked)):
            if not _negated("".join(masked), m.start(), m.end()):
                c.hedge += 1
                c.matches.append(m.group(0))
            mask(m.start(), m.end())
    for rx in (lex.DOUBTED_CLAUSE, lex.VERDICT_CLAUSE):
        for m in rx.finditer(low):
            mask(m.start(1), m.end(1))
    current = "".join(masked)
    for rx, pol, w in _COMPILED["cues"]:
        for m in rx.finditer(current):
            if "#" in m.group(0):
                continue
            p = FLIP[pol] if _negated(current, m.start(), m.end()) else pol
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
    for m in lex.RAISED_NEGATION.finditer(low):
        events = [(pos, FLIP[pol] if m.start(1) <= pos < m.end(1) and pol in ("support", "oppose") else pol, w)
                  for pos, pol, w in events]
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
        agreed = low[first:min(after, default=first)]  # what is agreed with: "… att det finns problem"
        first_weight = max(w for pos, pol, w in events if pol == "support" and pos == first)
        if after and not between_contrast and first_weight >= 2 and min(after) - first < 80 and " att " in agreed \
                and not lex.CAUSAL.search(agreed):
            # "instämmer i bedömningen att det finns problem": agreeing that there are problems, not with a
            # proposal ("välkomnar förslaget eftersom det finns problem" is support).
            c.oppose, c.support, c.risk = 1, 0, c.risk
    if contrast and c.support == 1 and (c.oppose or c.risk) and (
            any(p > contrast.start() for p, pol, w in events if pol == "oppose" and w < 2)
            or not c.oppose and any(r > contrast.start() > min(supports) for r in risk_positions)):
        c.contrast_mixed = True  # "ser inga hinder …, men anser att X är att föredra"
    if contrast and supports and min(supports) < contrast.start() and lex.PART_OBJECTION.search(low, contrast.start()):
        c.contrast_mixed = True  # support, then opposition to a part of it
    if c.support and not c.condition:
        c.condition = bool(lex.CONDITIONAL_IF.search(low))
    if c.support >= 2 and not c.condition and supports:
        c.condition = bool(lex.PARTIAL.search(low, min(supports)))
    c.about_proposal = bool(lex.PROPOSAL_REFERENCE.search(low)) or "(against the inquiry)" in c.matches
    c.normative = bool(lex.NORMATIVE.search(low))
    c.restates_negation = bool(lex.RESTATED_NEGATION.search(low))
    c.description = bool(_describes(text) or description_section(sentence)) and not c.has_position
    if _motion(sentence):
        c.description = True  # a member's motion or reservation in the minutes: not the body's position
    c.voiced = bool(lex.VIEW.search(text)) and not c.description
    first_cue = min((pos for pos, _, _ in events), default=0)
    if (c.has_position and not c.risk or c.support or c.oppose) and (
            _wide_object(text, first_cue) or lex.GROUP_OBJECT.search(text)):
        # A position on the inquiry or a group of its proposals; without one ("inga synpunkter på övriga
        # förslag") a blanket line that leaves them `none`.
        c.general = True
        c.general_rest = bool(lex.GENERAL_REST.search(text))
    return c


def read_document_cues(sentences: list[Sentence]) -> list[Cues]:
    """Each sentence's cues, read in its document. Under a heading that describes the case
    (*Ärendebeskrivning*), the sentences after the first one where the respondent takes a position are
    its own view, not the case described: minutes often end the description with the assessment. A
    position on *dem* / *dessa* right after a sentence that names a group of proposals is on that group."""
    cues = [read_cues(s) for s in sentences]
    for k in range(1, len(sentences)):
        s, c, before = sentences[k], cues[k], sentences[k - 1]
        if (not s.is_heading and not before.is_heading and s.block == before.block and c.has_position and not c.general
                and lex.BACK_TO_GROUP.search(s.text) and lex.GROUP_OBJECT.search(before.text)):
            c.general, c.scope_text = True, before.text  # "… lämnar dem utan erinran": the group named before
    for k, (s, c) in enumerate(zip(sentences, cues)):
        if not lex.FORM_QUESTION.search(s.text):
            continue
        c.description, c.voiced = True, False  # an answer form's question is the ministry's text
        answer = lex.FORM_ANSWER.match(sentences[k + 1].text) if k + 1 < len(sentences) else None
        if not answer:
            continue
        yes = answer.group(1).lower() == "ja"
        if lex.POSITION_QUESTION.search(s.text):  # "Ställer ni er bakom …? Ja." — the answer's position
            c.support, c.oppose = (2, 0) if yes else (0, 2)
            c.condition = yes and bool(lex.FORM_RESERVATION.search(answer.group(2)))
        elif lex.COMMENT_QUESTION.search(s.text) and not yes:  # "Har ni synpunkter på …? Nej."
            c.neutral = True
        else:
            continue
        c.description, c.voiced = False, True
        c.matches.append(answer.group(0))
        cues[k + 1].description = True
    for k in range(1, len(sentences)):  # "Detsamma gäller förslaget om X": the position before, on X
        c, before = cues[k], cues[k - 1]
        if lex.SAME_AGAIN.search(sentences[k].text) and not (c.support or c.oppose or c.neutral) and (
                before.support or before.oppose):
            c.support, c.oppose, c.condition = before.support, before.oppose, before.condition
            c.description, c.voiced = False, True
            c.matches.append("(the position before)")
    spoke: set[tuple] = set()
    for s, c in zip(sentences, cues):
        section = description_section(s)
        if section is None:
            continue
        if section in spoke and c.description and not _describes(s.text) and not _motion(s):
            c.description = False
            c.voiced = bool(lex.VIEW.search(s.text))
        elif section not in spoke and c.has_position and not c.description and not _speaks(s.text):
            c.description = True  # the case described goes on ("Om X inte svarar i tid ska Y anses medgivet")
        if c.has_position and not c.description:
            spoke.add(section)
    return cues


def description_section(sentence: Sentence) -> tuple | None:
    """The headings down to the one that describes the case, where the sentence stands under one."""
    for k in range(len(sentence.headings) - 1, -1, -1):
        if lex.DESCRIPTION_HEADINGS.search(sentence.headings[k]):
            return tuple(sentence.headings[: k + 1])
    return None


def _speaks(text: str) -> bool:
    """The respondent speaks: a view of its own, itself naming itself as subject of a verdict, or "vi"."""
    return bool(lex.VIEW.search(text) or lex.SPEAKS.search(text))


def _motion(sentence: Sentence) -> bool:
    return bool(lex.MOTION.search(sentence.text) or any(lex.MOTION_HEADINGS.search(h) for h in sentence.headings))


def _describes(text: str) -> bool:
    """The sentence reports what the inquiry says ("Utredningen föreslår …")."""
    return bool(lex.DESCRIPTION_START.search(text) and lex.DESCRIPTION_VERBS.search(text))


def _wide_object(text: str, first_cue: int = 0) -> bool:
    """The sentence speaks of the inquiry as a whole or of the rest of it — but "I övrigt tillstyrker
    kommunen förslaget" means otherwise *this* proposal, not the rest, and the assessments a reason
    cites ("avstyrker förslaget om X, eftersom kostnaderna enligt de bedömningar vi fått …") are not its
    object."""
    wide = [m.group(0) for m in lex.GENERAL_OBJECT.finditer(text) if not _in_a_reason(text, m.start(), first_cue)]
    if wide and all(lex.REST_ADVERBIAL.fullmatch(w) for w in wide):
        return not lex.ONE_PROPOSAL.search(text)
    if wide and all(lex.MOSTLY.fullmatch(w) for w in wide):
        return not lex.NAMED_OBJECT.search(text)
    return bool(wide)


def _in_a_reason(text: str, at: int, first_cue: int) -> bool:
    """Whether position `at` stands in a source ("enligt …") or in a reason given after the position
    ("…, eftersom …")."""
    before = text[:at].lower()
    if re.search(r"\benligt\s+$", before):
        return True
    reason = lex.CAUSAL.search(before, first_cue)
    return first_cue < at and reason is not None


def mentions(text: str) -> list[tuple[int, int]]:
    """Spans of the parts of a sentence that can each name a proposal: its clauses, and the objects
    *och till …*, *och om …* that share one verb ("positiv till X och till Y")."""
    spans = []
    for a, b in clauses(text):
        start = a
        for m in lex.COORDINATED.finditer(text, a, b):
            if m.start() > start:
                spans.append((start, m.start()))
            start = m.end()
        spans.append((start, b))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def clauses(text: str) -> list[tuple[int, int]]:
    """Spans of the clauses a sentence turns at (*men*, *medan*, *däremot*, *samt*, a semicolon, a new
    verb of position after *och*), for reading a sentence about several proposals clause by clause."""
    breaks = [(m.start(), m.end()) for m in lex.CLAUSE_BREAKS.finditer(text)]
    for m in lex.CONTRASTIVE_OPENING.finditer(text):  # "Medan X stöds, avstyrks Y": the first comma turns
        comma = text.find(",", m.end())
        if comma > 0 and not any(a <= comma < b for a, b in breaks):
            breaks.append((comma, comma + 1))
    spans, start = [], 0
    for a, b in sorted(breaks):
        if a > start:
            spans.append((start, a))
        start = max(start, b)
    if start < len(text):
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def negated_target(p: Proposal) -> bool:
    return bool(lex.NEGATED_TARGET.search(p.title))


class Reading(NamedTuple):
    """What one sentence says about one proposal: its stance (None: no position), strength 2 for an
    explicit position and 1 for a lean, and the probability a trained model gives it (None for rules)."""

    stance: str | None
    weight: int = 2
    prob: float | None = None
