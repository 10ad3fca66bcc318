"""The learner protocol used by cross-validation and an adapter for scikit-learn estimators."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Learner(Protocol):
    """Anything trainable on whole images: ``fit(images, targets)`` then ``predict(image)``.

    biakit's learners (e.g. the pixel classifier) and :class:`SklearnLearner`
    satisfy it; ``isinstance(obj, Learner)`` checks that both methods exist.
    """

    def fit(self, images: Sequence[Any], targets: Sequence[Any], **kwargs: Any) -> Any:
        """Train on a list of images and their targets."""
        ...

    def predict(self, image: Any) -> Any:
        """Predict the target of one image."""
        ...


class SklearnLearner:
    """Pixel-wise adapter for a scikit-learn estimator: one sample per pixel.

    ``fit`` concatenates the per-pixel features of all training images (and the
    matching target pixels) and fits a clone of ``estimator``; ``predict`` returns
    the per-pixel predictions of one image reshaped to its spatial shape.

    Parameters
    ----------
    estimator : scikit-learn estimator
        Any object with ``fit(X, y)`` and ``predict(X)``; cloned at every ``fit``.
    features : callable, optional
        ``features(image) -> array`` of shape ``spatial + (n_features,)``
        (e.g. a filter bank). By default the pixel values are the features: one
        feature, or the channels when ``channel_axis`` is given.
    channel_axis : int, optional
        Axis of ``image`` holding channels (used only without ``features``).
    ignore_label : int, optional
        Target value of unannotated pixels (e.g. 0 for sparse scribbles), left out
        of training.

    Attributes
    ----------
    estimator_ : scikit-learn estimator
        The fitted clone.

    Examples
    --------
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> img = np.array([[0.1, 0.9], [0.8, 0.2]])
    >>> lab = (img > 0.5).astype(int)
    >>> learner = SklearnLearner(DecisionTreeClassifier(random_state=0)).fit([img], [lab])
    >>> learner.predict(np.array([[0.95, 0.05]])).tolist()
    [[1, 0]]

    """

    def __init__(
        self,
        estimator: Any,
        *,
        features: Callable[[np.ndarray], np.ndarray] | None = None,
        channel_axis: int | None = None,
        ignore_label: int | None = None,
    ) -> None:
        if not (
            callable(getattr(estimator, "fit", None))
            and callable(getattr(estimator, "predict", None))
        ):
            raise TypeError(
                "estimator must have fit(X, y) and predict(X) methods, "
                f"got {type(estimator).__name__}"
            )
        self.estimator = estimator
        self.features = features
        self.channel_axis = channel_axis
        self.ignore_label = ignore_label

    def _pixels(self, image: Any) -> tuple[np.ndarray, tuple[int, ...]]:
        """Feature matrix ``(n_pixels, n_features)`` and spatial shape of ``image``."""
        img = np.asarray(image)
        if self.features is not None:
            feats = np.asarray(self.features(img))
            spatial = feats.shape[:-1]
        elif self.channel_axis is not None:
            feats = np.moveaxis(img, self.channel_axis, -1)
            spatial = feats.shape[:-1]
        else:
            feats, spatial = img[..., None], img.shape
        return feats.reshape(-1, feats.shape[-1]), spatial

    def fit(
        self, images: Sequence[Any], targets: Sequence[Any], **fit_params: Any
    ) -> SklearnLearner:
        """Fit a clone of the estimator on all pixels of ``images``.

        Parameters
        ----------
        images, targets : sequence of numpy.ndarray
            Training images and their per-pixel targets (spatial shapes equal).
        **fit_params
            Passed to the estimator's ``fit``.

        Returns
        -------
        self : SklearnLearner
            The fitted adapter.

        """
        from sklearn.base import clone

        if len(images) != len(targets) or len(images) == 0:
            raise ValueError(
                f"need as many targets as images (at least one), got {len(images)} images "
                f"and {len(targets)} targets"
            )
        xs, ys = [], []
        for i, (image, target) in enumerate(zip(images, targets)):
            x, spatial = self._pixels(image)
            y = np.asarray(target)
            if y.shape != spatial:
                raise ValueError(
                    f"target {i} has shape {y.shape} but image {i} has pixels {spatial}"
                )
            y = y.ravel()
            keep = slice(None) if self.ignore_label is None else y != self.ignore_label
            xs.append(x[keep])
            ys.append(y[keep])
        self.estimator_ = clone(self.estimator).fit(
            np.concatenate(xs), np.concatenate(ys), **fit_params
        )
        return self

    def predict(self, image: Any) -> np.ndarray:
        """Predict every pixel of ``image``; returns an array of its spatial shape."""
        if not hasattr(self, "estimator_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                "this SklearnLearner is not fitted yet; call fit(images, targets) first"
            )
        x, spatial = self._pixels(image)
        return np.asarray(self.estimator_.predict(x)).reshape(spatial)
