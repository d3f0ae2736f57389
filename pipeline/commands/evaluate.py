"""`stance evaluate`: score on the labelled corpus named by the data config.

A trainable classifier is cross-validated leave-one-document-out (the predictions written are the
held-out ones); `model=<artifact>` scores a trained model as is; the lexicon is scored as it stands.
"""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ..core import outputs
from ..core.artifacts import check_encoder, load_model
from ..core.components import available, build_classifier, check_requirements, check_trained
from ..core.corpus import load_corpus
from ..core.cv import CV_PROTOCOL, cross_validate, predict_docs
from ..core.provenance import Timer, encoder_line, manifest
from ..evaluation import Scorer
from ..evaluation.summary import format_summary, write_metrics
from ..files import write_json

log = logging.getLogger(__name__)


def run(cfg: DictConfig, out_dir: Path) -> dict:
    timer = Timer()
    artifact, cfg = load_model(cfg)
    scorer = Scorer.from_config(cfg.evaluation)
    classifier = artifact.build_classifier() if artifact is not None else build_classifier(cfg)
    check_requirements(classifier, available(cfg.get("embedder")))
    loaded = load_corpus(cfg, timer)
    corpus = loaded.for_component(classifier)
    extra: dict = {}
    if artifact is not None:
        check_encoder(artifact, (loaded.embed_stats or {}).get("encoder"))
        classifier.bind(corpus.catalog, corpus.proposal_vectors)
        with timer("classify"):
            preds = predict_docs(classifier, corpus, list(corpus.docs))
        trained_on = set((artifact.meta.get("training_data") or {}).get("documents") or [])
        seen = sorted(trained_on & set(corpus.doc_ids))
        if seen:
            log.warning("model %s was trained on %d of these documents: these numbers are optimistic; its "
                        "cross-validated metrics are in %s", artifact.path, len(seen), artifact.path / "metrics.json")
        extra["protocol"] = ("trained model, scored on documents it was trained on (optimistic)" if seen
                             else "trained model, held-out documents")
    elif classifier.trainable:
        with timer("cross_validate"):
            preds, folds = cross_validate(lambda: build_classifier(cfg), corpus, scorer)
        classifier.bind(corpus.catalog, corpus.proposal_vectors)  # for the linking scores
        extra["protocol"] = CV_PROTOCOL
        extra["folds"] = folds
    else:
        check_trained(classifier)
        classifier.fit(corpus)
        with timer("classify"):
            preds = predict_docs(classifier, corpus, list(corpus.docs))
        extra["protocol"] = "no training (rules)"
    with timer("evaluate"):
        metrics = scorer.score(preds, corpus.labels)
        extra["linking"] = scorer.links(classifier, corpus)
    outputs.write_predictions(preds, out_dir)
    outputs.write_errors(loaded.errors, out_dir)
    man = manifest(cfg, timer, loaded.embed_stats, {"documents": len(corpus.docs), "errors": len(loaded.errors),
                                                    "model": artifact.info() if artifact is not None else None})
    write_json(man, out_dir / "manifest.json")
    write_metrics(metrics, out_dir, extra={**extra, "encoder": man["encoder"], "manifest": man,
                                           "config": OmegaConf.to_container(cfg, resolve=True)},
                  confusion_png=cfg.evaluation.confusion_png)
    metrics = {**metrics, **extra}
    print(f"encoder: {encoder_line(man['encoder'])}")
    print(f"protocol: {extra['protocol']}")
    print(format_summary(metrics))
    link = extra["linking"]
    print(f"\nlinking: precision {link['precision']:.3f}, recall {link['recall']:.3f}, F1 {link['f1']:.3f} "
          f"(n_gold {link['n_gold']}); explicit cells with an evidence sentence linked "
          f"{link['cells_with_evidence_linked']:.3f}")
    if "folds" in extra:
        print("\nfolds (held-out document: cell accuracy):")
        for doc_id, f in extra["folds"].items():
            print(f"  {doc_id}: {f['cell_accuracy']:.3f}")
    log.info("evaluate -> %s", out_dir)
    return metrics
