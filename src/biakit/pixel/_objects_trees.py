"""Tree ensembles as plain NumPy arrays: exact sklearn predictions, safe to save and load.

A fitted ``RandomForestClassifier``, ``ExtraTreesClassifier`` or
``GradientBoostingClassifier`` is flattened into node arrays (all trees
concatenated): ``offsets`` (tree ``t`` owns nodes ``offsets[t]:offsets[t+1]``),
``left`` / ``right`` (global child indices, ``-1`` at leaves), ``feature``,
``threshold`` and ``value``. Prediction walks every tree at once with NumPy and
adds the trees in sklearn's order, so forest probabilities are bit-identical to
sklearn's. The arrays are all numeric (``np.savez(..., allow_pickle=False)``)
and :meth:`TreeEnsemble.from_arrays` validates them, so a tampered file cannot
make prediction loop, index out of range or execute code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FOREST = "forest"
BOOSTING = "boosting"
_INT_KEYS = ("offsets", "left", "right", "feature", "tree_column")
_FLOAT_KEYS = ("threshold", "value", "init_raw", "learning_rate")
_FOREST_KEYS = ("offsets", "left", "right", "feature", "threshold", "value")
_BOOST_KEYS = ("tree_column", "init_raw", "learning_rate")


@dataclass(frozen=True)
class TreeEnsemble:
    """Flattened tree ensemble; see the module docstring for the array layout."""

    kind: str
    n_features: int
    n_classes: int
    arrays: dict[str, np.ndarray]

    @classmethod
    def from_sklearn(cls, model: Any) -> TreeEnsemble:
        """Flatten a fitted sklearn forest or gradient-boosting classifier."""
        if hasattr(model, "learning_rate"):
            trees = [est.tree_ for est in np.asarray(model.estimators_).ravel()]
            n_raw = model.estimators_.shape[1]
            boost = {
                "tree_column": np.tile(np.arange(n_raw), model.estimators_.shape[0]),
                "init_raw": model._raw_predict_init(np.zeros((1, model.n_features_in_)))[0],
                "learning_rate": np.asarray(float(model.learning_rate)),
            }
            kind = BOOSTING
        else:
            trees = [est.tree_ for est in model.estimators_]
            boost = {}
            kind = FOREST
        sizes = np.array([t.node_count for t in trees], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        shift = np.repeat(offsets[:-1], sizes)
        left = np.concatenate([t.children_left for t in trees]).astype(np.int64)
        right = np.concatenate([t.children_right for t in trees]).astype(np.int64)
        arrays = {
            "offsets": offsets,
            "left": np.where(left >= 0, left + shift, -1),
            "right": np.where(right >= 0, right + shift, -1),
            "feature": np.concatenate([t.feature for t in trees]).astype(np.int64),
            "threshold": np.concatenate([t.threshold for t in trees]).astype(np.float64),
            "value": np.concatenate([t.value[:, 0, :] for t in trees]).astype(np.float64),
            **boost,
        }
        return cls(kind, int(model.n_features_in_), len(model.classes_), arrays)

    @classmethod
    def from_arrays(
        cls, kind: str, arrays: dict[str, np.ndarray], n_features: int, n_classes: int
    ) -> TreeEnsemble:
        """Rebuild from saved arrays, checking every shape, dtype and index.

        Raises
        ------
        ValueError
            If an array is missing, has the wrong dtype or shape, or a node
            points outside its tree, backwards, or to a feature that does not exist.
        """
        if kind not in (FOREST, BOOSTING):
            raise ValueError(f"model kind must be {FOREST!r} or {BOOSTING!r}, got {kind!r}")
        keys = _FOREST_KEYS + (_BOOST_KEYS if kind == BOOSTING else ())
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise ValueError(f"model arrays {missing} are missing (expected {list(keys)})")
        out = {k: _typed(k, arrays[k], np.integer if k in _INT_KEYS else np.floating) for k in keys}
        _check_topology(out, n_features)
        n_out = n_classes if kind == FOREST else 1
        n_raw = 1 if n_classes == 2 else n_classes
        expected = {"value": (out["left"].size, n_out)}
        if kind == BOOSTING:
            expected |= {"tree_column": (out["offsets"].size - 1,), "init_raw": (n_raw,)}
            expected["learning_rate"] = ()
        for key, shape in expected.items():
            if out[key].shape != shape:
                raise ValueError(
                    f"model array {key!r} has shape {out[key].shape}, expected {shape}"
                )
        if kind == BOOSTING and not np.all(
            (out["tree_column"] >= 0) & (out["tree_column"] < n_raw)
        ):
            raise ValueError(f"model array 'tree_column' must lie in [0, {n_raw})")
        if not all(np.all(np.isfinite(out[k])) for k in keys if k in _FLOAT_KEYS[1:]):
            raise ValueError("model arrays 'value'/'init_raw'/'learning_rate' must be finite")
        return cls(kind, int(n_features), int(n_classes), out)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Numeric arrays for ``np.savez(..., allow_pickle=False)``."""
        return dict(self.arrays)

    @property
    def n_trees(self) -> int:
        """Number of trees (boosting: stages times trees per stage)."""
        return int(self.arrays["offsets"].size - 1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)`` of float64 feature rows ``X``."""
        X = np.asarray(X, dtype=np.float32)  # sklearn trees compare float32 features
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X must have shape (n, {self.n_features}), got {X.shape}")
        chunk = max(1, 2**20 // max(self.n_trees, 1))
        parts = [self._predict_chunk(X[i : i + chunk]) for i in range(0, X.shape[0], chunk)]
        if not parts:
            return np.zeros((0, self.n_classes))
        return np.concatenate(parts)

    def _predict_chunk(self, X: np.ndarray) -> np.ndarray:
        a = self.arrays
        leaves = _apply(X, a["offsets"][:-1], a["left"], a["right"], a["feature"], a["threshold"])
        if self.kind == FOREST:
            proba = np.zeros((X.shape[0], self.n_classes))
            for t in range(self.n_trees):  # sklearn's summation order: bit-identical
                proba += a["value"][leaves[:, t]]
            proba /= self.n_trees
            return proba
        from scipy.special import expit, softmax

        raw = np.tile(a["init_raw"], (X.shape[0], 1))
        rate = float(a["learning_rate"])
        for t in range(self.n_trees):
            raw[:, a["tree_column"][t]] += rate * a["value"][leaves[:, t], 0]
        if self.n_classes == 2:
            p1 = expit(raw[:, 0])
            return np.stack([1 - p1, p1], axis=1)
        return softmax(raw, axis=1)


def _typed(key: str, arr: np.ndarray, kind: type) -> np.ndarray:
    arr = np.asarray(arr)
    if not np.issubdtype(arr.dtype, kind):
        raise ValueError(f"model array {key!r} must be {kind.__name__}, got dtype {arr.dtype}")
    return arr.astype(np.int64 if kind is np.integer else np.float64)


def _check_topology(a: dict[str, np.ndarray], n_features: int) -> None:
    offsets = a["offsets"]
    if offsets.ndim != 1 or offsets.size < 2 or offsets[0] != 0:
        raise ValueError(f"model array 'offsets' must be 1D, start at 0, got {offsets[:5]}")
    sizes = np.diff(offsets)
    n = int(offsets[-1])
    if np.any(sizes < 1):
        raise ValueError("model array 'offsets' must be strictly increasing (one node per tree)")
    for key in ("left", "right", "feature", "threshold"):
        if a[key].shape != (n,):
            raise ValueError(f"model array {key!r} has shape {a[key].shape}, expected ({n},)")
    node = np.arange(n)
    end = np.repeat(offsets[1:], sizes)
    leaf = a["left"] == -1
    if np.any(leaf != (a["right"] == -1)):
        raise ValueError("model arrays 'left'/'right' disagree on which nodes are leaves")
    inner = ~leaf
    for key in ("left", "right"):  # children lie after their parent, inside the same tree
        child = a[key][inner]
        if np.any((child <= node[inner]) | (child >= end[inner])):
            raise ValueError(f"model array {key!r} has child indices outside their tree")
    feature = a["feature"][inner]
    if np.any((feature < 0) | (feature >= n_features)):
        raise ValueError(f"model array 'feature' has indices outside [0, {n_features})")
    if not np.all(np.isfinite(a["threshold"][inner])):
        raise ValueError("model array 'threshold' must be finite at split nodes")


def _apply(
    X: np.ndarray,
    roots: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
) -> np.ndarray:
    """Leaf index ``(n_samples, n_trees)`` of every sample in every tree."""
    idx = np.broadcast_to(roots, (X.shape[0], roots.size)).copy()
    rows = np.arange(X.shape[0])[:, None]
    while True:
        inner = left[idx] >= 0
        if not inner.any():
            return idx
        f = np.where(inner, feature[idx], 0)
        go_left = X[rows, f] <= threshold[idx]
        idx = np.where(inner, np.where(go_left, left[idx], right[idx]), idx)
