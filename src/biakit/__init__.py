"""biakit: bioimage analysis from pre-processing to evaluation, classical to deep learning.

Sub-modules are imported lazily, so ``import biakit`` stays fast:

>>> import biakit
>>> biakit.__version__
'0.1.0'
"""

from __future__ import annotations

import importlib
from typing import Any

from biakit.runtime import _apply_env_policy

__version__ = "0.1.0"

# OpenMP threads sleep instead of spinning when idle (before torch/numba load): see biakit.runtime
_apply_env_policy()

_SUBMODULES = {
    "axes",
    "errors",
    "runtime",
    "validation",
    "blocks",
    "visualize",
    "data",
    "io",
    "measure",
    "metrics",
    "model_selection",
    "pipeline",
    "postprocess",
    "preprocess",
    "segment",
    "features",
    "pixel",
    "nn",
    "evaluation",
    "workflows",
}
_ATTRS = {
    "Pipeline": "biakit.pipeline",
    "PixelClassifier": "biakit.pixel",
    "LiveClassifier": "biakit.pixel",
    "load_model": "biakit.workflows",
    "ObjectClassifier": "biakit.pixel",
    "SemanticSegmenter": "biakit.workflows",
    "InstanceSegmenter": "biakit.workflows",
    "Detector": "biakit.workflows",
    "Denoiser": "biakit.workflows",
    "SuperResolver": "biakit.workflows",
    "Tracker": "biakit.workflows",
    "ImageClassifier": "biakit.workflows",
    "FramePredictor": "biakit.workflows",
    "IsotropicRestorer": "biakit.workflows",
    "read_image": "biakit.io",
    "write_image": "biakit.io",
    "ImageMeta": "biakit.io",
}

__all__ = ["__version__", *sorted(_ATTRS), *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"biakit.{name}")
    if name in _ATTRS:
        return getattr(importlib.import_module(_ATTRS[name]), name)
    raise AttributeError(f"module 'biakit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
