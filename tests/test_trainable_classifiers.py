"""Trainable classifiers: training pairs from labels, pair features, readings, aggregation, persistence.

Vectors are seeded random unit vectors (the features do not care where vectors come from), so these
tests need no encoder; the fine-tune tests use the tiny local BERT of conftest.py.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from sklearn.base import clone

from pipeline.core.catalog import load_catalog, load_labels
from pipeline.errors import EncoderUnavailable
from pipeline.evaluation.linking import link_evaluation
from pipeline.evidence import evidence_sentences, gold_links
from pipeline.records import STANCES, Corpus, Doc, Label, Sentence
from pipeline.stages.cues import Reading, read_cues
from pipeline.stages.classify.features import CUE_NAMES, LEXICON_NAMES, PairFeatures, candidate_pairs
from pipeline.stages.classify.finetune import FinetuneClassifier
from pipeline.stages.classify.lexicon import LexiconClassifier
from pipeline.stages.classify.logreg import LogRegClassifier
from pipeline.stages.ingest import read_document
from pipeline.stages.link import RuleLinker
from pipeline.stages.segment import Segmenter

from conftest import CORPUS, ROOT

os.environ.setdefault("HF_HUB_OFFLINE", "1")
DIM = 16


@pytest.fixture(scope="module")
def corpus():
    catalog = load_catalog(ROOT / "data" / "sou-2024-72" / "proposals.yaml")
    seg = Segmenter()
    sentences = {p.stem: seg.segment(read_document(p)) for p in sorted(CORPUS.glob("*.txt"))}
    labels = load_labels(ROOT / "data" / "sou-2024-72" / "labels" / "stance.jsonl", catalog, doc_ids=list(sentences))
    rng = np.random.default_rng(0)

    def unit(n):
        x = rng.normal(size=(n, DIM)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    vectors = {d: unit(len(s)) for d, s in sentences.items()}
    pv = unit(len(catalog.ids))
    with_vectors = Corpus(catalog, {d: Doc(d, s, vectors[d]) for d, s in sentences.items()}, labels, pv)
    text_only = Corpus(catalog, {d: Doc(d, s) for d, s in sentences.items()}, labels)
    return {"catalog": catalog, "sentences": sentences, "labels": labels, "sv": vectors, "pv": pv,
            "corpus": with_vectors, "text": text_only}


def fit_logreg(corpus, docs=None, **kw):
    docs = docs or sorted(corpus["sentences"])
    return LogRegClassifier(linker=RuleLinker(use_embeddings=False), **kw).fit(corpus["corpus"].subset(docs))


def predict(clf, corpus, doc):
    return clf.predict(corpus["corpus"].docs[doc])


def bound(clf, corpus):
    return clf.bind(corpus["catalog"], corpus["pv"])


# ------------------------------------------------------------------------------ gold pairs


def test_every_evidence_quote_of_the_labels_matches_a_sentence(corpus):
    gold, unmatched = gold_links(corpus["sentences"], corpus["labels"])
    assert unmatched == []
    addressed = {(lab.doc_id, lab.proposal_id) for lab in corpus["labels"] if lab.stance != "none"}
    assert {(d, p) for d, p, _ in gold} == addressed
    # a hyphen that ended a line in the quote still matches the normalised sentence
    sents = corpus["sentences"]["riksforeningen-mas-mar"]
    idx, missing = evidence_sentences(sents, ["Vi håller med om att läkarmedverkan bör stärkas inom befintliga strukturer."])
    assert missing == [] and len(idx) == 1


def test_training_pairs_carry_the_cell_stance_on_evidence_and_none_elsewhere(corpus):
    clf = bound(LogRegClassifier(linker=RuleLinker(use_embeddings=False)), corpus)
    docs, y = clf.training_pairs(corpus["corpus"])
    gold, _ = gold_links(corpus["sentences"], corpus["labels"])
    k = 0
    seen_general = set()
    for dp in docs:
        for i, pid in dp.pairs:
            s = dp.sentences[i]
            g = gold.get((dp.doc_id, pid, s.index))
            assert y[k] == (g[0] if g else "none")
            assert not s.is_heading and not dp.cues[i].description
            if g and g[1] == "general":
                seen_general.add((dp.doc_id, pid))
            k += 1
    assert k == len(y)
    # Eksjö's blanket "Sektorn instämmer i de förslag …" is support for each of its nine general cells
    eksjo = {(d, p) for d, p in seen_general if d == "eksjo-kommun"}
    assert len(eksjo) == 9
    assert set(y) <= set(STANCES) and {"support", "oppose", "none"} <= set(y)


def test_a_general_statement_overridden_for_a_proposal_is_left_out_not_none(corpus):
    clf = bound(LogRegClassifier(linker=RuleLinker(use_embeddings=False)), corpus)
    docs, y = clf.training_pairs(corpus["corpus"].subset(["eksjo-kommun"]))
    dp = docs[0]
    general = [i for i, c in enumerate(dp.cues) if c.general]
    assert general
    pairs = {(i, pid): t for (i, pid), t in zip(dp.pairs, y)}
    for pid in ("foreskrifter-lakarmedverkan", "kommuner-anstalla-lakare"):  # decided by specific statements
        assert all((i, pid) not in pairs for i in general)
    assert pairs[(general[0], "magnetmodellen")] == "support"


# ------------------------------------------------------------------------------ candidates and features


def test_candidates_are_linked_pairs_general_times_all_and_top_k(corpus):
    sents, catalog = corpus["sentences"]["eksjo-kommun"], corpus["catalog"]
    cues = [read_cues(s) for s in sents]
    links = RuleLinker(use_embeddings=False).fit(catalog).link(sents)
    base = candidate_pairs(sents, cues, links, catalog)
    for i, pid in base:
        assert not sents[i].is_heading and not cues[i].description
        assert pid in links[i] or cues[i].general
    general = next(i for i, c in enumerate(cues) if c.general)
    assert {pid for i, pid in base if i == general} == set(catalog.ids)
    cos = corpus["sv"]["eksjo-kommun"] @ corpus["pv"].T
    wider = candidate_pairs(sents, cues, links, catalog, cos, top_k=2)
    assert set(base) < set(wider)
    eligible = sum(1 for s, c in zip(sents, cues) if not s.is_heading and not c.description and not c.general)
    assert len(set(wider) - set(base)) <= 2 * eligible


def test_pair_features_layout_and_spec_roundtrip(corpus):
    clf = bound(LogRegClassifier(linker=RuleLinker(use_embeddings=False)), corpus)
    dp = clf.doc_pairs(corpus["corpus"].docs["region-sormland"])
    f = PairFeatures(use_embeddings=True, lexicon_scale=3.0, dim=DIM)
    X = f.transform(dp, corpus["catalog"])
    assert X.shape == (len(dp.pairs), 4 * DIM + len(CUE_NAMES) + len(LEXICON_NAMES)) == (len(dp.pairs), len(f.names()))
    assert np.isfinite(X).all()
    lex = X[:, -len(LEXICON_NAMES):] / 3.0
    for row, reading in zip(lex, dp.lexicon):  # the lexicon's reading, one-hot (a lean counts half)
        col = STANCES.index(reading.stance or "none")
        assert row[col] == (reading.weight / 2 if reading.stance else 1.0) and np.count_nonzero(row) == 1
    # product block: sentence ∘ proposal, scaled by sqrt(dim), sums to sqrt(dim) · cosine
    i, pid = dp.pairs[0]
    j = corpus["catalog"].ids.index(pid)
    cos = float(corpus["sv"]["region-sormland"][i] @ corpus["pv"][j])
    assert X[0, 2 * DIM:3 * DIM].sum() == pytest.approx(cos * np.sqrt(DIM), rel=1e-5)
    again = PairFeatures.from_spec(json.loads(json.dumps(f.spec())))
    assert np.array_equal(again.transform(dp, corpus["catalog"]), X)
    no_emb = PairFeatures(use_embeddings=False).transform(dp, corpus["catalog"])
    assert no_emb.shape[1] == len(CUE_NAMES) + len(LEXICON_NAMES)


# ------------------------------------------------------------------------------ logreg


def test_logreg_is_a_sklearn_estimator_and_predicts_every_cell(corpus):
    clf = LogRegClassifier(linker=RuleLinker(use_embeddings=False), C=0.05)
    params = clf.get_params(deep=False)
    assert params["C"] == 0.05 and params["class_weight"] == "balanced" and params["random_state"] == 0
    assert clone(clf).get_params(deep=False)["C"] == 0.05
    fitted = fit_logreg(corpus, C=0.05)
    assert list(fitted.classes_) == sorted(STANCES)
    assert fitted.coef_.shape == (5, fitted.n_features_in_)
    preds = predict(fitted, corpus, "eksjo-kommun")
    assert [p.proposal_id for p in preds] == corpus["catalog"].ids
    for p in preds:
        assert p.stance in STANCES and 0.0 <= p.score <= 1.0
        assert (p.basis is None) == (p.stance == "none") and (p.evidence != []) == (p.stance != "none")
    pairs, proba = fitted.predict_proba(corpus["corpus"].docs["eksjo-kommun"])
    assert proba.shape == (len(pairs), 5) and np.allclose(proba.sum(1), 1.0)


def test_logreg_training_is_deterministic(corpus):
    a, b = fit_logreg(corpus), fit_logreg(corpus)
    assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.intercept_, b.intercept_)
    for doc in corpus["sentences"]:
        assert [p.to_json() for p in predict(a, corpus, doc)] == [p.to_json() for p in predict(b, corpus, doc)]


def test_logreg_save_load_roundtrip_is_safe_and_exact(corpus, tmp_path):
    clf = fit_logreg(corpus)
    files = clf.save(tmp_path)["weights"]
    assert files == ["weights.safetensors", "features.json"]
    for f in tmp_path.iterdir():  # nothing pickled: no pickle protocol header anywhere
        assert f.suffix in (".safetensors", ".json") and not f.read_bytes().startswith(b"\x80")
    loaded = bound(LogRegClassifier.load(tmp_path, linker=RuleLinker(use_embeddings=False)), corpus)
    assert loaded.get_params(deep=False) == {**clf.get_params(deep=False), "linker": loaded.linker}
    for doc in corpus["sentences"]:
        assert [p.to_json() for p in predict(loaded, corpus, doc)] == [p.to_json() for p in predict(clf, corpus, doc)]


def test_unfitted_classifier_says_so(corpus):
    with pytest.raises(RuntimeError, match="not trained"):
        predict(bound(LogRegClassifier(linker=RuleLinker(use_embeddings=False)), corpus), corpus, "eksjo-kommun")


def test_reading_is_a_correction_of_the_lexicon():
    clf = LogRegClassifier(min_override=0.5, strong=0.6)
    clf.classes_ = np.array(["neutral", "none", "oppose", "support"])  # no "mixed" in training
    row = lambda **p: np.array([p.get(c, 0.0) for c in clf.classes_])  # noqa: E731
    # an unseen class: the lexicon's reading stands
    assert clf._reading(row(support=0.9, none=0.1), Reading("mixed", 2)) == Reading("mixed", 2)
    # a weak disagreement: the lexicon's reading stands, with the model's probability for it
    assert clf._reading(row(support=0.45, oppose=0.35, none=0.2), Reading("oppose", 1)) == Reading("oppose", 1, 0.35)
    # agreement keeps the lexicon's strength
    assert clf._reading(row(support=0.9, none=0.1), Reading("support", 1)) == Reading("support", 1, 0.9)
    # a confident override: explicit from `strong`, a lean below it
    assert clf._reading(row(oppose=0.7, none=0.3), Reading(None, 0)) == Reading("oppose", 2, 0.7)
    assert clf._reading(row(oppose=0.55, none=0.45), Reading(None, 0)) == Reading("oppose", 1, 0.55)
    # a model that reads no position
    assert clf._reading(row(none=0.8, support=0.2), Reading("support", 1)) == Reading(None, 0, 0.8)
    # neutral from the model is a comment (weight 1), unless the lexicon reads explicit neutral too
    assert clf._reading(row(neutral=0.7, none=0.3), Reading(None, 0)) == Reading("neutral", 1, 0.7)
    assert clf._reading(row(neutral=0.7, none=0.3), Reading("neutral", 2)) == Reading("neutral", 2, 0.7)


# ------------------------------------------------------------------------------ aggregation


def _sent(i, text, headings=()):
    return Sentence("d", i, text, 10 * i, 10 * i + len(text), headings=headings)


def test_aggregate_with_readings_specific_overrides_general_and_comments_yield(corpus):
    catalog = corpus["catalog"]
    a, b, c = catalog.ids[:3]
    sents = [_sent(0, "Vi tillstyrker utredningens förslag i sin helhet."), _sent(1, "En mening om A."),
             _sent(2, "En kommentar om B."), _sent(3, "Något om C.")]
    cues = [read_cues(s) for s in sents]
    assert cues[0].general
    links = [{}, {a: 3.0}, {b: 3.0}, {c: 3.0}]
    readings = [{p: Reading("support", 2, 0.8) for p in catalog.ids},
                {a: Reading("oppose", 2, 0.9)}, {b: Reading("neutral", 1, 0.7)}, {c: Reading(None, 0, 0.6)}]
    preds = {p.proposal_id: p for p in LexiconClassifier().aggregate(sents, catalog, cues, links, readings)}
    assert (preds[a].stance, preds[a].basis, preds[a].score) == ("oppose", "explicit", 0.9)  # specific wins
    assert (preds[b].stance, preds[b].basis) == ("support", "general")  # a comment yields to the general one
    assert (preds[c].stance, preds[c].basis, preds[c].score) == ("support", "general", 0.8)
    assert preds[a].evidence[0].text == "En mening om A." and preds[b].evidence[0].start == 0
    # without the general statement the comment makes the cell neutral, the no-position pair none
    preds = {p.proposal_id: p for p in LexiconClassifier().aggregate(sents[1:], catalog, cues[1:], links[1:], readings[1:])}
    assert (preds[b].stance, preds[b].score) == ("neutral", 0.7)
    assert preds[c].stance == "neutral"  # linked by its own words (strength > 1), no position: a comment
    assert preds[catalog.ids[5]].stance == "none"


def test_lexicon_predictions_unchanged_by_the_refactor(corpus):
    """The lexicon path (readings=None) is the baseline: its cells on the corpus must stay as scored."""
    clf = LexiconClassifier(linker=RuleLinker(use_embeddings=False)).fit(corpus["text"])
    stances = [p.stance for d in sorted(corpus["sentences"]) for p in clf.predict(corpus["text"].docs[d])]
    assert len(stances) == 60 and stances.count("none") >= 10


def test_link_evaluation_against_evidence(corpus):
    clf = LexiconClassifier(linker=RuleLinker()).fit(corpus["corpus"])
    m = link_evaluation(clf, corpus["corpus"])
    assert 0 < m["precision"] <= 1 and 0.5 < m["recall"] <= 1 and m["n_gold"] > 20
    assert 0.5 < m["cells_with_evidence_linked"] <= 1 and m["unmatched_quotes"] == 0
    assert m["linker"] == "RuleLinker"
    assert m["calibration"] is None  # rules give no probabilities


def test_a_learned_linker_held_out_reports_the_calibration_of_its_probabilities(corpus):
    from pipeline.core.cv import cross_validate
    from pipeline.evaluation import HeldOutLinks, Scorer
    from pipeline.stages.link import LearnedLinker

    held = HeldOutLinks()
    cross_validate(lambda: LexiconClassifier(linker=LearnedLinker(use_embeddings=False)), corpus["corpus"], Scorer(),
                   held)
    m = Scorer().links(LexiconClassifier(linker=RuleLinker(use_embeddings=False)), corpus["corpus"], held)
    cal = m["calibration"]
    n_sentences = sum(not s.is_heading for d in corpus["corpus"].doc_ids for s in corpus["corpus"].docs[d].sentences)
    assert 0 < cal["quoted"] < cal["pairs"] <= n_sentences * 12  # every pair of the held-out documents, once
    assert 0 <= cal["brier"] < 0.1 and 0 <= cal["ece"] < 0.1 and 0 <= cal["ece_from_first_bin"] <= 1
    assert sum(b["pairs"] for b in cal["bins"]) == cal["pairs"] and m["n_predicted"] == len(held.links) > 0


def test_a_learned_linker_reads_which_rule_tier_linked_a_pair_and_trains_across_catalogs(corpus):
    """The rule tier that linked a pair is one of the learned linker's features, taken while the linker is
    bound to that document's catalog: training on two inquiries of different sizes works, and the tier
    columns are the rules' own links."""
    from pipeline.stages.link import LearnedLinker
    from pipeline.stages.link_training import train_linker

    root = ROOT / "data" / "dricksvatten-authored"
    catalog = load_catalog(root / "proposals.yaml")
    sentences = {p.stem: Segmenter().segment(read_document(p)) for p in sorted((root / "docs").glob("*.txt"))}
    other = Corpus(catalog, {d: Doc(d, s) for d, s in sentences.items()},
                   load_labels(root / "labels" / "stance.jsonl", catalog, doc_ids=list(sentences)))
    assert len(catalog.ids) != len(corpus["catalog"].ids)
    linker = train_linker(LearnedLinker(use_embeddings=False), [corpus["text"], other])
    assert linker.coef_.shape == (linker.n_features,)

    linker.fit(corpus["catalog"])
    doc = corpus["text"].docs["riksforeningen-mas-mar"]
    sig = linker.signals(doc.sentences)
    tiers = linker.pair_features(sig)[:, :, -len(linker.TIERS):]
    rules = RuleLinker(use_embeddings=False).fit(corpus["catalog"]).about(doc.sentences)
    linked = {(i, pid) for i, ln in enumerate(rules) for pid in ln}
    tiered = {(int(i), corpus["catalog"].ids[j]) for i, j in zip(*np.nonzero(tiers.sum(axis=2)))
              if not doc.sentences[i].is_heading}  # a heading links nothing by itself
    assert linked and tiered == linked
    assert tiers.sum(axis=2).max() == 1  # one tier per pair
    def tier_of(why):
        return [linker.TIERS[k] for i, ln in enumerate(rules) for pid, link in ln.items() if link.why.startswith(why)
                for k in np.flatnonzero(tiers[i, corpus["catalog"].ids.index(pid)])]
    assert set(tier_of("named after 'förslaget om'")) == {"own"}  # the sentence names it
    assert set(tier_of("the previous sentence")) == {"context"} and "own" not in tier_of("heading")


