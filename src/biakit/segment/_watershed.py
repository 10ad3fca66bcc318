"""Connected components and watershed segmentation (seeded, and distance-transform splitting)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage import morphology, segmentation

from biakit.blocks import GLOBAL, declare_halo
from biakit.segment._common import (
    check_connectivity,
    check_image,
    check_labels,
    check_number,
    check_spacing,
    ellipsoid_footprint,
)

DEFAULT_MIN_DISTANCE_PX = 4.0
"""Default ``min_distance`` of :func:`watershed_distance`, in pixels of the finest axis."""


@declare_halo(GLOBAL)
def label(mask: Any, *, connectivity: int = 1) -> np.ndarray:
    """Label the connected components of a mask, numbered ``1..n`` in raster order.

    Parameters
    ----------
    mask : ndarray
        2D or 3D mask; every non-zero pixel is foreground.
    connectivity : int
        1 for face neighbours (4 in 2D, 6 in 3D) up to ``ndim`` for all
        neighbours (8 in 2D, 26 in 3D).

    Returns
    -------
    labels : ndarray of int32
        0 = background, objects numbered consecutively.

    Examples
    --------
    >>> import numpy as np
    >>> label(np.array([[1, 0, 1], [0, 1, 0]]), connectivity=1)
    array([[1, 0, 2],
           [0, 3, 0]], dtype=int32)
    >>> int(label(np.array([[1, 0, 1], [0, 1, 0]]), connectivity=2).max())
    1
    """
    arr = check_image(mask, "mask")
    conn = check_connectivity(connectivity, arr.ndim)
    structure = ndi.generate_binary_structure(arr.ndim, conn)
    out = np.empty(arr.shape, dtype=np.int32)
    ndi.label(arr != 0, structure=structure, output=out)
    return out


@declare_halo(GLOBAL)
def watershed_seeded(
    image: Any,
    markers: Any,
    *,
    mask: Any = None,
    compactness: float = 0.0,
    watershed_line: bool = False,
    connectivity: int = 1,
) -> np.ndarray:
    """Marker-controlled watershed flooding ``image`` from ``markers``.

    Parameters
    ----------
    image : ndarray
        2D or 3D landscape to flood from low to high values (e.g. a gradient
        magnitude, or ``-distance`` for a distance transform).
    markers : ndarray of int
        Seeds, same shape; each non-zero id grows into one region.
    mask : ndarray of bool, optional
        Only pixels where ``mask`` is true are labelled.
    compactness : float
        ``> 0`` gives compact watershed (more regular regions).
    watershed_line : bool
        Keep a one-pixel line of 0 between regions.
    connectivity : int
        Neighbourhood used for flooding (1 = face neighbours).

    Returns
    -------
    labels : ndarray of int32
        Region ids taken from ``markers``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[0, 1, 5, 1, 0]], dtype=float).repeat(3, axis=0)
    >>> markers = np.zeros((3, 5), dtype=int)
    >>> markers[1, 0], markers[1, 4] = 1, 2
    >>> watershed_seeded(image, markers)[0]
    array([1, 1, 1, 2, 2], dtype=int32)
    """
    img = check_image(image)
    mk, _ = check_labels(markers, "markers")
    if mk.shape != img.shape:
        raise ValueError(f"markers has shape {mk.shape} but image has shape {img.shape}")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != img.shape:
            raise ValueError(f"mask has shape {mask.shape} but image has shape {img.shape}")
        mask = mask != 0
    compactness = check_number(compactness, "compactness")
    conn = check_connectivity(connectivity, img.ndim)
    out = segmentation.watershed(
        img.astype(np.float64, copy=False),
        mk.astype(np.int32, copy=False),
        connectivity=conn,
        mask=mask,
        compactness=compactness,
        watershed_line=bool(watershed_line),
    )
    return out.astype(np.int32, copy=False)


def _half_footprint(footprint: np.ndarray) -> np.ndarray:
    """Ellipsoid with half the extent of ``footprint`` along each axis (at least one pixel)."""
    half = [max(s // 2 // 2, 0) for s in footprint.shape]
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    return np.asarray(sum((g / (h + 0.5)) ** 2 for g, h in zip(grids, half)) <= 1.0)


def _distance_markers(
    distance: np.ndarray, fg: np.ndarray, footprint: np.ndarray, h: float | None
) -> np.ndarray:
    """Seeds: local maxima of ``distance`` within ``footprint`` (and of dynamic >= ``h``)."""
    peaks = (distance == ndi.maximum_filter(distance, footprint=footprint, mode="constant")) & fg
    domes = None
    if h is not None and h > 0:
        # h-domes: regional maxima of the reconstruction by dilation of (distance - h);
        # peaks in one dome (joined by a saddle less than h deep) become one seed
        rec = morphology.reconstruction(distance - h, distance, method="dilation")
        domes = morphology.local_maxima(rec, connectivity=distance.ndim, allow_borders=True)
        domes &= fg
        peaks &= domes
    # equal-height peaks closer than the footprint (e.g. split plateaus) become one seed
    grouped = ndi.binary_dilation(peaks, structure=_half_footprint(footprint))
    if domes is not None:
        grouped |= domes
    groups, _ = ndi.label(grouped, structure=np.ones((3,) * distance.ndim))
    markers = np.where(peaks, groups, 0).astype(np.int32)
    # every connected component gets at least one seed (its deepest point)
    cc, n = ndi.label(fg)
    if n:
        seeded = np.zeros(n + 1, dtype=bool)
        seeded[cc[markers > 0]] = True
        missing = np.flatnonzero(~seeded[1:]) + 1
        if missing.size:
            pos = ndi.maximum_position(distance, cc, index=missing)
            start = int(markers.max())
            for i, p in enumerate(pos):
                markers[p] = start + 1 + i
    return markers


@declare_halo(GLOBAL)
def watershed_distance(
    mask: Any,
    *,
    spacing: float | Sequence[float] | None = None,
    min_distance: float | None = None,
    footprint: Any = None,
    h: float | None = None,
    compactness: float = 0.0,
    watershed_line: bool = False,
) -> np.ndarray:
    """Split touching round objects: distance transform, peaks, watershed.

    The Euclidean distance to the background is computed in physical units
    (anisotropic when ``spacing`` is given); its local maxima within a ball of
    radius ``min_distance`` (optionally only those standing at least ``h``
    above their surroundings, the h-maxima) are the seeds of a watershed of
    ``-distance`` restricted to the mask.

    Parameters
    ----------
    mask : ndarray
        2D or 3D foreground mask (non-zero = foreground).
    spacing : float or sequence of float, optional
        Physical pixel size per axis (e.g. ``(2.0, 0.5, 0.5)`` for ZYX).
    min_distance : float, optional
        Smallest distance between two seeds, in physical units. Default: 4
        pixels of the finest axis, which splits touching round nuclei of
        radius 6-12 px and keeps single ones whole.
    footprint : ndarray of bool, optional
        Explicit neighbourhood for the peak search; overrides ``min_distance``.
    h : float, optional
        h-maxima depth (physical units): a peak must rise at least ``h`` above
        the saddle joining it to a higher peak. Suppresses over-splitting of
        irregular shapes; ``None`` disables it.
    compactness : float
        Compact-watershed parameter (0 = classic watershed).
    watershed_line : bool
        Keep a one-pixel background line between split objects.

    Returns
    -------
    labels : ndarray of int32
        One id per object, consecutive, 0 = background.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:40, :60]
    >>> mask = ((yy - 20) ** 2 + (xx - 20) ** 2 < 100) | ((yy - 20) ** 2 + (xx - 36) ** 2 < 100)
    >>> int(watershed_distance(mask).max())
    2
    """
    fg = check_image(mask, "mask") != 0
    sp = check_spacing(spacing, fg.ndim)
    if footprint is not None:
        fp = np.asarray(footprint, dtype=bool)
        if fp.ndim != fg.ndim or not fp.any():
            raise ValueError(
                f"footprint must be a non-empty {fg.ndim}D boolean array, got shape {fp.shape}"
            )
    else:
        md = DEFAULT_MIN_DISTANCE_PX * min(sp) if min_distance is None else min_distance
        md = check_number(md, "min_distance")
        fp = ellipsoid_footprint(md, sp)
    if h is not None:
        h = check_number(h, "h")
    distance = ndi.distance_transform_edt(fg, sampling=sp)
    markers = _distance_markers(distance, fg, fp, h)
    out = segmentation.watershed(
        -distance,
        markers,
        mask=fg,
        compactness=check_number(compactness, "compactness"),
        watershed_line=bool(watershed_line),
    )
    return _relabel(out)


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber the ids of ``labels`` to ``1..n`` keeping their order (int32)."""
    ids = np.unique(labels)
    ids = ids[ids != 0]
    lut = np.zeros(int(labels.max()) + 1 if labels.size else 1, dtype=np.int32)
    lut[ids] = np.arange(1, ids.size + 1, dtype=np.int32)
    return lut[labels]
