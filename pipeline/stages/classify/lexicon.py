"""The lexicon classifier: one stance per (document, proposal), with the sentences that show it.

It links sentences to proposals, reads their cues clause by clause and aggregates them the way
LABELING.md defines the labels: a specific statement overrides a general one, remarks that accept a
proposal do not change support, description of the inquiry is not stance, a blanket line without a
position leaves the rest `none`. Trained classifiers reuse `aggregate` with their own readings.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, clone

from ...errors import InputError
from ...files import loads_json, read_text, write_json
from ...records import STANCES, Catalog, Corpus, Doc, Evidence, Prediction, Proposal, Sentence
from ...registry import parameters, register
from ..link import RuleLinker
from ..cues import FLIP, Cues, Reading, clauses, negated_target, read_cues, read_document_cues

POSITIONS = ("support", "oppose", "mixed")
# How a sentence names a proposal it then takes no position on (a comment: neutral). Sharing words
# with it is not naming it ("delar utredningens bild av problemen").
NAMING = ("section number", "named after", "bullet label", "the proposal's title")


def as_corpora(corpus) -> list[Corpus]:
    """`fit` takes one Corpus or several."""
    corpora = [corpus] if isinstance(corpus, Corpus) else list(corpus)
    if not corpora:
        raise ValueError("fit needs at least one corpus")
    return corpora
_SCOPED = re.compile(r"\bde\s+förslag\s+som\b", re.I)
# "förslagen om avgifterna", "övriga förslag om utvärderingen": the words that name a group.
_GROUP_WORDS = re.compile(r"\b(?:förslag(?:en)?|bedömningar(?:na)?)\s+(?:om|kring|gällande|rörande|avseende|inom|för)\s+"
                          r"(.{3,80}?)(?=[,;.]|\s+(?:och|men|samt)\s|$)", re.I)


@register("classifier", "lexicon.v2")
class LexiconClassifier(BaseEstimator):
    """Rule-based stance classifier: the baseline every trained model must beat; it learns nothing.

    The stage contract every classifier follows: `requires` (the inputs it reads besides sentences:
    `sentence_vectors` where it or its linker reads embeddings), `fit(corpus)` (learn, where there is
    anything to learn, and bind the inquiry), `bind(catalog, proposal_vectors)` (the inquiry to
    predict for; a trained model is bound to each new catalog), `predict(doc)`.
    """

    trainable = False

    def __init__(self, linker: RuleLinker | None = None, general_score: float = 0.6, comment_score: float = 0.5,
                 named: float = 0.35, named_by_words: float = 0.5):
        self.linker = linker
        self.general_score = general_score
        self.comment_score = comment_score
        # "addressed by name, no position taken" is a neutral comment: named by number, "förslaget om" or
        # a label from `named`, by the proposal's own words only from `named_by_words`
        self.named = named
        self.named_by_words = named_by_words

    @property
    def requires(self) -> frozenset[str]:
        return frozenset(getattr(self.linker, "requires", frozenset()))

    @property
    def learns(self) -> bool:
        """Whether `fit` learns from labels (the classifier or its linker)."""
        return bool(self.trainable or getattr(self.linker, "trainable", False))

    def bind(self, catalog: Catalog, proposal_vectors=None) -> "LexiconClassifier":
        """Fit the linker on the catalog, once: every `predict` then links against it."""
        self.catalog_ = catalog
        self.proposal_vectors_ = proposal_vectors
        linker = self.linker_ if getattr(self, "linker_", None) is not None else (
            clone(self.linker) if self.linker is not None else RuleLinker(use_embeddings=False))
        self.linker_ = linker.fit(catalog, proposal_vectors)
        return self

    def fit(self, corpus) -> "LexiconClassifier":
        """Bind the catalog; a learned linker is fitted on the labels first. `corpus`: one Corpus, or
        several (of one inquiry or many): the last catalog is bound."""
        corpora = as_corpora(corpus)
        self.fit_linker(corpora)
        self.classes_ = np.asarray(STANCES)
        self.training_summary_ = {"documents": sorted({lab.doc_id for c in corpora for lab in c.labels})}
        return self.bind(corpora[-1].catalog, corpora[-1].proposal_vectors)

    def fit_linker(self, corpora: list[Corpus]) -> None:
        """A fresh linker; a learned one trained on the labelled documents of `corpora`."""
        self.linker_ = None
        if not any(c.labels for c in corpora):
            return
        self.bind(corpora[0].catalog, corpora[0].proposal_vectors)
        if getattr(self.linker_, "trainable", False):
            from ..link_training import train_linker

            train_linker(self.linker_, corpora)

    # -- artifacts: the lexicon learns nothing, so its file holds its settings (the linker saves its own)
    def save(self, directory) -> dict:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_json({"hyperparameters": self.hyperparameters()}, directory / "lexicon.json")
        return {"weights": ["lexicon.json"]}

    @classmethod
    def load(cls, directory, linker=None, **overrides) -> "LexiconClassifier":
        _, hyper = cls.read_spec(Path(directory) / "lexicon.json")
        clf = cls(linker=linker, **{**hyper, **overrides})
        clf.classes_ = np.asarray(STANCES)
        return clf

    def hyperparameters(self) -> dict:
        return {k: v for k, v in self.get_params(deep=False).items() if k != "linker"}

    @classmethod
    def read_spec(cls, path) -> tuple[dict, dict]:
        """(spec, hyperparameters) of a saved model's JSON spec (features.json, finetune.json).

        The spec comes from an artifact someone else may have made: the hyperparameters must be
        parameters of this class, each a plain JSON value (no mapping that could name a component).
        """
        spec = loads_json(read_text(path, MAX_SPEC_BYTES))
        if not isinstance(spec, dict) or not isinstance(spec.get("hyperparameters"), dict):
            raise InputError(path, "not a model spec (no 'hyperparameters' mapping)")
        hyper = spec["hyperparameters"]
        allowed = set(parameters(cls)) - {"linker"}
        unknown = sorted(k for k in hyper if k not in allowed)
        if unknown:
            raise InputError(path, f"unknown hyperparameter(s) {', '.join(map(str, unknown))} for "
                                   f"{cls.component} (it takes {', '.join(sorted(allowed))})")
        nested = sorted(k for k, v in hyper.items() if not _plain(v))
        if nested:
            raise InputError(path, f"hyperparameter(s) {', '.join(nested)} must be plain values (numbers, "
                                   f"strings, lists of them)")
        return spec, hyper

    def predict(self, doc: Doc) -> list[Prediction]:
        cues = read_document_cues(doc.sentences)
        return self.aggregate(doc.sentences, self.catalog_, cues, self.links(doc, cues))

    def links(self, doc: Doc, cues=None) -> list[dict[str, float]]:
        """For each sentence, {proposal_id: link strength} of the proposals whose stance it shows (see
        pipeline/stages/link.py)."""
        return self._bound_linker().link(doc.sentences, doc.vectors, cues)

    def about(self, doc: Doc, cues=None) -> list[dict[str, float]]:
        """For each sentence, the proposals it is about, arguments included: what a trained model reads."""
        return self._bound_linker().about(doc.sentences, doc.vectors, cues)

    def _bound_linker(self):
        if getattr(self, "linker_", None) is None:
            raise RuntimeError(f"{type(self).__name__} is not bound to a catalog: call fit(corpus) or bind(catalog)")
        return self.linker_

    @staticmethod
    def lexicon_reading(c: Cues, p: Proposal, general: bool = False) -> Reading:
        """The lexicon's reading of a sentence toward `p`: its polarity, flipped for a negatively
        phrased target when the sentence argues about the action rather than the proposal."""
        stance, w = c.polarity()
        if not general and stance in FLIP and negated_target(p) and not (c.about_proposal or c.restates_negation):
            stance = FLIP[stance]  # arguing against sanctions supports "no sanctions"
        return Reading(stance, w)

    # -- clauses and groups ------------------------------------------------------------------------
    def pair_cues(self, s: Sentence, c: Cues, linked) -> dict[str, Cues]:
        """Cues per linked proposal for a sentence about several: each proposal gets the clause that names
        it (*positiv till X och Y, men avstyrker Z*); a clause without a position of its own takes the one
        before it. Proposals no clause names keep the sentence's cues."""
        matcher = getattr(getattr(self, "linker_", None), "matcher_", None)
        if len(linked) < 2 or matcher is None:
            return {}
        spans = clauses(s.text)
        if len(spans) < 2:
            return {}
        texts = [s.text[a:b] for a, b in spans]
        scores = matcher.scores(texts)
        own = [read_cues(Sentence(s.doc_id, s.index, t, s.start, s.end, s.headings, s.sections, False, s.bullet,
                                  s.block)) for t in texts]
        for k in range(1, len(own)):
            if not own[k].has_position:
                own[k] = own[k - 1]
        out = {}
        refs = [matcher.section_refs(t)[0] for t in texts]
        for pid in linked:
            col = matcher.ids_.index(pid)
            # a clause that names this proposal alone by number; else the clause its words are in
            column = np.array([1.0 if r == {pid} else 0.0 for r in refs]) + scores[:, col]
            k = int(column.argmax())
            if column[k] > 0 and (column[k] >= 1.0 or column[k] >= 1.5 * np.partition(column, -2)[-2]):
                out[pid] = own[k]
        return out

    def scope(self, s: Sentence, c: Cues | None = None) -> set[str] | None:
        """The proposals a general statement is about: a chapter (*förslagen i kapitel 6*) or the group
        its words name (*förslagen om avgifterna*), in the sentence or the one before it that it refers
        back to; None: all of them."""
        matcher = getattr(getattr(self, "linker_", None), "matcher_", None)
        if matcher is None:
            return None
        text = (c.scope_text if c is not None else None) or s.text
        exact, group = matcher.section_refs(text)
        if exact or group:
            return exact | group
        m = _GROUP_WORDS.search(text)
        if m:
            sc = matcher.scores([m.group(1)])[0]
            if sc.max() >= 0.15:
                return {pid for pid, v in zip(matcher.ids_, sc) if v >= 0.5 * sc.max()}
        return None

    # -- aggregation -------------------------------------------------------------------------------
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
        generals: list[tuple] = []  # (sentence, cues, last index addressed before, readings, addressed, scope)
        last_addressed = -1
        addressed: set[str] = set()
        for i, (s, c, ln) in enumerate(zip(doc_sentences, cues, links)):
            if s.is_heading:
                continue
            rd = None if readings is None else readings[i]
            if c.description and (rd is None or not any(r.stance for r in rd.values())):
                continue
            if c.general:
                generals.append((s, c, last_addressed, rd, frozenset(addressed), self.scope(s, c)))
                continue
            per = self.pair_cues(s, c, ln) if rd is None else {}
            for pid, strength in ln.items():
                pc = per.get(pid, c)
                explicit[pid].append((s, pc, strength, rd))
                positioned = pc.has_position if rd is None else rd.get(pid, Reading(None)).stance is not None
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
        votes = []  # (stance, strength, sentence, link, probability)
        none_probs = []
        for s, c, link, rd in items:
            r = self.lexicon_reading(c, p) if rd is None else rd.get(p.id, Reading(None))
            if r.stance is None:
                if r.prob is not None:
                    none_probs.append(r.prob)
                continue
            votes.append((r.stance, r.weight, s, link, r.prob))
        general = self._general(generals, index, p)
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
            return Prediction(doc_id, p.id, stance, score, "general", [_evidence(s, "general statement")])
        if comments:
            comments.sort(key=lambda v: (-(v[4] or 0.0), -v[3]))
            score = max((v[4] for v in comments if v[4] is not None), default=self.comment_score)
            return Prediction(doc_id, p.id, "neutral", score, "explicit", [_evidence(v[2], v[3]) for v in comments[:3]])
        named = [(s, link) for s, c, link, rd in items if link >= 1.0 + self.named and not c.description
                 and s.text.rstrip()[-1:] in ".!?:"  # a sentence, not a heading-like line or a list of names
                 and (getattr(link, "why", "").startswith(NAMING) or link >= 1.0 + self.named_by_words)]
        if named:  # addressed by name, no position taken: a comment
            return Prediction(doc_id, p.id, "neutral", self.comment_score, "explicit",
                              [_evidence(s, link) for s, link in named[:3]])
        if none_probs:
            return Prediction(doc_id, p.id, "none", min(none_probs), None, [])
        return Prediction(doc_id, p.id, "none", 0.9 if not items else 0.6, None, [])

    @staticmethod
    def _general(generals, index, proposal: Proposal):
        """The last general statement with a position that covers this proposal.

        A statement's scope is all proposals, a group (a chapter, the proposals its words name), or —
        *övriga förslag* — those the respondent has not taken a position on so far; a statement on a
        group *de förslag som …* covers those after the last one addressed. Returns (stance,
        sentence) for the lexicon, (stance, sentence, probability) for readings.
        """
        found, named = None, False  # named: found comes from a statement on a group it names
        for s, c, last, rd, done, scope in generals:
            if scope is not None and proposal.id not in scope:
                continue
            if c.general_rest and (proposal.id in done or named):
                continue  # the rest: neither what was addressed nor a group the respondent named
            if not c.general_rest and scope is None and last >= 0 and index <= last and _SCOPED.search(s.text):
                continue
            if rd is None:
                stance, _ = c.polarity()
                if stance in POSITIONS or (stance == "neutral" and scope is not None and not c.general_rest):
                    # declining on a group it names addresses that group (LABELING.md)
                    found, named = (stance, s), scope is not None and not c.general_rest
                elif stance == "neutral" and c.general_rest:
                    found = None  # "inga synpunkter på övriga förslag": what is left is not addressed
            else:
                r = rd.get(proposal.id, Reading(None))
                if r.stance in POSITIONS:
                    found = (r.stance, s, r.prob)
        return found

    @staticmethod
    def _aggregate(votes):
        """(stance, score, evidence) from votes (stance, strength, sentence, link, probability).

        Rule scores for the lexicon; with probabilities, the score is the highest probability among
        the votes that carry the decision.
        """
        votes = [tuple(v) + (None,) * (5 - len(v)) for v in votes]
        strong = {st for st, w, _, _, _ in votes if w >= 2}
        hesitant = any(st == "mixed" and w < 2 for st, w, _, _, _ in votes)  # a hedge: mixed beside support
        evidence = sorted(votes, key=lambda v: (-v[1], -v[3], -(v[4] or 0.0)))
        if "mixed" in strong or {"support", "oppose"} <= strong or (hesitant and "support" in strong):
            stance, score = "mixed", 0.7
            carriers = [v for v in votes if v[1] >= 2 and v[0] in POSITIONS]
        elif "support" in strong:
            stance, score = "support", 0.9
            carriers = [v for v in votes if v[1] >= 2 and v[0] == stance]
        elif "oppose" in strong:
            stance, score = "oppose", 0.9
            carriers = [v for v in votes if v[1] >= 2 and v[0] == stance]
        elif "neutral" in strong:  # "tar inte ställning" outweighs remarks that lean either way
            stance, score = "neutral", 0.8
            carriers = [v for v in votes if v[1] >= 2 and v[0] == stance]
        else:
            lean = {"support": 0, "oppose": 0}
            for st, w, _, _, _ in votes:
                if st in lean:
                    lean[st] += w
                elif st == "mixed":  # hesitation with nothing in favour leans against
                    lean["oppose"] += w
            if lean["support"] or lean["oppose"]:
                # remarks that accept a proposal do not outweigh support (LABELING.md): ties go to support
                stance = "support" if lean["support"] >= lean["oppose"] else "oppose"
                score = 0.6
            else:
                stance, score = "neutral", 0.8
            carriers = [v for v in votes if v[0] == stance or (stance == "oppose" and v[0] == "mixed")]
        probs = [v[4] for v in carriers if v[4] is not None]
        if probs:
            score = max(probs)
        shown = [v for v in evidence if v in carriers or v[0] == stance
                 or (stance == "mixed" and v[0] in POSITIONS)][:3] or evidence[:1]
        return stance, score, [_evidence(v[2], v[3]) for v in shown]


def _evidence(s: Sentence, link="") -> Evidence:
    why = link if isinstance(link, str) else getattr(link, "why", "") or "a trained classifier's reading"
    return Evidence(text=s.text, start=s.start, end=s.end, why=why)


MAX_SPEC_BYTES = 50_000_000  # features.json holds the feature vocabulary: a few hundred kB


def _plain(value) -> bool:
    if isinstance(value, list):
        return all(v is None or isinstance(v, (bool, int, float, str)) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))
