"""Input checks and fast confusion-matrix counting for :mod:`biakit.metrics.pixel`."""

from __future__ import annotations

from typing import Any

import numpy as np

# A direct ``true * K + pred`` bincount is used while K*K stays below this
# (16 MiB of int64 counts); beyond it labels are first compacted.
_MAX_DIRECT_BINS = 1 << 21
_MAX_LUT = 1 << 24


def check_label_pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return ``y_true`` and ``y_pred`` as arrays after checking shape and dtype.

    Raises
    ------
    ValueError
        If the shapes differ (both shapes are named).
    TypeError
        If either array is not boolean or integer.
    """
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got y_true {t.shape} and y_pred {p.shape}"
        )
    for name, arr in (("y_true", t), ("y_pred", p)):
        if arr.dtype.kind not in "biu":
            raise TypeError(
                f"{name} must be a boolean or integer label image, got dtype {arr.dtype}; "
                "threshold probabilities first, or cast whole-number labels with .astype(int)"
            )
    return t, p


def _as_int(arr: np.ndarray) -> np.ndarray:
    return arr.view(np.uint8) if arr.dtype == bool else arr


def full_confusion(
    y_true: np.ndarray, y_pred: np.ndarray, ignore_label: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Confusion matrix over every label value present in either array.

    Parameters
    ----------
    y_true, y_pred : ndarray
        Boolean or integer arrays of equal shape (already checked).
    ignore_label : int, optional
        Pixels whose *true* label equals this value are dropped first.

    Returns
    -------
    values : ndarray of int64, shape (K,)
        Sorted label values present in ``y_true`` or ``y_pred`` (after dropping).
    matrix : ndarray of int64, shape (K, K)
        ``matrix[i, j]`` = number of pixels with true label ``values[i]`` and
        predicted label ``values[j]``.
    """
    t = _as_int(np.ravel(y_true))
    p = _as_int(np.ravel(y_pred))
    if ignore_label is not None:
        keep = t != ignore_label
        if not keep.all():
            t, p = t[keep], p[keep]
    if t.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.int64)
    lo = min(int(t.min()), int(p.min()))
    hi = max(int(t.max()), int(p.max()))
    off = min(lo, 0)
    span = hi - off + 1
    if span * span <= _MAX_DIRECT_BINS:
        if off:
            t, p = t.astype(np.intp) - off, p.astype(np.intp) - off
        counts = np.bincount(t.astype(np.intp) * span + p, minlength=span * span)
        counts = counts.reshape(span, span)
        present = (counts.sum(axis=0) > 0) | (counts.sum(axis=1) > 0)
        values = np.flatnonzero(present).astype(np.int64) + off
        return values, counts[np.ix_(present, present)].astype(np.int64)
    if span <= _MAX_LUT:
        ti = t.astype(np.intp) - off
        pi = p.astype(np.intp) - off
        present = (np.bincount(ti, minlength=span) > 0) | (np.bincount(pi, minlength=span) > 0)
        values = np.flatnonzero(present).astype(np.int64) + off
        lut = np.zeros(span, dtype=np.intp)
        lut[present] = np.arange(values.size)
        ti, pi = lut[ti], lut[pi]
    else:
        values, inverse = np.unique(np.concatenate([t, p]).astype(np.int64), return_inverse=True)
        ti, pi = inverse[: t.size], inverse[t.size :]
    k = values.size
    counts = np.bincount(ti * k + pi, minlength=k * k).reshape(k, k)
    return values, counts.astype(np.int64)


def merge_confusions(items: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, list]:
    """Embed several ``(values, matrix)`` pairs into one common label set.

    Returns
    -------
    values : ndarray
        Union of all label values.
    matrices : list of ndarray
        Each input matrix re-indexed onto ``values``.
    """
    values = np.zeros(0, dtype=np.int64)
    for vals, _ in items:
        values = np.union1d(values, vals)
    out = []
    for vals, mat in items:
        idx = np.searchsorted(values, vals)
        big = np.zeros((values.size, values.size), dtype=np.int64)
        big[np.ix_(idx, idx)] = mat
        out.append(big)
    return values, out


def safe_divide(num: np.ndarray, den: np.ndarray, zero_division: float) -> np.ndarray:
    """``num / den`` as float64, with ``zero_division`` where ``den == 0``."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    zero = den == 0
    out = num / np.where(zero, 1.0, den)
    return np.where(zero, zero_division, out)


def nan_average(values: np.ndarray, weights: np.ndarray | None) -> float:
    """Weighted mean ignoring NaN, exactly as scikit-learn's ``_nanaverage``.

    NaN entries are dropped; if nothing is left the result is NaN; if the
    remaining weights sum to zero the unweighted mean is returned.
    """
    keep = ~np.isnan(values)
    if not keep.any():
        return float("nan")
    vals = values[keep]
    if weights is None:
        return float(np.mean(vals))
    w = np.asarray(weights, dtype=np.float64)[keep]
    if w.sum() == 0:
        return float(np.mean(vals))
    return float(np.average(vals, weights=w))
