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

from biakit._lazy import lazy_exports

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


__getattr__, __dir__, __all__ = lazy_exports(__name__, _ATTRS)
