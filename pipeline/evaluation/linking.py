"""Linking scored alone: which sentences a classifier's linker ties to which proposals, against the
sentences the hand labels quote as evidence.

Gold is per (document, proposal) cell with basis `explicit` (general statements are not links to one
proposal: aggregation propagates them): its evidence quotes, each matching one or more sentences. A
quote is *found* when a sentence it matches is linked to the cell's proposal — a quote that matches
several identical sentences ("Kommunen tillstyrker förslaget." under three headings) is found by
any of them, since the quote cannot say which one was meant. Recall is over quotes; precision over
the links made: a link is right when its sentence matches a quote of that cell.
"""
from __future__ import annotations

from ..evidence import evidence_sentences
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


def predicted_links(classifier, corpus: Corpus, doc_ids=None) -> set[tuple[str, str, int]]:
    """Every (doc_id, proposal_id, sentence index) link the classifier's linker makes (bound to the
    corpus' catalog) in `doc_ids` (default: the labelled documents)."""
    out = set()
    for doc_id in (corpus.doc_ids if doc_ids is None else doc_ids):
        doc = corpus.docs[doc_id]
        for s, ln in zip(doc.sentences, classifier.links(doc)):
            out |= {(doc_id, pid, s.index) for pid in ln}
    return out


def link_scores(predicted: set[tuple[str, str, int]], corpus: Corpus, linker: str = "") -> dict:
    """Precision of `predicted` and recall of the explicit labels' evidence quotes (see the module doc)."""
    quotes, gold_sentences, unmatched = [], set(), 0
    for lab in corpus.labels:
        if lab.stance == "none" or lab.basis != "explicit" or lab.doc_id not in corpus.docs:
            continue
        sentences = corpus.docs[lab.doc_id].sentences
        for q in lab.evidence:
            hits, missing = evidence_sentences(sentences, [q])
            unmatched += len(missing)
            if hits:
                keys = {(lab.doc_id, lab.proposal_id, i) for i in hits}
                quotes.append(keys)
                gold_sentences |= keys
    found = sum(bool(keys & predicted) for keys in quotes)
    right = len(predicted & gold_sentences)
    precision = right / len(predicted) if predicted else 0.0
    recall = found / len(quotes) if quotes else 0.0
    cells = {next(iter(k))[:2] for k in quotes}
    hit = {next(iter(k))[:2] for k in quotes if k & predicted}
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "true_positives": right,
        "n_predicted": len(predicted),
        "n_gold": len(quotes),
        "cells_with_evidence_linked": len(hit) / len(cells) if cells else None,
        "n_cells": len(cells),
        "unmatched_quotes": unmatched,
        "linker": linker,
        "gold": "evidence quotes of basis-explicit labels (a quote matching several identical sentences is found "
                "by any of them)",
    }


def link_evaluation(classifier, corpus: Corpus) -> dict:
    """The linking scores of `classifier` (bound to corpus.catalog) on the labelled documents."""
    name = type(getattr(classifier, "linker_", None) or object()).__name__
    return link_scores(predicted_links(classifier, corpus), corpus, name)