# ------------------------------------------------------------------------------ finetune (tiny BERT)


@pytest.fixture(scope="module")
def finetuned(corpus, tiny_bert):
    docs = ["eksjo-kommun", "region-sormland"]
    clf = FinetuneClassifier(linker=RuleLinker(use_embeddings=False), model=tiny_bert, max_steps=2, batch_size=4, max_length=32,
                             learning_rate=1e-3)
    return clf.fit(corpus["text"].subset(docs))


def test_finetune_trains_predicts_and_roundtrips(corpus, finetuned, tmp_path):
    assert finetuned.train_steps_ == 2 and np.isfinite(finetuned.train_loss_)
    assert set(finetuned.classes_) <= set(STANCES) and "none" in finetuned.classes_
    doc = "region-jonkopings-lan"
    preds = finetuned.predict(corpus["text"].docs[doc])
    assert [p.proposal_id for p in preds] == corpus["catalog"].ids
    finetuned.save(tmp_path)
    weights = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert "model.safetensors" in weights
    assert not [w for w in weights if w.endswith((".bin", ".pt", ".pkl", ".joblib"))]
    loaded = FinetuneClassifier.load(tmp_path, linker=RuleLinker(use_embeddings=False)).bind(corpus["catalog"])
    p1 = finetuned.predict_proba(corpus["text"].docs[doc])
    p2 = loaded.predict_proba(corpus["text"].docs[doc])
    assert p1[0] == p2[0] and np.allclose(p1[1], p2[1], atol=1e-5)
    assert [p.to_json() for p in loaded.predict(corpus["text"].docs[doc])] == [p.to_json() for p in preds]


