"""Cross-validation of a trainable classifier: leave-one-document-out on a labelled corpus."""
from __future__ import annotations

import logging
import time

from ..errors import InputError
from ..evaluation import Scorer, headline
from ..evaluation.linking import HeldOutLinks
from ..records import Corpus, Prediction

log = logging.getLogger(__name__)
CV_PROTOCOL = "leave-one-document-out"
LOIO_PROTOCOL = "leave-one-inquiry-out"


def fit_on(make_classifier, corpus: Corpus, doc_ids: list[str]):
    """A fresh classifier fitted on `doc_ids` of the corpus (bound to its catalog)."""
    return make_classifier().fit(corpus.subset(doc_ids))


def predict_docs(clf, corpus: Corpus, doc_ids) -> list[Prediction]:
    return [p for d in doc_ids for p in clf.predict(corpus.docs[d])]


def cross_validate(make_classifier, corpus: Corpus, scorer: Scorer | None = None,
                   links: HeldOutLinks | None = None) -> tuple[list[Prediction], dict]:
    """Leave-one-document-out: for each labelled document, fit on the others and predict it.

    Returns the pooled held-out predictions and, per fold (held-out document), its training documents,
    training-pair counts, headline metrics and errors. `links`, when given, collects the links each
    fold's linker makes in its held-out document (for the linking scores).
    """
    scorer = scorer or Scorer()
    doc_ids = corpus.doc_ids
    if len(doc_ids) < 2:
        raise InputError("data.labels", f"cross-validation needs at least 2 labelled documents, found {len(doc_ids)}")
    preds, folds = [], {}
    for held in doc_ids:
        t0 = time.perf_counter()
        train_ids = [d for d in doc_ids if d != held]
        clf = fit_on(make_classifier, corpus, train_ids)
        fold_preds = predict_docs(clf, corpus, [held])
        preds += fold_preds
        if links is not None:
            links.add(clf, corpus, [held])
        m = scorer.score(fold_preds, [lab for lab in corpus.labels if lab.doc_id == held])
        folds[held] = {
            "train_documents": train_ids,
            "training": getattr(clf, "training_summary_", None),
            **headline(m),
            "errors": m["per_document"].get(held, {}).get("errors", []),
            "seconds": round(time.perf_counter() - t0, 2),
        }
        log.info("fold %s: cell accuracy %.3f (%.1fs)", held, m["cell_accuracy"], folds[held]["seconds"])
    return preds, folds


def leave_one_inquiry_out(make_classifier, corpora: list, inquiries: list[str], names: list[str],
                          links: dict[int, HeldOutLinks] | None = None) -> tuple[dict[int, list], dict]:
    """For each inquiry, fit on the corpora of every other inquiry and predict its corpora: nothing of
    the held-out inquiry (its catalog, documents or labels) is seen in training.

    Returns {corpus index: held-out predictions} and, per held-out inquiry, what trained its model."""
    held_out: dict[int, list[Prediction]] = {}
    folds = {}
    for inquiry in dict.fromkeys(inquiries):
        train = [c for c, q in zip(corpora, inquiries) if q != inquiry]
        if not train or not any(c.labels for c in train):
            raise InputError("data", f"leave-one-inquiry-out needs labelled corpora of another inquiry than {inquiry}")
        t0 = time.perf_counter()
        clf = make_classifier().fit(train)
        for k, (c, q) in enumerate(zip(corpora, inquiries)):
            if q == inquiry:
                clf.bind(c.catalog, c.proposal_vectors)
                held_out[k] = predict_docs(clf, c, list(c.docs))
                if links is not None:
                    links[k] = HeldOutLinks()
                    links[k].add(clf, c)
        folds[inquiry] = {"trained_on": [n for n, q in zip(names, inquiries) if q != inquiry],
                          "training": getattr(clf, "training_summary_", None),
                          "seconds": round(time.perf_counter() - t0, 2)}
        log.info("held-out inquiry %s: trained on %s (%.1fs)", inquiry, folds[inquiry]["trained_on"],
                 folds[inquiry]["seconds"])
    return held_out, folds
