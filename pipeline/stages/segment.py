"""Segment: a normalised Document into sentences that know their heading path.

Respondents answer section by section ("4.4.3 Det bör inte införas avgifter …", "Kapitel 5 …",
a bullet per proposal) and then write only "Kommunen tillstyrker förslaget": the heading path is
what says which proposal such a sentence is about. Line structure carries the headings; blank
lines carry paragraph breaks, measured against the document's own line spacing because PDF
extraction often double-spaces every line.
"""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from ..records import Document, Sentence
from ..registry import register
from .lexicon_sv import BEFORE_SECTION_NUMBER, DESCRIPTION_HEADINGS, FUNCTION_WORDS, VERDICT, VIEW_HEADINGS

BULLET = re.compile(r"^[•\-–—*▪●◦·‣⁃]\s*(?=\S)")
NUMBERED_HEADING = re.compile(
    r"^(?:(?P<word>Kapitel|Avsnitt|Bilaga|Del)\s+)?(?P<num>\d{1,2}(?:\.\d{1,2}){0,4})\.?"
    r"(?:\s*(?:,|och|samt|&|–|-)\s*\d{1,2}(?:\.\d{1,2}){0,4})*\s+(?P<title>[A-ZÅÄÖ\"”“].*)$"
)
WORD_HEADING = re.compile(r"^(?P<word>Kapitel|Avsnitt|Bilaga)\s+(?P<num>\d{1,2}(?:\.\d{1,2}){0,4})\s*$")
SENTENCE_END = re.compile(r"[.!?:]\W*$")
# Characters in a full line of a typical A4 letter; used when a document has too few long lines to measure its own.
TYPICAL_LINE_WIDTH = 80

# Abbreviations after which a period does not end a sentence (lower-cased, without the final period).
ABBREVIATIONS = {
    "bl.a", "t.ex", "dvs", "d.v.s", "m.m", "m.fl", "osv", "o.s.v", "etc", "ca", "jfr", "resp", "s", "sid",
    "kap", "prop", "nr", "fr.o.m", "t.o.m", "p.g.a", "pga", "enl", "f.d", "ev", "inkl", "exkl", "bet", "dir",
    "st", "t.ex", "e.d", "o.d", "mfl", "mm", "tex", "bla", "avd", "ang", "bil", "tel", "doc", "leg", "spec",
    "jmf", "fig", "tab", "art", "pkt", "p", "f", "ff", "forts", "u.å", "d", "ds", "sou",
}
# Abbreviations that close a list or a reference and so often end a sentence ("lärare, kuratorer
# m.m. Kommunen …"): before a capital letter they end it.
SENTENCE_FINAL_ABBREVIATIONS = {"m.m", "mm", "m.fl", "mfl", "osv", "o.s.v", "etc", "o.d", "e.d", "f", "ff"}
_SPLIT_CANDIDATE = re.compile(r"([.!?]+)([\"”’)]*)(\s+)(?=[\"“”(]?[A-ZÅÄÖ0-9•–-])")


@dataclass
class _Block:
    kind: str  # "heading" | "para" | "bullet"
    lines: list[int]
    number: str | None = None
    depth: int = 100


@dataclass
class _Open:
    """A heading on the path of the sentences under it."""
    depth: int
    text: str
    number: str | None
    has_text: bool = False  # text stood right under it, before any sub-heading


