"""Link: which proposals a sentence is about, and why.

A sentence names a proposal itself (its section number, the object of *förslaget om …*, the
proposal's own words, or a paraphrase close in embedding space), or it takes the proposal from its
context: the label of its bullet, the heading it stands under, the previous sentence of the
paragraph when it only says *förslaget*. Context links are kept for sentences that say something
about the proposal (a position, a risk, a condition, *förslaget*): the sentences an analyst would
quote, not every line of background under a heading. A statement on the inquiry or a group of its
proposals (*övriga förslag*, *förslagen i kapitel 6*) links to none: the classifier gives it to the
proposals of its scope.

Of the sentences about a proposal (`about`), `link` keeps those that show the respondent's stance on
it (`showing`): the position stated outright, hedges, the respondent's stated views, judgements of
*förslaget* — not every argument around them, which an analyst does not quote and which cannot change
the lexicon's decision. `about` is what the review queue reads for disagreements and what a trained
classifier reads its own readings of.

Two linkers share those signals (pipeline/stages/link_signals.py): `rules.v1`, whose thresholds are
written out below and need no training, and `learned.v1`, a logistic regression over the same
signals fitted on the evidence sentences of labelled corpora (`train`), which falls back to the rules
until it is trained. Every link carries its reason (`Link.why`), shown with the evidence in the report.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from ..files import write_json
from ..records import Catalog, Sentence
from ..registry import register
from .catalog_match import CatalogMatcher
from .cues import read_document_cues
from .link_signals import FEATURES, STRONG_LEX, DocSignals, compute

_F = {f: k for k, f in enumerate(FEATURES)}


class Link(float):
    """A link strength (above 1: the sentence names the proposal itself; 1: from its context) that also
    says why it was made."""

    def __new__(cls, strength: float, why: str = ""):
        obj = super().__new__(cls, strength)
        obj.why = why
        return obj

    def __reduce__(self):
        return (Link, (float(self), self.why))


@register("linker", "rules.v1")
class RuleLinker(BaseEstimator):
    """Links by the signals' rules; `fit(catalog)` learns the catalog's vocabulary once."""

    trainable = False

    def __init__(self, min_lex: float = 0.2, min_z: float = 1.5, relative: float = 0.6, min_object: float = 0.25,
                 min_embedding_z: float = 2.5, use_embeddings: bool = True, context_needs_position: bool = True):
        self.min_lex = min_lex
        self.min_z = min_z
        self.relative = relative
        self.min_object = min_object
        self.min_embedding_z = min_embedding_z
        self.use_embeddings = use_embeddings
        self.context_needs_position = context_needs_position

    @property
    def requires(self) -> frozenset[str]:
        return frozenset({"sentence_vectors"}) if self.use_embeddings else frozenset()

    def fit(self, catalog: Catalog, proposal_vectors=None) -> "RuleLinker":
        if self.use_embeddings and proposal_vectors is None:
            raise ValueError("this linker reads embeddings: configure an embedder, or linker.use_embeddings=false")
        self.catalog_ = catalog
        self.ids_ = catalog.ids
        self.matcher_ = CatalogMatcher().fit(catalog)
        self.proposal_vectors_ = None if proposal_vectors is None else np.asarray(proposal_vectors)
        return self

    def signals(self, sentences: list[Sentence], sentence_vectors=None, cues=None) -> DocSignals:
        if self.use_embeddings and sentence_vectors is None and sentences:
            raise ValueError("this linker reads embeddings: configure an embedder, or linker.use_embeddings=false")
        cues = cues if cues is not None else read_document_cues(sentences)
        vectors = sentence_vectors if self.use_embeddings else None
        return compute(sentences, self.matcher_, cues, vectors, self.proposal_vectors_ if self.use_embeddings else None,
                       self.min_lex, self.min_z)

    def link(self, sentences: list[Sentence], sentence_vectors=None, cues=None) -> list[dict[str, Link]]:
        """For each sentence, {proposal_id: Link} of the proposals whose stance it shows (empty: none)."""
        cues = cues if cues is not None else read_document_cues(sentences)
        return showing(self.about(sentences, sentence_vectors, cues), cues)

    def about(self, sentences: list[Sentence], sentence_vectors=None, cues=None) -> list[dict[str, Link]]:
        """For each sentence, {proposal_id: Link} of the proposals it is about, arguments and all."""
        sig = self.signals(sentences, sentence_vectors, cues)
        return [{} if s.is_heading else self._links(sig, i) for i, s in enumerate(sentences)]

    # -- the rules -------------------------------------------------------------------------------
    STRONG_LEX = STRONG_LEX
    FULL_REACH = 9  # n - 1 of the catalog size (ten) from which a z can reach 3: the bars below stand as they are
    DISTINCT_LEX_Z = 2.5  # lex z at which a sentence's own words name a proposal beside the one its context names

    def tiers(self, sig: DocSignals, i: int) -> list[tuple[str, dict[int, tuple[float, str]]]]:
        """The candidate links of sentence i by how surely they name a proposal, surest first:
        ("own", the sentence names it: number, "förslaget om X", its title, its bullet label, its distinctive
        words), ("numbered", a heading that names it by number), ("context", the previous sentence when this
        one only says "förslaget", or the heading's words), ("weak", a few shared words or a close embedding)."""
        x = sig.x[i]
        lex, lex_z = x[:, _F["lex"]], x[:, _F["lex_z"]]
        # a z over n proposals is at most sqrt(n - 1): the high bars are those of ten proposals or more,
        # lowered with the reach of a smaller catalog, where one proposal alone could never clear them
        reach = min(1.0, np.sqrt(max(len(x) - 1, 1) / self.FULL_REACH))
        own: dict[int, tuple[float, str]] = {int(j): (1.0, "section number in the sentence")
                                             for j in np.flatnonzero(x[:, _F["section"]])}
        ambiguous: list[list[int]] = []  # proposals one object phrase fits about equally well
        before = set(np.flatnonzero(x[:, _F["named_before"]]))
        for row in (sig.objects[i] if sig.objects else ()):
            if row.max(initial=0.0) < self.min_object:
                # a short object that fits what the paragraph has just named ("förslaget om X" after a fuller mention)
                for j in before:
                    if row[j] > 0 and row[j] >= self.relative * row.max():
                        own.setdefault(int(j), (float(row[j]), "named after 'förslaget om', as just before"))
                continue
            z = (row - row.mean()) / (row.std() + 1e-6)
            fits = [int(j) for j in np.flatnonzero((row >= self.relative * row.max()) & (z >= 1.0))]
            for j in fits:
                own.setdefault(j, (float(row[j]), "named after 'förslaget om'"))
            if len(fits) > 1:
                ambiguous.append(fits)
        for j in np.flatnonzero(x[:, _F["title_head"]]):  # the opening words of its title, quoted
            own.setdefault(int(j), (self.STRONG_LEX, "the proposal's title"))
        label = {int(j): (self.STRONG_LEX, f"bullet label '{sig.label_text[i]}'") for j in np.flatnonzero(x[:, _F["label"]])}
        named = {**label, **own}
        words: dict[int, tuple[float, str]] = {}
        weak: dict[int, tuple[float, str]] = {}
        top = lex.max(initial=0.0)
        if top >= self.min_lex:
            for j in np.flatnonzero((lex >= self.relative * top) & (lex >= self.min_lex) & (lex_z >= self.min_z)):
                (words if lex[j] >= self.STRONG_LEX else weak)[int(j)] = (float(lex[j]), "the proposal's words")
        clause = x[:, _F["clause_lex"]]
        for j in np.flatnonzero((clause >= self.STRONG_LEX) & (x[:, _F["clause_z"]] >= self.min_z)):
            words.setdefault(int(j), (float(clause[j]), "the proposal's words (in its clause)"))
        if self.use_embeddings and x[0, _F["position"]] > 0:  # a position about something its words don't name
            ez = x[:, _F["emb_z"]]
            for j in np.flatnonzero((ez >= reach * self.min_embedding_z) & (x[:, _F["emb_top"]] > 0)):
                weak.setdefault(int(j), (0.25, "close in meaning (embedding)"))
        numbered = {int(j): (0.0, f"heading '{sig.heading_text[i]}'") for j in np.flatnonzero(x[:, _F["heading_section"]])}
        previous = {int(j): (0.0, "the previous sentence") for j in np.flatnonzero(x[:, _F["previous"]])}
        heading = {int(j): (0.0, f"heading '{sig.heading_text[i]}'") for j in np.flatnonzero(x[:, _F["heading"]])}
        if named:  # the sentence names its proposals by number, "förslaget om" or its label: the rest is detail
            words = {j: v for j, v in words.items() if j in named or x[j, _F["clause_lex"]] >= 0.5}
        own = {**words, **named}
        context = numbered or previous or heading
        if x[0, _F["bare_verdict"]] and context and own and all(why.startswith("the proposal's words")
                                                               for _, why in own.values()):
            own = {j: v for j, v in own.items() if j in context}  # "tillstyrker förslaget" under its heading
        elif numbered and any(j in numbered for j in own):
            # under a numbered heading, words shared with another proposal do not move the sentence there
            own = {j: v for j, v in own.items() if j in numbered or not v[1].startswith("the proposal's words")}
        for fits in ambiguous:  # a phrase that fits several proposals: the ones its context names, else the one
            agree = [j for j in fits if j in context] or [j for j in fits if j in before]  # just discussed
            if agree:
                own = {j: v for j, v in own.items() if j in agree or j not in fits}
        context_tier = previous or heading
        if context_tier and not numbered and not x[0, _F["position"]]:
            # no position stated, and the sentence's own words name another proposal distinctly: a candidate
            # beside its context, and of the two `_tier_links` keeps the one another signal confirms (its words)
            for j, v in weak.items():
                if v[1] == "the proposal's words" and x[j, _F["lex_top"]] and lex_z[j] >= reach * self.DISTINCT_LEX_Z \
                        and j not in context_tier:
                    context_tier = {**context_tier, j: (0.0, "the proposal's words, over its context's")}
        return list(zip(self.TIERS, (own, numbered, context_tier, weak)))

    TIERS = ("own", "numbered", "context", "weak")  # the kinds of `tiers`, surest first

    def _links(self, sig: DocSignals, i: int) -> dict[str, Link]:
        return self._tier_links(sig, i)[1]

    def _tier_links(self, sig: DocSignals, i: int) -> tuple[str, dict[str, Link]]:
        """The links of sentence i and the tier of `tiers` they came from ("" for none)."""
        x = sig.x[i]
        if not len(x) or x[0, _F["description"]] > 0:
            return "", {}  # the inquiry described: no view of the respondent's to link
        if x[0, _F["general"]] > 0:
            return "", {}  # on the inquiry or a group ("övriga förslag", "förslagen i kapitel 6"): the classifier
            # gives it to the proposals of its scope, not to the heading or the best-matching title
        says_something = x[0, _F["position"]] > 0 or x[0, _F["about"]] > 0 or x[0, _F["normative"]] > 0
        tiers = self.tiers(sig, i)
        for k, (kind, found) in enumerate(tiers):
            if kind != "own" and self.context_needs_position and not says_something:
                continue  # background under a heading, or a few shared words: not what the sentence is about
            if not found:
                continue
            loose = [j for j, (_, why) in found.items() if why == "the proposal's words" or kind != "own"]
            if len(loose) > 1 and kind != "numbered":  # several candidates from one loose signal: those another
                # signal agrees with (a heading naming several by number, "7.3 och 7.5 …", names each of them)
                others = {j for _, t in tiers[:k] + tiers[k + 1:] for j in t} | set(np.flatnonzero(x[:, _F["lex_top"]]))
                # and those that a clause of their own names ("välkomnar X, och delar uppfattningen att Y")
                others |= {j for j in loose if x[j, _F["clause_lex"]] >= self.STRONG_LEX and x[j, _F["clause_z"]] >= self.min_z}
                if others & set(loose):
                    found = {j: v for j, v in found.items() if j in others or j not in loose}
            return kind, {self.ids_[j]: Link(1.0 + score, why) for j, (score, why) in found.items()}
        return "", {}


def showing(links: list[dict[str, Link]], cues: list) -> list[dict[str, Link]]:
    """Of the sentences about each proposal, those that show the respondent's stance on it: where one
    states a position outright, the leans and background around it are its arguments, not its evidence;
    where the strongest says no more than a lean, the sentences without one are background. Hedges
    and the respondent's stated views ("Nämnden anser att …") are kept. What is dropped could not
    change the lexicon's decision, which the strongest readings carry."""
    readings = [c.polarity() for c in cues]
    strength = [2 if weight >= 2 else 1 if stance else 0 for stance, weight in readings]
    best: dict[str, int] = {}
    for i, ln in enumerate(links):
        for pid in ln:
            best[pid] = max(best.get(pid, 0), strength[i])
    return [{pid: link for pid, link in ln.items()
             if strength[i] >= best[pid] or cues[i].voiced or readings[i][0] == "mixed"
             or (strength[i] and cues[i].about_proposal)}
            for i, ln in enumerate(links)]


@register("linker", "learned.v1")
class LearnedLinker(RuleLinker):
    """The rule linker, checked by a logistic regression over the same signals fitted on evidence
    sentences (`train`): a rule link stays where the model gives it at least `min_keep`, and the model
    adds a pair the rules missed from `threshold` up. Untrained, it links by the rules alone.

    The rules find nearly every sentence an analyst would quote, and some background besides; the
    model, having seen which sentences annotators quote, drops the background the rules let through.
    It reads which tier of the rules linked a pair (a number in the sentence is surer than a heading's
    words), so it learns how far to trust each rule rather than rebuilding them from the raw signals.
    """

    trainable = True

    def __init__(self, threshold: float = 0.5, min_keep: float = 0.05, C: float = 1.0, min_lex: float = 0.2,
                 min_z: float = 1.5, relative: float = 0.6, min_object: float = 0.25, min_embedding_z: float = 2.5,
                 use_embeddings: bool = True, context_needs_position: bool = True):
        super().__init__(min_lex, min_z, relative, min_object, min_embedding_z, use_embeddings, context_needs_position)
        self.threshold = threshold
        self.min_keep = min_keep
        self.C = C

    def pair_features(self, sig: DocSignals, ruled=None) -> np.ndarray:
        """(n_sentences, n_proposals, n_features) of one document, with the linker fitted to its catalog:
        the signals, some of them given a stated position, and the tier of the rules that linked the pair
        (`ruled`: the rules' (tier, links) per sentence, when the caller has them already)."""
        x = sig.x
        ruled = ruled if ruled is not None else [self._tier_links(sig, i) for i in range(x.shape[0])]
        pos = x[:, :, [_F["position"]]]
        ctx = x[:, :, [_F[f] for f in ("lex", "lex_top", "object_lex", "section", "emb_z", "heading", "label",
                                       "previous")]]
        tier = np.zeros(x.shape[:2] + (len(self.TIERS),))
        for i, (kind, links) in enumerate(ruled):
            for pid in links:
                tier[i, self.ids_.index(pid), self.TIERS.index(kind)] = 1.0
        return np.concatenate([x, pos * ctx, tier], axis=2)

    def train(self, examples) -> "LearnedLinker":
        """Fit on [(pair_features of a document, labels (n_sentences, n_proposals) of 1 evidence / 0 not /
        -1 unknown)]."""
        from sklearn.linear_model import LogisticRegression

        X = np.concatenate([f.reshape(-1, self.n_features) for f, _ in examples])
        y = np.concatenate([lab.reshape(-1) for _, lab in examples])
        keep = y >= 0
        model = LogisticRegression(C=self.C, max_iter=5000, random_state=0).fit(X[keep], y[keep])
        self.coef_, self.intercept_ = model.coef_[0].copy(), float(model.intercept_[0])
        return self

    @property
    def n_features(self) -> int:
        return len(FEATURES) + 8 + len(self.TIERS)

    def proba(self, sig: DocSignals, ruled=None) -> np.ndarray:
        z = self.pair_features(sig, ruled) @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))

    def about(self, sentences: list[Sentence], sentence_vectors=None, cues=None) -> list[dict[str, Link]]:
        if not hasattr(self, "coef_"):
            return super().about(sentences, sentence_vectors, cues)
        sig = self.signals(sentences, sentence_vectors, cues)
        ruled = [self._tier_links(sig, i) for i in range(len(sentences))]  # once: features and links both
        p = self.proba(sig, ruled)
        out = []
        for i, s in enumerate(sentences):
            if s.is_heading:
                out.append({})
                continue
            links = {}
            for pid, link in ruled[i][1].items():
                j = self.ids_.index(pid)
                if p[i, j] >= self.min_keep:
                    links[pid] = Link(float(link), f"{link.why}; p={p[i, j]:.2f}")
            for j in np.flatnonzero(p[i] >= self.threshold):
                if self.ids_[j] not in links:
                    links[self.ids_[j]] = Link(1.0, f"the learned linker; p={p[i, j]:.2f}")
            out.append(links)
        return out

    def save(self, directory) -> list[str]:
        write_json({"features": list(FEATURES), "coef": [float(c) for c in self.coef_], "intercept": self.intercept_},
                   Path(directory) / "linker.json")
        return ["linker.json"]

    def load_weights(self, directory) -> "LearnedLinker":
        spec = json.loads((Path(directory) / "linker.json").read_text(encoding="utf-8"))
        if spec.get("features") != list(FEATURES) or len(spec.get("coef") or []) != self.n_features:
            raise ValueError("linker.json does not match this version's link signals: retrain with `stance train`")
        self.coef_, self.intercept_ = np.asarray(spec["coef"], float), float(spec["intercept"])
        return self
