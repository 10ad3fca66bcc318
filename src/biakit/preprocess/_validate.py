"""Shared argument checks for :mod:`biakit.preprocess` (images, spacing, per-axis values)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from biakit.validation import check_spacing


def as_image(image: Any, name: str = "image", *, dtype: Any = np.float32) -> np.ndarray:
    """Return ``image`` as a 2D or 3D single-channel array of ``dtype`` (no copy if possible).

    Raises
    ------
    TypeError
        If the array is not numeric (boolean, complex or object).
    ValueError
        If it is not 2D or 3D.
    """
    arr = np.asarray(image)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"{name} must be a real-valued numeric array, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"{name} must be a 2D (YX) or 3D (ZYX) single-channel array, got shape {arr.shape}; "
            "split channels/time points and call once per image"
        )
    return arr if dtype is None else arr.astype(dtype, copy=False)


def per_axis(value: Any, ndim: int, name: str, *, positive: bool = False) -> np.ndarray:
    """Broadcast a scalar or per-axis ``value`` to ``ndim`` non-negative floats."""
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim != 1 or arr.size not in (1, ndim):
        raise ValueError(
            f"{name} must be a scalar or have one entry per axis ({ndim}), got {value!r}"
        )
    arr = np.broadcast_to(arr, (ndim,)).astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be positive, got {value!r}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got {value!r}")
    return arr


def to_pixels(
    value: Any,
    spacing: float | Sequence[float] | None,
    ndim: int,
    name: str,
    *,
    positive: bool = False,
) -> np.ndarray:
    """Convert a length (physical units when ``spacing`` is given) to pixels per axis."""
    arr = per_axis(value, ndim, name, positive=positive)
    sp = check_spacing(spacing, ndim)
    return arr if sp is None else arr / np.asarray(sp)


def ellipsoid_footprint(
    radius: float,
    ndim: int,
    spacing: float | Sequence[float] | None = None,
    *,
    shape: str = "ball",
) -> np.ndarray:
    """Boolean ball/disk footprint of ``radius`` (physical units when ``spacing`` is given).

    ``shape="ball"`` spans every axis; ``shape="disk"`` spans only the last two
    axes (a flat disk in each plane of a 3D image); ``shape="box"`` is the
    bounding box of the ball. With unit spacing and integer radius the ball
    equals ``skimage.morphology.disk`` / ``ball``.
    """
    if shape not in ("ball", "disk", "box"):
        raise ValueError(f"footprint must be 'ball', 'disk' or 'box', got {shape!r}")
    r = float(per_axis(radius, 1, "radius")[0])
    sp = np.ones(ndim) if spacing is None else np.asarray(check_spacing(spacing, ndim))
    active = np.ones(ndim, dtype=bool)
    if shape == "disk":
        active[:-2] = False
    half = [int(np.floor(r / s + 1e-9)) if a else 0 for s, a in zip(sp, active)]
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    if shape == "box":
        return np.ones([2 * h + 1 for h in half], dtype=bool)
    dist2 = sum((g * s) ** 2 for g, s in zip(grids, sp))
    return np.asarray(dist2 <= r * r * (1 + 1e-9) + 1e-12)


def check_footprint(footprint: Any, ndim: int) -> np.ndarray:
    """Validate an explicit boolean footprint array (odd size on every axis)."""
    fp = np.asarray(footprint).astype(bool)
    if fp.ndim != ndim or any(n % 2 == 0 for n in fp.shape):
        raise ValueError(
            f"footprint array must have {ndim} axes of odd length, got shape {fp.shape}"
        )
    return fp
