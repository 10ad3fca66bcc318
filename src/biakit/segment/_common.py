"""Validation and small helpers shared by :mod:`biakit.segment` and :mod:`biakit.postprocess`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from biakit import validation
from biakit.validation import check_finite


def check_image(image: Any, name: str = "image", ndims: tuple[int, ...] = (2, 3)) -> np.ndarray:
    """Return ``image`` as a real, finite, 2D or 3D NumPy array or raise a clear error."""
    arr = np.asarray(image)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real-valued, got complex dtype {arr.dtype}")
    if arr.ndim not in ndims:
        expected = " or ".join(f"{d}D" for d in ndims)
        raise ValueError(f"{name} must be {expected}, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); expected at least one pixel")
    return check_finite(arr, name=name)


def check_labels(
    labels: Any, name: str = "labels", ndims: tuple[int, ...] = (2, 3)
) -> tuple[np.ndarray, bool]:
    """Validate a label image or a boolean mask.

    Returns
    -------
    labels : ndarray
        The integer label image (a boolean mask is returned as is).
    is_mask : bool
        True when the input was a boolean mask.
    """
    arr = np.asarray(labels)
    if arr.dtype == np.bool_:
        if arr.ndim not in ndims:
            expected = " or ".join(f"{d}D" for d in ndims)
            raise ValueError(f"{name} must be {expected}, got an array of shape {arr.shape}")
        return arr, True
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{name} must be an integer label image or a boolean mask, got dtype {arr.dtype}"
        )
    if arr.ndim not in ndims:
        expected = " or ".join(f"{d}D" for d in ndims)
        raise ValueError(f"{name} must be {expected}, got an array of shape {arr.shape}")
    return validation.check_labels(arr, name=name, allow_float=False), False


def check_spacing(spacing: float | Sequence[float] | None, ndim: int) -> tuple[float, ...]:
    """:func:`biakit.validation.check_spacing`, with ``None`` read as unit spacing.

    Examples
    --------
    >>> check_spacing(None, 2), check_spacing(0.5, 3)
    ((1.0, 1.0), (0.5, 0.5, 0.5))
    """
    return validation.check_spacing(spacing, ndim) or (1.0,) * ndim


def check_connectivity(connectivity: Any, ndim: int) -> int:
    """Validate a connectivity (1 = face neighbours ... ``ndim`` = all neighbours)."""
    if isinstance(connectivity, bool) or not isinstance(connectivity, int | np.integer):
        raise TypeError(f"connectivity must be an int, got {type(connectivity).__name__}")
    if not 1 <= connectivity <= ndim:
        raise ValueError(
            f"connectivity must be between 1 and {ndim} for a {ndim}D image, got {connectivity}"
        )
    return int(connectivity)


def check_number(value: Any, name: str, *, minimum: float = 0.0, inclusive: bool = True) -> float:
    """Validate a real number ``>= minimum`` (or ``> minimum`` when not ``inclusive``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    ok = value >= minimum if inclusive else value > minimum
    if not np.isfinite(value) or not ok:
        relation = ">=" if inclusive else ">"
        raise ValueError(f"{name} must be a finite number {relation} {minimum}, got {value}")
    return float(value)


def ellipsoid_footprint(radius: float, spacing: Sequence[float]) -> np.ndarray:
    """Boolean ball of physical ``radius`` sampled on a grid of the given ``spacing``.

    Examples
    --------
    >>> ellipsoid_footprint(1.0, (1.0, 1.0)).astype(int)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]])
    """
    sp = np.asarray(spacing, dtype=float)
    half = np.floor(radius / sp + 1e-9).astype(int)
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    dist2 = sum((g * s) ** 2 for g, s in zip(grids, sp))
    return np.asarray(dist2 <= radius**2 + 1e-9)


def footprint_halo(radius: float, spacing: Sequence[float]) -> tuple[int, ...]:
    """Half-size in pixels, per axis, of :func:`ellipsoid_footprint`."""
    sp = np.asarray(spacing, dtype=float)
    return tuple(int(h) for h in np.floor(radius / sp + 1e-9))


def object_image(labels: np.ndarray, is_mask: bool, connectivity: Any = 1) -> np.ndarray:
    """Integer object image: ``labels`` itself, or the connected components of a mask.

    ``connectivity`` is validated (and used) only for a mask.
    """
    if not is_mask:
        return labels
    conn = check_connectivity(connectivity, labels.ndim)
    return ndi.label(labels, structure=ndi.generate_binary_structure(labels.ndim, conn))[0]


def keep_pixels(labels: np.ndarray, is_mask: bool, keep: np.ndarray) -> np.ndarray:
    """Return the boolean ``keep`` for a mask, else ``labels`` zeroed outside ``keep``."""
    return keep if is_mask else np.where(keep, labels, 0).astype(labels.dtype, copy=False)


def object_sizes(labels: np.ndarray) -> np.ndarray:
    """Pixel count of every label id ``0 .. labels.max()`` (vectorised)."""
    return np.bincount(labels.ravel().astype(np.intp, copy=False), minlength=1)


def crop_slices(
    obj_slice: tuple[slice, ...], pad: Sequence[int], shape: Sequence[int]
) -> tuple[slice, ...]:
    """Grow a bounding box by ``pad`` pixels per axis, clipped to the image ``shape``."""
    return tuple(
        slice(max(s.start - p, 0), min(s.stop + p, n)) for s, p, n in zip(obj_slice, pad, shape)
    )
