"""A `transformers` encoder (BERT, XLM-R, …) by hub id or local folder, pooled and tuned for CPU."""
from __future__ import annotations

import hashlib
import logging
import warnings

import numpy as np

from ...registry import register
from .base import CALIBRATION, INT8_MIN_COSINE, ROLES, Encoder, EncoderInfo, available_cores, check_role
from .hub import load_pretrained, resolved_revision

log = logging.getLogger(__name__)


def fingerprint(model) -> str:
    """Config plus a strided sample of every weight: cheap, and changes when the weights do."""
    import torch

    h = hashlib.sha256(model.config.to_json_string(use_diff=False).encode())
    with torch.no_grad():
        for name, t in sorted(model.state_dict().items()):
            flat = t.detach().reshape(-1)
            h.update(name.encode())
            h.update(flat[:: max(1, flat.numel() // 1024)].float().numpy().tobytes())
    return h.hexdigest()[:16]




@register("embedder", "hf.v1")
class HFEncoder(Encoder):
    """A transformers encoder with masked mean (or CLS) pooling, tuned for CPU.

    Inputs are sorted by token length and each batch is padded only to its own longest item;
    texts longer than `max_length` are split into overlapping windows whose pooled vectors are
    averaged weighted by token count, so nothing is silently truncated. `quantize="int8"` applies
    dynamic int8 quantisation to the Linear layers, kept only if its cosine to fp32 on a
    calibration sample stays >= 0.99. `prefixes` ({role: text}) are put before each text of that
    role, for models trained with them (E5: "query: " / "passage: "); the cache keys on the result.
    An int8 vector can differ in the 3rd decimal with its batch mates (activation scales are per
    batch); fp32 vectors only by float rounding, which is why fp32 is the default.
    """

    TOKENS_PER_ROW = 32  # padded-token budget per batch row (see `batches`)
    MODEL_KWARGS: dict = {}  # passed to AutoModel.from_pretrained by subclasses (never from a config)

    def __init__(self, model, revision=None, pooling="mean", normalize=True, max_length=512, batch_size=32,
                 quantize=None, overlap=0.25, calibration=None, name=None, num_threads=None, prefixes=None):
        import torch

        if pooling not in ("mean", "cls"):
            raise ValueError(f"unknown pooling '{pooling}' (expected mean or cls)")
        if quantize not in (None, "int8"):
            raise ValueError(f"unknown quantize '{quantize}' (expected null or int8)")
        if not 0 <= overlap < 1:
            raise ValueError(f"overlap must be in [0, 1), got {overlap}")
        unknown = sorted(set(prefixes or {}) - set(ROLES))
        if unknown:
            raise ValueError(f"prefixes for unknown role(s) {', '.join(unknown)} (roles: {', '.join(ROLES)})")
        self.prefixes = {r: str((prefixes or {}).get(r) or "") for r in ROLES}
        self.model_name, self.pooling, self.normalize = str(model), pooling, bool(normalize)
        self.batch_size, self.overlap = int(batch_size), float(overlap)
        self.windowed = 0
        torch.set_num_threads(num_threads or available_cores())

        self.tokenizer, self.model = load_pretrained(self.model_name, revision, **self.MODEL_KWARGS)
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
        fingerprint_ = fingerprint(self.model)
        self.info = EncoderInfo(
            name=name or self.model_name, model=self.model_name,
            revision=resolved_revision(self.model_name, revision), pooling=pooling, normalize=self.normalize,
            max_length=self.max_length, dim=int(cfg.hidden_size), quantize=None, window_overlap=self.overlap,
            fingerprint=fingerprint_,
        )
        if quantize == "int8":
            self._try_int8([self.model_input(t) for t in calibration or CALIBRATION])

    def _try_int8(self, sample) -> None:
        """All Linear layers int8 if that holds cosine >= 0.99 to fp32 on the sample; else all but the FFN
        output layers (`int8-partial`: they read GELU activations, whose outliers a per-tensor int8
        scale represents worst: on e5-small that is min cosine 0.97 -> 0.99); else fp32."""
        import torch
        from torch.ao.quantization import quantize_dynamic

        ffn = getattr(self.model.config, "intermediate_size", None)
        linear = {n: m for n, m in self.model.named_modules() if isinstance(m, torch.nn.Linear)}
        ladder = [("int8", set(linear)), ("int8-partial", {n for n, m in linear.items() if m.in_features != ffn})]
        ref = self._encode(sample, self.model, count=False)
        tried = []
        for label, names in ladder:
            if not names or (tried and names == ladder[0][1]):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated in favour of torchao
                qmodel = quantize_dynamic(self.model, names, dtype=torch.qint8)
            got = self._encode(sample, qmodel, count=False)
            cos = float(np.min(np.sum(ref * got, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))))
            tried.append(f"{label} {cos:.4f}")
            if cos >= INT8_MIN_COSINE:
                kept = "" if label == "int8" else f" ({len(linear) - len(names)} FFN output layers kept fp32)"
                self.model, self.info.quantize = qmodel, label
                self.info.note = f"{label} min cosine to fp32 {cos:.4f} on {len(sample)} calibration texts{kept}"
                return
        self.info.note = f"int8 rejected: min cosine to fp32 {', '.join(tried)} < {INT8_MIN_COSINE}; using fp32"
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

    def model_input(self, text: str, role: str = "sentence") -> str:
        check_role(role)
        return self.prefixes[role] + text

    def encode(self, texts, role: str = "sentence") -> np.ndarray:
        check_role(role)  # without prefixes (BERT, sentence-BERT) the role changes nothing
        return self._encode([self.model_input(t, role) for t in texts], self.model)
