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

from dataclasses import dataclass, field

import numpy as np

from ..evidence import evidence_sentences
from ..records import Corpus
from ..stages.cues import read_document_cues
from ..stages.link_training import link_targets

CALIBRATION_BINS = 10


@dataclass
class HeldOutLinks:
    """What held-out models' linkers did on the documents they did not see: their links and, for a
    linker that gives probabilities (`learned.v1`), each (sentence, proposal) pair's probability beside
    whether the labels quote that sentence for that proposal (for calibration)."""

    links: set = field(default_factory=set)
    probabilities: list = field(default_factory=list)  # [(p, 0 or 1)]

    def add(self, classifier, corpus: Corpus, doc_ids=None) -> None:
        self.links |= predicted_links(classifier, corpus, doc_ids)
        self.probabilities += link_probabilities(classifier, corpus, doc_ids)


def link_probabilities(classifier, corpus: Corpus, doc_ids=None) -> list[tuple[float, int]]:
    """(probability, quoted) of every (sentence, proposal) pair of the labelled documents where the
    classifier's linker is a trained model; [] for rules. Headings and pairs whose quote matches several
    identical sentences (which one was meant is unknown) are left out."""
    linker = getattr(classifier, "linker_", None)
    if getattr(linker, "coef_", None) is None or not hasattr(linker, "proba"):
        return []
    out = []
    for doc_id in (corpus.doc_ids if doc_ids is None else doc_ids):
        doc = corpus.docs[doc_id]
        p = linker.proba(linker.signals(doc.sentences, doc.vectors, read_document_cues(doc.sentences)))
        y = link_targets(corpus, doc_id, linker.ids_)
        for i, s in enumerate(doc.sentences):
            if not s.is_heading:
                out += [(float(p[i, j]), int(y[i, j])) for j in range(len(linker.ids_)) if y[i, j] >= 0]
    return out


def calibration(pairs: list[tuple[float, int]], n_bins: int = CALIBRATION_BINS) -> dict | None:
    """Brier score, expected calibration error (equal-width bins, weighted by their pairs) and the
    reliability table of held-out link probabilities; None without any."""
    if not pairs:
        return None
    p = np.array([q for q, _ in pairs], float)
    y = np.array([t for _, t in pairs], float)
    k = np.minimum((p * n_bins).astype(int), n_bins - 1)
    bins = [{"from": b / n_bins, "to": (b + 1) / n_bins, "pairs": int((k == b).sum()),
             "mean_probability": float(p[k == b].mean()), "fraction_quoted": float(y[k == b].mean())}
            for b in range(n_bins) if (k == b).any()]

    def ece(rows) -> float | None:
        n = sum(r["pairs"] for r in rows)
        return sum(abs(r["mean_probability"] - r["fraction_quoted"]) * r["pairs"] for r in rows) / n if n else None

    # most pairs are easy negatives near 0: the error where a threshold decides is told apart
    return {"pairs": len(p), "quoted": int(y.sum()), "brier": float(((p - y) ** 2).mean()), "ece": ece(bins),
            "ece_from_first_bin": ece(bins[1:] if bins and bins[0]["from"] == 0 else bins),
            "pairs_from_first_bin": int((k >= 1).sum()), "bins": bins}


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
    return {**link_scores(predicted_links(classifier, corpus), corpus, name),
            "calibration": calibration(link_probabilities(classifier, corpus))}
