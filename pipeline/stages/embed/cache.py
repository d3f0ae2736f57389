"""A content-addressed, on-disk store of an encoder's vectors: re-running with another classifier embeds nothing."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ...files import atomic_path, write_json
from .base import EncoderInfo, one_line

log = logging.getLogger(__name__)


class CachedEncoder:
    """Wraps an encoder with an on-disk, content-addressed store of its vectors.

    A vector's key is sha256(encoder spec + exact model input), so a changed model, revision,
    pooling, normalisation, max length or quantisation misses and everything else hits. Each call
    that computes something appends one safetensors shard (keys + vectors), written to a temp
    file and renamed into place, so a killed run never leaves a half-written shard; the index is
    rebuilt from the shards' key arrays, so there is no separate file to get out of step.
    """

    COMPACT_AT = 256  # shards; merged into one when a store has more

    def __init__(self, encoder, cache_dir):
        self.encoder = encoder
        self.cache_dir = Path(cache_dir)
        self.hits = self.misses = 0
        self._spec = json.dumps(encoder.info.cache_spec(), sort_keys=True)
        self.dir = self.cache_dir / "embeddings" / hashlib.sha256(self._spec.encode()).hexdigest()[:20]
        self._index: dict[bytes, tuple[str, int]] | None = None
        self._vectors: dict[str, np.ndarray] = {}

    @property
    def info(self) -> EncoderInfo:
        return self.encoder.info

    @property
    def windowed(self) -> int:
        return self.encoder.windowed

    def model_input(self, text: str, role: str = "sentence") -> str:
        return self.encoder.model_input(text, role)

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(self._spec.encode() + b"\0" + text.encode("utf-8")).digest()

    def _shards(self) -> list[Path]:
        return sorted(self.dir.glob("*.safetensors")) if self.dir.is_dir() else []

    def _load_index(self) -> dict:
        if self._index is None:
            from safetensors import safe_open

            self._index, self._vectors = {}, {}
            shards = self._shards()
            for p in shards:
                try:
                    with safe_open(str(p), framework="np") as f:
                        keys = f.get_tensor("keys")
                except Exception as e:  # unreadable shard: skip it, its texts are recomputed
                    log.warning("embedding cache: ignoring unreadable shard %s (%s)", p.name, one_line(e))
                    continue
                for row, k in enumerate(keys):
                    self._index[k.tobytes()] = (p.name, row)
            if len(shards) > self.COMPACT_AT:
                self._compact()
        return self._index

    def _shard_vectors(self, name: str) -> np.ndarray:
        if name not in self._vectors:
            from safetensors.numpy import load_file

            self._vectors[name] = load_file(str(self.dir / name))["vectors"]
        return self._vectors[name]

    def _write(self, keys: np.ndarray, vectors: np.ndarray) -> str:
        from safetensors.numpy import save_file

        spec_file = self.dir / "spec.json"
        if not spec_file.exists():  # for people browsing the cache
            write_json(self.encoder.info.to_dict(), spec_file)
        name = f"{os.getpid()}-{uuid.uuid4().hex}.safetensors"
        with atomic_path(self.dir / name) as tmp:
            save_file({"keys": np.ascontiguousarray(keys), "vectors": np.ascontiguousarray(vectors)}, str(tmp))
        return name

    def _compact(self) -> None:
        """Merge all shards into one: fewer files to open on the next run."""
        old = self._shards()
        keys = list(self._index)
        vectors = np.stack([self._shard_vectors(s)[r] for s, r in (self._index[k] for k in keys)])
        name = self._write(np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 32), vectors)
        for p in old:
            p.unlink(missing_ok=True)
        self._index = {k: (name, r) for r, k in enumerate(keys)}
        self._vectors = {name: vectors}

    @contextmanager
    def _lock(self):
        """An exclusive lock on this encoder's store while computing misses: concurrent runs that share
        the encoder (a parallel sweep) then compute each text once, and the later ones hit."""
        import fcntl

        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _refresh(self, todo: dict, out: np.ndarray) -> None:
        """Index shards written by other processes since this one looked, and fill the misses they cover."""
        from safetensors import safe_open

        known = {name for name, _ in self._index.values()}
        for p in self._shards():
            if p.name in known:
                continue
            try:
                with safe_open(str(p), framework="np") as f:
                    keys = f.get_tensor("keys")
            except Exception:  # noqa: BLE001 - unreadable: its texts are recomputed
                continue
            for row, k in enumerate(keys):
                self._index[k.tobytes()] = (p.name, row)
        for k in list(todo):
            hit = self._index.get(k)
            if hit is None:
                continue
            try:
                vec = self._shard_vectors(hit[0])[hit[1]]
            except FileNotFoundError:
                continue
            for i in todo.pop(k):
                out[i] = vec
                self.hits += 1

    def encode(self, texts, role: str = "sentence") -> np.ndarray:
        texts = list(texts)
        keys = [self._key(self.encoder.model_input(t, role)) for t in texts]
        index = self._load_index()
        out = np.empty((len(texts), self.info.dim), dtype=np.float32)
        todo: dict[bytes, list[int]] = {}
        for i, k in enumerate(keys):
            hit = index.get(k)
            if hit is None:
                todo.setdefault(k, []).append(i)
                continue
            try:
                out[i] = self._shard_vectors(hit[0])[hit[1]]
                self.hits += 1
            except FileNotFoundError:  # another process compacted the store: treat as a miss
                index.pop(k, None)
                todo.setdefault(k, []).append(i)
        if todo:
            with self._lock():  # a parallel sweep job with this encoder may be computing the same texts
                self._refresh(todo, out)
                if todo:
                    miss_keys = list(todo)
                    vectors = np.asarray(self.encoder.encode([texts[todo[k][0]] for k in miss_keys], role),
                                         dtype=np.float32)
                    for k, v in zip(miss_keys, vectors):
                        out[todo[k]] = v
                        self.misses += len(todo[k])
                    name = self._write(np.frombuffer(b"".join(miss_keys), dtype=np.uint8).reshape(-1, 32), vectors)
                    self._vectors[name] = vectors
                    for r, k in enumerate(miss_keys):
                        index[k] = (name, r)
        return out
