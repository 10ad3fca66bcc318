"""Local maxima of (multi-class) heat maps -> points, classes, scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from biakit.segment._common import check_spacing

__all__ = ["find_peaks"]

SubpixelMethod = Literal["gaussian", "quadratic", "centroid"]
_METHODS = ("gaussian", "quadratic", "centroid")


def _check_inputs(heatmap: Any, threshold: Any, min_distance: Any, subpixel: Any):
    h = np.asarray(heatmap)
    if h.ndim not in (3, 4):
        raise ValueError(
            f"heatmap must be channel-first (n_classes, Y, X) or (n_classes, Z, Y, X), got "
            f"shape {h.shape}; add a channel axis with heatmap[None] for a single map"
        )
    if not (np.issubdtype(h.dtype, np.floating) or np.issubdtype(h.dtype, np.integer)):
        raise TypeError(f"heatmap must be a real-valued array, got dtype {h.dtype}")
    for name, value in (("threshold", threshold), ("min_distance", min_distance)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    if not (np.isfinite(min_distance) and min_distance >= 0):
        raise ValueError(f"min_distance must be a finite number >= 0, got {min_distance!r}")
    method = {True: "gaussian", False: None}.get(subpixel, subpixel)  # type: ignore[call-overload]
    if method is not None and method not in _METHODS:
        raise ValueError(f"subpixel must be True, False or one of {_METHODS}, got {subpixel!r}")
    if not np.issubdtype(h.dtype, np.floating):
        h = h.astype(np.float64)
    return h, method


def _footprint(min_distance: float, spacing: np.ndarray) -> np.ndarray:
    """Voxels within ``min_distance`` (physical) of the centre, plus the 3^ndim box."""
    radius = np.floor(min_distance / spacing + 1e-9).astype(int)
    radius = np.maximum(radius, 1)
    grids = np.meshgrid(*[np.arange(-r, r + 1) for r in radius], indexing="ij")
    dist2 = sum((g * s) ** 2 for g, s in zip(grids, spacing))
    box = np.all([np.abs(g) <= 1 for g in grids], axis=0)
    return (dist2 <= min_distance**2 * (1 + 1e-12)) | box


def find_peaks(
    heatmap: Any,
    *,
    threshold: float = 0.5,
    min_distance: float = 3.0,
    spacing: float | Sequence[float] | None = None,
    subpixel: bool | SubpixelMethod = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find the local maxima of each channel of a heat map.

    Per channel (class) ``c``:

    1. *candidates* are voxels with ``h >= threshold`` (inclusive) equal to the
       maximum of ``h`` over a footprint: all voxels within ``min_distance``
       (physical units, anisotropic with ``spacing``) plus the 3x3(x3)
       neighbourhood. Outside the image counts as ``-inf``, so border voxels
       can be peaks;
    2. touching candidates (full connectivity) form one *plateau*, which gives
       one peak: at the plateau voxel nearest its centroid (score = its value);
    3. equal maxima that do not touch but lie within ``min_distance`` of each
       other are thinned greedily: peaks in order of decreasing score (ties by
       position) are kept unless a kept peak is at distance ``<= min_distance``.
       So the voxel positions of the returned peaks of one class are pairwise
       more than ``min_distance`` apart;
    4. optional sub-pixel refinement, per axis through the peak voxel:
       ``"gaussian"`` (``True``) fits a parabola to ``log h`` at offsets
       -1, 0, +1 -- exact for a sampled Gaussian blob (e.g.
       :func:`biakit.nn.targets.point_heatmap` with ``subpixel=True``);
       ``"quadratic"`` fits a parabola to ``h``; ``"centroid"`` takes the
       ``h``-weighted centroid of the 3x3(x3) neighbourhood (weights ``h - min``).
       Offsets are clipped to ``[-0.5, 0.5]``; plateaus of several voxels use
       their centroid instead; at the image border the axis is not refined.

    Parameters
    ----------
    heatmap : array_like, shape (n_classes, Y, X) or (n_classes, Z, Y, X)
        Channel-first heat map (e.g. sigmoid probabilities).
    threshold : float
        Smallest peak value kept (inclusive).
    min_distance : float
        Suppression radius in physical units (pixels when ``spacing`` is None).
    spacing : float or sequence of float, optional
        Physical pixel size per spatial axis (a scalar: the same on every axis).
    subpixel : bool or {"gaussian", "quadratic", "centroid"}
        Sub-pixel refinement method (``True`` = ``"gaussian"``; ``False``: voxel
        positions).

    Returns
    -------
    points : ndarray of float64, shape (N, ndim)
        Peak positions in pixels (array axis order).
    classes : ndarray of int64, shape (N,)
        Channel of each peak.
    scores : ndarray of float32, shape (N,)
        Heat-map value at the peak voxel.

    Peaks are sorted by class, then by decreasing score.

    Examples
    --------
    >>> h = np.zeros((1, 9, 12), np.float32)
    >>> h[0, 2, 3], h[0, 2, 5], h[0, 6, 9] = 0.75, 0.625, 0.5
    >>> points, classes, scores = find_peaks(h, threshold=0.5, min_distance=2.5, subpixel=False)
    >>> points.tolist(), classes.tolist(), scores.tolist()
    ([[2.0, 3.0], [6.0, 9.0]], [0, 0], [0.75, 0.5])
    """
    h, method = _check_inputs(heatmap, threshold, min_distance, subpixel)
    ndim = h.ndim - 1
    sp = np.asarray(check_spacing(spacing, ndim))
    footprint = _footprint(float(min_distance), sp)
    out_p, out_c, out_s = [np.zeros((0, ndim))], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for c, channel in enumerate(h):
        voxels, centroids, scores = _channel_peaks(channel, float(threshold), footprint)
        keep = _thin(voxels, scores, float(min_distance), sp)
        voxels, centroids, scores = voxels[keep], centroids[keep], scores[keep]
        points = _refine(channel, voxels, centroids, method)
        out_p.append(points)
        out_c.append(np.full(len(points), c, dtype=np.int64))
        out_s.append(scores.astype(np.float32))
    return np.concatenate(out_p), np.concatenate(out_c), np.concatenate(out_s)


