"""The review queue of `stance review`: the cells of a run in the order a correction is worth most.

1. cells scored below `report.low_confidence`, lowest first;
2. cells where the linker and the lexicon disagree;
3. the rest, lowest score first.

"Disagree" is read from what a run's parts hold (sentences with their offsets and headings, and the
predictions) and the catalog: the words-only linker (`rules.v1` without embeddings, with the run's linker
settings) says
which sentences are about a proposal, the lexicon (`read_cues`) what position each sentence takes,
and the cell's stance and evidence are what the run delivered. A cell is in the second tier when one of these
holds:

- *position not linked*: the cell is `none`, but a sentence that takes a position is linked to no
  proposal, and its words point to this one (its best word score is above 0.5 and this proposal has
  at least `relative` of it): the linker may have missed it;
- *linked position ignored*: the cell is `none`, but a sentence linked to it takes a position;
- *conflicting readings*: the cell is an explicit support/oppose/neutral, and a sentence linked to
  it reads another stance;
- *evidence not linked by words*: an explicit cell's evidence sentences are none of them linked to
  its proposal by words (embeddings or a trained model linked them: the weakest links);
- *lexicon alone differs*: the lexicon with the words-only linker decides the cell otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..records import Catalog, DocResult
from ..stages.classify.lexicon import LexiconClassifier
from ..stages.cues import read_document_cues
from ..stages.link import RuleLinker

LOW, DISAGREE, REST = 0, 1, 2
TIER_NAMES = {LOW: "low score", DISAGREE: "linker and lexicon disagree", REST: "the rest"}
NEAR_MISS = 0.5  # least word score of an unlinked position sentence for the proposal it points to


@dataclass
class QueueItem:
    doc_id: str
    proposal_id: str
    tier: int
    score: float
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"doc_id": self.doc_id, "proposal_id": self.proposal_id, "tier": self.tier,
                "tier_name": TIER_NAMES[self.tier], "score": self.score, "reasons": self.reasons}


def words_linker(linker_config: dict | None) -> RuleLinker:
    """The run's linker without its embeddings: `rules.v1` with the settings the two share."""
    params = set(RuleLinker().get_params()) - {"use_embeddings"}
    return RuleLinker(**{k: v for k, v in (linker_config or {}).items() if k in params}, use_embeddings=False)


def disagreements(result: DocResult, catalog: Catalog, linker: RuleLinker) -> dict[str, list[str]]:
    """{proposal_id: reasons} for the cells of one document where the linker and the lexicon disagree."""
    sents = result.sentences
    if not sents:
        return {}
    cues = read_document_cues(sents)
    links = linker.about(sents, None, cues)  # every sentence about a cell, arguments too: where they disagree
    lex = linker.signals(sents, None, cues).feature("lex")
    own = [{pid: float(lex[i, j]) for j, pid in enumerate(linker.ids_) if lex[i, j] > 0} for i in range(len(sents))]
    lexicon = LexiconClassifier(linker).bind(catalog)
    alone = {p.proposal_id: p for p in lexicon.aggregate(sents, catalog, cues, links)}
    usable = [i for i, s in enumerate(sents) if not s.is_heading and not cues[i].description and not cues[i].general]
    near_miss: set[str] = set()
    for i in usable:
        stance, _ = cues[i].polarity()
        if links[i] or stance not in ("support", "oppose", "mixed") or not own[i]:
            continue
        top = max(own[i].values())
        if top > NEAR_MISS:
            near_miss |= {pid for pid, v in own[i].items() if v >= linker.relative * top}
    out: dict[str, list[str]] = {}
    for pred in result.predictions:
        pid = pred.proposal_id
        if pid not in catalog.ids:
            continue
        prop = catalog[pid]
        readings = {LexiconClassifier.lexicon_reading(cues[i], prop).stance for i in usable if pid in links[i]} - {None}
        reasons = []
        if pred.stance == "none":
            if pid in near_miss:
                reasons.append("a sentence that takes a position is linked to no proposal; its words point here")
            if readings:
                reasons.append(f"a sentence linked here reads {'/'.join(sorted(readings))}; the cell says none")
        elif pred.basis == "explicit":
            if pred.stance != "mixed" and readings - {pred.stance}:
                reasons.append(f"sentences linked here read {'/'.join(sorted(readings - {pred.stance}))}, "
                               f"the cell says {pred.stance}")
            starts = {e.start for e in pred.evidence}
            if starts and not any(pid in links[i] for i, s in enumerate(sents) if s.start in starts):
                reasons.append("its evidence is not linked here by words (embeddings or a model linked it)")
        lex = alone.get(pid)
        if lex is not None and lex.stance != pred.stance:
            reasons.append(f"the lexicon with the words-only linker says {lex.stance}")
        if reasons:
            out[pid] = reasons
    return out


def review_queue(results: list[DocResult], catalog: Catalog, low_confidence: float,
                 linker_config: dict | None = None) -> list[QueueItem]:
    """Every cell of the run, in review order (see the module doc); ties in document and catalog order."""
    linker = words_linker(linker_config).fit(catalog)
    order = {pid: k for k, pid in enumerate(catalog.ids)}
    items = []
    for n, r in enumerate(results):
        disagree = disagreements(r, catalog, linker)
        for p in r.predictions:
            if p.proposal_id not in order:
                continue
            score = float(p.score)
            reasons = list(disagree.get(p.proposal_id, []))
            if score < low_confidence:
                tier = LOW
                reasons.insert(0, f"score {score:.2f} below {low_confidence:g}")
            else:
                tier = DISAGREE if reasons else REST
            items.append((tier, score, n, order[p.proposal_id], QueueItem(p.doc_id, p.proposal_id, tier, score, reasons)))
    items.sort(key=lambda t: t[:4])
    return [t[-1] for t in items]
