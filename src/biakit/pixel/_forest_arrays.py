"""Flat forest arrays: conversion from scikit-learn and validation on load (private).

The arrays describe every tree of a forest concatenated (see
:mod:`biakit.pixel._forest_kernels` for the node layout).  :func:`check_arrays`
is the only way arrays reach the numba kernels, and it proves what the kernels
rely on for memory safety: indices in range and every child after its parent
inside the same tree (so traversal always ends).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

FORMAT_VERSION = 1

KEYS = (
    "format_version", "n_features", "classes", "tree_offsets", "feature", "threshold", "right",
    "missing_left", "leaf_values", "feature_importances",
)  # fmt: skip
"""Keys of :meth:`FastForest.to_arrays`; all values are numeric NumPy arrays."""

_INT32_MAX = np.iinfo(np.int32).max


def round_down_float32(threshold: np.ndarray) -> np.ndarray:
    """Largest float32 ``<=`` each float64 threshold (``-inf`` / ``inf`` kept).

    For every float32 ``x`` (and every float64 ``x`` first rounded to float32, as
    scikit-learn does), ``x <= t64`` holds exactly when ``x <= round_down_float32(t64)``.

    Examples
    --------
    >>> t = np.array([0.1, 1.0, 1e39])
    >>> bool((round_down_float32(t) <= t).all())
    True

    """
    t64 = np.asarray(threshold, dtype=np.float64)
    with np.errstate(over="ignore"):
        t32 = t64.astype(np.float32)
    up = t32.astype(np.float64) > t64
    t32[up] = np.nextafter(t32[up], np.float32(-np.inf))
    return t32


def _preorder(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Node order (old indices) of a depth-first pre-order walk from the root."""
    order = np.empty(left.size, dtype=np.int64)
    stack, k = [0], 0
    while stack:
        node = stack.pop()
        order[k] = node
        k += 1
        if left[node] != -1:
            stack.extend((int(right[node]), int(left[node])))
    return order[:k]


def _tree_arrays(tree: Any, n_classes: int) -> tuple[np.ndarray, ...]:
    """One sklearn ``tree_`` as (feature, threshold, right, missing_left, leaf_values)."""
    left, right = tree.children_left, tree.children_right
    internal = np.flatnonzero(left != -1)
    if not np.array_equal(left[internal], internal + 1):  # e.g. best-first (max_leaf_nodes)
        order = _preorder(left, right)
        new = np.empty(left.size, dtype=np.int64)
        new[order] = np.arange(order.size)
        left = np.where(left[order] == -1, -1, new[left[order]])
        right = np.where(right[order] == -1, -1, new[right[order]])
        old = order
    else:
        old = np.arange(left.size)
    is_leaf = left == -1
    value = np.asarray(tree.value, dtype=np.float64)[old[is_leaf], 0, :n_classes]
    total = value.sum(axis=1, keepdims=True)
    value = value / np.where(total == 0, 1.0, total)  # fractions, as predict_proba uses them
    feature = np.asarray(tree.feature, dtype=np.int64)[old]
    feature[is_leaf] = ~np.arange(is_leaf.sum())
    threshold = round_down_float32(np.where(is_leaf, 0.0, tree.threshold[old]))
    missing = getattr(tree, "missing_go_to_left", np.zeros(left.size, np.uint8))
    missing_left = np.asarray(missing, dtype=np.uint8)[old]
    return feature, threshold, np.where(is_leaf, -1, right), missing_left, value


def arrays_from_sklearn(estimator: Any) -> dict[str, np.ndarray]:
    """Flatten a fitted sklearn forest classifier into the arrays of :data:`KEYS`."""
    if getattr(estimator, "n_outputs_", 1) != 1:
        raise ValueError(
            f"estimator: multi-output forests are not supported "
            f"(n_outputs_={estimator.n_outputs_}); fit one forest per output"
        )
    classes = np.asarray(estimator.classes_)
    if classes.ndim != 1 or classes.dtype.kind not in "iu":
        raise ValueError(
            f"estimator: class labels must be integers, got classes_ of dtype {classes.dtype}; "
            "encode labels as integers before fitting"
        )
    n_classes = classes.size
    parts: list[tuple[np.ndarray, ...]] = []
    offsets, n_leaves = [0], 0
    for member in estimator.estimators_:
        feature, threshold, right, missing_left, value = _tree_arrays(member.tree_, n_classes)
        leaf = feature < 0
        feature[leaf] -= n_leaves  # ~row -> ~(row + n_leaves)
        right[~leaf] += offsets[-1]
        parts.append((feature, threshold, right, missing_left, value))
        n_leaves += value.shape[0]
        offsets.append(offsets[-1] + feature.size)
    feature, threshold, right, missing_left, value = (
        np.concatenate(p) for p in zip(*parts)
    )  # fmt: skip
    return check_arrays({
        "format_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
        "n_features": np.asarray(estimator.n_features_in_, dtype=np.int64),
        "classes": classes.astype(np.int64),
        "tree_offsets": np.asarray(offsets, dtype=np.int64),
        "feature": feature,
        "threshold": threshold,
        "right": right,
        "missing_left": missing_left,
        "leaf_values": value.astype(np.float32),
        "feature_importances": np.asarray(estimator.feature_importances_, dtype=np.float64),
    })  # fmt: skip