def _channel_peaks(channel: np.ndarray, threshold: float, footprint: np.ndarray):
    """Plateau-merged candidates: representative voxel, centroid, score (sorted)."""
    ndim = channel.ndim
    mask = _local_maxima(channel, threshold, footprint)
    labels, n = ndi.label(mask, structure=np.ones((3,) * ndim, dtype=bool))
    if n == 0:
        return np.zeros((0, ndim), np.int64), np.zeros((0, ndim)), np.zeros(0)
    coords = np.argwhere(labels)  # row-major order
    lab = labels[tuple(coords.T)] - 1
    counts = np.bincount(lab, minlength=n)
    centroids = np.stack([np.bincount(lab, coords[:, d], n) for d in range(ndim)], 1)
    centroids /= counts[:, None]
    # representative: plateau voxel nearest the centroid (first in row-major order on ties)
    d2 = ((coords - centroids[lab]) ** 2).sum(1)
    order = np.lexsort((np.arange(len(lab)), d2, lab))
    first = order[np.r_[True, lab[order][1:] != lab[order][:-1]]]
    voxels = coords[first]
    scores = channel[tuple(voxels.T)]
    # decreasing score, ties in row-major voxel order
    order = np.lexsort((*voxels.T[::-1], -scores))
    return voxels[order], centroids[order], scores[order]


