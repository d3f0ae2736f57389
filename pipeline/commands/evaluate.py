"""`stance evaluate`: score on the labelled corpora named by the data config, each apart.

What is scored is always held out from what learned: a classifier or linker that learns is scored by
`evaluation.protocol` — leave-one-document-out within each corpus (`lodo`) or leave-one-inquiry-out
(`loio`: trained on the corpora of the other inquiries); `model=<artifact>` scores a trained model as
is (with a warning where it saw the documents); rules are scored as they stand. With several corpora
(`data=all`) each gets its own complete run folder `<output>/<corpus>/` (what `stance compare` reads)
and `summary.json` / `summary.md` hold the table per corpus, real and authored apart.
"""
from __future__ import annotations

import copy
import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from ..core import outputs
from ..core.artifacts import check_encoder, load_model
from ..core.components import available, build_classifier, check_requirements, check_trained
from ..core.corpus import Loaded, corpus_specs, load_corpora
from ..core.cv import CV_PROTOCOL, LOIO_PROTOCOL, cross_validate, leave_one_inquiry_out, predict_docs
from ..core.provenance import Timer, encoder_line, manifest
from ..errors import InputError
from ..evaluation import HeldOutLinks, Scorer
from ..evaluation.summary import corpus_headline, corpus_table, format_summary, write_metrics
from ..files import atomic_write, write_json

log = logging.getLogger(__name__)
PROTOCOLS = {"lodo": CV_PROTOCOL, "loio": LOIO_PROTOCOL}


def run(cfg: DictConfig, out_dir: Path) -> dict:
    timer = Timer()
    artifact, cfg = load_model(cfg)
    scorer = Scorer.from_config(cfg.evaluation)
    classifier = artifact.build_classifier() if artifact is not None else build_classifier(cfg)
    check_requirements(classifier, available(cfg.get("embedder")))
    protocol = str(cfg.evaluation.get("protocol") or "lodo")
    if protocol not in PROTOCOLS:
        raise InputError("evaluation.protocol", f"unknown protocol '{protocol}' (expected {', '.join(PROTOCOLS)})")
    loaded = load_corpora(cfg, timer)
    corpora = [ld.corpus if artifact is not None else ld.for_component(classifier) for ld in loaded]
    preds, extra, held_links = _predict(cfg, classifier, artifact, loaded, corpora, protocol, timer, scorer)
    specs = corpus_specs(cfg)
    single = len(loaded) == 1
    results = {}
    for k, (ld, corpus) in enumerate(zip(loaded, corpora)):
        with timer("evaluate"):
            metrics = scorer.score(preds[k], corpus.labels)
            classifier.bind(corpus.catalog, corpus.proposal_vectors)
            info = {**extra[k], "linking": scorer.links(classifier, corpus, held_links[k]), "corpus": ld.name,
                    "real": ld.real}
        run_dir = out_dir if single else out_dir / ld.name
        results[ld.name] = _write_run(cfg, specs[k], run_dir, timer, ld, preds[k], metrics, info, artifact)
    if not single:
        summary = {"protocol": extra[0]["protocol"], "corpora": {n: corpus_headline(m) for n, m in results.items()}}
        write_json(summary, out_dir / "summary.json")
        table = corpus_table(results)
        atomic_write(out_dir / "summary.md", table + "\n")
        print(f"\nper corpus ({summary['protocol']}):\n{table}")
    log.info("evaluate -> %s", out_dir)
    return results[loaded[0].name] if single else {"per_corpus": results,
                                                  **_pooled_for_sweeps(results, cfg.get("optimized_metric"))}


