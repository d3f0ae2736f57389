"""Plain records that flow between the stages.

Offsets (`start`, `end`) always index the *original* file text (`Document.raw`), so that
evidence can be shown in the document an analyst opened, not in our normalised copy.
"""
from __future__ import annotations

from dataclasses import dataclass, field

STANCES = ("support", "oppose", "mixed", "neutral", "none")
BASES = ("explicit", "general")


class InputError(Exception):
    """A user-facing problem with an input file: one line, naming the file and the problem."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class Proposal:
    id: str
    title: str
    summary: str
    section: str | None = None
    kind: str = "forslag"
    english: str = ""


@dataclass(frozen=True)
class Catalog:
    sou: str
    title: str
    proposals: tuple[Proposal, ...]
    path: str = ""

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.proposals]

    def __getitem__(self, proposal_id: str) -> Proposal:
        for p in self.proposals:
            if p.id == proposal_id:
                return p
        raise KeyError(proposal_id)


@dataclass
class Document:
    """One respondent's answer. `text` is normalised; `offsets[i]` is the index in `raw` of `text[i]`."""

    doc_id: str
    path: str
    raw: str
    text: str
    offsets: list[int]
    encoding: str = "utf-8"
    warnings: list[str] = field(default_factory=list)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of `text` back to `raw`."""
        if end <= start:
            o = self.offsets[start] if start < len(self.offsets) else len(self.raw)
            return o, o
        return self.offsets[start], self.offsets[end - 1] + 1


@dataclass
class Sentence:
    doc_id: str
    index: int
    text: str  # normalised text
    start: int  # offsets into Document.raw
    end: int
    headings: tuple[str, ...] = ()  # heading path, outermost first
    sections: tuple[str, ...] = ()  # section numbers found in the heading path, e.g. ("4", "4.4.3")
    is_heading: bool = False
    bullet: bool = False
    block: int = 0  # index of the paragraph/bullet item the sentence belongs to


@dataclass
class Evidence:
    text: str
    start: int
    end: int


@dataclass
class Prediction:
    doc_id: str
    proposal_id: str
    stance: str
    score: float
    basis: str | None
    evidence: list[Evidence] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "doc_id": self.doc_id,
            "proposal_id": self.proposal_id,
            "stance": self.stance,
            "score": round(float(self.score), 4),
            "basis": self.basis,
            "evidence": [{"text": e.text, "start": e.start, "end": e.end} for e in self.evidence],
        }


@dataclass(frozen=True)
class Label:
    doc_id: str
    proposal_id: str
    stance: str
    basis: str | None
    confidence: str = "high"
    evidence: tuple[str, ...] = ()
    note: str = ""


@dataclass
class DocResult:
    """One document's finished output in a batch run: what the matrix, report and workbook are built from.

    `sentences` keep their text and offsets so the report can show each piece of evidence in context.
    """

    doc_id: str
    path: str
    content_sha256: str
    sentences: list[Sentence]
    predictions: list[Prediction]
    encoding: str = "utf-8"
    warnings: list[str] = field(default_factory=list)
