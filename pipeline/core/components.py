"""Stages built from their config groups through the registry, and the checks every command makes.

Importing this module registers every component (the imports below); `build` then resolves a node's
`_target_` among them, so no config, command line or artifact can name anything else.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from .. import registry
from ..errors import EncoderUnavailable, InputError
from ..stages import ingest, link, segment  # noqa: F401 - registers the components
from ..stages.classify import finetune, lexicon, logreg  # noqa: F401
from ..stages.embed import e5, e5hf, hf  # noqa: F401
from ..stages.embed.cache import CachedEncoder

log = logging.getLogger(__name__)
VECTORS = "sentence_vectors"


def as_dict(node) -> dict | None:
    """A config node as a plain dict (resolved); None stays None."""
    if node is None:
        return None
    if isinstance(node, DictConfig):
        try:
            return OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
        except MissingMandatoryValue as e:
            raise InputError("config", f"incomplete: {' '.join(str(e).split())}") from None
    if isinstance(node, Mapping):
        return dict(node)
    raise InputError("config", f"expected a mapping, got {type(node).__name__}")


def build(kind: str, node, **injected):
    return registry.build(kind, as_dict(node), where=kind, **injected)


def build_reader(cfg: DictConfig):
    return build("ingest", cfg.ingest)


def build_segmenter(cfg: DictConfig):
    return build("segmenter", cfg.segmenter)


def with_cache_dir(kind: str, node: dict, cache_dir) -> dict:
    """The node with `cache_dir` (paths.cache_dir) for a component that builds things there (the e5-hf
    folder), unless the node sets it: the core hands the location in, configs need not repeat it."""
    cls = registry.resolve(kind, node.get("_target_"), where=kind)
    if cache_dir is not None and "cache_dir" in registry.parameters(cls) and node.get("cache_dir") is None:
        return {**node, "cache_dir": str(cache_dir)}
    return node


def build_classifier(cfg: DictConfig):
    """The classifier of cfg.classifier with the linker of cfg.linker (None: the classifier's default)."""
    linker = build("linker", cfg.linker) if cfg.get("linker") is not None else None
    node = with_cache_dir("classifier", as_dict(cfg.classifier), (cfg.get("paths") or {}).get("cache_dir"))
    return registry.build("classifier", node, where="classifier", linker=linker)


def available(encoder) -> frozenset[str]:
    """The inputs a run can give a classifier besides sentences."""
    return frozenset({VECTORS}) if encoder is not None else frozenset()


def check_requirements(component, inputs: frozenset[str]) -> None:
    """A component that reads what the run does not provide is a config error, said before any work."""
    missing = sorted(set(getattr(component, "requires", ())) - set(inputs))
    if missing:
        raise InputError("embedder", f"{type(component).__name__} reads {', '.join(missing)} (it or its linker reads "
                                     f"embeddings): configure an embedder (e.g. embedder=e5-bundled), or use "
                                     f"linker=lexical and a classifier that reads no embeddings")


def check_trained(classifier) -> None:
    if getattr(classifier, "trainable", False) and not hasattr(classifier, "classes_"):
        raise InputError("classifier", f"{type(classifier).__name__} is not trained: predict with model=<artifact of "
                                       f"`stance train`>, or cross-validate with `stance evaluate`")


def build_encoder(node: dict, calibration=None, cache_dir=None):
    """One encoder from one embedder config (without its fallback); EncoderUnavailable if it can't be loaded."""
    node = {k: v for k, v in node.items() if k != "fallback"}
    if node.get("model") == "???":
        raise InputError("embedder", f"embedder '{node.get('name')}': set embedder.model to a hub id or a local "
                                     f"model directory")
    node = with_cache_dir("embedder", node, cache_dir)
    if calibration is not None and "calibration" in registry.parameters(registry.resolve("embedder", node.get("_target_"))):
        node["calibration"] = calibration
    return registry.build("embedder", node, where="embedder")


def _label(node: dict) -> str:
    name = node.get("name") or node.get("model")
    return f"{name} ({node['model']})" if node.get("model") else str(name)


def load_encoder(cfg, cache_dir=None, calibration=None):
    """The encoder a run uses: the configured one, else its `fallback` node (else that one's fallback, and
    so on), cached when `cache_dir` is given.

    `cfg`: the embedder config node (its `fallback` is a composed embedder config, or null).
    """
    node = as_dict(cfg)
    tried: list[tuple[str, str]] = []  # (encoder, why it is not available)
    current, encoder = node, None
    while current and encoder is None:
        try:
            encoder = build_encoder(current, calibration, cache_dir)
        except EncoderUnavailable as e:
            tried.append((_label(current), e.problem))
            current = current.get("fallback")
            if current:
                log.warning("embedder '%s' is not available (%s); falling back to '%s'", tried[-1][0], e.problem,
                            current.get("name"))
    if encoder is None:
        what, problem = tried[0]
        if len(tried) == 1:
            raise EncoderUnavailable(
                f"embedder '{what}' is not available: {problem}. Run `stance download-models`, point embedder.model "
                f"at a local copy, or keep its fallback (embedder=kb-sbert falls back to e5-hf, then e5-bundled)")
        others = "; ".join(f"'{w}' ({p})" for w, p in tried[1:])
        raise EncoderUnavailable(f"embedder '{what}' is not available ({problem}), nor is its fallback {others}")
    if tried:
        encoder.info.fallback_from = tried[0][0]
        encoder.info.fallback_reason = "; ".join(p for _, p in tried)
    return CachedEncoder(encoder, cache_dir) if cache_dir else encoder


def encoder_config(cfg: DictConfig, encoder_info: dict | None) -> dict | None:
    """The embedder config of the encoder that actually ran (`encoder_info`: its recorded identity): its
    fallback's when it fell back, so an artifact made here loads the same encoder on any machine."""
    node = as_dict(cfg.get("embedder"))
    if node and encoder_info and encoder_info.get("fallback_from") and node.get("fallback"):
        return node["fallback"]
    return node
