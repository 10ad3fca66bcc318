"""Scoring functions used by cross-validation (plain NumPy, no other biakit module)."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

MetricFn = Callable[[Any, Any], Any]

_NAMES = ("iou", "dice", "f1", "accuracy", "precision", "recall")


def _ratio(num: int, den: int) -> float:
    """``num / den`` with the empty-image policy ``0 / 0 = 1`` (perfect agreement)."""
    return 1.0 if den == 0 else num / den


def foreground_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Foreground IoU, Dice, precision, recall and pixel accuracy of two label images.

    Foreground is every non-zero pixel. With ``tp``, ``fp``, ``fn`` counted on
    the foreground: ``iou = tp / (tp + fp + fn)``, ``dice = f1 = 2 tp / (2 tp + fp
    + fn)``, ``precision = tp / (tp + fp)``, ``recall = tp / (tp + fn)``; a ratio
    with a zero denominator (nothing to find and nothing found) is 1.0.
    ``accuracy`` is the fraction of pixels whose labels are equal (multi-class).

    Parameters
    ----------
    y_true, y_pred : numpy.ndarray
        Ground-truth and predicted label (or binary) images of equal shape.

    Returns
    -------
    scores : dict of str to float
        Keys ``iou``, ``dice``, ``f1``, ``precision``, ``recall``, ``accuracy``.

    Raises
    ------
    ValueError
        If the shapes differ.

    Examples
    --------
    >>> t = np.array([[0, 1, 1, 1]])
    >>> p = np.array([[1, 1, 1, 0]])
    >>> s = foreground_metrics(t, p)
    >>> s["iou"], s["dice"], s["accuracy"]
    (0.5, 0.6666666666666666, 0.5)

    """
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_pred has shape {p.shape} but y_true has shape {t.shape}")
    ft, fp_ = t != 0, p != 0
    tp = int(np.count_nonzero(ft & fp_))
    fp = int(np.count_nonzero(~ft & fp_))
    fn = int(np.count_nonzero(ft & ~fp_))
    dice = _ratio(2 * tp, 2 * tp + fp + fn)
    return {
        "iou": _ratio(tp, tp + fp + fn),
        "dice": dice,
        "f1": dice,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "accuracy": float(np.mean(t == p)) if t.size else 1.0,
    }


def default_metric(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Foreground IoU, Dice and pixel accuracy (see :func:`foreground_metrics`)."""
    s = foreground_metrics(y_true, y_pred)
    return {"iou": s["iou"], "dice": s["dice"], "accuracy": s["accuracy"]}


def _as_scores(value: Any, name: str) -> dict[str, float]:
    """Turn a metric's return value (dict, dataclass or number) into ``{name: float}``."""
    if isinstance(value, Mapping):
        items = value.items()
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        items = [
            (k, v) for k, v in items if isinstance(v, numbers.Real) and not isinstance(v, bool)
        ]
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        items = [(name, value)]
    else:
        raise TypeError(
            f"metric {name!r} returned {type(value).__name__}; expected a dict of floats, "
            "a dataclass with float fields or a number"
        )
    return {str(k): float(v) for k, v in items}


def resolve_metric(metric: MetricFn | str | Sequence[str] | None) -> Callable[[Any, Any], dict]:
    """Return ``f(y_true, y_pred) -> dict[str, float]`` for a metric given by name or callable.

    Parameters
    ----------
    metric : callable, str, sequence of str or None
        ``None``: :func:`default_metric`. A name or names from ``iou``, ``dice``,
        ``f1``, ``accuracy``, ``precision``, ``recall`` (computed by
        :func:`foreground_metrics`). A callable ``metric(y_true, y_pred)`` returning
        a dict of floats, a dataclass (its real-number fields are kept) or a number
        (named after the callable).

    Returns
    -------
    scorer : callable
        Scorer returning a dict of floats.

    Raises
    ------
    ValueError
        If a name is unknown.
    TypeError
        If ``metric`` is of another type.

    Examples
    --------
    >>> resolve_metric("iou")(np.array([1, 0]), np.array([1, 1]))
    {'iou': 0.5}

    """
    if metric is None:
        return default_metric
    if isinstance(metric, str):
        metric = [metric]
    if callable(metric):
        fn = metric
        label = getattr(fn, "__name__", "score")
        return lambda y_true, y_pred: _as_scores(fn(y_true, y_pred), label)
    if isinstance(metric, Sequence) and metric and all(isinstance(m, str) for m in metric):
        names = [m.lower() for m in metric]
        unknown = [m for m in names if m not in _NAMES]
        if unknown:
            raise ValueError(f"metric has unknown name(s) {unknown}; expected names from {_NAMES}")

        def scorer(y_true: Any, y_pred: Any) -> dict[str, float]:
            scores = foreground_metrics(y_true, y_pred)
            return {m: scores[m] for m in names}

        return scorer
    raise TypeError(
        f"metric must be a callable, a metric name or a list of names, got {type(metric).__name__}"
    )
