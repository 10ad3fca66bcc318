"""Size filters and hole filling on label images and masks (2D and 3D)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from biakit.blocks import GLOBAL, declare_halo
from biakit.segment._common import (
    check_labels,
    check_number,
    check_spacing,
    keep_pixels,
    object_image,
    object_sizes,
)


def _filter_by_size(labels: Any, keep: Any, spacing: Any, connectivity: int) -> np.ndarray:
    lab, is_mask = check_labels(labels)
    sp = check_spacing(spacing, lab.ndim)
    work = object_image(lab, is_mask, connectivity)
    ok = keep(object_sizes(work) * float(np.prod(sp)))
    ok[0] = False
    return keep_pixels(lab, is_mask, ok[work])


@declare_halo(GLOBAL)
def remove_small_objects(
    labels: Any,
    min_size: float,
    *,
    spacing: float | Sequence[float] | None = None,
    connectivity: int = 1,
) -> np.ndarray:
    """Remove objects smaller than ``min_size`` (pixels, or physical area/volume).

    Parameters
    ----------
    labels : ndarray
        2D or 3D label image (ids kept, not renumbered) or boolean mask
        (objects = connected components; a mask is returned).
    min_size : float
        Objects with size ``< min_size`` are removed. In pixels, or in physical
        units (e.g. µm² / µm³) when ``spacing`` is given.
    spacing : float or sequence of float, optional
        Physical pixel size per axis; the size of a pixel is their product.
    connectivity : int
        Connectivity defining the objects of a boolean mask.

    Returns
    -------
    out : ndarray
        Same dtype as the input.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[1, 1, 0, 2], [1, 1, 0, 0]])
    >>> remove_small_objects(labels, 2)
    array([[1, 1, 0, 0],
           [1, 1, 0, 0]])
    >>> remove_small_objects(labels, 2, spacing=(1.0, 3.0))  # object 2 covers 3 units²
    array([[1, 1, 0, 2],
           [1, 1, 0, 0]])
    """
    min_size = check_number(min_size, "min_size")
    return _filter_by_size(labels, lambda s: s >= min_size, spacing, connectivity)


@declare_halo(GLOBAL)
def remove_large_objects(
    labels: Any,
    max_size: float,
    *,
    spacing: float | Sequence[float] | None = None,
    connectivity: int = 1,
) -> np.ndarray:
    """Remove objects larger than ``max_size`` (pixels, or physical area/volume).

    Parameters
    ----------
    labels : ndarray
        2D or 3D label image or boolean mask (see :func:`remove_small_objects`).
    max_size : float
        Objects with size ``> max_size`` are removed.
    spacing : float or sequence of float, optional
        Physical pixel size per axis.
    connectivity : int
        Connectivity defining the objects of a boolean mask.

    Returns
    -------
    out : ndarray
        Same dtype as the input.

    Examples
    --------
    >>> import numpy as np
    >>> remove_large_objects(np.array([[1, 1, 0, 2], [1, 1, 0, 0]]), 2)
    array([[0, 0, 0, 2],
           [0, 0, 0, 0]])
    """
    max_size = check_number(max_size, "max_size")
    return _filter_by_size(labels, lambda s: s <= max_size, spacing, connectivity)


def _hole_owner_pairs(bg: np.ndarray, cand: np.ndarray, work: np.ndarray) -> np.ndarray:
    """Return unique ``(background component, object id)`` face-neighbour pairs of candidates."""
    holes, objs = [], []
    for axis in range(bg.ndim):
        lo = tuple(slice(None, -1) if i == axis else slice(None) for i in range(bg.ndim))
        hi = tuple(slice(1, None) if i == axis else slice(None) for i in range(bg.ndim))
        for a, b in ((lo, hi), (hi, lo)):
            h, o = bg[a], work[b]
            sel = cand[h] & (o > 0)
            holes.append(h[sel])
            objs.append(o[sel])
    return np.unique(np.stack([np.concatenate(holes), np.concatenate(objs)]), axis=1)


@declare_halo(GLOBAL)
def fill_holes(
    labels_or_mask: Any,
    *,
    max_hole_size: float | None = None,
    spacing: float | Sequence[float] | None = None,
) -> np.ndarray:
    """Fill the holes of every object with its id (2D and 3D).

    A hole is a connected background region (face connectivity) that does not
    touch the image border and whose face neighbours all belong to one single
    object; it is filled with that object's id. Background enclosed by two
    touching objects is left alone. On a boolean mask this equals
    :func:`scipy.ndimage.binary_fill_holes` (optionally limited by size).

    Parameters
    ----------
    labels_or_mask : ndarray
        2D or 3D label image or boolean mask.
    max_hole_size : float, optional
        Only holes of at most this size are filled (pixels, or physical units
        when ``spacing`` is given).
    spacing : float or sequence of float, optional
        Physical pixel size per axis, for ``max_hole_size``.

    Returns
    -------
    out : ndarray
        Same dtype as the input.

    Examples
    --------
    >>> import numpy as np
    >>> ring = np.array([[0, 0, 0, 0, 0],
    ...                  [0, 3, 3, 3, 0],
    ...                  [0, 3, 0, 3, 0],
    ...                  [0, 3, 3, 3, 0],
    ...                  [0, 0, 0, 0, 0]])
    >>> int(fill_holes(ring)[2, 2])
    3
    """
    lab, is_mask = check_labels(labels_or_mask, "labels_or_mask")
    sp = check_spacing(spacing, lab.ndim)
    limit = np.inf if max_hole_size is None else check_number(max_hole_size, "max_hole_size")
    if is_mask and max_hole_size is None:
        return np.asarray(ndi.binary_fill_holes(lab))
    work = lab.astype(np.int64)
    bg, n = ndi.label(work == 0)
    if n == 0:
        return lab.copy()
    border = np.zeros(n + 1, dtype=bool)
    for axis in range(lab.ndim):
        for end in (0, -1):
            border[np.take(bg, end, axis=axis)] = True
    cand = ~border
    cand[0] = False
    pairs = _hole_owner_pairs(bg, cand, work)
    n_neigh = np.bincount(pairs[0], minlength=n + 1)
    owner = np.zeros(n + 1, dtype=np.int64)
    owner[pairs[0]] = pairs[1]
    size = object_sizes(bg) * float(np.prod(sp))
    fill = (n_neigh == 1) & ~border & (size <= limit)
    fill[0] = False
    out = np.where(fill[bg], owner[bg], work)
    return out.astype(bool) if is_mask else out.astype(lab.dtype)
