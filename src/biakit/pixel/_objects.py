"""Object classification (the ilastik "Object Classification" workflow).

Each labelled object is described by a row of :func:`biakit.measure.measure_objects`
(size, shape and intensity in physical units); a tree ensemble learns classes
from a few annotated objects and predicts a class for every object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.exceptions import NotFittedError

from biakit.pixel._objects_data import (
    check_feature_names,
    check_finite,
    check_pair,
    default_features,
    feature_table,
    training_inputs,
)
from biakit.pixel._objects_trees import TreeEnsemble

CLASSIFIERS = ("random_forest", "extra_trees", "gradient_boosting")
Spacing = float | Sequence[float] | None


class ObjectClassifier:
    """Classify labelled objects from a few annotated ones, by their shape and intensity.

    Parameters
    ----------
    features : sequence of str, optional
        Columns of :func:`biakit.measure.measure_objects` to learn from. Default
        (chosen from the first training image): size, shape and intensity without
        position; see ``DEFAULT_FEATURES_2D`` / ``DEFAULT_FEATURES_3D`` in
        ``biakit.pixel._objects_data``.
    classifier : {"random_forest", "extra_trees", "gradient_boosting"}
        The sklearn ensemble trained on the feature rows.
    n_estimators : int
        Trees of the forest, or boosting stages.
    class_weight : {None, "balanced"}
        ``"balanced"`` weighs classes inversely to their number of annotated objects.
    seed : int
        Seed of the ensemble: same data and seed give the same model.

    Attributes
    ----------
    features_ : list of str
        Feature columns used, in model order.
    classes_ : ndarray of int
        Sorted class labels seen in training.
    training_summary_ : dict
        ``n_images``, ``n_objects`` and ``n_objects_per_class``.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((40, 40), dtype=np.uint16)
    >>> for i in range(4):
    ...     labels[2 + 9 * i : 5 + 9 * i, 2:5] = i + 1        # small squares
    ...     labels[2 + 9 * i : 8 + 9 * i, 20:35] = i + 5      # large bars
    >>> image = (labels > 4).astype(float)
    >>> clf = ObjectClassifier(n_estimators=10).fit(labels, image, {1: 1, 2: 1, 5: 2, 6: 2})
    >>> clf.predict(labels, image)
    {1: 1, 2: 1, 3: 1, 4: 1, 5: 2, 6: 2, 7: 2, 8: 2}

    """

    def __init__(
        self,
        *,
        features: Sequence[str] | None = None,
        classifier: str = "random_forest",
        n_estimators: int = 100,
        class_weight: str | None = None,
        seed: int = 0,
    ) -> None:
        if classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {classifier!r}")
        if isinstance(n_estimators, bool) or not isinstance(n_estimators, (int, np.integer)):
            raise TypeError(f"n_estimators must be an int, got {n_estimators!r}")
        if n_estimators < 1:
            raise ValueError(f"n_estimators must be >= 1, got {n_estimators}")
        if class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.features = check_feature_names(features)
        self.classifier = classifier
        self.n_estimators = int(n_estimators)
        self.class_weight = class_weight
        self.seed = int(seed)
        self.features_: list[str] | None = None
        self.classes_: np.ndarray | None = None
        self.ndim_: int | None = None
        self.training_summary_: dict[str, Any] | None = None
        self._model: TreeEnsemble | None = None
        self._importances: np.ndarray | None = None

    # ------------------------------------------------------------------ training
    def fit(
        self,
        labels: ArrayLike | Sequence[ArrayLike],
        intensity: ArrayLike | Sequence[ArrayLike | None] | None,
        annotations: Mapping[int, int] | Sequence[Mapping[int, int]],
        *,
        spacing: Spacing | Sequence[Spacing] = None,
    ) -> ObjectClassifier:
        """Train on annotated objects of one image, or of several.

        Parameters
        ----------
        labels : array or list of arrays
            Label image(s), 2D or 3D (0 = background).
        intensity : array or list of arrays, optional
            Intensity image(s) of the same shape (``None`` for shape-only features).
        annotations : dict or list of dict
            ``{object_id: class}`` per image; classes are integers >= 1.
        spacing : float, sequence, or list of sequences, optional
            Pixel size per axis; one for all images or a list with one per image.

        Returns
        -------
        self : ObjectClassifier

        Raises
        ------
        ValueError
            If an annotated id is not an object of its image, fewer than 2
            classes are annotated, an intensity image does not match its labels,
            or the images mix 2D and 3D.
        """
        items = training_inputs(labels, intensity, annotations, spacing)
        ndim = items[0][0].ndim
        features = self.features or default_features(ndim)
        for i, item in enumerate(items):
            if item[0].ndim != ndim:
                raise ValueError(
                    f"image {i} is {item[0].ndim}D but image 0 is {ndim}D; use one kind"
                )
        rows, ys = [], []
        for i, (lab, img, ann, sp) in enumerate(items):
            where = "image" if len(items) == 1 else f"image {i}"
            if not ann:
                continue
            table = feature_table(lab, img, features, sp)
            missing = sorted(set(ann) - set(table.index.tolist()))
            if missing:
                raise ValueError(
                    f"{where}: annotated object ids {missing[:10]} are not in the label image"
                )
            table = table.loc[sorted(ann)]
            check_finite(table, where)
            rows.append(table.to_numpy())
            ys.append(np.array([ann[k] for k in sorted(ann)], dtype=np.int64))
        y = np.concatenate(ys) if ys else np.zeros(0, dtype=np.int64)
        classes, counts = np.unique(y, return_counts=True)
        if classes.size < 2:
            raise ValueError(
                f"annotations must contain at least 2 classes, got {classes.tolist()} "
                f"({y.size} annotated objects); annotate objects of another class"
            )
        X = np.concatenate(rows)
        model = self._fit_sklearn(X, y)
        ensemble = TreeEnsemble.from_sklearn(model)
        if not np.allclose(ensemble.predict_proba(X), model.predict_proba(X), atol=1e-9):
            raise RuntimeError("internal error: flattened trees disagree with scikit-learn")
        self.features_, self.classes_, self.ndim_ = list(features), classes, ndim
        self._model, self._importances = ensemble, np.asarray(model.feature_importances_, float)
        self.training_summary_ = {
            "n_images": len(items),
            "n_objects": int(y.size),
            "n_objects_per_class": {str(c): int(n) for c, n in zip(classes, counts)},
        }
        return self

    def _fit_sklearn(self, X: np.ndarray, y: np.ndarray) -> Any:
        from sklearn.ensemble import (
            ExtraTreesClassifier,
            GradientBoostingClassifier,
            RandomForestClassifier,
        )
        from sklearn.utils.class_weight import compute_sample_weight

        if self.classifier == "gradient_boosting":
            model = GradientBoostingClassifier(
                n_estimators=self.n_estimators, random_state=self.seed
            )
            weight = None if self.class_weight is None else compute_sample_weight("balanced", y)
            return model.fit(X, y, sample_weight=weight)
        cls = RandomForestClassifier if self.classifier == "random_forest" else ExtraTreesClassifier
        model = cls(
            n_estimators=self.n_estimators, class_weight=self.class_weight, random_state=self.seed
        )
        return model.fit(X, y)

    # ---------------------------------------------------------------- prediction
    def object_features(
        self, labels: ArrayLike, intensity: ArrayLike | None, spacing: Spacing = None
    ) -> pd.DataFrame:
        """Feature table of every object: one row per object id (index ``label``).

        Uses the fitted features, else the ``features`` parameter, else the
        defaults for the dimensionality of ``labels``.

        Examples
        --------
        >>> import numpy as np
        >>> labels = np.zeros((8, 8), dtype=int); labels[1:3, 1:5] = 4
        >>> clf = ObjectClassifier(features=["area", "mean_intensity"])
        >>> clf.object_features(labels, labels * 0.5, spacing=0.5).to_dict("index")
        {4: {'area': 2.0, 'mean_intensity': 2.0}}

        """
        lab, img = check_pair(labels, intensity, "image")
        features = self.features_ or self.features or default_features(lab.ndim)
        return feature_table(lab, img, features, spacing)

    def predict_proba(
        self, labels: ArrayLike, intensity: ArrayLike | None, *, spacing: Spacing = None
    ) -> pd.DataFrame:
        """Class probabilities: one row per object id, one column per class."""
        model = self._fitted()
        lab = np.asarray(labels)
        if lab.ndim != self.ndim_:
            raise ValueError(
                f"labels must be {self.ndim_}D like the training images, got shape {lab.shape}"
            )
        table = self.object_features(lab, intensity, spacing)
        check_finite(table, "image")
        proba = model.predict_proba(table.to_numpy())
        columns = pd.Index(self.classes_.tolist(), name="class")
        return pd.DataFrame(proba, index=table.index, columns=columns)

    def predict(
        self, labels: ArrayLike, intensity: ArrayLike | None, *, spacing: Spacing = None
    ) -> dict[int, int]:
        """Predicted class of every object: ``{object_id: class}``."""
        proba = self.predict_proba(labels, intensity, spacing=spacing)
        best = self.classes_[np.argmax(proba.to_numpy(), axis=1)] if len(proba) else []
        return {int(k): int(c) for k, c in zip(proba.index, best)}

    def class_map(
        self, labels: ArrayLike, intensity: ArrayLike | None, *, spacing: Spacing = None
    ) -> np.ndarray:
        """Paint each object with its predicted class (background 0).

        Returns an unsigned integer array of the shape of ``labels``, of the
        smallest dtype holding the largest class.
        """
        lab = np.asarray(labels)
        pred = self.predict(lab, intensity, spacing=spacing)
        dtype = np.min_scalar_type(int(self.classes_.max()))
        ids = np.array(sorted(pred), dtype=np.int64)
        cls = np.array([pred[k] for k in ids.tolist()], dtype=dtype)
        if ids.size == 0:
            return np.zeros(lab.shape, dtype=dtype)
        pos = np.searchsorted(ids, lab)
        pos = np.minimum(pos, ids.size - 1)
        return np.where(ids[pos] == lab, cls[pos], 0).astype(dtype, copy=False)

    @property
    def feature_importances_(self) -> pd.Series:
        """Impurity-based importance of each feature (sums to 1)."""
        self._fitted()
        return pd.Series(self._importances, index=pd.Index(self.features_, name="feature"))

    def _fitted(self) -> TreeEnsemble:
        if self._model is None:
            raise NotFittedError(
                "this ObjectClassifier is not fitted yet; call fit() or ObjectClassifier.load()"
            )
        return self._model

    # -------------------------------------------------------------------- files
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the classifier to a folder (``config.json`` + ``model.npz``, no pickle)."""
        from biakit.pixel._objects_io import save_classifier

        return save_classifier(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> ObjectClassifier:
        """Read a classifier written by :meth:`save`; never unpickles or retrains.

        Raises
        ------
        ValueError
            If the folder is not an object-classifier artefact or its arrays are
            inconsistent (wrong shapes, dtypes or node indices).
        """
        from biakit.pixel._objects_io import load_classifier

        return load_classifier(cls, path)
