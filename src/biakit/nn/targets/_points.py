"""Point annotations -> Gaussian heat maps (training targets for spot / mitosis detection)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from biakit.validation import check_finite, check_positive, check_spacing

__all__ = ["point_heatmap"]

#: largest number of (point, voxel) values computed at once (bounds temporary memory)
_CHUNK_VALUES = 1 << 22


def _as_points(points: Any, ndim: int) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, ndim))
    if arr.ndim != 2 or arr.shape[1] != ndim:
        raise ValueError(
            f"points must be an (N, {ndim}) array of coordinates for a {ndim}-D shape, "
            f"got shape {arr.shape}"
        )
    return check_finite(arr, name="points")


def _as_shape(shape: Any) -> tuple[int, ...]:
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}") from None
    if len(out) not in (2, 3) or any(s < 1 for s in out):
        raise ValueError(f"shape must be 2 or 3 positive sizes ((Y, X) or (Z, Y, X)), got {shape}")
    return out


def _as_classes(classes: Any, n_points: int, n_classes: int) -> np.ndarray:
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
        raise TypeError(f"n_classes must be an int, got {type(n_classes).__name__}")
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    if classes is None:
        return np.zeros(n_points, dtype=np.int64)
    arr = np.asarray(classes).ravel()
    if arr.size != n_points:
        raise ValueError(f"classes has {arr.size} entries but there are {n_points} points")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"classes must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"classes has values {arr.min()}..{arr.max()}; expected 0..{n_classes - 1} "
            "(set n_classes)"
        )
    return arr


def point_heatmap(
    points: Any,
    shape: Sequence[int],
    *,
    sigma: float | Sequence[float] = 2.0,
    classes: Any = None,
    n_classes: int = 1,
    spacing: float | Sequence[float] | None = None,
    subpixel: bool = False,
    truncate: float = 4.0,
) -> np.ndarray:
    """Render points as Gaussian blobs, one channel per class.

    Channel ``c`` holds ``max_i exp(-sum_d (x_d - p_id)^2 / (2 s_d^2))`` over the
    points ``p_i`` of class ``c`` -- the *maximum* (not the sum) of overlapping
    blobs, so every point keeps a peak of 1 and close points do not merge into
    one higher blob. ``s_d = sigma_d / spacing_d`` pixels (``sigma`` is physical
    when ``spacing`` is given). Each blob is evaluated only in its bounding box
    of ``truncate`` sd (0 outside), vectorised over all points: 10,000 points in
    a 1024 x 1024 image take well under a second.

    Positions: with ``subpixel=False`` (default) each point is rounded to the
    nearest voxel (``np.rint``, halves to even) and the blob is centred there,
    so the map is exactly 1 at that voxel. With ``subpixel=True`` the Gaussian
    is evaluated at the exact position: the largest voxel value is then
    ``<= 1`` (1 only for integer coordinates) and sub-pixel positions are
    recoverable (:func:`biakit.segment.find_peaks` with ``subpixel=True`` is
    exact on such maps). Points outside the image contribute only the part of
    their blob that falls inside it.

    Parameters
    ----------
    points : array_like, shape (N, ndim)
        Coordinates in pixels, array axis order (``(y, x)`` or ``(z, y, x)``).
    shape : sequence of int
        Spatial shape of the map, 2D or 3D.
    sigma : float or sequence of float
        Blob sd, in pixels, or in physical units when ``spacing`` is given;
        one value per axis allowed.
    classes : array_like of int, shape (N,), optional
        Class of each point, ``0..n_classes-1`` (default all 0).
    n_classes : int
        Number of output channels.
    spacing : float or sequence of float, optional
        Physical pixel size per axis (a scalar: the same on every axis).
    subpixel : bool
        Evaluate the Gaussian at the exact (not rounded) positions.
    truncate : float
        Blob radius in sd (the bounding box half-width is ``ceil(truncate * s_d)``).

    Returns
    -------
    ndarray of float32, shape (n_classes, *shape)

    Examples
    --------
    >>> h = point_heatmap([[5, 5], [5, 12.4]], (11, 20), sigma=1.0)
    >>> h.shape, float(h[0, 5, 5]), float(h[0, 5, 12]), round(float(h[0, 5, 6]), 4)
    ((1, 11, 20), 1.0, 1.0, 0.6065)
    """
    shape = _as_shape(shape)
    ndim = len(shape)
    pts = _as_points(points, ndim)
    cls = _as_classes(classes, len(pts), n_classes)
    sp = np.asarray(check_spacing(spacing, ndim) or (1.0,) * ndim)
    sd = np.asarray(check_spacing(sigma, ndim, name="sigma")) / sp
    check_positive(truncate, name="truncate")
    out = np.zeros((n_classes, *shape), dtype=np.float32)
    if not len(pts):
        return out
    centres = pts if subpixel else np.rint(pts)
    radius = np.ceil(truncate * sd).astype(np.int64)
    offsets = [np.arange(-r, r + 1) for r in radius]
    box = int(np.prod([o.size for o in offsets]))
    step = max(1, _CHUNK_VALUES // box)
    for c in range(n_classes):
        sel = np.flatnonzero(cls == c)
        flat = out[c].reshape(-1)
        for lo in range(0, sel.size, step):
            _render(flat, centres[sel[lo : lo + step]], shape, sd, offsets)
    return out


def _render(
    flat: np.ndarray,
    centres: np.ndarray,
    shape: tuple[int, ...],
    sd: np.ndarray,
    offsets: list[np.ndarray],
) -> None:
    """Max-accumulate the bounding-box blobs of ``centres`` into the flat map."""
    n = len(centres)
    base = np.rint(centres).astype(np.int64)
    value = np.ones((n,) + (1,) * len(shape))
    index = np.zeros((n,) + (1,) * len(shape), dtype=np.int64)
    inside = np.ones((n,) + (1,) * len(shape), dtype=bool)
    for d, off in enumerate(offsets):
        expand = [1] * len(shape)
        expand[d] = off.size
        coord = base[:, d : d + 1] + off[None]  # (n, w_d)
        g = np.exp(-0.5 * ((coord - centres[:, d : d + 1]) / sd[d]) ** 2)
        value = value * g.reshape(n, *expand)
        index = index * shape[d] + coord.reshape(n, *expand)
        inside = inside & ((coord >= 0) & (coord < shape[d])).reshape(n, *expand)
    inside = np.broadcast_to(inside, value.shape)
    np.maximum.at(flat, index[inside], value[inside].astype(np.float32))
