"""Image-classification scores as pure functions returning frozen dataclasses.

Confusion matrix, per-class and averaged precision / recall / F1, balanced
accuracy and one-vs-rest ROC AUC.

Formulas (``C`` the confusion matrix, rows true class, columns predicted class):

* precision_k = C[k, k] / sum_i C[i, k]; recall_k = C[k, k] / sum_j C[k, j];
  F1_k = 2 P R / (P + R). A ratio with a zero denominator is 0 (scikit-learn's
  ``zero_division=0``).
* macro averages: unweighted mean over the classes that occur in the truth or
  the prediction (scikit-learn's default label set); weighted averages: weighted
  by the true support.
* balanced accuracy: mean recall over the classes present in the truth.
* ROC AUC one-vs-rest: for class ``k`` the probability that a random image of
  class ``k`` scores higher on ``p_k`` than a random other image (ties count
  1/2; the Mann-Whitney U statistic); NaN when class ``k`` or its rest is
  absent. The macro AUC is the mean of the defined ones.

>>> m = classification_metrics([0, 0, 1, 1], [0, 1, 1, 1])
>>> m.accuracy, round(m.macro_f1, 4), m.support
(0.75, 0.7333, (2, 2))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata


def _labels(values: Any, name: str) -> np.ndarray:
    """Class ids as int64 ``(N,)``: integers, or floats holding whole numbers, >= 0."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1D sequence of class ids, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    whole = np.issubdtype(arr.dtype, np.integer) or (
        np.issubdtype(arr.dtype, np.floating) and bool(np.all(arr == np.round(arr)))
    )
    if not whole or arr.min() < 0:
        raise ValueError(f"{name} must hold non-negative integer class ids, got {arr[:5]}")
    return arr.astype(np.int64)


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int | None = None) -> np.ndarray:
    """Count ``C[i, j]`` of images of true class ``i`` predicted as ``j`` (int64).

    Examples
    --------
    >>> confusion_matrix([0, 1, 1], [0, 0, 1]).tolist()
    [[1, 0], [1, 1]]
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} entries but y_pred has {p.size}; need equal")
    n = int(max(t.max(initial=-1), p.max(initial=-1)) + 1) if n_classes is None else n_classes
    if t.size and max(t.max(), p.max()) >= n:
        raise ValueError(f"n_classes={n} but the labels hold class {max(t.max(), p.max())}")
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n)


def roc_auc_ovr(y_true: Any, probabilities: Any) -> np.ndarray:
    """One-vs-rest ROC AUC per class (NaN where the class or its rest is absent).

    Parameters
    ----------
    y_true : sequence of int
        True class ids ``(N,)``.
    probabilities : array_like
        Scores ``(N, n_classes)`` (e.g. softmax probabilities).

    Examples
    --------
    >>> roc_auc_ovr([0, 0, 1], [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]]).tolist()
    [1.0, 1.0]
    """
    t = _labels(y_true, "y_true")
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != t.size:
        raise ValueError(
            f"probabilities must have shape (n_images={t.size}, n_classes), got {p.shape}"
        )
    out = np.full(p.shape[1], np.nan)
    for k in range(p.shape[1]):
        pos = t == k
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if n_pos and n_neg:
            ranks = rankdata(p[:, k])  # average ranks for ties
            out[k] = (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return out


@dataclass(frozen=True)
class ClassificationMetrics:
    """Pooled classification scores (see the module docstring for the formulas).

    Per-class tuples have one entry per class ``0 .. n_classes - 1``.
    """

    class_names: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    support: tuple[int, ...]
    roc_auc: tuple[float, ...] | None
    accuracy: float
    balanced_accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    weighted_precision: float
    weighted_recall: float
    weighted_f1: float
    macro_roc_auc: float

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.support)

    def summary(self) -> dict[str, float]:
        """Return the averaged scores (``precision``, ``recall``, ``f1``: macro averages)."""
        return {
            "accuracy": self.accuracy, "balanced_accuracy": self.balanced_accuracy,
            "precision": self.macro_precision, "recall": self.macro_recall, "f1": self.macro_f1,
            "weighted_precision": self.weighted_precision,
            "weighted_recall": self.weighted_recall, "weighted_f1": self.weighted_f1,
            "roc_auc": self.macro_roc_auc, "n_images": int(sum(self.support)),
        }  # fmt: skip

    def report(self) -> pd.DataFrame:
        """Return a table like scikit-learn's ``classification_report``.

        One row per class, then ``macro avg`` and ``weighted avg`` (columns class,
        precision, recall, f1, support, roc_auc).
        """
        auc = self.roc_auc or (float("nan"),) * self.n_classes
        rows = [
            {"class": n, "precision": p, "recall": r, "f1": f, "support": s, "roc_auc": a}
            for n, p, r, f, s, a in zip(
                self.class_names, self.precision, self.recall, self.f1, self.support, auc
            )
        ]
        total = int(sum(self.support))
        rows.append({"class": "macro avg", "precision": self.macro_precision,
                     "recall": self.macro_recall, "f1": self.macro_f1, "support": total,
                     "roc_auc": self.macro_roc_auc})  # fmt: skip
        rows.append({"class": "weighted avg", "precision": self.weighted_precision,
                     "recall": self.weighted_recall, "f1": self.weighted_f1, "support": total,
                     "roc_auc": float("nan")})  # fmt: skip
        return pd.DataFrame(rows)

    def confusion_table(self) -> pd.DataFrame:
        """Return the confusion matrix with class names (index: true, columns: predicted)."""
        table = pd.DataFrame(np.asarray(self.confusion), index=list(self.class_names),
                             columns=list(self.class_names))  # fmt: skip
        table.index.name = "true \\ predicted"
        return table

    def as_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        return asdict(self)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(num.shape), where=den > 0)


def classification_metrics(
    y_true: Any,
    y_pred: Any = None,
    *,
    probabilities: Any = None,
    n_classes: int | None = None,
    class_names: Sequence[str] | None = None,
) -> ClassificationMetrics:
    """Score predicted class ids (and, optionally, class probabilities) against the truth.

    Parameters
    ----------
    y_true : sequence of int
        True class ids.
    y_pred : sequence of int, optional
        Predicted class ids; default the arg-max of ``probabilities``.
    probabilities : array_like, optional
        ``(N, n_classes)`` scores; gives the one-vs-rest ROC AUC (else NaN).
    n_classes : int, optional
        Default: from ``class_names``, the probabilities or the largest id.
    class_names : sequence of str, optional
        Names in the report (default ``"0"``, ``"1"``, ...).

    Examples
    --------
    >>> m = classification_metrics([0, 1, 2, 2], probabilities=[[.8, .1, .1], [.2, .7, .1],
    ...                            [.1, .2, .7], [.5, .1, .4]])
    >>> m.recall, m.balanced_accuracy, m.macro_roc_auc
    ((1.0, 1.0, 0.5), 0.8333333333333334, 1.0)
    """
    t = _labels(y_true, "y_true")
    if t.size == 0:
        raise ValueError("y_true is empty; need at least one image")
    if probabilities is not None:
        probs = np.asarray(probabilities, dtype=np.float64)
        if probs.ndim != 2 or probs.shape[0] != t.size:
            raise ValueError(
                f"probabilities must have shape (n_images={t.size}, n_classes), got {probs.shape}"
            )
        n_classes = n_classes or probs.shape[1]
    if y_pred is None:
        if probabilities is None:
            raise ValueError("give y_pred or probabilities (to take their arg-max)")
        y_pred = probs.argmax(axis=1)
    p = _labels(y_pred, "y_pred")
    if class_names is not None:
        n_classes = n_classes or len(class_names)
        if len(class_names) != n_classes:
            raise ValueError(f"class_names has {len(class_names)} names for {n_classes} classes")
    cm = confusion_matrix(t, p, n_classes)
    n = cm.shape[0]
    names = tuple(str(c) for c in class_names) if class_names is not None else tuple(
        str(i) for i in range(n))  # fmt: skip
    tp, support, predicted = np.diag(cm).astype(float), cm.sum(1), cm.sum(0)
    prec, rec = _ratio(tp, predicted.astype(float)), _ratio(tp, support.astype(float))
    f1 = _ratio(2 * prec * rec, prec + rec)
    seen = (support + predicted) > 0
    present = support > 0
    w = support / support.sum()
    auc = roc_auc_ovr(t, probs) if probabilities is not None else None
    macro_auc = float(np.nanmean(auc)) if auc is not None and np.isfinite(auc).any() else np.nan
    return ClassificationMetrics(
        class_names=names, confusion=tuple(tuple(int(v) for v in row) for row in cm),
        precision=tuple(prec.tolist()), recall=tuple(rec.tolist()), f1=tuple(f1.tolist()),
        support=tuple(int(s) for s in support),
        roc_auc=None if auc is None else tuple(auc.tolist()),
        accuracy=float(tp.sum() / support.sum()),
        balanced_accuracy=float(rec[present].mean()),
        macro_precision=float(prec[seen].mean()), macro_recall=float(rec[seen].mean()),
        macro_f1=float(f1[seen].mean()), weighted_precision=float((w * prec).sum()),
        weighted_recall=float((w * rec).sum()), weighted_f1=float((w * f1).sum()),
        macro_roc_auc=float(macro_auc),
    )  # fmt: skip
