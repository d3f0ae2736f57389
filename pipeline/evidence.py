"""Evidence quotes (LABELING.md) against sentence text: the one rule for "this quote is this sentence".

Hand labels quote the document whitespace-normalised and keep a hyphen that ended a line; the
pipeline's sentences have it undone. Scoring, training pairs, linking scores and compare all match
quotes this way.
"""
from __future__ import annotations

import re

from .records import Label, Sentence

EVIDENCE_JACCARD = 0.5  # the default of evaluation.evidence_jaccard
_WS = re.compile(r"\s+")
# A hyphen that ended a line: "instäm-mer" / "instäm- mer" -> "instämmer". Applied to both sides, so
# genuine compounds ("kultur- och") are changed the same way on each and still match.
_LINE_HYPHEN = re.compile(r"(?<=\w)-\s*(?=[a-zåäöéü])")
_TOKEN = re.compile(r"\w+")


def normalise_quote(text: str) -> str:
    """Lower-case, whitespace-collapsed, de-hyphenated text, so quotes from raw and normalised text compare."""
    text = _WS.sub(" ", text.replace("\u00ad", "-")).strip()
    return _LINE_HYPHEN.sub("", text).lower()


def _jaccard(a: str, b: str) -> float:
    ta, tb = set(_TOKEN.findall(a)), set(_TOKEN.findall(b))
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def quotes_overlap(gold: str, predicted: str, jaccard: float = EVIDENCE_JACCARD) -> bool:
    """True when one text contains the other or they share enough tokens (sentence splits differ)."""
    a, b = normalise_quote(gold), normalise_quote(predicted)
    if not a or not b:
        return False
    return a in b or b in a or _jaccard(a, b) >= jaccard


def evidence_sentences(sentences: list[Sentence], quotes) -> tuple[set[int], list[str]]:
    """Indices of the (non-heading) sentences matching any of `quotes`, and the quotes that matched none."""
    found, unmatched = set(), []
    for q in quotes:
        hits = {s.index for s in sentences if not s.is_heading and quotes_overlap(q, s.text)}
        if not hits:
            unmatched.append(q)
        found |= hits
    return found, unmatched


def gold_links(sentences: dict[str, list[Sentence]], labels: list[Label]) -> tuple[dict, list[dict]]:
    """{(doc_id, proposal_id, sentence index): (stance, basis)} from the labels' evidence quotes,
    and the quotes that matched no sentence (reported, never silently dropped)."""
    gold, unmatched = {}, []
    for lab in labels:
        if lab.stance == "none" or lab.doc_id not in sentences:
            continue
        idx, missing = evidence_sentences(sentences[lab.doc_id], lab.evidence)
        unmatched += [{"doc_id": lab.doc_id, "proposal_id": lab.proposal_id, "quote": q} for q in missing]
        for i in idx:
            gold[(lab.doc_id, lab.proposal_id, i)] = (lab.stance, lab.basis)
    return gold, unmatched
