"""Hugging Face models by hub id or local folder: the cache first, then the hub unless offline.

An air-gapped run must fail in seconds with one line, not after minutes of retries: one TCP probe
decides whether the hub is reachable, and hub logging is quieted while loading.
"""
from __future__ import annotations

import logging
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from ...errors import EncoderUnavailable
from .base import one_line

log = logging.getLogger(__name__)


def env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def hub_reachable(timeout: float = 3.0) -> bool:
    """One quick TCP probe, so an air-gapped run fails in seconds instead of minutes of retries."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # a proxy decides; let the real request find out
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


@contextmanager
def quiet_hub():
    """Hub retries log a line per attempt and loading draws progress bars; we report in one line."""
    from transformers.utils import logging as hf_logging

    loggers = [logging.getLogger(n) for n in ("huggingface_hub", "transformers")]
    levels = [lg.level for lg in loggers]
    bars = hf_logging.is_progress_bar_enabled()
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, levels):
            lg.setLevel(lvl)
        if bars:
            hf_logging.enable_progress_bar()


def is_load_error(e: Exception) -> bool:
    mod = type(e).__module__ or ""
    return isinstance(e, (OSError, ValueError)) or mod.startswith(("httpx", "huggingface_hub", "requests", "urllib3"))


def looks_local(model: str) -> bool:
    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or Path(model).expanduser().is_dir()


def load_pretrained(model: str, revision: str | None = None, **model_kwargs):
    """(tokenizer, model) by hub id or local dir: cache first, then the hub unless HF_HUB_OFFLINE=1.

    `model_kwargs` go to `AutoModel.from_pretrained` (code-chosen, e.g. `add_pooling_layer=False`).
    Raises EncoderUnavailable with a one-line reason when neither works.
    """
    from transformers import AutoModel, AutoTokenizer

    def load(local_only: bool, where: str):
        kw = dict(revision=revision, trust_remote_code=False, local_files_only=local_only)
        with quiet_hub():
            return AutoTokenizer.from_pretrained(where, **kw), AutoModel.from_pretrained(where, **kw, **model_kwargs)

    if looks_local(model):
        path = Path(model).expanduser()
        if not path.is_dir():
            raise EncoderUnavailable(f"no model directory at {path}")
        try:
            return load(True, str(path))
        except Exception as e:
            if not is_load_error(e):
                raise
            raise EncoderUnavailable(f"cannot load {path}: {one_line(e)}") from None
    try:
        return load(True, model)
    except Exception as e:
        if not is_load_error(e):
            raise
    if env_true("HF_HUB_OFFLINE") or env_true("TRANSFORMERS_OFFLINE"):
        raise EncoderUnavailable(f"{model} is not in the Hugging Face cache and HF_HUB_OFFLINE=1")
    if not hub_reachable():
        raise EncoderUnavailable(f"{model} is not in the Hugging Face cache and the hub cannot be reached")
    try:
        return load(False, model)
    except Exception as e:
        if not is_load_error(e):
            raise
        raise EncoderUnavailable(f"cannot download {model}: {one_line(e)}") from None


def resolved_revision(model: str, revision: str | None) -> str | None:
    """The commit hash a hub model was loaded at (pins a run to exact weights); None for local dirs."""
    if looks_local(model):
        return revision
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(model, "config.json", revision=revision)
    except Exception:  # a malformed id or cache: the configured revision is all we know
        return revision
    return Path(path).parent.name if isinstance(path, str) else revision




def download_models(models: dict[str, tuple[str, str | None]]) -> dict[str, str]:
    """Pre-fetch hub models into the Hugging Face cache (HF_HOME) for later offline runs.

    `models`: {name: (hub id, revision or None)}. Returns {name: local snapshot dir}.
    """
    from huggingface_hub import list_repo_files, snapshot_download

    done = {}
    for name, (model, rev) in models.items():
        if env_true("HF_HUB_OFFLINE") or env_true("TRANSFORMERS_OFFLINE"):
            raise EncoderUnavailable(f"cannot download {model}: HF_HUB_OFFLINE=1")
        if not hub_reachable():
            raise EncoderUnavailable(f"cannot download {model}: the Hugging Face hub cannot be reached")
        try:
            files = list_repo_files(model, revision=rev)
            weights = ["*.safetensors"] if any(f.endswith(".safetensors") for f in files) else ["pytorch_model.bin"]
            done[name] = snapshot_download(model, revision=rev, allow_patterns=["*.json", "*.txt", "*.model"] + weights)
        except Exception as e:
            if not is_load_error(e):
                raise
            raise EncoderUnavailable(f"cannot download {model}: {one_line(e)}") from None
        log.info("%s: %s -> %s", name, model, done[name])
    return done
