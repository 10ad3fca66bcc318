"""Retrain and repaint after every brush stroke: the feature stack is computed once."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from biakit.pixel._classifier import PixelClassifier, check_finite, uncertainty_from_proba
from biakit.pixel._training import training_set_from_stack


@dataclass(frozen=True)
class LivePrediction:
    """What :meth:`LiveClassifier.update` returns for the requested view.

    Attributes
    ----------
    proba : numpy.ndarray
        float32 ``(*view_shape, n_classes)`` class probabilities.
    labels : numpy.ndarray
        Most probable class of every pixel (the painted class values).
    uncertainty : numpy.ndarray
        float32 ``1 - (p1 - p2)`` (ilastik's margin), 0 = certain.
    classes : numpy.ndarray
        Class values, in the column order of ``proba``.
    view : tuple of slice
        The region of the image these arrays cover.
    fit_seconds, predict_seconds : float
        Time spent refitting and predicting (for a status bar).
    """

    proba: np.ndarray
    labels: np.ndarray
    uncertainty: np.ndarray
    classes: np.ndarray
    view: tuple[slice, ...]
    fit_seconds: float
    predict_seconds: float


class LiveClassifier:
    """A pixel classifier for an interactive loop: paint, refit, repaint a view.

    The filter bank runs once, on construction; each :meth:`update` takes the
    current scribbles, fits a fresh forest on the painted pixels and predicts
    the requested view from the stored features. The result equals
    ``PixelClassifier(**params).fit(image, scribbles).predict_proba(image)[view]``
    with the same parameters and seed (out-of-bag scores are skipped).

    Parameters
    ----------
    image : numpy.ndarray
        2D or 3D image, optionally with a channel axis.
    features : str or FeatureSpec
        As for :class:`PixelClassifier`.
    spacing : sequence of float, optional
        Physical pixel spacing.
    channel_axis : int, optional
        Channel axis of a multi-channel image.
    **params
        Further :class:`PixelClassifier` parameters (``n_estimators``, ``seed``, ...).

    Attributes
    ----------
    classifier : PixelClassifier
        The classifier of the last :meth:`update` (can be saved).
    features_ : numpy.ndarray
        float32 ``(*spatial, n_features)`` feature stack of ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((48, 48), np.float32); image[12:36, 12:36] = 1.0
    >>> live = LiveClassifier(image, n_estimators=8)
    >>> scribbles = np.zeros((48, 48), np.uint8)
    >>> scribbles[3, 3:45] = 1; scribbles[24, 16:32] = 2
    >>> result = live.update(scribbles, view=(slice(0, 24), slice(0, 48)))
    >>> result.labels.shape, int(result.labels[20, 20]), int(result.labels[2, 2])
    ((24, 48), 2, 1)
    """

    def __init__(
        self,
        image: Any,
        features: Any = "fast",
        *,
        spacing: Sequence[float] | None = None,
        channel_axis: int | None = None,
        **params: Any,
    ) -> None:
        from biakit.features import compute_features, preset

        self.classifier = PixelClassifier(features, **params)
        image = np.asarray(image)
        check_finite(image, "image")
        self.ndim = image.ndim - (channel_axis is not None)
        spec = self.classifier._spec_input or preset(self.classifier._preset, ndim=self.ndim)
        self.spec = spec
        self.spacing = None if spacing is None else tuple(float(v) for v in spacing)
        self.n_channels = 1 if channel_axis is None else image.shape[channel_axis]
        self.features_ = compute_features(
            image, spec, spacing=self.spacing, channel_axis=channel_axis
        )

    @property
    def shape(self) -> tuple[int, ...]:
        """Spatial shape of the image."""
        return self.features_.shape[:-1]

    def update(self, scribbles: Any, view: Sequence[slice] | None = None) -> LivePrediction:
        """Refit on the painted pixels of ``scribbles`` and predict ``view``.

        Parameters
        ----------
        scribbles : numpy.ndarray
            Integer labels of the image's spatial shape, 0 = unpainted; at
            least two classes painted.
        view : sequence of slice, optional
            Region to predict (e.g. the part of the image on screen); default
            the whole image.

        Returns
        -------
        LivePrediction
        """
        start = time.perf_counter()
        train = training_set_from_stack(self.features_, scribbles, self.n_channels)
        self.classifier._fit_training(train, self.spec, self.ndim, self.spacing, oob=False)
        fitted = time.perf_counter()
        return self._predict(view, start, fitted)

    def predict(self, view: Sequence[slice] | None = None) -> LivePrediction:
        """Predict ``view`` with the classifier of the last :meth:`update` (no refit)."""
        self.classifier._require_fitted()
        now = time.perf_counter()
        return self._predict(view, now, now)

    def _predict(self, view: Sequence[slice] | None, start: float, fitted: float) -> LivePrediction:
        view = self._check_view(view)
        clf = self.classifier
        feats = self.features_[view]
        X = feats.reshape(-1, feats.shape[-1])
        if clf.feature_subset is not None:
            X = X[:, clf.columns_]
        proba = clf.predictor_(X).astype(np.float32, copy=False)
        proba = proba.reshape(*feats.shape[:-1], len(clf.classes_))
        dtype = np.uint8 if clf.classes_.max() < 256 else np.uint16
        labels = clf.classes_.astype(dtype)[np.argmax(proba, axis=-1)]
        uncertainty = uncertainty_from_proba(proba)
        done = time.perf_counter()
        return LivePrediction(
            proba, labels, uncertainty, clf.classes_, view, fitted - start, done - fitted
        )

    def _check_view(self, view: Sequence[slice] | None) -> tuple[slice, ...]:
        if view is None:
            return tuple(slice(0, n) for n in self.shape)
        view = tuple(view)
        if len(view) != len(self.shape) or not all(isinstance(v, slice) for v in view):
            raise ValueError(
                f"view must be {len(self.shape)} slices (one per spatial axis), got {view!r}"
            )
        if any(v.step not in (None, 1) for v in view):
            raise ValueError(f"view slices must have step 1, got {view!r}")
        bounds = tuple(slice(*v.indices(n)) for v, n in zip(view, self.shape))
        if any(b.stop <= b.start for b in bounds):
            raise ValueError(f"view {view!r} is empty inside the image of shape {self.shape}")
        return bounds