@register("segmenter", "segmenter.v1")
class Segmenter:
    """Rule-based Swedish segmenter. Parameters are the few thresholds that vary between extractors."""

    def __init__(self, max_heading_words: int = 14, heading_width_ratio: float = 0.8, min_sentence_chars: int = 2):
        self.max_heading_words = max_heading_words
        self.heading_width_ratio = heading_width_ratio
        self.min_sentence_chars = min_sentence_chars

    # -- blocks -------------------------------------------------------------------------------
    def _blocks(self, lines: list[str], gaps: list[int]) -> list[_Block]:
        content = [i for i, t in enumerate(lines) if t]
        p90 = self._full_width(lines, content)
        typical_gap = statistics.median_low([gaps[i] for i in content]) if content else 0
        nxt = {a: b for a, b in zip(content, content[1:])}
        blocks: list[_Block] = []
        cur: _Block | None = None
        k = 0
        while k < len(content):
            i = content[k]
            line = lines[i]
            prev = lines[content[k - 1]] if k else ""
            at_break = k == 0 or gaps[i] > typical_gap or bool(SENTENCE_END.search(prev)) or (
                cur is not None and cur.kind == "heading"
            )
            m = NUMBERED_HEADING.match(line) or WORD_HEADING.match(line)
            if m and not at_break and cur is not None and cur.kind != "heading" and BEFORE_SECTION_NUMBER.search(prev):
                m = None
            if m and self._numbered_heading_ok(line, m) and not VERDICT.search(line):
                cur = _Block("heading", [i], number=m.group("num"), depth=m.group("num").count(".") + 2)
                # A heading may wrap onto a short lower-case line.
                while k + 1 < len(content):
                    j = content[k + 1]
                    if lines[j][:1].islower() and len(lines[j].split()) <= 8 and not SENTENCE_END.search(lines[j]):
                        cur.lines.append(j)
                        k += 1
                    else:
                        break
                blocks.append(cur)
            elif BULLET.match(line):
                cur = _Block("bullet", [i])
                blocks.append(cur)
            elif m:  # a numbered answer ("5.3 Tillstyrks", a flattened table row): a paragraph of its own
                cur = _Block("para", [i])
                blocks.append(cur)
            elif at_break and self._short_heading(line, nxt.get(i), lines, p90, alone=gaps[i] > typical_gap and (
                    nxt.get(i) is None or gaps[nxt[i]] > typical_gap)):
                cur = _Block("heading", [i])
                blocks.append(cur)
            elif cur is not None and cur.kind != "heading" and (line[:1].islower() or gaps[i] <= typical_gap):
                cur.lines.append(i)
            else:
                cur = _Block("para", [i])
                blocks.append(cur)
            k += 1
        for b in blocks:  # a bullet with no sentence end, followed by prose, heads that prose
            if b.kind == "bullet":
                text = " ".join(lines[i] for i in b.lines)
                after = nxt.get(b.lines[-1])
                if (
                    not SENTENCE_END.search(text)
                    and text[BULLET.match(text).end() :][:1].isupper()
                    and len(text.split()) <= 20
                    and after is not None
                    and not BULLET.match(lines[after])
                    and lines[after][:1].isupper()
                ):
                    b.kind, b.depth = "heading", 50
        return blocks

    @staticmethod
    def _full_width(lines: list[str], content: list[int]) -> int:
        """The document's full line width: what wrapped lines (continued in lower case) reach.

        Lines that end a paragraph or hold one sentence say nothing about the page width; with
        too few wrapped lines to measure (a short answer, a line per sentence or paragraph), the
        longest line or a typical A4 line, whichever is longer.
        """
        wrapped = sorted(
            len(lines[i])
            for i, j in zip(content, content[1:])
            if len(lines[i].split()) >= 5 and not SENTENCE_END.search(lines[i]) and lines[j][:1].islower()
        )
        if len(wrapped) >= 3:
            return wrapped[int(0.9 * (len(wrapped) - 1))]
        return max([len(lines[i]) for i in content] + [TYPICAL_LINE_WIDTH])

    def _numbered_heading_ok(self, line: str, m) -> bool:
        words = line.split()
        if len(words) > 25 or line.rstrip().endswith((".", ",", ";")) and len(words) > 3:
            return False
        first = int(m.group("num").split(".")[0])
        return 0 < first <= 30

    def _short_heading(self, line: str, next_i: int | None, lines: list[str], p90: int, alone: bool = False) -> bool:
        """A short capitalised line that is no wrapped sentence; one standing alone between blank lines may
        also be a question or end on a function word ("Vad händer sedan?", "Ett nytt system – ja, men")."""
        words = line.split()
        if not (1 <= len(words) <= self.max_heading_words) or not line[:1].isupper():
            return False
        end = re.search(r"[.,;:!?]$", line.rstrip())
        if end and not (alone and end.group(0) in "?!"):
            return False
        if words[-1].lower() in FUNCTION_WORDS and not (  # a lead-in to a list ends on "att" too
                alone and next_i is not None and lines[next_i][:1].isupper() and not BULLET.match(lines[next_i])):
            return False
        if len(line) > self.heading_width_ratio * p90:
            return False
        if next_i is None:
            return True
        nl = lines[next_i]
        return nl[:1].isupper() or bool(BULLET.match(nl)) or nl[:1].isdigit()

    # -- sentences ----------------------------------------------------------------------------
    def segment(self, doc: Document) -> list[Sentence]:
        text = doc.text
        starts, lines, pos = [], [], 0
        for line in text.split("\n"):
            starts.append(pos)
            lines.append(line)
            pos += len(line) + 1
        gaps, run = [], 0
        for line in lines:
            gaps.append(run)
            run = run + 1 if not line else 0
        path: list[_Open] = []
        sentences: list[Sentence] = []
        for bi, block in enumerate(self._blocks(lines, gaps)):
            joined, cmap = self._join(block.lines, lines, starts)
            if block.kind == "heading":
                while path and (path[-1].depth >= block.depth or not _contains(path[-1].number, block.number)):
                    path.pop()
                if block.number is None and path and path[-1].number is not None and path[-1].has_text \
                        and _topic_heading(joined):
                    # a heading of the respondent's own after the text of a numbered section starts a new
                    # topic beside it ("5.3 … Kommunen tillstyrker. … Övrigt"), not a part of that section
                    path.pop()
                heading = self._sentence(doc, len(sentences), joined, cmap, 0, len(joined), path, bi, heading=True)
                sentences.append(heading)
                path.append(_Open(block.depth, heading.text, block.number))
                continue
            for s, e in split_sentences(joined):
                piece = joined[s:e]
                if len(piece.strip()) < self.min_sentence_chars:
                    continue
                bullet = block.kind == "bullet"
                sentences.append(self._sentence(doc, len(sentences), piece, cmap, s, e, path, bi, bullet=bullet))
                if path:
                    path[-1].has_text = True
        return sentences

    @staticmethod
    def _join(block_lines: list[int], lines: list[str], starts: list[int]) -> tuple[str, list[int]]:
        """Block text (lines joined by spaces) and the doc.text index of each of its characters."""
        parts, cmap = [], []
        for n, i in enumerate(block_lines):
            if n:
                parts.append(" ")
                cmap.append(starts[i] - 1)
            parts.append(lines[i])
            cmap.extend(range(starts[i], starts[i] + len(lines[i])))
        return "".join(parts), cmap

    @staticmethod
    def _sentence(doc, index, piece, cmap, s, e, path, block, heading=False, bullet=False) -> Sentence:
        """`piece` is joined[s:e]; the span covers its text without the bullet mark and outer spaces."""
        lead = len(piece) - len(piece.lstrip())
        if bullet or heading:
            m = BULLET.match(piece[lead:])
            if m:
                lead += m.end()
        clean = piece[lead:].strip()
        if not clean:
            lead, clean = 0, piece.strip()
        trail = len(piece) - lead - len(piece[lead:].rstrip())
        start, end = doc.span(cmap[s + lead], cmap[e - 1 - trail] + 1)
        return Sentence(
            doc_id=doc.doc_id,
            index=index,
            text=re.sub(r"\s+", " ", clean).strip(),
            start=start,
            end=end,
            headings=tuple(h.text for h in path),
            sections=tuple(h.number for h in path if h.number),
            is_heading=heading,
            bullet=bullet,
            block=block,
        )


