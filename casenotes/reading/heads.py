"""Small trained heads on frozen embeddings, stored as plain JSON arrays.

A head is a standardised linear model (scikit-learn's LogisticRegression at
training time); at scoring time it is a matrix product in numpy, so the
artifact needs no pickle and no scikit-learn version match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["Calibrator", "LinearHead", "fit_calibrator", "fit_head", "in_order"]

HeadKind = Literal["softmax", "one-vs-rest"]


@dataclass(frozen=True)
class LinearHead:
    classes: tuple[str, ...]
    kind: HeadKind
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (classes, features); one row for a binary softmax head
    intercept: np.ndarray

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(n, len(classes)) probabilities; rows sum to 1 for softmax heads."""
        if features.shape[0] == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        logits = ((features - self.mean) / self.scale) @ self.coef.T + self.intercept
        if self.kind == "one-vs-rest":
            return 1.0 / (1.0 + np.exp(-logits))
        if logits.shape[1] == 1:  # binary: the single row scores the second class
            positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes), "kind": self.kind,
            "mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist(),
            "coef": self.coef.round(6).tolist(), "intercept": self.intercept.round(6).tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearHead:
        return cls(
            classes=tuple(data["classes"]), kind=data["kind"],
            mean=np.asarray(data["mean"]), scale=np.asarray(data["scale"]),
            coef=np.asarray(data["coef"]), intercept=np.asarray(data["intercept"]),
        )


def fit_head(features: np.ndarray, labels: Sequence[str] | np.ndarray, *, kind: HeadKind = "softmax",
             classes: Sequence[str] | None = None, regularization: float = 1.0,
             balanced: bool = True) -> LinearHead:
    """Fit a logistic-regression head. For one-vs-rest, `labels` is an (n, k) 0/1 matrix."""
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-8] = 1.0
    scaled = (features - mean) / scale
    if kind == "one-vs-rest":
        targets = np.asarray(labels)
        rows, intercepts = [], []
        for column in range(targets.shape[1]):
            y = targets[:, column]
            if y.min() == y.max():  # a class never (or always) seen: a constant head
                rows.append(np.zeros(features.shape[1]))
                intercepts.append(-8.0 if y.max() == 0 else 8.0)
                continue
            model = LogisticRegression(C=regularization, max_iter=2000, class_weight="balanced")
            model.fit(scaled, y)
            rows.append(model.coef_[0])
            intercepts.append(model.intercept_[0])
        return LinearHead(tuple(classes or range(targets.shape[1])), kind, mean, scale,
                          np.asarray(rows), np.asarray(intercepts))
    seen = sorted({str(label) for label in np.asarray(labels)})
    if len(seen) == 1:  # one label only (a small training slice): a constant head over `classes`
        names = tuple(classes or seen)
        return LinearHead(names, "softmax", mean, scale, np.zeros((len(names), features.shape[1])),
                          np.array([8.0 if name == seen[0] else -8.0 for name in names]))
    model = LogisticRegression(C=regularization, max_iter=2000, class_weight="balanced" if balanced else None)
    model.fit(scaled, np.asarray(labels))
    return LinearHead(tuple(str(c) for c in model.classes_), "softmax", mean, scale,
                      model.coef_, model.intercept_)


def in_order(probs: np.ndarray, classes: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """(n, len(names)) probabilities from a head's (n, len(classes)) ones, columns in the order
    of `names`; a name the head never saw in training (a small slice) has probability 0."""
    ordered = np.zeros((len(probs), len(names)))
    for column, name in enumerate(classes):
        ordered[:, list(names).index(name)] = probs[:, column]
    return ordered


@dataclass(frozen=True)
class Calibrator:
    """Isotonic map from a raw score to the observed rate of being right."""

    raw: tuple[float, ...]
    calibrated: tuple[float, ...]

    def __call__(self, raw_score: float) -> float:
        if not self.raw:
            return float(raw_score)
        return float(np.interp(raw_score, self.raw, self.calibrated))

    def to_json(self) -> dict[str, Any]:
        return {"raw": list(self.raw), "calibrated": list(self.calibrated)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibrator:
        return cls(tuple(data["raw"]), tuple(data["calibrated"]))


def fit_calibrator(raw_scores: Sequence[float], correct: Sequence[bool]) -> Calibrator:
    from sklearn.isotonic import IsotonicRegression

    if len(raw_scores) < 10:
        return Calibrator((), ())
    model = IsotonicRegression(y_min=0.02, y_max=0.98, out_of_bounds="clip")
    model.fit(np.asarray(raw_scores, dtype=float), np.asarray(correct, dtype=float))
    return Calibrator(tuple(round(float(x), 6) for x in model.X_thresholds_),
                      tuple(round(float(y), 6) for y in model.y_thresholds_))
