"""Numba kernels for :class:`biakit.pixel._forest.FastForest` (private).

Node layout (all trees concatenated, each tree in depth-first pre-order, so the
left child of internal node ``i`` is ``i + 1``):

``feature[i]``
    split feature (``>= 0``) of an internal node, or ``~row`` (``< 0``) for a
    leaf whose class fractions are ``leaf_values[row]``.
``threshold[i]``
    float32 threshold, rounded toward -inf from sklearn's float64 value, so
    ``x <= threshold[i]`` gives sklearn's branch for every float32 ``x``.
``right[i]``
    index of the right child (internal nodes only).
``missing_left[i]``
    1 when a NaN goes to the left child (sklearn's ``missing_go_to_left``).

The kernels trust these arrays: :func:`biakit.pixel._forest_arrays.check_arrays`
guarantees ``i + 1 < right[i] < end of tree`` and valid feature / leaf indices,
so every traversal moves strictly forward inside its tree and stays in bounds.

Rows are processed in blocks (one ``prange`` iteration each); inside a block the
loop over trees is outside the loop over rows, so one tree's nodes and the
block's rows stay in L1 cache, and per-row class sums live in a small float64
accumulator (no per-tree ``(n, K)`` arrays).  Traversal uses real branches
(``node + 1`` or ``right[node]``), which the CPU predicts well because
neighbouring pixels take the same paths.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from biakit.features._jit import njit_cached

BLOCK = 256
"""Rows per block (one parallel work item)."""


@njit_cached(inline="always")
def _leaf(xi, node, feature, threshold, right):  # pragma: no cover - numba
    while True:
        f = feature[node]
        if f < 0:
            return ~f
        if xi[f] <= threshold[node]:
            node += 1
        else:
            node = right[node]


@njit_cached(inline="always")
def _leaf_nan(xi, node, feature, threshold, right, missing_left):  # pragma: no cover - numba
    while True:
        f = feature[node]
        if f < 0:
            return ~f
        x = xi[f]
        if x <= threshold[node]:
            node += 1
        elif x > threshold[node]:
            node = right[node]
        elif missing_left[node]:  # x is NaN
            node += 1
        else:
            node = right[node]


@njit_cached(inline="always")
def _add(acc, values):  # pragma: no cover - numba
    """``acc += values``; fixed widths 4 and 8 unroll into a few vector instructions."""
    n = values.shape[0]
    if n == 4:
        for k in range(4):
            acc[k] += values[k]
    elif n == 8:
        for k in range(8):
            acc[k] += values[k]
    else:
        for k in range(n):
            acc[k] += values[k]


@njit_cached()
def _block(
    X, start, stop, roots, feature, threshold, right, missing_left, leaf_values, proba, labels
):  # pragma: no cover - numba
    """Class sums of rows ``start:stop``; write the mean (``proba``) or argmax (``labels``)."""
    m = stop - start
    n_classes = proba.shape[1]  # leaf_values may have extra zero columns (padding)
    n_trees = roots.shape[0]
    has_nan = False
    for i in range(start, stop):
        for j in range(X.shape[1]):
            if np.isnan(X[i, j]):
                has_nan = True
    acc = np.zeros((m, leaf_values.shape[1]), np.float64)
    for t in range(n_trees):
        root = roots[t]
        if has_nan:
            for i in range(m):
                leaf = _leaf_nan(X[start + i], root, feature, threshold, right, missing_left)
                _add(acc[i], leaf_values[leaf])
        else:
            for i in range(m):
                leaf = _leaf(X[start + i], root, feature, threshold, right)
                _add(acc[i], leaf_values[leaf])
    if labels.shape[0] > 0:
        for i in range(m):
            best = 0
            for k in range(1, n_classes):
                if acc[i, k] > acc[i, best]:
                    best = k
            labels[start + i] = best
    else:
        for i in range(m):
            for k in range(n_classes):
                proba[start + i, k] = acc[i, k] / n_trees


@njit_cached(parallel=True)
def predict_parallel(
    X, roots, feature, threshold, right, missing_left, leaf_values, proba, labels, block
):  # pragma: no cover - numba
    """Fill ``proba`` (n, K) or, when ``labels`` is not empty, ``labels`` (n,); all threads."""
    n = X.shape[0]
    for b in prange((n + block - 1) // block):
        start = b * block
        stop = min(n, start + block)
        _block(
            X, start, stop, roots, feature, threshold, right, missing_left, leaf_values, proba,
            labels,
        )  # fmt: skip


@njit_cached()
def predict_serial(
    X, roots, feature, threshold, right, missing_left, leaf_values, proba, labels, block
):  # pragma: no cover - numba
    """Single-threaded :func:`predict_parallel` (no threading layer involved)."""
    n = X.shape[0]
    for b in range((n + block - 1) // block):
        start = b * block
        stop = min(n, start + block)
        _block(
            X, start, stop, roots, feature, threshold, right, missing_left, leaf_values, proba,
            labels,
        )  # fmt: skip