def _local_maxima(channel: np.ndarray, threshold: float, footprint: np.ndarray) -> np.ndarray:
    """``channel == maximum over footprint`` and ``>= threshold``.

    Equal to ``ndi.maximum_filter(channel, footprint=footprint)`` compared with
    ``channel``, but faster: a separable 3^ndim maximum filter finds candidates,
    then only those are checked against the rest of the footprint. Outside the
    image the nearest voxel is used (clamping moves a footprint voxel closer to the
    centre along every axis, so it stays in the footprint: the result equals
    treating outside as ``-inf``).
    """
    box = ndi.maximum_filter(channel, size=3, mode="nearest")
    mask = (channel == box) & (channel >= threshold)
    coords = np.argwhere(mask)
    if not len(coords):
        return mask
    centre = np.array(footprint.shape) // 2
    offsets = np.argwhere(footprint) - centre
    offsets = offsets[np.abs(offsets).max(1) > 1]  # the 3^ndim box is done
    values = channel[tuple(coords.T)]
    ok = np.ones(len(coords), dtype=bool)
    high = np.array(channel.shape) - 1
    for off in offsets:
        ok &= values >= channel[tuple(np.clip(coords + off, 0, high).T)]
    mask[tuple(coords[~ok].T)] = False
    return mask


def _thin(voxels: np.ndarray, scores: np.ndarray, min_distance: float, sp: np.ndarray):
    """Greedy suppression of (tied) peaks closer than ``min_distance`` (already sorted)."""
    n = len(voxels)
    keep = np.ones(n, dtype=bool)
    if n < 2 or min_distance <= 0:
        return keep
    tree = cKDTree(voxels * sp)
    pairs = tree.query_pairs(min_distance * (1 + 1e-12), output_type="ndarray")
    if not len(pairs):
        return keep
    neighbours: dict[int, list[int]] = {}
    for i, j in pairs.tolist():
        neighbours.setdefault(min(i, j), []).append(max(i, j))
    for i in range(n):  # voxels are in priority order: earlier index wins
        if keep[i]:
            for j in neighbours.get(i, ()):
                keep[j] = False
    return keep


def _refine(
    channel: np.ndarray, voxels: np.ndarray, centroids: np.ndarray, method: str | None
) -> np.ndarray:
    points = voxels.astype(np.float64)
    if method is None or not len(voxels):
        return points
    ndim = channel.ndim
    plateau = np.abs(centroids - voxels).sum(1) > 0
    for d in range(ndim):
        lo, hi = voxels.copy(), voxels.copy()
        lo[:, d] -= 1
        hi[:, d] += 1
        ok = (lo[:, d] >= 0) & (hi[:, d] < channel.shape[d])
        if method == "centroid":
            offset = _centroid_offset(channel, voxels, d)
        else:
            v0 = channel[tuple(voxels.T)]
            vm = channel[tuple(np.clip(lo, 0, None).T)]
            vp = channel[tuple(np.minimum(hi, np.array(channel.shape) - 1).T)]
            if method == "gaussian":
                tiny = np.finfo(np.float64).tiny
                vm, v0, vp = (np.log(np.maximum(v, tiny)) for v in (vm, v0, vp))
            curv = vm - 2 * v0 + vp
            with np.errstate(divide="ignore", invalid="ignore"):
                offset = np.where(curv < 0, 0.5 * (vm - vp) / curv, 0.0)
        offset = np.where(ok, np.clip(offset, -0.5, 0.5), 0.0)
        points[:, d] += offset
    points[plateau] = centroids[plateau]
    return points


def _centroid_offset(channel: np.ndarray, voxels: np.ndarray, axis: int) -> np.ndarray:
    """Offset along ``axis`` of the (h - min)-weighted centroid of the 3^ndim neighbourhood."""
    ndim = channel.ndim
    padded = np.pad(channel, 1, mode="edge")
    shifts = np.stack(np.meshgrid(*[np.arange(-1, 2)] * ndim, indexing="ij"), -1).reshape(-1, ndim)
    values = np.stack([padded[tuple((voxels + 1 + s).T)] for s in shifts], 1)  # (n, 3^ndim)
    weights = values - values.min(1, keepdims=True)
    total = weights.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = (weights * shifts[:, axis]).sum(1) / total
    return np.where(total > 0, offset, 0.0)
