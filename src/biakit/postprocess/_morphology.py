"""Label-aware morphology: opening, closing and expansion without merging objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from biakit.blocks import declare_halo
from biakit.segment._common import (
    check_labels,
    check_number,
    check_spacing,
    crop_slices,
    ellipsoid_footprint,
    footprint_halo,
    keep_pixels,
)


def _morph_halo(
    ndim: int, radius: float = 1.0, spacing: float | Sequence[float] | None = None, **_: Any
) -> tuple[int, ...]:
    return tuple(2 * h for h in footprint_halo(radius, check_spacing(spacing, ndim)))


def _prepare(labels: Any, radius: Any, spacing: Any) -> tuple[np.ndarray, bool, np.ndarray]:
    lab, is_mask = check_labels(labels, "labels_or_mask")
    radius = check_number(radius, "radius")
    fp = ellipsoid_footprint(radius, check_spacing(spacing, lab.ndim))
    return lab, is_mask, fp


@declare_halo(_morph_halo)
def opening(
    labels_or_mask: Any, radius: float, *, spacing: float | Sequence[float] | None = None
) -> np.ndarray:
    """Morphological opening of every object separately (touching objects stay apart).

    An object pixel is kept when it lies in a ball of ``radius`` that fits
    entirely inside the same object (erosion then dilation with that ball, per
    label). Pixels outside the image are ignored, so objects are not eroded
    from the image edge. Computed for all labels at once with min/max filters.

    Parameters
    ----------
    labels_or_mask : ndarray
        2D or 3D label image or boolean mask.
    radius : float
        Ball radius, in pixels or physical units when ``spacing`` is given.
    spacing : float or sequence of float, optional
        Physical pixel size per axis (the ball becomes an ellipsoid in pixels).

    Returns
    -------
    out : ndarray
        Same dtype as the input; an object may break into pieces sharing its id.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((7, 9), dtype=int)
    >>> labels[1:6, 1:4] = 1
    >>> labels[1:6, 4:8] = 2
    >>> labels[3, 8] = 2  # a one-pixel spur
    >>> out = opening(labels, 1.5)  # a 3x3 square ball
    >>> int(out[3, 8]), sorted(np.unique(out).tolist())
    (0, [0, 1, 2])
    """
    lab, is_mask, fp = _prepare(labels_or_mask, radius, spacing)
    work = lab.astype(np.int64)
    big = int(work.max()) + 1
    hi = ndi.maximum_filter(work, footprint=fp, mode="constant", cval=0)
    lo = ndi.minimum_filter(work, footprint=fp, mode="constant", cval=big)
    eroded = (hi == lo) & (work > 0)
    # any eroded pixel within reach of p has p's own label (the ball is symmetric)
    keep = ndi.binary_dilation(eroded, structure=fp) & (work > 0)
    return keep_pixels(lab, is_mask, keep)


def _close(mask: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Binary closing ignoring the outside of the array (so it never shrinks ``mask``)."""
    dilated = ndi.binary_dilation(mask, structure=fp)
    return ndi.binary_erosion(dilated, structure=fp, border_value=1) | mask


@declare_halo(_morph_halo)
def closing(
    labels_or_mask: Any, radius: float, *, spacing: float | Sequence[float] | None = None
) -> np.ndarray:
    """Morphological closing of every object separately, never merging objects.

    Each object is closed (dilation then erosion with a ball of ``radius``)
    inside its padded bounding box; the pixels it gains are taken only from the
    background (other objects are never overwritten; where two objects claim
    the same background pixel the lower id wins). Pixels outside the image are
    ignored, so closing never shrinks an object at the image edge. A boolean
    mask is closed as a whole, with the same edge rule.

    Parameters
    ----------
    labels_or_mask : ndarray
        2D or 3D label image or boolean mask.
    radius : float
        Ball radius, in pixels or physical units when ``spacing`` is given.
    spacing : float or sequence of float, optional
        Physical pixel size per axis.

    Returns
    -------
    out : ndarray
        Same dtype as the input.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((5, 7), dtype=int)
    >>> labels[1:4, 1:6] = 1
    >>> labels[2, 3] = 0  # a one-pixel gap
    >>> int(closing(labels, 1)[2, 3])
    1
    """
    lab, is_mask, fp = _prepare(labels_or_mask, radius, spacing)
    if is_mask:
        return _close(lab, fp)
    pad = [2 * h + 2 for h in (s // 2 for s in fp.shape)]
    out = lab.copy()
    for i, sl in enumerate(ndi.find_objects(lab)):
        if sl is None:
            continue
        box = crop_slices(sl, pad, lab.shape)
        closed = _close(lab[box] == i + 1, fp)
        region = out[box]
        region[closed & (region == 0)] = i + 1
    return out


def _expand_halo(
    ndim: int, distance: float = 1.0, spacing: float | Sequence[float] | None = None, **_: Any
) -> tuple[int, ...]:
    return footprint_halo(distance, check_spacing(spacing, ndim))


@declare_halo(_expand_halo)
def expand_labels(
    labels: Any, distance: float, *, spacing: float | Sequence[float] | None = None
) -> np.ndarray:
    """Grow every object into the background by up to ``distance``, without overlap.

    Each background pixel within ``distance`` (physical units when ``spacing``
    is given) of an object takes the id of the nearest object, as in
    :func:`skimage.segmentation.expand_labels`; equidistant pixels go to one
    of the candidates (scipy's Euclidean distance transform decides).

    Parameters
    ----------
    labels : ndarray
        2D or 3D label image, or boolean mask (a dilated mask is returned).
    distance : float
        Largest growth distance.
    spacing : float or sequence of float, optional
        Physical pixel size per axis (anisotropic growth in pixels).

    Returns
    -------
    out : ndarray
        Same dtype as the input.

    Examples
    --------
    >>> import numpy as np
    >>> expand_labels(np.array([[0, 0, 1, 0, 0, 0, 0, 2]]), 2)
    array([[1, 1, 1, 1, 1, 2, 2, 2]])
    """
    lab, _ = check_labels(labels)
    distance = check_number(distance, "distance")
    sp = check_spacing(spacing, lab.ndim)
    if not lab.any():
        return lab.copy()
    dist, idx = ndi.distance_transform_edt(lab == 0, sampling=sp, return_indices=True)
    out = np.where(dist <= distance, lab[tuple(idx)], lab)
    return out.astype(lab.dtype, copy=False)
