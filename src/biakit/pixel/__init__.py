"""Shallow machine learning: pixel classification from scribbles and object classification.

* :class:`PixelClassifier`: multi-scale filter bank (:mod:`biakit.features`) plus a
  random forest (default), extra trees, gradient boosting, SVM or MLP, trained on
  sparse scribbles; block-wise prediction of images larger than memory.
* :class:`LiveClassifier`: features computed once, refit and repaint a view
  after every brush stroke (the interactive loop of a viewer).
* :func:`warm_up`: compile (or load from numba's cache) the numba kernels,
  in a background thread by default.
* :class:`ObjectClassifier`: a class per object from shape and intensity features.
* :func:`segment_with_model`: the ``pixel_classifier`` pipeline step.

Names are imported on first use.
"""

from __future__ import annotations

from biakit._lazy import lazy_exports

_ATTRS = {
    "PixelClassifier": "_classifier",
    "uncertainty_from_proba": "_classifier",
    "CLASSIFIERS": "_estimators",
    "make_estimator": "_estimators",
    "LiveClassifier": "_live",
    "LivePrediction": "_live",
    "warm_up": "_warmup",
    "ObjectClassifier": "_objects",
    "segment_with_model": "_step",
    "load_model": "_step",
}


__getattr__, __dir__, __all__ = lazy_exports(__name__, _ATTRS)