def _predict(cfg, classifier, artifact, loaded: list[Loaded], corpora, protocol: str, timer, scorer):
    """Held-out predictions per corpus, and what each run's metrics should say of how they were made."""
    preds, extra = [None] * len(corpora), [{} for _ in corpora]
    links: dict[int, HeldOutLinks | None] = dict.fromkeys(range(len(corpora)))  # of held-out models, if any
    if artifact is not None:
        for k, (ld, corpus) in enumerate(zip(loaded, corpora)):
            check_encoder(artifact, (ld.embed_stats or {}).get("encoder"))
            classifier.bind(corpus.catalog, corpus.proposal_vectors)
            with timer("classify"):
                preds[k] = predict_docs(classifier, corpus, list(corpus.docs))
            trained_on = set((artifact.meta.get("training_data") or {}).get("documents") or [])
            seen = sorted(trained_on & set(corpus.doc_ids))
            if seen:
                log.warning("model %s was trained on %d of these documents: these numbers are optimistic; its "
                            "cross-validated metrics are in %s", artifact.path, len(seen), artifact.path / "metrics.json")
            extra[k]["protocol"] = ("trained model, scored on documents it was trained on (optimistic)" if seen
                                    else "trained model, held-out documents")
    elif classifier.learns and protocol == "loio":
        with timer("cross_validate"):
            held, folds = leave_one_inquiry_out(lambda: build_classifier(cfg), corpora, [ld.inquiry for ld in loaded],
                                                [ld.name for ld in loaded], links)
        for k, ld in enumerate(loaded):
            preds[k] = held[k]
            extra[k] = {"protocol": LOIO_PROTOCOL, "inquiry_fold": folds[ld.inquiry]}
    elif classifier.learns:
        for k, corpus in enumerate(corpora):
            links[k] = HeldOutLinks()
            with timer("cross_validate"):
                preds[k], folds = cross_validate(lambda: build_classifier(cfg), corpus, scorer, links[k])
            extra[k] = {"protocol": CV_PROTOCOL, "folds": folds}
    else:
        check_trained(classifier)
        for k, corpus in enumerate(corpora):
            classifier.fit(corpus)
            with timer("classify"):
                preds[k] = predict_docs(classifier, corpus, list(corpus.docs))
            extra[k] = {"protocol": "no training (rules)"}
    return preds, extra, links


def _write_run(cfg, spec, run_dir: Path, timer, ld: Loaded, preds, metrics: dict, extra: dict, artifact) -> dict:
    """One corpus' run folder: predictions, errors, manifest, metrics; prints its summary."""
    run_cfg = copy.deepcopy(cfg)
    with open_dict(run_cfg):
        run_cfg.data = spec  # each corpus' folder describes that corpus (what compare re-scores against)
    outputs.write_predictions(preds, run_dir)
    outputs.write_errors(ld.errors, run_dir)
    man = manifest(run_cfg, timer, ld.embed_stats, {"documents": len(ld.corpus.docs), "errors": len(ld.errors),
                                                    "model": artifact.info() if artifact is not None else None})
    write_json(man, run_dir / "manifest.json")
    write_metrics(metrics, run_dir, extra={**extra, "encoder": man["encoder"], "manifest": man,
                                           "config": OmegaConf.to_container(run_cfg, resolve=True)},
                  confusion_png=cfg.evaluation.confusion_png)
    full = {**metrics, **extra}
    print(f"\n== {ld.name}{' (real)' if ld.real else ' (authored)' if ld.real is False else ''}")
    print(f"encoder: {encoder_line(man['encoder'])}")
    print(f"protocol: {extra['protocol']}")
    print(format_summary(full))
    link = extra["linking"]
    print(f"\nlinking: precision {link['precision']:.3f}, recall {link['recall']:.3f}, F1 {link['f1']:.3f} "
          f"(n_gold {link['n_gold']}); explicit cells with an evidence sentence linked "
          f"{link['cells_with_evidence_linked']:.3f}")
    if "folds" in extra:
        print("\nfolds (held-out document: cell accuracy):")
        for doc_id, f in extra["folds"].items():
            print(f"  {doc_id}: {f['cell_accuracy']:.3f}")
    return full


def _pooled_for_sweeps(results: dict, metric) -> dict:
    """A sweep over data=all optimises the least of the corpora's values: no corpus is traded for another."""
    if not metric:
        return {}
    values = [m.get(metric) for m in results.values() if isinstance(m.get(metric), (int, float))]
    return {metric: min(values)} if values else {}
