"""Plain records that flow between the stages, and their JSON: the only place that knows the formats.

Offsets (`start`, `end`) always index the *original* file text (`Document.raw`), so that
evidence can be shown in the document an analyst opened, not in our normalised copy.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STANCES = ("support", "oppose", "mixed", "neutral", "none")
BASES = ("explicit", "general")
PART_FORMAT = 1


@dataclass(frozen=True)
class Proposal:
    id: str
    title: str
    summary: str
    section: str | None = None
    kind: str = "forslag"
    english: str = ""
    aliases: tuple[str, ...] = ()  # other names respondents use for it, added by an analyst

    @property
    def text(self) -> str:
        """What encoders read for the proposal: its title and summary."""
        return f"{self.title}. {self.summary}"


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

    @property
    def with_heading(self) -> str:
        """The sentence with its innermost heading: "Kommunen tillstyrker förslaget" means little alone."""
        return f"{self.headings[-1]}: {self.text}" if self.headings and not self.is_heading else self.text

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Sentence":
        return cls(**{**d, "headings": tuple(d["headings"]), "sections": tuple(d["sections"])})


@dataclass
class Evidence:
    text: str
    start: int
    end: int
    why: str = ""  # why the sentence was tied to the proposal (the linker's signals)


@dataclass
class Prediction:
    doc_id: str
    proposal_id: str
    stance: str
    score: float
    basis: str | None
    evidence: list[Evidence] = field(default_factory=list)
    # Set on a cell an analyst reviewed (`stance review`): {"reviewer", "time", "note", "confidence",
    # "original": {"stance", "score", "basis"}}. Absent from the JSON otherwise.
    review: dict | None = None

    def to_json(self) -> dict:
        out = {
            "doc_id": self.doc_id,
            "proposal_id": self.proposal_id,
            "stance": self.stance,
            "score": round(float(self.score), 4),
            "basis": self.basis,
            "evidence": [{"text": e.text, "start": e.start, "end": e.end, "why": e.why} for e in self.evidence],
        }
        if self.review is not None:
            out["review"] = self.review
        return out

    @classmethod
    def from_json(cls, d: dict) -> "Prediction":
        """A row of predictions.jsonl (a missing score reads as NaN: unknown); KeyError/TypeError/ValueError
        when it is not one."""
        if d["stance"] not in STANCES:
            raise ValueError(f"unknown stance {d['stance']!r}")
        review = d.get("review")
        if review is not None and not isinstance(review, dict):
            raise ValueError("'review' must be an object")
        return cls(str(d["doc_id"]), str(d["proposal_id"]), d["stance"], float(d.get("score", "nan")), d.get("basis"),
                   [Evidence(str(e["text"]), int(e["start"]), int(e["end"]), str(e.get("why") or ""))
                    for e in d.get("evidence") or []], review)


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
class Doc:
    """One document as the classify stage reads it: its sentences and, where an embed stage ran, their
    vectors ((len(sentences), dim) float32, L2-normalised)."""

    doc_id: str
    sentences: list[Sentence]
    vectors: Any = None


@dataclass
class Corpus:
    """What a classifier is fitted on: the inquiry's catalog (with its proposals' vectors, where an embed
    stage ran), documents and, for training, their hand labels."""

    catalog: Catalog
    docs: dict[str, Doc]
    labels: list[Label] = field(default_factory=list)
    proposal_vectors: Any = None

    @property
    def doc_ids(self) -> list[str]:
        """The labelled documents, sorted: the folds of cross-validation."""
        labelled = {lab.doc_id for lab in self.labels}
        return sorted(d for d in self.docs if d in labelled)

    def subset(self, doc_ids) -> "Corpus":
        keep = set(doc_ids)
        return Corpus(self.catalog, {d: doc for d, doc in self.docs.items() if d in keep},
                      [lab for lab in self.labels if lab.doc_id in keep], self.proposal_vectors)


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

    def to_json(self) -> dict:
        return {"doc_id": self.doc_id, "path": self.path, "content_sha256": self.content_sha256,
                "encoding": self.encoding, "warnings": self.warnings,
                "sentences": [s.to_json() for s in self.sentences],
                "predictions": [p.to_json() for p in self.predictions]}

    @classmethod
    def from_json(cls, d: dict) -> "DocResult":
        return cls(d["doc_id"], d["path"], d["content_sha256"], [Sentence.from_json(s) for s in d["sentences"]],
                   [Prediction.from_json(p) for p in d["predictions"]], d.get("encoding", "utf-8"),
                   list(d.get("warnings") or []))


@dataclass(frozen=True)
class CellValue:
    """What a cell says: its stance, basis and evidence, and (from an analyst) a note and a confidence."""

    stance: str
    basis: str | None
    evidence: tuple[Evidence, ...] = ()
    note: str = ""
    confidence: str = "high"

    def to_json(self) -> dict:
        return {"stance": self.stance, "basis": self.basis,
                "evidence": [{"text": e.text, "start": e.start, "end": e.end} for e in self.evidence],
                "note": self.note, "confidence": self.confidence}

    @classmethod
    def from_json(cls, d: dict) -> "CellValue":
        """KeyError/TypeError/ValueError when `d` is not a valid cell value."""
        if d["stance"] not in STANCES:
            raise ValueError(f"unknown stance {d['stance']!r}")
        basis = d.get("basis")
        if (d["stance"] == "none") != (basis is None) or (basis is not None and basis not in BASES):
            raise ValueError(f"basis {basis!r} does not fit stance {d['stance']!r}")
        confidence = str(d.get("confidence") or "high")
        if confidence not in ("high", "low"):
            raise ValueError(f"unknown confidence {confidence!r}")
        return cls(d["stance"], basis, tuple(Evidence(str(e["text"]), int(e["start"]), int(e["end"]))
                                             for e in d.get("evidence") or []), str(d.get("note") or ""), confidence)


@dataclass(frozen=True)
class Correction:
    """One save of an analyst's review of a cell (a line of a run's corrections.jsonl): the cell, its value
    before and after, who and when. A save that keeps the value (old == new) is an acceptance."""

    doc_id: str
    proposal_id: str
    old: CellValue
    new: CellValue
    reviewer: str
    time: str  # ISO 8601, UTC

    @property
    def key(self) -> tuple[str, str]:
        return self.doc_id, self.proposal_id

    @property
    def changed(self) -> bool:
        return (self.old.stance, self.old.basis) != (self.new.stance, self.new.basis)

    def to_json(self) -> dict:
        return {"doc_id": self.doc_id, "proposal_id": self.proposal_id, "old": self.old.to_json(),
                "new": self.new.to_json(), "reviewer": self.reviewer, "time": self.time}

    @classmethod
    def from_json(cls, d: dict) -> "Correction":
        if not isinstance(d, dict) or not all(isinstance(d.get(k), str) for k in ("doc_id", "proposal_id", "reviewer",
                                                                                   "time")):
            raise ValueError("not a correction (doc_id, proposal_id, reviewer, time)")
        return cls(d["doc_id"], d["proposal_id"], CellValue.from_json(d["old"]), CellValue.from_json(d["new"]),
                   d["reviewer"], d["time"])
