"""Fix segmentation errors: split merged objects, merge over-split ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from biakit.blocks import GLOBAL, declare_halo
from biakit.segment._common import (
    check_image,
    check_labels,
    check_number,
    check_spacing,
    crop_slices,
    object_image,
)
from biakit.segment._watershed import watershed_distance

MERGE_KINDS: tuple[str, ...] = ("intensity", "boundary")


@declare_halo(GLOBAL)
def split_touching(
    labels_or_mask: Any,
    *,
    spacing: float | Sequence[float] | None = None,
    min_distance: float | None = None,
    h: float | None = None,
    compactness: float = 0.0,
) -> np.ndarray:
    """Split every object along the necks of its distance transform.

    Each object (each label, or each connected component of a mask) is cut
    out and split by :func:`biakit.segment.watershed_distance`; touching
    objects with different ids are never merged.

    Parameters
    ----------
    labels_or_mask : ndarray
        2D or 3D label image or boolean mask.
    spacing, min_distance, h, compactness
        As in :func:`biakit.segment.watershed_distance` (physical units).

    Returns
    -------
    labels : ndarray of int32
        Consecutive ids, in the order of the input objects.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:40, :60]
    >>> mask = ((yy - 20) ** 2 + (xx - 20) ** 2 < 100) | ((yy - 20) ** 2 + (xx - 36) ** 2 < 100)
    >>> int(split_touching(mask).max())
    2
    """
    lab, is_mask = check_labels(labels_or_mask, "labels_or_mask")
    check_spacing(spacing, lab.ndim)
    for name, value in (("min_distance", min_distance), ("h", h), ("compactness", compactness)):
        if value is not None:
            check_number(value, name)
    work = object_image(lab, is_mask)
    out = np.zeros(lab.shape, dtype=np.int32)
    next_id = 0
    for i, sl in enumerate(ndi.find_objects(work)):
        if sl is None:
            continue
        box = crop_slices(sl, [1] * lab.ndim, lab.shape)
        obj = work[box] == i + 1
        sub = watershed_distance(
            obj, spacing=spacing, min_distance=min_distance, h=h, compactness=compactness
        )
        region = out[box]
        region[obj] = sub[obj] + next_id
        next_id += int(sub.max())
    return out


def _shared_boundaries(work: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of touching labels ``(a < b)`` and the mean of ``values`` on their shared boundary.

    The shared boundary of ``a`` and ``b`` is the set of pixels of either
    object with a face neighbour in the other; each pixel counts once.
    """
    index = np.arange(work.size, dtype=np.int64).reshape(work.shape)
    keys, pixels = [], []
    big = np.int64(work.max()) + 1
    for axis in range(work.ndim):
        lo = tuple(slice(None, -1) if i == axis else slice(None) for i in range(work.ndim))
        hi = tuple(slice(1, None) if i == axis else slice(None) for i in range(work.ndim))
        a, b = work[lo].ravel(), work[hi].ravel()
        sel = (a > 0) & (b > 0) & (a != b)
        key = np.minimum(a[sel], b[sel]) * big + np.maximum(a[sel], b[sel])
        keys += [key, key]
        pixels += [index[lo].ravel()[sel], index[hi].ravel()[sel]]
    if not keys or not sum(k.size for k in keys):
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    pairs = np.unique(np.stack([np.concatenate(keys), np.concatenate(pixels)]), axis=1)
    uniq, inverse = np.unique(pairs[0], return_inverse=True)
    sums = np.bincount(inverse, weights=values.ravel()[pairs[1]])
    counts = np.bincount(inverse)
    return np.stack([uniq // big, uniq % big], axis=1), sums / counts


@declare_halo(GLOBAL)
def merge_oversplit(
    labels: Any, image: Any, *, threshold: float, kind: str = "intensity"
) -> np.ndarray:
    """Merge touching objects whose shared boundary is weak.

    For every pair of objects ``a``, ``b`` that touch (face neighbours), let
    ``B`` be the mean of ``image`` over their shared boundary (the pixels of
    ``a`` next to ``b`` and of ``b`` next to ``a``) and ``m_a``, ``m_b`` the
    mean of ``image`` over each whole object. The pair is merged when

    - ``kind="intensity"`` (bright objects on a dark background, e.g. nuclei):
      ``B >= threshold * min(m_a, m_b)`` -- no dark valley between them, the
      boundary is at least ``threshold`` times as bright as the dimmer object;
    - ``kind="boundary"`` (``image`` is a boundary probability or edge map):
      ``B <= threshold`` -- no boundary evidence between them.

    Merges are transitive (one pass over all pairs); a merged group takes its
    smallest id, other ids are kept. Run :func:`relabel_sequential` for
    consecutive ids.

    Parameters
    ----------
    labels : ndarray
        2D or 3D label image.
    image : ndarray
        Intensity or boundary image of the same shape.
    threshold : float
        Non-negative threshold of the criterion (e.g. 0.8 for ``"intensity"``,
        0.5 for a boundary probability).
    kind : {"intensity", "boundary"}
        Which criterion.

    Returns
    -------
    labels : ndarray
        Same dtype as ``labels``.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[1, 1, 2, 2, 0, 3, 3, 4, 4]])
    >>> image = np.array([[5, 5, 5, 5, 0, 5, 1, 1, 5]], dtype=float)
    >>> merge_oversplit(labels, image, threshold=0.8)
    array([[1, 1, 1, 1, 0, 3, 3, 4, 4]])
    """
    lab, is_mask = check_labels(labels)
    if is_mask:
        raise TypeError("labels must be an integer label image, got a boolean mask")
    img = check_image(image).astype(np.float64)
    if img.shape != lab.shape:
        raise ValueError(f"image has shape {img.shape} but labels has shape {lab.shape}")
    threshold = check_number(threshold, "threshold")
    if not isinstance(kind, str) or kind not in MERGE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, MERGE_KINDS))}; got {kind!r}")
    work = lab.astype(np.int64)
    pairs, boundary_mean = _shared_boundaries(work, img)
    if kind == "intensity":
        sums = np.bincount(work.ravel(), weights=img.ravel())
        means = sums / np.maximum(np.bincount(work.ravel()), 1)
        merge = boundary_mean >= threshold * np.minimum(means[pairs[:, 0]], means[pairs[:, 1]])
    else:
        merge = boundary_mean <= threshold
    if not merge.any():
        return lab.copy()
    n = int(work.max()) + 1
    edges = pairs[merge]
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    smallest = np.full(comp.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, comp, np.arange(n))
    lut = smallest[comp]
    return lut[work].astype(lab.dtype)
