"""Post-processing of label images and masks: size filters, holes, morphology, split/merge.

All functions take plain NumPy arrays (2D or 3D): an integer label image
(0 = background) or a boolean mask, and return the same kind. Sizes and
distances are in pixels, or in physical units when ``spacing`` is given.
Touching objects are never merged unless a function says so.

Examples
--------
>>> import numpy as np
>>> from biakit import postprocess
>>> labels = np.array([[0, 5, 5, 0, 9], [0, 5, 5, 0, 0]])
>>> postprocess.relabel_sequential(postprocess.remove_small_objects(labels, 2))
array([[0, 1, 1, 0, 0],
       [0, 1, 1, 0, 0]], dtype=int32)
"""

from biakit.postprocess._morphology import closing, expand_labels, opening
from biakit.postprocess._relabel import clear_border, relabel_sequential
from biakit.postprocess._size import fill_holes, remove_large_objects, remove_small_objects
from biakit.postprocess._split_merge import MERGE_KINDS, merge_oversplit, split_touching

__all__ = [
    "MERGE_KINDS",
    "clear_border",
    "closing",
    "expand_labels",
    "fill_holes",
    "merge_oversplit",
    "opening",
    "relabel_sequential",
    "remove_large_objects",
    "remove_small_objects",
    "split_touching",
]
