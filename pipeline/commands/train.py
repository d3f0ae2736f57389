"""`stance train name=<name>`: cross-validate a trainable classifier on the labelled corpus (train on all
documents but one, predict the held-out one, for every document), fit it on all of them and write
the versioned artifact models/<name>/ (pipeline/core/artifacts.py)."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ..core import outputs
from ..core.artifacts import FORMAT, FORMAT_VERSION, save_linker, write_artifact_dir
from ..core.components import available, build_classifier, check_requirements, encoder_config
from ..core.corpus import corpus_specs, load_corpus
from ..core.cv import CV_PROTOCOL, cross_validate, fit_on, predict_docs
from ..core.modelcard import model_card
from ..core.provenance import Timer, data_hash, encoder_line, git_state, manifest, versions
from ..errors import InputError
from ..evaluation import Scorer, headline
from ..evaluation.summary import format_summary
from ..files import atomic_write, write_json
from ..records import STANCES
from ..stages.classify.lexicon import LexiconClassifier
from .train_many import train_many

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _command_line(cfg: DictConfig) -> str:
    try:
        from hydra.core.hydra_config import HydraConfig

        task = [o for o in HydraConfig.get().overrides.task if not o.startswith("command=")]
    except Exception:  # not under Hydra (tests calling run() directly)
        task = [f"name={cfg.get('name')}", f"classifier={str(cfg.classifier._target_).split('.')[0]}"]
    return " ".join(["stance", "train", *task])


def run(cfg: DictConfig, out_dir: Path) -> dict:
    name = cfg.get("name")
    if not name or not _NAME.match(str(name)):
        raise InputError("name", "give the model a name: name=<letters, digits, . _ -> (written to models/<name>/)")
    final = Path(cfg.paths.models_dir) / str(name)
    if final.exists() and not cfg.run.overwrite:
        raise InputError(final, "exists: choose another name or pass run.overwrite=true")
    timer = Timer()
    scorer = Scorer.from_config(cfg.evaluation)
    make = lambda: build_classifier(cfg)  # noqa: E731
    probe = make()
    if not probe.learns:
        raise InputError("classifier", f"{type(probe).__name__} with the {type(probe.linker).__name__} learns "
                                       f"nothing: train classifier=logreg, classifier=finetune or linker=learned")
    check_requirements(probe, available(cfg.get("embedder")))
    if len(corpus_specs(cfg)) > 1:
        return train_many(cfg, out_dir, final, timer, scorer, make, probe)
    loaded = load_corpus(cfg, timer)
    corpus = loaded.for_component(probe)
    with timer("cross_validate"):
        cv_preds, folds = cross_validate(make, corpus, scorer)
        cv_metrics = scorer.score(cv_preds, corpus.labels)
    with timer("linking"):
        linking = scorer.links(probe.bind(corpus.catalog, corpus.proposal_vectors), corpus)
    with timer("baseline"):
        base = LexiconClassifier(linker=probe.linker, general_score=probe.general_score,  # bound, not fitted:
                                 comment_score=probe.comment_score).bind(corpus.catalog, corpus.proposal_vectors)  # untrained
        base_preds = predict_docs(base, corpus, corpus.doc_ids)
        baseline = headline(scorer.score(base_preds, corpus.labels))
        lexicon_cells = {(q.doc_id, q.proposal_id): q.stance for q in base_preds}
        baseline["cells_differing_from_cv"] = sum(lexicon_cells.get((q.doc_id, q.proposal_id)) != q.stance
                                                  for q in cv_preds)
    with timer("fit"):
        clf = fit_on(make, corpus, corpus.doc_ids)
    encoder = (loaded.embed_stats or {}).get("encoder")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    # The model is tied to the encoder that actually ran: record its config, not the one that fell
    # back, so that predict with this artifact loads the same encoder on any machine.
    resolved["embedder"] = encoder_config(cfg, encoder)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": str(name),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "classifier": type(probe).component,
        "labels": list(STANCES),
        "classes": [str(c) for c in clf.classes_],
        "hyperparameters": clf.hyperparameters(),
        "encoder": encoder,
        "embedder_requested": (cfg.embedder.get("name") if cfg.get("embedder") is not None else None),
        "training_data": {
            "data_hash": data_hash(cfg),
            "sou": corpus.catalog.sou,
            "catalog": corpus.catalog.ids,
            "documents": corpus.doc_ids,
            "n_labels": len(corpus.labels),
            **(clf.training_summary_ or {}),
        },
        "cv": {"protocol": CV_PROTOCOL, **headline(cv_metrics)},
        "lexicon_baseline": {"protocol": "no training (rules), all documents", **baseline},
        "linking": {k: linking[k] for k in ("precision", "recall", "f1", "cells_with_evidence_linked")},
        "train_command": _command_line(cfg),
        "git": git_state(),
        "packages": versions(),
    }
    metrics = {**cv_metrics, "protocol": CV_PROTOCOL, "folds": folds, "linking": linking,
               "lexicon_baseline": baseline}

    def write(tmp: Path) -> None:
        meta["weights"] = clf.save(tmp)["weights"] + save_linker(clf, tmp)
        write_json(meta, tmp / "model.json")
        atomic_write(tmp / "config.yaml", OmegaConf.to_yaml(resolved))
        write_json(metrics, tmp / "metrics.json")
        outputs.write_predictions(cv_preds, tmp)
        os.replace(tmp / "predictions.jsonl", tmp / "cv_predictions.jsonl")
        atomic_write(tmp / "MODEL_CARD.md", model_card(meta, metrics, final))

    write_artifact_dir(final, write, bool(cfg.run.overwrite))
    man = manifest(cfg, timer, loaded.embed_stats, {"model": str(final), "documents": len(corpus.doc_ids)})
    write_json(man, out_dir / "manifest.json")
    write_json(metrics, out_dir / "metrics.json")
    print(f"model: {final}")
    print(f"encoder: {encoder_line(encoder)}")
    print(f"cross-validated ({CV_PROTOCOL}, {len(corpus.doc_ids)} folds):")
    print(format_summary(cv_metrics))
    print(comparison_line(headline(cv_metrics), baseline))
    return {"path": str(final), "meta": meta, "metrics": metrics}


def comparison_line(cv: dict, baseline: dict) -> str:
    keys = ("cell_accuracy", "stance_macro_f1_addressed")
    parts = [f"{k} {cv[k]:.3f} vs lexicon {baseline[k]:.3f}" for k in keys if cv.get(k) is not None]
    parts.append(f"oppose F1 {cv['per_label_f1']['oppose']:.3f} vs lexicon {baseline['per_label_f1']['oppose']:.3f}")
    return "CV vs lexicon: " + "; ".join(parts)