def test_finetune_is_deterministic(corpus, finetuned, tiny_bert):
    again = clone(finetuned).fit(corpus["text"].subset(["eksjo-kommun", "region-sormland"]))
    doc = "foreningen-sveriges-socialchefer"
    a = finetuned.predict_proba(corpus["text"].docs[doc])[1]
    b = again.predict_proba(corpus["text"].docs[doc])[1]
    assert np.allclose(a, b, atol=1e-6)


def test_finetune_base_model_missing_is_one_line(corpus, tmp_path):
    clf = FinetuneClassifier(linker=RuleLinker(use_embeddings=False), model=str(tmp_path / "nowhere"), max_steps=1)
    with pytest.raises(EncoderUnavailable) as e:
        clf.fit(corpus["text"].subset(["eksjo-kommun"]))
    assert "\n" not in str(e.value)


def test_fit_without_labelled_documents_fails_clearly(corpus):
    clf = LogRegClassifier(linker=RuleLinker(use_embeddings=False))
    c = corpus["corpus"]
    with pytest.raises(ValueError, match="no training pairs"):
        clf.fit(Corpus(c.catalog, {"eksjo-kommun": c.docs["eksjo-kommun"]},
                       [Label("other", c.catalog.ids[0], "support", "explicit")], c.proposal_vectors))
