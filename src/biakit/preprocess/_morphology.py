"""Fast flat grey-scale morphology with row-decomposed footprints (exact, any ndim).

A ball/disk footprint is a union of line segments along the last axis. The
erosion by it is the minimum, over the footprint's rows, of shifted 1D
minimum filters (O(N) each, van Herk / Gil-Werman in scipy), so the cost
grows with the number of rows rather than the number of footprint pixels.
Boundaries follow scipy.ndimage's ``mode="reflect"`` (skimage's default), so
results equal ``skimage.morphology.erosion`` / ``dilation`` exactly.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from scipy import ndimage as ndi


def _rows(footprint: np.ndarray) -> dict[int, list[tuple[int, ...]]] | None:
    """Group footprint rows (leading offsets) by the half-width of their centred segment.

    Returns ``None`` when some row is not a centred contiguous segment.
    """
    fp = np.asarray(footprint, dtype=bool)
    centre = [n // 2 for n in fp.shape]
    groups: dict[int, list[tuple[int, ...]]] = defaultdict(list)
    for index in np.ndindex(*fp.shape[:-1]):
        row = fp[index]
        if not row.any():
            continue
        cols = np.flatnonzero(row) - centre[-1]
        w = int(cols.max())
        if cols.min() != -w or cols.size != 2 * w + 1:
            return None
        groups[w].append(tuple(i - c for i, c in zip(index, centre[:-1])))
    return dict(groups)


def _flat(image: np.ndarray, footprint: np.ndarray, *, erode: bool) -> np.ndarray:
    """Flat erosion (``erode=True``) or dilation by a symmetric ``footprint``."""
    groups = _rows(footprint)
    if groups is None:  # not row-convex: fall back to scipy's direct filter
        func = ndi.grey_erosion if erode else ndi.grey_dilation
        return func(image, footprint=footprint, mode="reflect")
    half = [n // 2 for n in footprint.shape]
    padded = np.pad(image, [(h, h) for h in half[:-1]] + [(0, 0)], mode="symmetric")
    line = ndi.minimum_filter1d if erode else ndi.maximum_filter1d
    pick = np.minimum if erode else np.maximum
    out = np.full(image.shape, np.inf if erode else -np.inf, dtype=image.dtype)
    for w, offsets in groups.items():
        filtered = line(padded, 2 * w + 1, axis=-1, mode="reflect") if w else padded
        for off in offsets:
            sl = tuple(slice(h + o, h + o + n) for h, o, n in zip(half, off, image.shape))
            pick(out, filtered[sl], out=out)
    return out


def erosion(image: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Flat grey erosion, equal to ``skimage.morphology.erosion(image, footprint)``."""
    return _flat(image, footprint, erode=True)


def dilation(image: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Flat grey dilation by a point-symmetric footprint."""
    return _flat(image, footprint, erode=False)


def opening(image: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Erosion then dilation (point-symmetric footprint)."""
    return dilation(erosion(image, footprint), footprint)


def closing(image: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Dilation then erosion (point-symmetric footprint)."""
    return erosion(dilation(image, footprint), footprint)


def nonflat_erosion(image: np.ndarray, offsets: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """``out[x] = min_k image[x + offsets[k]] + costs[k]``, outside the image ignored.

    Brute force over the ``K`` offsets (one vectorised pass each); used on the
    shrunken image of the fast rolling ball.
    """
    reach = np.abs(offsets).max(axis=0) if len(offsets) else np.zeros(image.ndim, int)
    padded = np.pad(image, [(int(r), int(r)) for r in reach], constant_values=np.inf)
    out = np.full(image.shape, np.inf, dtype=image.dtype)
    tmp = np.empty_like(out)
    for off, cost in zip(offsets, costs.astype(image.dtype)):
        sl = tuple(slice(r + o, r + o + n) for r, o, n in zip(reach, off, image.shape))
        np.add(padded[sl], cost, out=tmp)
        np.minimum(out, tmp, out=out)
    return out
