"""Geometry: resampling to a new (e.g. isotropic) spacing, flips and rotations.

These move pixels, so they are not block-wise operations: their halo is GLOBAL.
Interpolation order 0 keeps the input dtype and only ever copies input values,
so label images stay valid; higher orders return float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from biakit.blocks import GLOBAL, declare_halo
from biakit.errors import ParameterError
from biakit.preprocess._validate import as_image
from biakit.validation import check_positive, check_spacing


def _prepare(image: Any, order: int) -> tuple[np.ndarray, int]:
    """Validate the spline ``order``; return the image (dtype kept for order 0) and the order."""
    if order not in range(6) or isinstance(order, bool):
        raise ValueError(f"order must be an integer spline order 0-5, got {order!r}")
    return as_image(image, dtype=None if order == 0 else np.float32), int(order)


def _required_spacing(value: Any, ndim: int, name: str) -> tuple[float, ...]:
    """:func:`biakit.validation.check_spacing` for a spacing that must be given."""
    sp = check_spacing(value, ndim, name=name)
    if sp is None:
        raise ParameterError(
            f"{name} is required: the physical pixel size, a number or {ndim} numbers; got None"
        )
    return sp


@declare_halo(GLOBAL)
def resample(
    image: np.ndarray,
    spacing: float | Sequence[float],
    new_spacing: float | Sequence[float],
    order: int = 1,
) -> np.ndarray:
    """Resample an image from ``spacing`` to (approximately) ``new_spacing``.

    The output shape is ``round(shape * spacing / new_spacing)`` (at least 1);
    pixel edges of the input and output grids are aligned (``grid_mode=True``),
    so the field of view is kept and the actual new spacing is
    ``shape * spacing / new_shape``.

    Parameters
    ----------
    image : ndarray
        2D or 3D single-channel image (or label image with ``order=0``).
    spacing, new_spacing : float or sequence of float
        Current and wanted physical pixel size per axis (a scalar: the same on
        every axis).
    order : int
        Spline order: 0 nearest (labels; dtype kept), 1 linear, 3 cubic.

    Returns
    -------
    out : ndarray
        float32 for ``order >= 1``; the input dtype for ``order=0``.

    Raises
    ------
    ParameterError
        If a spacing is missing, has the wrong length or is not positive.
    ValueError
        If ``order`` is not 0-5.

    Examples
    --------
    >>> import numpy as np
    >>> resample(np.zeros((10, 32, 32)), (2.0, 0.5, 0.5), (1.0, 1.0, 1.0)).shape
    (20, 16, 16)
    """
    img, order = _prepare(image, order)
    sp = np.asarray(_required_spacing(spacing, img.ndim, "spacing"))
    new = _required_spacing(new_spacing, img.ndim, "new_spacing")
    shape = tuple(max(1, round(n * s / t)) for n, s, t in zip(img.shape, sp, new))
    if shape == img.shape:
        return img.copy()
    zoom = tuple(m / n for m, n in zip(shape, img.shape))
    return ndi.zoom(img, zoom, order=order, mode="nearest", grid_mode=True)


@declare_halo(GLOBAL)
def rescale_to_isotropic(
    image: np.ndarray,
    spacing: float | Sequence[float],
    *,
    target: float | None = None,
    order: int = 1,
) -> tuple[np.ndarray, tuple[float, ...]]:
    """Resample an anisotropic image (typically coarse z) to isotropic pixels.

    Parameters
    ----------
    image : ndarray
        2D or 3D single-channel image or label image.
    spacing : float or sequence of float
        Physical pixel size per axis (a scalar: the same on every axis).
    target : float, optional
        Isotropic pixel size; default the finest of ``spacing``.
    order : int
        Spline order; 0 for label images (values never change, dtype kept).

    Returns
    -------
    image : ndarray
        Resampled image (see :func:`resample`).
    new_spacing : tuple of float
        Actual spacing per axis (``target`` up to the rounding of the shape).

    Raises
    ------
    ParameterError
        If ``spacing`` is missing or does not match the image, or ``target`` is
        not positive.

    Examples
    --------
    >>> import numpy as np
    >>> out, sp = rescale_to_isotropic(np.zeros((10, 64, 64)), (2.0, 0.5, 0.5))
    >>> out.shape, sp
    ((40, 64, 64), (0.5, 0.5, 0.5))
    """
    img = as_image(image, dtype=None)
    sp = _required_spacing(spacing, img.ndim, "spacing")
    t = min(sp) if target is None else check_positive(target, name="target")
    out = resample(img, sp, (t,) * img.ndim, order=order)
    new_spacing = tuple(n * s / m for n, s, m in zip(img.shape, sp, out.shape))
    return out, new_spacing


def _check_axis(axis: int, ndim: int, name: str = "axis") -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name} {axis} is out of range for a {ndim}-D image")
    return axis % ndim


@declare_halo(GLOBAL)
def flip(image: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mirror the image along ``axis`` (a contiguous copy; dtype kept).

    Examples
    --------
    >>> import numpy as np
    >>> flip(np.array([[1, 2, 3]]), axis=1)
    array([[3, 2, 1]])
    """
    img = as_image(image, dtype=None)
    return np.ascontiguousarray(np.flip(img, _check_axis(axis, img.ndim)))


@declare_halo(GLOBAL)
def rotate90(image: np.ndarray, k: int = 1, axes: tuple[int, int] = (-2, -1)) -> np.ndarray:
    """Rotate by ``k`` quarter turns in the plane of ``axes`` (``numpy.rot90``; dtype kept).

    Examples
    --------
    >>> import numpy as np
    >>> rotate90(np.array([[1, 2], [3, 4]]))
    array([[2, 4],
           [1, 3]])
    """
    img = as_image(image, dtype=None)
    a, b = (_check_axis(x, img.ndim, "axes") for x in axes)
    if a == b:
        raise ValueError(f"axes must name two different axes, got {axes}")
    return np.ascontiguousarray(np.rot90(img, int(k), axes=(a, b)))


@declare_halo(GLOBAL)
def rotate(
    image: np.ndarray,
    angle: float,
    *,
    axes: tuple[int, int] = (-2, -1),
    order: int = 1,
    reshape: bool = False,
) -> np.ndarray:
    """Rotate by ``angle`` degrees (counter-clockwise) in the plane of ``axes``.

    Uses ``scipy.ndimage.rotate`` with zeros outside the image. With
    ``spacing`` differing between the two axes, resample to isotropic first.

    Parameters
    ----------
    image : ndarray
        2D or 3D single-channel image or label image (``order=0``).
    angle : float
        Angle in degrees.
    axes : (int, int)
        Plane of rotation.
    order : int
        Spline order; 0 keeps the dtype and values (labels).
    reshape : bool
        Enlarge the output to contain the whole rotated image.

    Returns
    -------
    out : ndarray
        float32 for ``order >= 1``; the input dtype for ``order=0``.

    Raises
    ------
    ValueError
        If ``axes`` are invalid or ``order`` is not 0-5.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((5, 5), np.float32); img[2, 4] = 1
    >>> int(np.argmax(rotate(img, 90, order=0)))  # (0, 2): right -> top
    2
    """
    img, order = _prepare(image, order)
    a, b = (_check_axis(x, img.ndim, "axes") for x in axes)
    if a == b:
        raise ValueError(f"axes must name two different axes, got {axes}")
    return ndi.rotate(img, float(angle), axes=(a, b), reshape=reshape, order=order, mode="constant")
