"""Fast random-forest / extra-trees inference and safe serialisation.

:class:`FastForest` copies the trees of a fitted scikit-learn
``RandomForestClassifier`` or ``ExtraTreesClassifier`` into flat arrays and
predicts with numba kernels that walk blocks of rows through all trees while the
rows and one tree stay in cache (see :mod:`biakit.pixel._forest_kernels`).
Probabilities equal scikit-learn's ``predict_proba`` within 1e-5 (thresholds
are rounded so every float32 comparison takes sklearn's branch; leaf values are
float32, sums are float64).

:meth:`FastForest.to_arrays` gives plain numeric arrays that
``np.savez(..., allow_pickle=False)`` can store, and
:meth:`FastForest.from_arrays` validates them fully before any kernel sees
them, so a corrupt or malicious file raises ``ValueError`` instead of crashing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import numba
import numpy as np

from biakit.pixel import _forest_kernels as kernels
from biakit.pixel._forest_arrays import KEYS, arrays_from_sklearn, check_arrays

__all__ = ["FastForest"]

_LOCK = threading.Lock()


@contextlib.contextmanager
def _parallel_guard() -> Iterator[None]:
    """Serialise parallel kernel launches unless numba's threading layer is thread-safe.

    numba's ``workqueue`` layer aborts when two Python threads (e.g. dask workers)
    launch parallel kernels at once; OpenMP and TBB handle it.
    """
    try:
        safe = numba.threading_layer() in ("omp", "tbb")
    except ValueError:  # no parallel kernel has run yet: layer not chosen
        safe = False
    if safe:
        yield
    else:
        with _LOCK:
            yield


def _n_threads(n_threads: int | None) -> int:
    if n_threads is None:
        return numba.get_num_threads()
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)):
        raise TypeError(f"n_threads must be an int or None, got {type(n_threads).__name__}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1 (or None for numba's default), got {n_threads}")
    return min(int(n_threads), numba.config.NUMBA_NUM_THREADS)


class FastForest:
    """Flattened tree ensemble with fast, thread-parallel ``predict_proba``.

    Build one with :meth:`from_sklearn` or :meth:`from_arrays`.

    Attributes
    ----------
    classes_ : ndarray of int64, shape (n_classes,)
        Class labels, in the column order of :meth:`predict_proba`.
    feature_importances_ : ndarray of float64, shape (n_features,)
        Impurity-based importances copied from the sklearn forest.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((200, 3), dtype=np.float32)
    >>> y = np.where(X[:, 0] > 0.5, 7, 2)
    >>> rf = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    >>> ff = FastForest.from_sklearn(rf)
    >>> bool(np.abs(ff.predict_proba(X) - rf.predict_proba(X)).max() < 1e-5)
    True
    >>> ff.classes_.tolist(), ff.n_trees
    ([2, 7], 5)
    >>> same = FastForest.from_arrays(ff.to_arrays())
    >>> bool((same.predict(X) == rf.predict(X)).all())
    True

    """

    def __init__(self, arrays: Mapping[str, Any]) -> None:
        self._arrays = check_arrays(arrays)
        for value in self._arrays.values():
            value.flags.writeable = False
        self._roots = np.ascontiguousarray(self._arrays["tree_offsets"][:-1])
        values = self._arrays["leaf_values"]
        width = next((w for w in (4, 8) if values.shape[1] <= w), values.shape[1])
        self._values = np.zeros((values.shape[0], width), dtype=np.float32)  # padded rows
        self._values[:, : values.shape[1]] = values

    @classmethod
    def from_sklearn(cls, estimator: Any) -> FastForest:
        """Copy the trees of a fitted ``RandomForestClassifier`` / ``ExtraTreesClassifier``.

        Parameters
        ----------
        estimator : RandomForestClassifier or ExtraTreesClassifier
            Fitted, single-output, with integer class labels.

        Returns
        -------
        FastForest
            Independent of ``estimator`` afterwards.

        """
        from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

        if not isinstance(estimator, (RandomForestClassifier, ExtraTreesClassifier)):
            raise TypeError(
                "estimator must be a fitted sklearn RandomForestClassifier or "
                f"ExtraTreesClassifier, got {type(estimator).__name__}"
            )
        if not hasattr(estimator, "estimators_"):
            raise ValueError(f"estimator: this {type(estimator).__name__} is not fitted yet")
        return cls(arrays_from_sklearn(estimator))

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> FastForest:
        """Rebuild a forest from :meth:`to_arrays` output, validating everything.

        Parameters
        ----------
        arrays : mapping of str to array-like
            E.g. ``dict(np.load(path, allow_pickle=False))``; extra keys are ignored.

        Returns
        -------
        FastForest

        Raises
        ------
        ValueError
            If a key is missing, the format version is unknown, or the arrays are
            inconsistent (shapes, dtypes, feature / child / leaf indices out of range).

        """
        if not isinstance(arrays, Mapping):
            raise ValueError(f"arrays must be a mapping of name -> array, got {type(arrays)}")
        return cls(arrays)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Numeric arrays describing the forest (safe for ``np.savez(allow_pickle=False)``).

        Returns
        -------
        dict of str to ndarray
            Keys: ``format_version``, ``n_features`` (0-D int64), ``classes``,
            ``tree_offsets``, ``feature``, ``threshold``, ``right``,
            ``missing_left``, ``leaf_values``, ``feature_importances`` (copies).

        """
        return {key: self._arrays[key].copy() for key in KEYS}

    @property
    def n_classes(self) -> int:
        """Number of classes (columns of :meth:`predict_proba`)."""
        return int(self._arrays["classes"].size)

    @property
    def n_features(self) -> int:
        """Number of features (columns) ``X`` must have."""
        return int(self._arrays["n_features"])

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return int(self._roots.size)

    @property
    def n_nodes(self) -> int:
        """Total number of nodes (internal and leaves) over all trees."""
        return int(self._arrays["feature"].size)

    @property
    def classes_(self) -> np.ndarray:
        """Class labels (int64), in the column order of :meth:`predict_proba`."""
        return self._arrays["classes"]

    @property
    def feature_importances_(self) -> np.ndarray:
        """Impurity-based feature importances copied from the sklearn forest."""
        return self._arrays["feature_importances"]

    def __repr__(self) -> str:
        return (
            f"FastForest(n_trees={self.n_trees}, n_nodes={self.n_nodes}, "
            f"n_features={self.n_features}, classes={self.classes_.tolist()})"
        )

    def _rows(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must hold real numbers, got dtype {X.dtype}")
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (n_samples, {self.n_features}) (one column per feature), "
                f"got shape {X.shape}"
            )
        with np.errstate(over="ignore"):  # float64 beyond float32 range -> inf, as sklearn
            return np.ascontiguousarray(X, dtype=np.float32)

    def _run(self, X: Any, n_threads: int | None, labels: bool) -> tuple[np.ndarray, np.ndarray]:
        X = self._rows(X)
        threads = _n_threads(n_threads)
        n, a = X.shape[0], self._arrays
        proba = np.empty((n * (not labels), self.n_classes), dtype=np.float32)
        index = np.empty(n if labels else 0, dtype=np.int64)
        args = (
            X, self._roots, a["feature"], a["threshold"], a["right"], a["missing_left"],
            self._values, proba, index, kernels.BLOCK,
        )  # fmt: skip
        if n == 0:
            pass
        elif threads == 1 or n <= kernels.BLOCK:
            kernels.predict_serial(*args)
        else:
            with _parallel_guard():
                previous = numba.get_num_threads()
                numba.set_num_threads(threads)
                try:
                    kernels.predict_parallel(*args)
                finally:
                    numba.set_num_threads(previous)
        return proba, index

    def predict_proba(self, X: Any, *, n_threads: int | None = None) -> np.ndarray:
        """Class probabilities: the mean over trees of the leaf class fractions.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Feature rows (e.g. ``features.reshape(-1, n_features)``); converted to
            C-contiguous float32 first, like scikit-learn does.  NaN follows each
            split's learned missing-value direction, as in scikit-learn.
        n_threads : int, optional
            Threads to use (at most ``numba.config.NUMBA_NUM_THREADS``);
            default: numba's current setting (all cores unless changed).

        Returns
        -------
        ndarray of float32, shape (n_samples, n_classes)
            Columns in the order of :attr:`classes_`.

        """
        return self._run(X, n_threads, labels=False)[0]

    def predict(self, X: Any, *, n_threads: int | None = None) -> np.ndarray:
        """Most probable class label per row (first class wins ties, like sklearn).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Feature rows, as for :meth:`predict_proba`.
        n_threads : int, optional
            Threads to use, as for :meth:`predict_proba`.

        Returns
        -------
        ndarray of int64, shape (n_samples,)
            Labels taken from :attr:`classes_`.

        """
        return self.classes_[self._run(X, n_threads, labels=True)[1]]