def _topic_heading(text: str) -> bool:
    """Whether a heading reads as a topic of its own in running Swedish (sentence case: "Tidplan och
    genomförande", "Övrigt"), not as letterhead or page furniture ("KOMMUNEN YTTRANDE 2(3)", "Postadress
    Besöksadress") nor as a part of the section above ("Kommunens synpunkter")."""
    words = [w for w in text.split() if re.search(r"[^\W\d_]", w)]
    if not words or re.search(r"\d", text) or text.isupper():
        return False
    if VIEW_HEADINGS.match(text.strip()) or DESCRIPTION_HEADINGS.match(text.strip()):
        return False  # "Kommunens synpunkter", "Utredningens förslag": a part of the section above
    return len(words) == 1 or any(w[:1].islower() for w in words[1:])


def _contains(outer: str | None, inner: str | None) -> bool:
    """Whether numbered section `outer` contains `inner` ("4" contains "4.1.1", not "5.4")."""
    if outer is None or inner is None:
        return True
    return inner.startswith(outer + ".")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a paragraph; Swedish abbreviations and references do not end sentences."""
    spans, start = [], 0
    for m in _SPLIT_CANDIDATE.finditer(text):
        end_punct = m.start(1)
        before = text[start:end_punct].split()
        word = before[-1] if before else ""
        rest = text[m.end() :]
        if m.group(1) == "." and _is_abbreviation(word, rest) and not _ends_sentence(word.lower(), rest):
            continue
        if m.group(1) == "." and len(before) == 1 and re.fullmatch(r"\d{1,2}", word) and rest.strip():
            continue  # "1. 5.3 En ny tjänst Tillstyrker …": a row's number, no sentence of its own
        spans.append((start, m.end(2)))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


def _ends_sentence(word: str, rest: str) -> bool:
    """A list-closing abbreviation followed by a capitalised word: the sentence ends there."""
    return word.lstrip("(\"“”") in SENTENCE_FINAL_ABBREVIATIONS and rest.lstrip("\"“”(")[:1].isupper()


def _is_abbreviation(word: str, rest: str) -> bool:
    """`word` as written (case kept: "K." in "Kerstin K. Carlsson" is an initial)."""
    word = word.lstrip("(\"“”")
    initial = len(word) == 1 and word.isupper()
    word = word.lower()
    if word in ABBREVIATIONS or word.rstrip(".") in ABBREVIATIONS:
        return True
    if re.fullmatch(r"([^\W\d_]\.)+[^\W\d_]", word):  # t.ex, bl.a, m.m style, whatever the letters (not 4.1)
        return True
    if initial:
        return True  # an initial: "K. Carlsson"
    return False
