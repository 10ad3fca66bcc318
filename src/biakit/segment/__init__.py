"""Segmentation: thresholds, connected components, watershed, region growing, contours.

All functions take plain NumPy arrays (2D or 3D), return arrays (labels are
``int32`` with 0 = background) and take an explicit physical ``spacing`` where
distances matter. Each declares its block-wise halo (:mod:`biakit.blocks`).

Examples
--------
>>> import numpy as np
>>> from biakit import segment
>>> yy, xx = np.mgrid[:40, :60]
>>> discs = ((yy - 20) ** 2 + (xx - 20) ** 2 < 100) | ((yy - 20) ** 2 + (xx - 36) ** 2 < 100)
>>> image = discs * 1.0
>>> mask = segment.threshold(image, "otsu")
>>> int(segment.label(mask).max()), int(segment.watershed_distance(mask).max())
(1, 2)
"""

from biakit.segment._contours import boundaries, find_contours, mesh_surface
from biakit.segment._decode import DecodeParams, decode_instances
from biakit.segment._decode_tune import DEFAULT_GRID, tune_decoding
from biakit.segment._peaks import find_peaks
from biakit.segment._region_growing import region_growing
from biakit.segment._threshold import (
    GLOBAL_METHODS,
    LOCAL_METHODS,
    threshold,
    threshold_local,
    threshold_value,
)
from biakit.segment._watershed import label, watershed_distance, watershed_seeded

__all__ = [
    "DEFAULT_GRID",
    "GLOBAL_METHODS",
    "LOCAL_METHODS",
    "DecodeParams",
    "boundaries",
    "decode_instances",
    "find_contours",
    "find_peaks",
    "label",
    "mesh_surface",
    "region_growing",
    "threshold",
    "threshold_local",
    "threshold_value",
    "tune_decoding",
    "watershed_distance",
    "watershed_seeded",
]
