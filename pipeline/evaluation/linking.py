"""Linking scored alone: which sentences a classifier's linker ties to which proposals, against the
sentences the hand labels quote as evidence."""
from __future__ import annotations

from ..evidence import gold_links
from ..records import Corpus


def link_metrics(pairs_predicted: set[tuple[str, str, int]], pairs_gold: set[tuple[str, str, int]]) -> dict:
    """Precision/recall/F1 of (doc_id, proposal_id, sentence_index) links; empty sides score 0, not an error."""
    predicted, gold = set(pairs_predicted), set(pairs_gold)
    tp = len(predicted & gold)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_positives": tp,
        "n_predicted": len(predicted),
        "n_gold": len(gold),
    }


def link_evaluation(classifier, corpus: Corpus) -> dict:
    """Linking alone, against the evidence quotes of the explicit labels.

    Gold: (doc, proposal, sentence) for every sentence matching an evidence quote of a cell with basis
    `explicit` (general statements are not links to one proposal: aggregation propagates them).
    Predicted: every link the classifier's linker makes (`classifier` bound to the corpus' catalog).
    Also per cell: share of explicit cells with at least one evidence sentence linked to their
    proposal (what classification needs).
    """
    labels = corpus.labels
    labelled = {lab.doc_id for lab in labels}
    gold_all, unmatched = gold_links({d: doc.sentences for d, doc in corpus.docs.items() if d in labelled}, labels)
    gold = {k for k, (_, basis) in gold_all.items() if basis == "explicit"}
    predicted = set()
    for doc_id, doc in corpus.docs.items():
        if doc_id not in labelled:
            continue
        for s, ln in zip(doc.sentences, classifier.links(doc)):
            predicted |= {(doc_id, pid, s.index) for pid in ln}
    out = link_metrics(predicted, gold)
    cells = {(d, p) for d, p, _ in gold}
    hit = {(d, p) for d, p, i in gold if (d, p, i) in predicted}
    out["cells_with_evidence_linked"] = len(hit) / len(cells) if cells else None
    out["n_cells"] = len(cells)
    out["unmatched_quotes"] = len(unmatched)
    out["linker"] = type(getattr(classifier, "linker_", None) or object()).__name__
    out["gold"] = "sentences matching evidence quotes of basis-explicit labels"
    return out
