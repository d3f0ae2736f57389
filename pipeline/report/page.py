"""What the report and the workbook share: labels and colours of the stances, a per-document view of a
run's results (cells by proposal, sentences by offset), and the review flag."""
from __future__ import annotations

import bisect
import datetime
import html
from dataclasses import dataclass

from ..records import STANCES, Catalog, DocResult, Evidence, Prediction, Sentence

STANCE_LABEL = {
    "support": "support (tillstyrker)",
    "oppose": "oppose (avstyrker)",
    "mixed": "mixed (delvis)",
    "neutral": "neutral (ingen ställning)",
    "none": "did not address",
}
STANCE_COLOUR = {  # chart and badges: dark enough for white text
    "support": "#2e7d32",
    "oppose": "#c62828",
    "mixed": "#d98200",
    "neutral": "#546e7a",
    "none": "#cfd5db",
}
STANCE_FILL = {  # workbook cell fills: light tints of the same hues, so black text stays legible
    "support": "C8E6C9",
    "oppose": "FFCDD2",
    "mixed": "FFE0B2",
    "neutral": "CFD8DC",
    "none": "F2F2F2",
}
# Zip entries and document properties carry this instead of the run time, so workbooks can be diffed.
FIXED_TIME = datetime.datetime(2000, 1, 1)


def esc(value) -> str:
    return html.escape(str(value), quote=True)



class DocView:
    """One document with what both outputs look up: its cells by proposal, its sentences by offset."""

    def __init__(self, n: int, result: DocResult, catalog_ids: set[str]):
        self.n = n
        self.result = result
        self.cells: dict[str, Prediction] = {}
        for p in result.predictions:
            if p.proposal_id in catalog_ids and p.proposal_id not in self.cells:
                self.cells[p.proposal_id] = p
        self.sentences = sorted(result.sentences, key=lambda s: (s.start, s.index))
        self._starts = [s.start for s in self.sentences]
        self._by_text: dict[str, Sentence] | None = None

    def sentence_of(self, ev: Evidence) -> Sentence | None:
        """The sentence whose [start, end) holds the evidence start; by text where offsets do not fit."""
        i = bisect.bisect_right(self._starts, ev.start) - 1
        if i >= 0 and self.sentences[i].start <= ev.start < self.sentences[i].end:
            return self.sentences[i]
        if self._by_text is None:
            self._by_text = {}
            for s in self.sentences:
                self._by_text.setdefault(squash(s.text), s)
        text = squash(ev.text)
        found = self._by_text.get(text)
        if found is None and text:
            found = next((s for s in self.sentences if text in squash(s.text)), None)
        return found


def squash(text: str) -> str:
    return " ".join(text.split())


def prepare(results: list[DocResult], catalog: Catalog) -> list[DocView]:
    ids = set(catalog.ids)
    return [DocView(n, r, ids) for n, r in enumerate(results, 1)]


def needs_review(p: Prediction, low_confidence: float) -> bool:
    """Flagged for review: scored below the threshold, and no analyst has reviewed it yet."""
    return p.review is None and float(p.score) < low_confidence


def review_line(p: Prediction) -> str:
    """'reviewed by <who>, <date>[; was <stance>]' for a reviewed cell, '' otherwise (plain text: escape it)."""
    r = p.review
    if not r:
        return ""
    was = (r.get("original") or {}).get("stance")
    changed = f"; was {was}" if r.get("changed") and was else ""
    return f"reviewed by {r.get('reviewer', '?')}, {str(r.get('time', ''))[:10]}{changed}"


@dataclass(frozen=True)
class Edit:
    """What `stance review` adds to the report to make it its edit view: a nonce for the page's scripts
    (its Content-Security-Policy allows no other script), markup for the head and the end of the body."""

    nonce: str
    head: str = ""
    body: str = ""


def stance_counts(docs: list[DocView], pid: str) -> dict[str, int]:
    counts = dict.fromkeys(STANCES, 0)
    for d in docs:
        p = d.cells.get(pid)
        if p is not None and p.stance in counts:
            counts[p.stance] += 1
    return counts
