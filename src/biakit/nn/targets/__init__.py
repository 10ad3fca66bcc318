"""Training targets: label images and point lists -> what a network learns to predict.

* :func:`instance_targets` with :class:`InstanceEncoding` -- foreground, contour,
  normalised distance and centre channels for instance segmentation (decoded
  back to labels by :func:`biakit.segment.decode_instances`).
* :func:`unet_weight_map` -- the U-Net border weight map (Ronneberger 2015).
* :func:`instance_loss` -- matching loss for ``Trainer(loss_fn=...)`` (imports torch).
* :func:`point_heatmap` -- Gaussian heatmaps for detection.

Examples
--------
>>> import numpy as np
>>> from biakit.nn.targets import InstanceEncoding, instance_targets
>>> labels = np.zeros((8, 8), dtype=np.uint8)
>>> labels[2:6, 2:6] = 1
>>> instance_targets(labels, InstanceEncoding(mode="fg_contour")).shape
(2, 8, 8)
"""

from __future__ import annotations

import importlib
from typing import Any

from biakit.nn.targets._instance import CHANNELS, InstanceEncoding, contour_mask, instance_targets
from biakit.nn.targets._weights import unet_weight_map

_LAZY = {
    "InstanceLoss": "_loss",
    "instance_loss": "_loss",
    "point_heatmap": "_points",
}

__all__ = [
    "CHANNELS",
    "InstanceEncoding",
    "InstanceLoss",
    "contour_mask",
    "instance_loss",
    "instance_targets",
    "point_heatmap",
    "unet_weight_map",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"biakit.nn.targets.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'biakit.nn.targets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
