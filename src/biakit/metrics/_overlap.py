"""Sparse label overlap (contingency) tables for instance metrics.

Only pixels where *both* label images are foreground are counted, as pairs
``(true index, pred index)`` packed into one 64-bit key and reduced with
run-length compression plus :func:`numpy.unique` (or :func:`numpy.bincount`
when the pair space is small).  Memory and time scale with the number of
foreground pixels and overlapping pairs, never with ``n_true * n_pred``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_CRITERIA = ("iou", "iot", "iop")


@dataclass(frozen=True)
class SparseOverlap:
    """Object areas and the non-zero entries of the overlap table.

    Attributes
    ----------
    true_labels, pred_labels : ndarray of int
        Sorted non-zero labels present in each image (original values); the
        object with index ``i`` is ``true_labels[i]`` (sequential relabelling).
    true_areas, pred_areas : ndarray of int64
        Pixel count of every object, aligned with the labels.
    rows, cols, counts : ndarray of int64
        Overlapping pairs: ``counts[k]`` pixels lie in true object ``rows[k]``
        and predicted object ``cols[k]``; sorted by ``(rows, cols)``, counts > 0.
    """

    true_labels: np.ndarray
    pred_labels: np.ndarray
    true_areas: np.ndarray
    pred_areas: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    counts: np.ndarray

    @property
    def n_true(self) -> int:
        """Number of ground-truth objects."""
        return len(self.true_labels)

    @property
    def n_pred(self) -> int:
        """Number of predicted objects."""
        return len(self.pred_labels)

    def scores(self, criterion: str) -> np.ndarray:
        """Return the matching score of every overlapping pair (float64, > 0)."""
        c = self.counts.astype(np.float64)
        at = self.true_areas[self.rows]
        ap = self.pred_areas[self.cols]
        if criterion == "iou":
            return c / (at + ap - self.counts)
        if criterion == "iot":
            return c / at
        if criterion == "iop":
            return c / ap
        raise ValueError(f"criterion must be one of {_CRITERIA}, got {criterion!r}")


def check_label_image(y: Any, name: str) -> np.ndarray:
    """Validate one label image: a NumPy integer array without negative values."""
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of integer labels, got {type(y).__name__}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(
            f"{name} must have an integer dtype (0 = background), got {y.dtype}; "
            "convert boolean masks with skimage.measure.label first"
        )
    if y.size and np.issubdtype(y.dtype, np.signedinteger) and y.min() < 0:
        raise ValueError(f"{name} must not contain negative labels, got minimum {y.min()}")
    return y


def check_pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate a ``(y_true, y_pred)`` pair of label images of equal shape."""
    y_true = check_label_image(y_true, "y_true")
    y_pred = check_label_image(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}"
        )
    return y_true, y_pred


def _index_labels(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
    """Return sorted non-zero labels, their areas and a label -> index mapper."""
    if flat.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, lambda v: np.zeros(len(v), np.int64)
    vmax = int(flat.max())
    if vmax <= max(2 * flat.size, 1 << 20):  # bincount is cheap: direct lookup table
        counts = np.bincount(flat.astype(np.intp, copy=False), minlength=vmax + 1)
        labels = np.flatnonzero(counts[1:]) + 1
        lut = np.zeros(vmax + 1, np.int64)
        lut[labels] = np.arange(len(labels))
        return labels, counts[labels].astype(np.int64), lambda v: lut[v]
    uniq, counts = np.unique(flat, return_counts=True)
    keep = uniq != 0
    labels = uniq[keep]
    return labels, counts[keep].astype(np.int64), lambda v: np.searchsorted(labels, v)


def _count_pairs(keys: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the unique keys and their multiplicities (keys are < ``n_keys``)."""
    if keys.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if n_keys <= max(keys.size, 1 << 16):
        counts = np.bincount(keys, minlength=n_keys)
        uniq = np.flatnonzero(counts)
        return uniq.astype(np.int64), counts[uniq].astype(np.int64)
    # Labels are spatially coherent: collapse runs of equal keys before sorting.
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    run_len = np.diff(np.r_[starts, keys.size])
    uniq, inverse = np.unique(keys[starts], return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=run_len, minlength=len(uniq))
    return uniq.astype(np.int64), counts.astype(np.int64)


def sparse_overlap(y_true: np.ndarray, y_pred: np.ndarray) -> SparseOverlap:
    """Compute object areas and the sparse overlap table of two label images.

    Parameters
    ----------
    y_true, y_pred : ndarray of int
        Label images of the same shape (validated by the caller), 0 = background.

    Returns
    -------
    overlap : SparseOverlap
        Labels, areas and the overlapping pairs with their pixel counts.
    """
    t = y_true.ravel()
    p = y_pred.ravel()
    true_labels, true_areas, true_index = _index_labels(t)
    pred_labels, pred_areas, pred_index = _index_labels(p)
    both = (t != 0) & (p != 0)
    ti = true_index(t[both])
    pj = pred_index(p[both])
    n_pred = max(len(pred_labels), 1)
    keys = ti.astype(np.int64) * n_pred + pj
    uniq, counts = _count_pairs(keys, len(true_labels) * n_pred)
    return SparseOverlap(
        true_labels=true_labels,
        pred_labels=pred_labels,
        true_areas=true_areas,
        pred_areas=pred_areas,
        rows=uniq // n_pred,
        cols=uniq % n_pred,
        counts=counts,
    )
