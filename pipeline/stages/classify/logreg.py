"""Logistic regression over (sentence, proposal) pair features (pipeline/stages/classify/features.py).

The lexicon's reading is one block of the features, scaled up, so under strong L2 trusting the
lexicon is the cheap explanation and the model learns corrections on top of it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...files import write_json
from ...registry import register
from .features import DocPairs, PairFeatures
from .trainable import TrainableClassifier


@register("classifier", "logreg.v2")
class LogRegClassifier(TrainableClassifier):
    """Multinomial logistic regression over (sentence, proposal) pair features; see the module doc."""

    def __init__(self, linker=None, C: float = 0.1, class_weight: str | None = "balanced", max_iter: int = 2000,
                 random_state: int = 0, use_embeddings: bool = True, embedding_scale: float = 1.0,
                 lexicon_scale: float = 3.0, top_k: int = 0, strong: float = 0.5, min_override: float = 0.5,
                 backoff_unseen: bool = True, general_score: float = 0.6, comment_score: float = 0.5):
        super().__init__(linker=linker, general_score=general_score, comment_score=comment_score)
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state
        self.use_embeddings = use_embeddings
        self.embedding_scale = embedding_scale
        self.lexicon_scale = lexicon_scale
        self.top_k = top_k
        self.strong = strong
        self.min_override = min_override
        self.backoff_unseen = backoff_unseen

    @property
    def requires(self) -> frozenset[str]:
        return super().requires | ({"sentence_vectors"} if self.use_embeddings else set())

    def _features(self, docs: list[DocPairs], catalog) -> np.ndarray:
        return np.vstack([self.features_.transform(d, catalog) for d in docs])

    def _fit_pairs(self, docs, y, catalog) -> None:
        from sklearn.linear_model import LogisticRegression

        dim = None
        if self.use_embeddings:
            first = next((d.sentence_vectors for d in docs if d.sentence_vectors is not None), None)
            if first is None:
                raise ValueError("logreg reads embeddings: configure an embedder (e.g. embedder=e5-bundled)")
            dim = int(np.asarray(first).shape[1])
        self.features_ = PairFeatures(self.use_embeddings, self.embedding_scale, self.lexicon_scale, dim)
        X = self._features(docs, catalog)
        model = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter,
                                   random_state=self.random_state)
        model.fit(X, y)
        self.coef_, self.intercept_ = model.coef_, model.intercept_
        self.classes_ = np.asarray(model.classes_)
        self.n_iter_ = model.n_iter_
        self.n_features_in_ = X.shape[1]

    def _proba(self, docs, catalog) -> np.ndarray:
        X = self._features(docs, catalog)
        logits = X @ self.coef_.T + self.intercept_
        if logits.shape[1] == 1:  # two classes: sklearn stores one row
            logits = np.hstack([-logits, logits]) / 2
        logits -= logits.max(1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(1, keepdims=True)

    def top_features(self, n: int = 10) -> dict[str, list[tuple[str, float]]]:
        """The largest coefficients per class: what the model leans on."""
        names, coef = self.features_.names(), self.coef_
        out = {}
        for k, cls in enumerate(self.classes_ if coef.shape[0] > 1 else self.classes_[1:]):
            order = np.argsort(-np.abs(coef[k]))[:n]
            out[str(cls)] = [(names[j], round(float(coef[k, j]), 3)) for j in order]
        return out

    # -- persistence: JSON + safetensors ---------------------------------------------------------
    def save(self, directory) -> dict:
        from safetensors.numpy import save_file

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({"coef": np.ascontiguousarray(self.coef_, dtype=np.float64),
                   "intercept": np.ascontiguousarray(self.intercept_, dtype=np.float64)},
                  str(directory / "weights.safetensors"))
        os.chmod(directory / "weights.safetensors", 0o644)
        spec = {"classes": [str(c) for c in self.classes_], "features": self.features_.spec(),
                "hyperparameters": self.hyperparameters()}
        write_json(spec, directory / "features.json")
        return {"weights": ["weights.safetensors", "features.json"]}

    @classmethod
    def load(cls, directory, linker=None, **overrides) -> "LogRegClassifier":
        from safetensors.numpy import load_file

        directory = Path(directory)
        spec, hyper = cls.read_spec(directory / "features.json")
        clf = cls(linker=linker, **{**hyper, **overrides})
        tensors = load_file(str(directory / "weights.safetensors"))
        clf.coef_, clf.intercept_ = tensors["coef"], tensors["intercept"]
        clf.classes_ = np.asarray(spec["classes"])
        clf.features_ = PairFeatures.from_spec(spec["features"])
        clf.n_features_in_ = clf.coef_.shape[1]
        if clf.n_features_in_ != len(clf.features_.names()):
            raise ValueError(f"{directory}: weights have {clf.n_features_in_} features, the spec names "
                             f"{len(clf.features_.names())}")
        return clf
