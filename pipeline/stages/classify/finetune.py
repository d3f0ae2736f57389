"""A cross-encoder stance classifier: (proposal title, heading + sentence) -> stance, fine-tuned with
`transformers.Trainer` on the same sentence-level pairs as logreg."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ...errors import EncoderUnavailable
from ...files import write_json
from ...records import STANCES, Catalog
from ...registry import register
from ..embed.base import available_cores
from ..embed.hub import is_load_error, looks_local, quiet_hub, resolved_revision
from .features import NONE, DocPairs
from .trainable import TrainableClassifier


@register("classifier", "finetune.v2")
class FinetuneClassifier(TrainableClassifier):
    """Cross-encoder: [CLS] proposal title [SEP] heading: sentence [SEP] -> stance, fine-tuned with
    `transformers.Trainer` (class-weighted cross-entropy; a GPU when present, else CPU).

    `model`: a hub id (default KB/bert-base-swedish-cased; `revision` pins it) or a local directory.
    `none_per_positive` caps the `none` pairs (sampled with the seed) to keep CPU training short.
    """

    def __init__(self, linker=None, model: str = "KB/bert-base-swedish-cased", revision: str | None = None,
                 epochs: float = 3.0, learning_rate: float = 3e-5, batch_size: int = 16, max_length: int = 128,
                 weight_decay: float = 0.01, warmup_ratio: float = 0.1, max_steps: int = -1, seed: int = 0,
                 none_per_positive: float = 3.0, top_k: int = 0, strong: float = 0.5, min_override: float = 0.5,
                 backoff_unseen: bool = True, general_score: float = 0.6, comment_score: float = 0.5):
        super().__init__(linker=linker, general_score=general_score, comment_score=comment_score)
        self.model = model
        self.revision = revision
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_length = max_length
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.max_steps = max_steps
        self.seed = seed
        self.none_per_positive = none_per_positive
        self.top_k = top_k
        self.strong = strong
        self.min_override = min_override
        self.backoff_unseen = backoff_unseen

    @staticmethod
    def _texts(docs: list[DocPairs], catalog: Catalog) -> tuple[list[str], list[str]]:
        first, second = [], []
        for d in docs:
            for i, pid in d.pairs:
                first.append((d.catalog or catalog)[pid].title)
                second.append(d.sentences[i].with_heading)
        return first, second

    def _load_base(self, num_labels: int):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        labels = [str(c) for c in self.classes_]
        kw = dict(revision=self.revision, trust_remote_code=False)
        where = str(Path(self.model).expanduser()) if looks_local(str(self.model)) else str(self.model)
        try:
            with quiet_hub():
                tok = AutoTokenizer.from_pretrained(where, **kw)
                model = AutoModelForSequenceClassification.from_pretrained(
                    where, num_labels=num_labels, id2label=dict(enumerate(labels)),
                    label2id={c: k for k, c in enumerate(labels)}, **kw)
        except Exception as e:
            if not is_load_error(e):
                raise
            raise EncoderUnavailable(f"cannot load the fine-tuning base model {self.model}: "
                                     f"{' '.join(str(e).split())[:300]}") from None
        return tok, model

    def _device(self):
        import torch

        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def _fit_pairs(self, docs, y, catalog) -> None:
        import tempfile

        import torch
        from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, set_seed

        torch.set_num_threads(available_cores())
        set_seed(self.seed)
        self.classes_ = np.asarray([c for c in STANCES if c in set(y)])
        first, second = self._texts(docs, catalog)
        keep = self._subsample(y)
        first, second, y = [first[k] for k in keep], [second[k] for k in keep], y[keep]
        tok, model = self._load_base(len(self.classes_))
        index = {c: k for k, c in enumerate(self.classes_)}
        enc = tok(first, second, truncation="longest_first", max_length=self.max_length)
        rows = [{"input_ids": enc["input_ids"][k], "attention_mask": enc["attention_mask"][k],
                 **({"token_type_ids": enc["token_type_ids"][k]} if "token_type_ids" in enc else {}),
                 "labels": index[y[k]]} for k in range(len(y))]
        counts = np.bincount([r["labels"] for r in rows], minlength=len(self.classes_))
        weights = torch.tensor(len(rows) / (len(self.classes_) * np.maximum(counts, 1)), dtype=torch.float)

        class WeightedTrainer(Trainer):
            def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
                labels = inputs.pop("labels")
                outputs = model(**inputs)
                loss = torch.nn.functional.cross_entropy(outputs.logits, labels, weight=weights.to(outputs.logits.device))
                return (loss, outputs) if return_outputs else loss

        with tempfile.TemporaryDirectory(prefix="stance-finetune-") as tmp:
            args = self._training_args(tmp, len(rows))
            trainer = WeightedTrainer(model=model, args=args, train_dataset=rows,
                                      data_collator=DataCollatorWithPadding(tok))
            trainer.remove_callback(PrinterCallback)  # the run's log says what it needs
            result = trainer.train()
        self.train_loss_ = float(result.training_loss)
        self.train_steps_ = int(result.global_step)
        model.eval()
        self.tokenizer_, self.model_ = tok, model

    def _training_args(self, tmp: str, n_rows: int):
        from transformers import TrainingArguments

        steps_per_epoch = max(1, math.ceil(n_rows / self.batch_size))
        total = self.max_steps if self.max_steps and self.max_steps > 0 else math.ceil(steps_per_epoch * self.epochs)
        return TrainingArguments(
            output_dir=tmp, num_train_epochs=self.epochs, max_steps=self.max_steps,
            learning_rate=self.learning_rate, per_device_train_batch_size=self.batch_size,
            weight_decay=self.weight_decay, warmup_steps=int(round(self.warmup_ratio * total)), seed=self.seed,
            data_seed=self.seed, save_strategy="no", eval_strategy="no", logging_strategy="no", report_to=[],
            disable_tqdm=True, use_cpu=self._device().type == "cpu", dataloader_num_workers=0,
        )

    def _subsample(self, y: np.ndarray) -> np.ndarray:
        """All stance pairs, and at most `none_per_positive` times as many `none` pairs (seeded)."""
        idx = np.arange(len(y))
        pos, neg = idx[y != NONE], idx[y == NONE]
        cap = int(math.ceil(self.none_per_positive * max(1, len(pos)))) if self.none_per_positive else len(neg)
        if len(neg) > cap:
            neg = np.sort(np.random.default_rng(self.seed).choice(neg, size=cap, replace=False))
        return np.sort(np.concatenate([pos, neg]))

    def _proba(self, docs, catalog) -> np.ndarray:
        import torch

        first, second = self._texts(docs, catalog)
        device = next(self.model_.parameters()).device
        out = []
        with torch.inference_mode():
            for b in range(0, len(first), 64):
                enc = self.tokenizer_(first[b:b + 64], second[b:b + 64], truncation="longest_first",
                                      max_length=self.max_length, padding=True, return_tensors="pt")
                logits = self.model_(**{k: v.to(device) for k, v in enc.items()}).logits
                out.append(torch.softmax(logits.float(), -1).cpu().numpy())
        return np.vstack(out) if out else np.zeros((0, len(self.classes_)))

    # -- persistence: save_pretrained (safetensors) + JSON ---------------------------------------
    def save(self, directory) -> dict:
        self._check_fitted()
        directory = Path(directory)
        (directory / "model").mkdir(parents=True, exist_ok=True)
        with quiet_hub():
            self.model_.save_pretrained(directory / "model")  # safetensors: transformers writes no pickle
            self.tokenizer_.save_pretrained(directory / "model")

        spec = {"classes": [str(c) for c in self.classes_], "hyperparameters": self.hyperparameters(),
                "base_model": {"model": str(self.model), "revision": resolved_revision(str(self.model), self.revision)},
                "train_loss": getattr(self, "train_loss_", None), "train_steps": getattr(self, "train_steps_", None)}
        write_json(spec, directory / "finetune.json")
        return {"weights": ["model/", "finetune.json"]}

    @classmethod
    def load(cls, directory, linker=None, **overrides) -> "FinetuneClassifier":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        directory = Path(directory)
        spec, hyper = cls.read_spec(directory / "finetune.json")
        clf = cls(linker=linker, **{**hyper, **overrides})
        clf.classes_ = np.asarray(spec["classes"])
        kw = dict(trust_remote_code=False, local_files_only=True, use_safetensors=True)
        with quiet_hub():
            clf.tokenizer_ = AutoTokenizer.from_pretrained(str(directory / "model"), trust_remote_code=False,
                                                           local_files_only=True)
            clf.model_ = AutoModelForSequenceClassification.from_pretrained(str(directory / "model"), **kw)
        clf.model_.to(clf._device()).eval()
        return clf
