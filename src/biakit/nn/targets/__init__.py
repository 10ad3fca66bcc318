"""Training targets: label images and point lists -> what a network learns to predict.

* :func:`instance_targets` with :class:`InstanceEncoding` -- foreground, contour,
  normalised distance and centre channels for instance segmentation (decoded
  back to labels by :func:`biakit.segment.decode_instances`).
* :func:`unet_weight_map` -- the U-Net border weight map (Ronneberger 2015).
* :func:`instance_loss` -- matching loss for ``Trainer(loss_fn=...)`` (imports torch).
* :func:`point_heatmap` -- Gaussian heatmaps for detection.
* :func:`n2v_mask` with :class:`N2VMasking`, :class:`N2VDataset`, :func:`n2v_loss` --
  Noise2Void blind-spot masking (N2V, N2V2, structN2V) and its masked loss.

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

from biakit._lazy import lazy_exports

_LAZY = {
    "CHANNELS": "_instance",
    "InstanceEncoding": "_instance",
    "contour_mask": "_instance",
    "instance_targets": "_instance",
    "unet_weight_map": "_weights",
    "InstanceLoss": "_loss",
    "instance_loss": "_loss",
    "point_heatmap": "_points",
    "N2VDataset": "_n2v",
    "N2VMasking": "_n2v",
    "n2v_loss": "_n2v",
    "n2v_mask": "_n2v",
    "stratified_coords": "_n2v",
}


__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
