"""Shallow machine learning: pixel classification from scribbles and object classification.

* :class:`PixelClassifier`: multi-scale filter bank (:mod:`biakit.features`) plus a
  random forest (default), extra trees, gradient boosting, SVM or MLP, trained on
  sparse scribbles; block-wise prediction of images larger than memory.
* :class:`ObjectClassifier`: a class per object from shape and intensity features.
* :func:`segment_with_model`: the ``pixel_classifier`` pipeline step.

Names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_ATTRS = {
    "PixelClassifier": "_classifier",
    "uncertainty_from_proba": "_classifier",
    "CLASSIFIERS": "_estimators",
    "make_estimator": "_estimators",
    "ObjectClassifier": "_objects",
    "segment_with_model": "_step",
    "load_model": "_step",
}

__all__ = sorted(_ATTRS)


def __getattr__(name: str) -> Any:
    if name in _ATTRS:
        return getattr(importlib.import_module(f"biakit.pixel.{_ATTRS[name]}"), name)
    raise AttributeError(f"module 'biakit.pixel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
