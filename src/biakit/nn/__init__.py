"""Deep learning with PyTorch: U-Nets, augmentation, patch datasets, training, tiled inference.

Sub-packages (imported on first use, so ``import biakit`` never imports torch):

* :mod:`biakit.nn.models` -- U-Net 2D / 3D (:class:`UNet`, :class:`UNetConfig`).
* :mod:`biakit.nn.augment` -- label-safe paired augmentation (:class:`Augmenter`).
* :mod:`biakit.nn.datasets` -- patch sampling from in-memory or lazy images (:class:`PatchDataset`).
* :mod:`biakit.nn.train` -- :class:`Trainer` with checkpoints, exact resume, AMP, schedules.
* :mod:`biakit.nn.infer` -- :func:`predict_tiled` for images of any size.
* :mod:`biakit.nn.device` -- :func:`pick_device` (CUDA, then MPS, then CPU).
"""

from __future__ import annotations

import importlib
from typing import Any

_ATTRS = {
    "UNet": "models",
    "UNetConfig": "models",
    "unet": "models",
    "AugmentConfig": "augment",
    "Augmenter": "augment",
    "Normalizer": "datasets",
    "PatchDataset": "datasets",
    "TrainConfig": "train",
    "Trainer": "train",
    "predict_tiled": "infer",
    "pick_device": "device",
}

__all__ = sorted(_ATTRS)


def __getattr__(name: str) -> Any:
    if name in _ATTRS:
        return getattr(importlib.import_module(f"biakit.nn.{_ATTRS[name]}"), name)
    raise AttributeError(f"module 'biakit.nn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
