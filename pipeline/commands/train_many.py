"""`stance train data=all`: one model learned from several labelled corpora (several inquiries), with its
held-out quality per corpus: leave-one-document-out within each corpus and leave-one-inquiry-out."""
from __future__ import annotations

import os
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ..core import outputs
from ..core.artifacts import FORMAT, FORMAT_VERSION, save_linker, write_artifact_dir
from ..core.components import encoder_config
from ..core.corpus import load_corpora
from ..core.cv import CV_PROTOCOL, LOIO_PROTOCOL, cross_validate, leave_one_inquiry_out, predict_docs
from ..core.modelcard import corpora_card
from ..core.provenance import data_hash, encoder_line, git_state, manifest, versions
from ..evaluation import headline
from ..evaluation.summary import corpus_table
from ..files import atomic_write, write_json
from ..records import STANCES
from ..stages.classify.lexicon import LexiconClassifier


def train_many(cfg: DictConfig, out_dir: Path, final: Path, timer, scorer, make, probe) -> dict:
    loaded = load_corpora(cfg, timer)
    corpora = [ld.for_component(probe) for ld in loaded]
    inquiries = [ld.inquiry for ld in loaded]
    per_corpus, cv_preds = {}, []
    loio_preds = {}
    if len(set(inquiries)) > 1:
        with timer("leave_one_inquiry_out"):
            loio_preds, _ = leave_one_inquiry_out(make, corpora, inquiries, [ld.name for ld in loaded])
    for k, (ld, corpus) in enumerate(zip(loaded, corpora)):
        with timer("cross_validate"):
            preds, folds = cross_validate(make, corpus, scorer)
        cv_preds += preds
        base = LexiconClassifier(linker=probe.linker, general_score=probe.general_score,  # bound, not fitted:
                                 comment_score=probe.comment_score).bind(corpus.catalog, corpus.proposal_vectors)  # untrained
        per_corpus[ld.name] = {
            "real": ld.real, "inquiry": ld.inquiry, "documents": corpus.doc_ids, "n_labels": len(corpus.labels),
            CV_PROTOCOL: headline(scorer.score(preds, corpus.labels)),
            LOIO_PROTOCOL: headline(scorer.score(loio_preds[k], corpus.labels)) if k in loio_preds else None,
            "rules": headline(scorer.score(predict_docs(base, corpus, corpus.doc_ids), corpus.labels)),
            "folds": folds,
        }
    with timer("fit"):
        clf = make().fit(corpora)
    encoder = (loaded[0].embed_stats or {}).get("encoder")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved["embedder"] = encoder_config(cfg, encoder)
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": final.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "classifier": type(probe).component,
        "labels": list(STANCES), "classes": [str(c) for c in clf.classes_], "hyperparameters": clf.hyperparameters(),
        "linker": OmegaConf.to_container(cfg.linker, resolve=True) if cfg.get("linker") is not None else None,
        "encoder": encoder,
        "training_data": {"data_hash": data_hash(cfg), "corpora": {n: {k: v for k, v in m.items() if k != "folds"}
                                                                    for n, m in per_corpus.items()},
                          "documents": [d for c in corpora for d in c.doc_ids], **(clf.training_summary_ or {})},
        "cv": {"protocol": f"{CV_PROTOCOL} within each corpus; {LOIO_PROTOCOL}", "per_corpus": {
            n: {p: m[p] for p in (CV_PROTOCOL, LOIO_PROTOCOL, "rules")} for n, m in per_corpus.items()}},
        "train_command": " ".join(["stance", "train", *_task()]),
        "git": git_state(), "packages": versions(),
    }
    metrics = {"per_corpus": per_corpus}

    def write(tmp: Path) -> None:
        meta["weights"] = clf.save(tmp)["weights"] + save_linker(clf, tmp)
        write_json(meta, tmp / "model.json")
        atomic_write(tmp / "config.yaml", OmegaConf.to_yaml({g: resolved.get(g) for g in
                                                               ("segmenter", "linker", "classifier", "embedder")}))
        write_json(metrics, tmp / "metrics.json")
        outputs.write_predictions(cv_preds, tmp)
        os.replace(tmp / "predictions.jsonl", tmp / "cv_predictions.jsonl")
        atomic_write(tmp / "MODEL_CARD.md", corpora_card(meta, final))

    write_artifact_dir(final, write, bool(cfg.run.overwrite))
    write_json(manifest(cfg, timer, loaded[0].embed_stats, {"model": str(final)}), out_dir / "manifest.json")
    write_json(metrics, out_dir / "metrics.json")
    print(f"model: {final}\nencoder: {encoder_line(encoder)}")
    for protocol in (CV_PROTOCOL, LOIO_PROTOCOL, "rules"):
        rows = {n: m[protocol] for n, m in per_corpus.items() if m[protocol]}
        print(f"\n{protocol}:\n" + corpus_table({n: {**r, "real": per_corpus[n]["real"], "protocol": protocol,
                                                    "per_label": {"oppose": {"f1": r["per_label_f1"]["oppose"]}}}
                                                for n, r in rows.items()}))
    return {"path": str(final), "meta": meta, "metrics": {}}


def _task() -> list[str]:
    try:
        from hydra.core.hydra_config import HydraConfig

        return [o for o in HydraConfig.get().overrides.task if not o.startswith("command=")]
    except Exception:  # not under Hydra
        return []
