"""Pixel-wise (semantic segmentation) metrics from a confusion matrix.

Every pixel is one sample: its true and predicted class are the values of
``y_true`` and ``y_pred`` at that position.  For each evaluated class ``c``
(one-vs-rest):

* ``tp`` = pixels with true ``c`` and predicted ``c``;
* ``fp`` = pixels predicted ``c`` whose true class is not ``c``;
* ``fn`` = pixels of true class ``c`` predicted as another class;
* ``tn`` = all other evaluated pixels (``n - tp - fp - fn``).

Metrics (each ``x / 0`` is replaced by ``zero_division``):

==============================  =================================
``tpr`` (recall, sensitivity)   ``tp / (tp + fn)``
``fnr``                         ``fn / (tp + fn)``
``fpr``                         ``fp / (fp + tn)``
``tnr`` (specificity)           ``tn / (tn + fp)``
``precision``                   ``tp / (tp + fp)``
``f1`` (= Dice)                 ``2 tp / (2 tp + fp + fn)``
``iou`` (Jaccard)               ``tp / (tp + fp + fn)``
``accuracy``                    ``sum(y_true == y_pred) / n`` (all classes)
``error_rate``                  ``sum(y_true != y_pred) / n``
==============================  =================================

Averaging is exactly scikit-learn's (``precision_recall_fscore_support``,
``jaccard_score``): ``"binary"`` reports ``pos_label`` only; ``"micro"``
divides counts pooled over the classes; ``"macro"`` is the unweighted mean of
the per-class values; ``"weighted"`` weights them by support (``tp + fn``).
As in scikit-learn's ``precision_recall_fscore_support``, with
``zero_division=np.nan`` the macro/weighted means skip NaN classes (NaN only if
every class is NaN), and all-zero supports fall back to the plain mean.  The
same rule is used for the IoU (``jaccard_score`` does not accept NaN).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from biakit.metrics._pixel_counts import (
    check_label_pair,
    full_confusion,
    merge_confusions,
    nan_average,
    safe_divide,
)

__all__ = ["ConfusionMetrics", "confusion_metrics", "confusion_metrics_dataset"]

Average = Literal["binary", "micro", "macro", "weighted"]
_AVERAGES = ("binary", "micro", "macro", "weighted")
_RATES = {  # name: (numerator counts, denominator counts)
    "tpr": (("tp",), ("tp", "fn")),
    "fnr": (("fn",), ("tp", "fn")),
    "fpr": (("fp",), ("fp", "tn")),
    "tnr": (("tn",), ("tn", "fp")),
    "precision": (("tp",), ("tp", "fp")),
    "f1": (("tp", "tp"), ("tp", "tp", "fp", "fn")),
    "iou": (("tp",), ("tp", "fp", "fn")),
}


def _alias(name: str, doc: str | None = None) -> Any:
    """Read-only property returning the field ``name`` (a metric's other name)."""
    return property(lambda self: getattr(self, name), doc=doc or f"Alias of ``{name}``.")


@dataclass(frozen=True, slots=True, eq=False)
class ConfusionMetrics:
    """Confusion-matrix metrics of a label image pair (see module docstring).

    Attributes
    ----------
    confusion_matrix : ndarray of int64
        Rows are true, columns predicted classes, in the order of ``labels``
        (scikit-learn's ``confusion_matrix(..., labels=labels)``).  For
        ``average="binary"`` it is the 2x2 matrix ``[[tn, fp], [fn, tp]]`` of
        "not ``pos_label``" / ``pos_label``.
    labels : ndarray
        Evaluated classes (``[pos_label]`` for ``average="binary"``).
    average : str
        Averaging used for the scalar metrics.
    tp, fp, fn, tn, support : int or ndarray
        Counts; scalars for ``"binary"``, otherwise arrays aligned with ``labels``.
    n : int
        Number of evaluated pixels (after ``ignore_label``).
    tpr, fpr, fnr, tnr, precision, f1, iou : float
        Averaged metrics.  Aliases: ``recall`` / ``sensitivity`` (tpr),
        ``specificity`` (tnr), ``dice`` (f1), ``jaccard`` (iou).
    accuracy, error_rate : float
        Overall fraction of correctly / wrongly classified pixels (not averaged).
    per_class : dict of str to ndarray
        ``tp, fp, fn, tn, support`` and every metric per class of ``labels``.
    zero_division : float
        Value used for ``x / 0``.
    """

    confusion_matrix: np.ndarray
    labels: np.ndarray
    average: str
    tp: Any
    fp: Any
    fn: Any
    tn: Any
    support: Any
    n: int
    tpr: float
    fpr: float
    fnr: float
    tnr: float
    precision: float
    f1: float
    iou: float
    accuracy: float
    error_rate: float
    per_class: dict[str, np.ndarray]
    zero_division: float

    recall = _alias("tpr")
    sensitivity = _alias("tpr")
    specificity = _alias("tnr")
    dice = _alias("f1", "Dice coefficient, identical to ``f1``.")
    jaccard = _alias("iou")

    def as_dict(self) -> dict[str, float]:
        """Return the scalar metrics as a plain dict (for tables and reports)."""
        names = ("tpr", "fpr", "fnr", "tnr", "precision", "f1", "iou", "accuracy", "error_rate")
        return {name: float(getattr(self, name)) for name in names}


def _check_options(average: str, zero_division: float) -> float:
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {list(_AVERAGES)}, got {average!r}")
    zd = float(zero_division)
    if not (np.isnan(zd) or zd in (0.0, 1.0)):
        raise ValueError(f"zero_division must be 0.0, 1.0 or np.nan, got {zero_division!r}")
    return zd


def _select_labels(
    values: np.ndarray, average: str, labels: Any, pos_label: Any
) -> tuple[np.ndarray, bool]:
    """Return the evaluated labels and whether the binary 2x2 layout applies."""
    if average == "binary":
        if labels is not None:
            raise ValueError(
                "labels cannot be combined with average='binary' (which evaluates pos_label "
                "only); pass pos_label=..., or use average='micro'/'macro'/'weighted'"
            )
        if values.size > 2:
            raise ValueError(
                f"average='binary' needs at most 2 distinct labels but found {values.size} "
                f"({values[:10].tolist()}); choose average from {list(_AVERAGES[1:])}"
            )
        if values.size == 2 and pos_label not in values:
            raise ValueError(
                f"pos_label={pos_label!r} is not a valid label; it should be one of "
                f"{values.tolist()}"
            )
        return np.array([int(pos_label)], dtype=np.int64), True
    if labels is None:
        sel = values
    else:
        sel = np.asarray(labels)
        if sel.ndim != 1 or sel.size == 0 or sel.dtype.kind not in "biu":
            raise ValueError(f"labels must be a non-empty 1-D sequence of integers, got {labels!r}")
        if np.unique(sel).size != sel.size:
            raise ValueError(f"labels must not repeat a value, got {sel.tolist()}")
        sel = sel.astype(np.int64)
    if sel.size == 0:
        raise ValueError("no labels to evaluate: every pixel is ignored or the images are empty")
    return sel, False


def _metrics_from_matrix(
    values: np.ndarray,
    matrix: np.ndarray,
    *,
    average: str,
    labels: Any,
    pos_label: Any,
    zero_division: float,
) -> ConfusionMetrics:
    """All metrics from the full confusion matrix over ``values``."""
    sel, binary = _select_labels(values, average, labels, pos_label)
    n = int(matrix.sum())
    idx = np.searchsorted(values, sel)
    found = np.zeros(sel.size, dtype=bool)
    inside = idx < values.size
    found[inside] = values[idx[inside]] == sel[inside]

    def take(vec: np.ndarray) -> np.ndarray:
        out = np.zeros(sel.size, dtype=np.int64)
        out[found] = vec[idx[found]]
        return out

    tp = take(np.diag(matrix))
    fp = take(matrix.sum(axis=0)) - tp
    fn = take(matrix.sum(axis=1)) - tp
    tn = n - tp - fp - fn
    counts = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    support = tp + fn
    per_class: dict[str, np.ndarray] = {**counts, "support": support}
    averaged: dict[str, float] = {}
    for name, (num_keys, den_keys) in _RATES.items():
        num = sum(counts[k] for k in num_keys)
        den = sum(counts[k] for k in den_keys)
        per_class[name] = safe_divide(num, den, zero_division)
        if average == "micro":
            averaged[name] = float(safe_divide(num.sum(), den.sum(), zero_division))
        elif binary:
            averaged[name] = float(per_class[name][0])
        else:
            weights = support if average == "weighted" else None
            averaged[name] = nan_average(per_class[name], weights)
    correct = int(np.trace(matrix))
    if binary:
        cm = np.array([[tn[0], fp[0]], [fn[0], tp[0]]], dtype=np.int64)
    else:
        cm = np.zeros((sel.size, sel.size), dtype=np.int64)
        hit = np.flatnonzero(found)
        cm[np.ix_(hit, hit)] = matrix[np.ix_(idx[hit], idx[hit])]
    for arr in (cm, sel, *per_class.values()):
        arr.setflags(write=False)
    scalar = (lambda a: int(a[0])) if binary else (lambda a: a)
    return ConfusionMetrics(
        confusion_matrix=cm,
        labels=sel,
        average=average,
        tp=scalar(tp),
        fp=scalar(fp),
        fn=scalar(fn),
        tn=scalar(tn),
        support=scalar(support),
        n=n,
        accuracy=float(safe_divide(correct, n, zero_division)),
        error_rate=float(safe_divide(n - correct, n, zero_division)),
        per_class=per_class,
        zero_division=zero_division,
        **averaged,
    )


def confusion_metrics(
    y_true: Any,
    y_pred: Any,
    *,
    average: Average = "binary",
    labels: Iterable[int] | None = None,
    ignore_label: int | None = None,
    pos_label: int = 1,
    zero_division: float = 0.0,
) -> ConfusionMetrics:
    """Confusion matrix and derived metrics of two label images.

    Parameters
    ----------
    y_true, y_pred : array_like of bool or int
        Ground-truth and predicted class per pixel, any (equal) shape.
    average : {"binary", "micro", "macro", "weighted"}
        How per-class values become one number, exactly as in scikit-learn (see
        the module docstring).  ``"binary"`` needs at most two distinct values.
    labels : sequence of int, optional
        Classes to evaluate, in this order (default: every value present in
        either image, sorted).  Pixels of other classes still count as errors of
        the evaluated ones, as in scikit-learn.  Not allowed with ``"binary"``.
    ignore_label : int, optional
        Pixels whose *true* label equals this value (e.g. 255 = "void") are
        removed before counting.
    pos_label : int
        Positive class for ``average="binary"`` (``True`` / 1 for masks).
    zero_division : {0.0, 1.0, np.nan}
        Value of any metric whose denominator is zero (scikit-learn's argument).

    Returns
    -------
    ConfusionMetrics
        Frozen result; arrays in it are read-only.

    Raises
    ------
    ValueError
        On a shape mismatch, an unknown ``average``, a bad ``zero_division``,
        more than two labels with ``"binary"``, or invalid ``labels``.
    TypeError
        If an image is not boolean or integer (e.g. float probabilities).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[1, 1], [0, 0]])
    >>> p = np.array([[1, 0], [0, 0]])
    >>> m = confusion_metrics(t, p)
    >>> m.confusion_matrix.tolist(), m.tp, m.fn
    ([[2, 0], [1, 1]], 1, 1)
    >>> m.precision, m.recall, round(m.f1, 4), m.iou
    (1.0, 0.5, 0.6667, 0.5)
    """
    zd = _check_options(average, zero_division)
    t, p = check_label_pair(y_true, y_pred)
    values, matrix = full_confusion(t, p, ignore_label)
    return _metrics_from_matrix(
        values, matrix, average=average, labels=labels, pos_label=pos_label, zero_division=zd
    )


def confusion_metrics_dataset(
    pairs: Iterable[tuple[Any, Any]],
    *,
    aggregate: Literal["pooled", "mean"] = "pooled",
    average: Average = "binary",
    labels: Iterable[int] | None = None,
    ignore_label: int | None = None,
    pos_label: int = 1,
    zero_division: float = 0.0,
) -> ConfusionMetrics:
    """Confusion metrics over a data set of ``(y_true, y_pred)`` image pairs.

    Parameters
    ----------
    pairs : iterable of (array_like, array_like)
        Image pairs; images may have different shapes.
    aggregate : {"pooled", "mean"}
        ``"pooled"``: metrics of the summed confusion matrix (every pixel of
        the data set weighs the same).  ``"mean"``: every scalar metric is the
        mean of the per-image metrics (every image weighs the same; images
        where a metric is NaN are skipped for that metric); counts, matrix
        and ``per_class`` are still the pooled ones.
    average, labels, ignore_label, pos_label, zero_division
        As in :func:`confusion_metrics`; the label set is the union over the
        data set, so every image is evaluated on the same classes.

    Returns
    -------
    ConfusionMetrics

    Examples
    --------
    >>> import numpy as np
    >>> a = (np.array([1, 1, 0, 0]), np.array([1, 1, 0, 0]))
    >>> b = (np.array([1, 0]), np.array([0, 0]))
    >>> confusion_metrics_dataset([a, b]).recall
    0.6666666666666666
    >>> confusion_metrics_dataset([a, b], aggregate="mean").recall
    0.5
    """
    if aggregate not in ("pooled", "mean"):
        raise ValueError(f"aggregate must be 'pooled' or 'mean', got {aggregate!r}")
    zd = _check_options(average, zero_division)
    items = [full_confusion(*check_label_pair(t, p), ignore_label) for t, p in pairs]
    if not items:
        raise ValueError("pairs is empty; expected at least one (y_true, y_pred) pair")
    values, matrices = merge_confusions(items)
    opts = {"average": average, "labels": labels, "pos_label": pos_label, "zero_division": zd}
    pooled = _metrics_from_matrix(values, sum(matrices), **opts)
    if aggregate == "pooled":
        return pooled
    if labels is None and average != "binary":
        opts["labels"] = values
    per_image = [_metrics_from_matrix(values, m, **opts).as_dict() for m in matrices]
    means = {}
    for name in per_image[0]:
        vals = np.array([d[name] for d in per_image])
        vals = vals[~np.isnan(vals)]
        means[name] = float(vals.mean()) if vals.size else float("nan")
    fields = {f: getattr(pooled, f) for f in ConfusionMetrics.__dataclass_fields__}
    return ConfusionMetrics(**{**fields, **means})