def _get(arrays: Mapping[str, Any], key: str, kind: str, ndim: int) -> np.ndarray:
    """``arrays[key]`` as an array of the given dtype kind ('i' integer, 'f' float, 'u' 0/1)."""
    value = np.asarray(arrays[key])
    ok = {"i": "iu", "f": "f", "u": "iub"}[kind]
    if value.dtype.kind not in ok or value.ndim != ndim:
        want = {"i": "integer", "f": "floating-point", "u": "0/1 integer"}[kind]
        raise ValueError(
            f"forest arrays: {key!r} must be a {ndim}-D {want} array, "
            f"got dtype {value.dtype} with shape {value.shape}"
        )
    return value


def _check_nodes(out: dict[str, np.ndarray], n_features: int, n_leaves: int) -> None:
    """Feature / leaf indices in range; right child after the left one, inside its tree."""
    feature, right, offsets = out["feature"], out["right"], out["tree_offsets"]
    internal = feature >= 0
    if np.any(feature[internal] >= n_features):
        raise ValueError(
            f"forest arrays: 'feature' holds indices up to {feature.max()}, "
            f"expected < n_features={n_features}"
        )
    if np.any(~feature[~internal] >= n_leaves):
        raise ValueError(
            f"forest arrays: 'feature' refers to leaf rows beyond the {n_leaves} rows of "
            "'leaf_values'"
        )
    index = np.flatnonzero(internal)
    end = np.repeat(offsets[1:], np.diff(offsets))[index]
    r = right[index]
    if np.any(index + 1 >= end) or np.any(r <= index + 1) or np.any(r >= end):
        raise ValueError(
            "forest arrays: 'right' / 'tree_offsets' do not describe pre-ordered trees "
            "(need i + 1 < right[i] < end of its tree for every internal node i)"
        )


def check_arrays(arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Validate forest arrays (e.g. from an untrusted file); return them in kernel dtypes.

    Raises ``ValueError`` naming the offending key for anything inconsistent.
    """
    missing = [key for key in KEYS if key not in arrays]
    if missing:
        raise ValueError(f"forest arrays: missing key(s) {missing}; expected {list(KEYS)}")
    version = _get(arrays, "format_version", "i", 0)
    if int(version) != FORMAT_VERSION:
        raise ValueError(
            f"forest arrays: unsupported format_version {int(version)}, "
            f"this biakit reads version {FORMAT_VERSION}"
        )
    n_features = int(_get(arrays, "n_features", "i", 0))
    classes = _get(arrays, "classes", "i", 1).astype(np.int64)
    offsets = _get(arrays, "tree_offsets", "i", 1).astype(np.int64)
    feature = _get(arrays, "feature", "i", 1)
    n_nodes = feature.size
    if n_features < 1 or classes.size < 1 or np.unique(classes).size != classes.size:
        raise ValueError(
            f"forest arrays: need n_features >= 1 and distinct classes, got n_features="
            f"{n_features} and classes {classes.tolist()[:10]}"
        )
    if (
        offsets.size < 2
        or offsets[0] != 0
        or offsets[-1] != n_nodes
        or np.any(np.diff(offsets) < 1)
    ):
        raise ValueError(
            f"forest arrays: 'tree_offsets' must rise strictly from 0 to the {n_nodes} nodes, "
            f"got {offsets.size} offsets"
        )
    if n_nodes > _INT32_MAX:
        raise ValueError(f"forest arrays: {n_nodes} nodes is more than int32 indices allow")
    out = {"tree_offsets": offsets, "classes": classes}
    for key, kind in (("threshold", "f"), ("right", "i"), ("missing_left", "u")):
        out[key] = _get(arrays, key, kind, 1)
        if out[key].size != n_nodes:
            raise ValueError(
                f"forest arrays: {key!r} has {out[key].size} entries, 'feature' has {n_nodes}"
            )
    if out["threshold"].dtype != np.float32:  # keep sklearn's comparison for float32 inputs
        out["threshold"] = round_down_float32(out["threshold"])
    values = _get(arrays, "leaf_values", "f", 2)
    importances = _get(arrays, "feature_importances", "f", 1)
    if values.shape[1] != classes.size or not np.isfinite(values).all():
        raise ValueError(
            f"forest arrays: 'leaf_values' must be finite with {classes.size} columns "
            f"(one per class), got shape {values.shape}"
        )
    if importances.size != n_features:
        raise ValueError(
            f"forest arrays: 'feature_importances' has {importances.size} entries, "
            f"expected n_features={n_features}"
        )
    if np.any(np.isnan(out["threshold"])) or not np.isin(out["missing_left"], (0, 1)).all():
        raise ValueError("forest arrays: 'threshold' holds NaN or 'missing_left' is not 0/1")
    lo = np.iinfo(np.int32).min
    if n_nodes and (feature.min() < lo or feature.max() > _INT32_MAX):
        raise ValueError("forest arrays: 'feature' holds values outside the int32 range")
    out["feature"] = feature.astype(np.int64)
    out["right"] = out["right"].astype(np.int64)
    _check_nodes(out, n_features, values.shape[0])
    return {  # fresh copies: later changes to the caller's arrays cannot reach the kernels
        "format_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
        "n_features": np.asarray(n_features, dtype=np.int64),
        "classes": classes,
        "tree_offsets": offsets,
        "feature": np.array(out["feature"], dtype=np.int32),
        "threshold": np.array(out["threshold"], dtype=np.float32),
        "right": np.array(out["right"], dtype=np.int32),
        "missing_left": np.array(out["missing_left"], dtype=np.uint8),
        "leaf_values": np.array(values, dtype=np.float32),
        "feature_importances": np.array(importances, dtype=np.float64),
    }
