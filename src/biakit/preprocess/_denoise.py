"""Denoising filters: Gaussian, median and non-local means (2D and 3D)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from biakit.blocks import GLOBAL, declare_halo, sigma_halo
from biakit.preprocess._validate import (
    as_image,
    check_footprint,
    ellipsoid_footprint,
    per_axis,
    to_pixels,
)
from biakit.validation import check_spacing


def _gaussian_halo(
    ndim: int, sigma: Any = 1.0, spacing: Any = None, truncate: float = 4.0, **_: Any
) -> tuple[int, ...]:
    return sigma_halo(to_pixels(sigma, spacing, ndim, "sigma"), ndim, truncate)


@declare_halo(_gaussian_halo)
def gaussian(
    image: np.ndarray,
    sigma: float | Sequence[float] = 1.0,
    *,
    spacing: float | Sequence[float] | None = None,
    truncate: float = 4.0,
) -> np.ndarray:
    """Gaussian smoothing, with ``sigma`` in physical units when ``spacing`` is given.

    Parameters
    ----------
    image : ndarray
        2D (YX) or 3D (ZYX) single-channel image.
    sigma : float or sequence of float
        Standard deviation, scalar or one per axis; physical units (e.g. µm)
        when ``spacing`` is given, so an anisotropic z axis is smoothed by
        ``sigma / spacing_z`` pixels. 0 leaves an axis untouched.
    spacing : float or sequence of float, optional
        Physical pixel size per axis (a scalar: the same on every axis).
    truncate : float
        Kernel radius in units of sigma (scipy's default 4).

    Returns
    -------
    out : ndarray of float32
        Smoothed image (``scipy.ndimage.gaussian_filter``, ``mode="reflect"``).
        Halo: ``ceil(truncate * sigma_px)`` per axis.

    Raises
    ------
    ValueError
        If ``sigma`` is negative or has the wrong length, or ``spacing`` does
        not match the image.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((5, 9, 9), np.float32); img[2, 4, 4] = 1
    >>> out = gaussian(img, 1.0, spacing=(2.0, 0.5, 0.5))  # 0.5 px in z, 2 px in y/x
    >>> round(float(out.sum()), 4)
    1.0
    """
    img = as_image(image)
    sig = to_pixels(sigma, spacing, img.ndim, "sigma")
    if not truncate > 0:
        raise ValueError(f"truncate must be positive, got {truncate!r}")
    return ndi.gaussian_filter(img, tuple(sig), mode="reflect", truncate=truncate)


def _median_footprint(
    ndim: int, size: Any, radius: Any, footprint: Any, spacing: Any
) -> np.ndarray:
    if not isinstance(footprint, str):
        return check_footprint(footprint, ndim)
    if size is not None and radius is not None:
        raise ValueError(f"give either size or radius, not both (got size={size}, radius={radius})")
    if size is not None:
        sz = per_axis(size, ndim, "size", positive=True)
        if np.any(sz % 2 != 1):
            raise ValueError(f"size must be odd (a centred window), got {size!r}")
        half = (sz - 1) / 2
        if footprint == "box":
            return np.ones(tuple(int(s) for s in sz), dtype=bool)
        # ellipsoid inscribed in the box: radius 1 in units of the half sizes
        scale = tuple(1.0 / h if h > 0 else 1e9 for h in half)
        fp = ellipsoid_footprint(1.0, ndim, scale, shape=footprint)
        return fp
    r = 1.0 if radius is None else radius
    return ellipsoid_footprint(r, ndim, check_spacing(spacing, ndim), shape=footprint)


def _median_halo(
    ndim: int,
    size: Any = None,
    radius: Any = None,
    footprint: Any = "ball",
    spacing: Any = None,
    **_: Any,
) -> tuple[int, ...]:
    return tuple(n // 2 for n in _median_footprint(ndim, size, radius, footprint, spacing).shape)


@declare_halo(_median_halo)
def median(
    image: np.ndarray,
    size: int | Sequence[int] | None = None,
    *,
    radius: float | None = None,
    footprint: str | np.ndarray = "ball",
    spacing: float | Sequence[float] | None = None,
) -> np.ndarray:
    """Median filter over a ball, disk or box neighbourhood.

    Parameters
    ----------
    image : ndarray
        2D or 3D single-channel image.
    size : int or sequence of int, optional
        Odd window size in pixels (per axis allowed); the footprint is the box
        (``footprint="box"``) or the ball inscribed in it.
    radius : float, optional
        Footprint radius (physical units when ``spacing`` is given). With
        neither ``size`` nor ``radius`` the radius is 1 (a cross for
        ``"ball"``; ``footprint="box"`` gives skimage's default 3x3(x3) window).
    footprint : {"ball", "disk", "box"} or ndarray
        Shape: ``"ball"`` spans every axis, ``"disk"`` only the last two
        (plane by plane in 3D); or an explicit boolean array.
    spacing : float or sequence of float, optional
        Physical pixel size per axis (used with ``radius``); a scalar is the same on
        every axis.

    Returns
    -------
    out : ndarray of float32
        Median-filtered image (``scipy.ndimage.median_filter``, reflect
        boundary). Halo: the footprint's half-size per axis.

    Raises
    ------
    ValueError
        If ``size`` is even or non-positive, both ``size`` and ``radius`` are
        given, or ``footprint`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((7, 7), np.float32); img[3, 3] = 100  # salt noise
    >>> float(median(img, radius=1).max())
    0.0
    """
    img = as_image(image)
    fp = _median_footprint(img.ndim, size, radius, footprint, spacing)
    return ndi.median_filter(img, footprint=fp, mode="reflect")


def estimate_noise(image: np.ndarray) -> float:
    """Gaussian noise standard deviation by Donoho's MAD of the finest Haar details.

    The highest-frequency orthonormal Haar coefficient of each ``2**ndim``
    cell (signs alternating along every axis) has the noise's standard
    deviation and almost no signal; ``sigma = median(|d|) / 0.6745``. Like
    ``skimage.restoration.estimate_sigma`` (which needs PyWavelets) but with
    Haar instead of Daubechies-2 wavelets.
    """
    img = np.asarray(image, dtype=np.float64)
    cells = img[tuple(slice(0, n - n % 2) for n in img.shape)]
    detail = cells
    for axis in range(img.ndim):
        idx = [slice(None)] * img.ndim
        even, odd = list(idx), list(idx)
        even[axis], odd[axis] = slice(0, None, 2), slice(1, None, 2)
        detail = (detail[tuple(even)] - detail[tuple(odd)]) / np.sqrt(2.0)
    return float(np.median(np.abs(detail)) / 0.6744897501960817) if detail.size else 0.0


def _nl_defaults(ndim: int, patch_distance: int | None) -> int:
    return (6 if ndim == 2 else 3) if patch_distance is None else int(patch_distance)


def _nl_means_halo(
    ndim: int,
    sigma: Any = None,
    patch_size: int = 5,
    patch_distance: int | None = None,
    **_: Any,
) -> tuple[int, ...] | str:
    if sigma is None:
        return GLOBAL
    return (patch_size // 2 + _nl_defaults(ndim, patch_distance) + 1,) * ndim


@declare_halo(_nl_means_halo)
def nl_means(
    image: np.ndarray,
    sigma: float | None = None,
    *,
    h: float | None = None,
    patch_size: int = 5,
    patch_distance: int | None = None,
    fast_mode: bool = True,
) -> np.ndarray:
    """Non-local means denoising (``skimage.restoration.denoise_nl_means``) with defaults.

    Parameters
    ----------
    image : ndarray
        2D or 3D single-channel image.
    sigma : float, optional
        Noise standard deviation; estimated with :func:`estimate_noise` (MAD
        of Haar details) when ``None`` (then the halo is GLOBAL, since the
        estimate uses the whole image).
    h : float, optional
        Filtering strength; default ``0.8 * sigma`` (fast mode) or ``0.6 *
        sigma``, the values skimage's documentation recommends.
    patch_size : int
        Patch side in pixels.
    patch_distance : int, optional
        Search radius in pixels; default 6 in 2D, 3 in 3D (3D is costly).
    fast_mode : bool
        skimage's fast (integral image) variant.

    Returns
    -------
    out : ndarray of float32
        Denoised image. Halo with ``sigma`` given:
        ``patch_size // 2 + patch_distance + 1`` per axis.

    Raises
    ------
    ValueError
        If ``sigma`` or ``h`` is negative or ``patch_size`` < 1.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clean = np.zeros((32, 32), np.float32); clean[8:24, 8:24] = 1
    >>> noisy = clean + rng.normal(0, 0.2, clean.shape).astype(np.float32)
    >>> den = nl_means(noisy)
    >>> bool(np.abs(den - clean).mean() < np.abs(noisy - clean).mean())
    True
    """
    from skimage.restoration import denoise_nl_means

    img = as_image(image, dtype=np.float64)
    if patch_size < 1:
        raise ValueError(f"patch_size must be >= 1, got {patch_size}")
    if sigma is None:
        sigma = estimate_noise(img)
    if sigma < 0 or (h is not None and h < 0):
        raise ValueError(f"sigma and h must be non-negative, got sigma={sigma}, h={h}")
    if h is None:
        h = (0.8 if fast_mode else 0.6) * sigma
    if h == 0:
        return img.astype(np.float32)
    out = denoise_nl_means(
        img,
        h=h,
        sigma=sigma,
        patch_size=patch_size,
        patch_distance=_nl_defaults(img.ndim, patch_distance),
        fast_mode=fast_mode,
        channel_axis=None,
    )
    return out.astype(np.float32)
