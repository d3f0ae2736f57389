"""The encoder interface every embedder follows, and the identity a run records of the one it used.

`encode(texts, role) -> (n, dim) float32`, L2-normalised; `.info` says which model produced the
vectors (name, model, revision, pooling, fingerprint, what it fell back from), so a manifest can
name the encoder that actually ran.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np

# Proposals are the queries of our asymmetric retrieval; document sentences are the passages.
ROLES = ("sentence", "proposal")

# Load-time sample for the int8 check: short and long, formal Swedish as in remissvar.
CALIBRATION = (
    "Myndigheten tillstyrker förslaget.",
    "Nämnden beslutar att bifalla förslaget till remissvar.",
    "Förbundet avstyrker förslaget i avsnitt 4.2 och anser att frågan bör utredas vidare.",
    "Vi ser positivt på förslaget men saknar en analys av hur det ska finansieras och genomföras i "
    "praktiken, inte minst för mindre aktörer.",
    "Föreningen delar utredningens bedömning att ansvarsfördelningen behöver förtydligas, särskilt när "
    "det gäller utvärderingen av de nya kraven.",
    "Styrelsen har inget att invända mot utredningens förslag i övrigt.",
    "Inga synpunkter.",
    "Konsekvensanalysen är bristfällig vad gäller kostnaderna, och tidplanen behöver förtydligas innan "
    "lagändringen träder i kraft.",
)
INT8_MIN_COSINE = 0.99


@dataclass
class EncoderInfo:
    """Identity of the encoder that actually produced a run's vectors (goes into manifests and reports)."""

    name: str
    model: str
    revision: str | None
    pooling: str
    normalize: bool
    max_length: int
    dim: int
    quantize: str | None
    window_overlap: float = 0.0  # share of a window repeated in the next, for texts over max_length
    fallback_from: str | None = None
    fallback_reason: str | None = None
    backend: str = "transformers"
    fingerprint: str = ""  # hash of config + sampled weights: a local dir edited in place changes it
    note: str = ""
    source: dict | None = None  # where converted weights came from (e5-hf: package, version, file hash)

    def to_dict(self) -> dict:
        return asdict(self)

    def cache_spec(self) -> dict:
        """Everything that changes the vectors; the cache keys on it (not on name or fallback)."""
        keys = ("backend", "model", "revision", "fingerprint", "pooling", "normalize", "max_length", "quantize",
                "window_overlap")
        return {k: getattr(self, k) for k in keys}


def one_line(e) -> str:
    return " ".join(str(e).split())


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role '{role}' (expected one of {', '.join(ROLES)})")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1




class Encoder:
    """Base: `encode(texts, role)` -> (n, dim) float32; `.info`; `.windowed` counts long inputs."""

    info: EncoderInfo
    windowed: int = 0

    def model_input(self, text: str, role: str = "sentence") -> str:
        """The exact string the model sees (the cache keys on it, so roles share vectors where equal)."""
        check_role(role)
        return text

    def encode(self, texts, role: str = "sentence") -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError
