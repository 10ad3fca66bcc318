"""Relabelling and border clearing."""

from __future__ import annotations

from typing import Any

import numpy as np

from biakit.blocks import GLOBAL, declare_halo
from biakit.segment._common import check_labels, keep_pixels, object_image


@declare_halo(GLOBAL)
def relabel_sequential(labels: Any) -> np.ndarray:
    """Renumber the objects ``1..n`` keeping their order; output is int32.

    Parameters
    ----------
    labels : ndarray
        2D or 3D label image (0 = background) or boolean mask.

    Returns
    -------
    labels : ndarray of int32

    Examples
    --------
    >>> import numpy as np
    >>> relabel_sequential(np.array([[0, 7, 7], [3, 0, 12]]))
    array([[0, 2, 2],
           [1, 0, 3]], dtype=int32)
    """
    lab, _ = check_labels(labels)
    ids = np.unique(lab)
    ids = ids[ids != 0]
    if ids.size >= np.iinfo(np.int32).max:
        raise ValueError(f"labels has {ids.size} objects; int32 output holds fewer")
    if lab.size and int(lab.max()) <= 4 * lab.size + 1024:
        lut = np.zeros(int(lab.max()) + 1, dtype=np.int32)
        lut[ids] = np.arange(1, ids.size + 1, dtype=np.int32)
        return lut[lab]
    # sparse, huge ids: map through the sorted unique values
    return np.searchsorted(np.concatenate([[0], ids]), lab).astype(np.int32)


@declare_halo(GLOBAL)
def clear_border(labels: Any, *, buffer: int = 0, connectivity: int = 1) -> np.ndarray:
    """Remove the objects touching the image border (or lying within ``buffer`` of it).

    Parameters
    ----------
    labels : ndarray
        2D or 3D label image (ids kept) or boolean mask (objects = connected
        components with ``connectivity``; a mask is returned).
    buffer : int
        Width in pixels of the border band; objects with any pixel in it go.
    connectivity : int
        Connectivity defining the objects of a boolean mask.

    Returns
    -------
    out : ndarray
        Same dtype as the input.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[1, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]])
    >>> clear_border(labels)
    array([[0, 0, 0, 0],
           [0, 0, 2, 0],
           [0, 0, 0, 0]])
    """
    lab, is_mask = check_labels(labels)
    if isinstance(buffer, bool) or not isinstance(buffer, int | np.integer) or buffer < 0:
        raise ValueError(f"buffer must be a non-negative int, got {buffer!r}")
    work = object_image(lab, is_mask, connectivity)
    band = np.ones(lab.shape, dtype=bool)
    inner = tuple(slice(buffer + 1, max(n - buffer - 1, 0)) for n in lab.shape)
    band[inner] = False
    touching = np.unique(work[band])
    drop = np.isin(work, touching[touching != 0])
    return keep_pixels(lab, is_mask, (work > 0) & ~drop)
