"""Bilateral filter for 2D and 3D images (vectorised, symmetric pair trick)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from biakit.blocks import GLOBAL, declare_halo
from biakit.preprocess._validate import as_image, to_pixels


def _window(ndim: int, sigma_spatial: Any, spacing: Any, truncate: float) -> np.ndarray:
    sig = to_pixels(sigma_spatial, spacing, ndim, "sigma_spatial", positive=True)
    if not truncate > 0:
        raise ValueError(f"truncate must be positive, got {truncate!r}")
    return np.maximum(np.ceil(truncate * sig).astype(int), 1)


def _bilateral_halo(
    ndim: int,
    sigma_color: float | None = None,
    sigma_spatial: Any = 1.0,
    spacing: Any = None,
    truncate: float = 3.0,
    **_: Any,
) -> tuple[int, ...] | str:
    if sigma_color is None:
        return GLOBAL
    return tuple(int(r) for r in _window(ndim, sigma_spatial, spacing, truncate))


@declare_halo(_bilateral_halo)
def bilateral(
    image: np.ndarray,
    sigma_color: float | None = None,
    sigma_spatial: float | Sequence[float] = 1.0,
    *,
    spacing: float | Sequence[float] | None = None,
    truncate: float = 3.0,
) -> np.ndarray:
    """Edge-preserving bilateral filter (2D and 3D).

    ``out[x] = sum_d w_s(d) w_r(I[x+d] - I[x]) I[x+d] / sum_d w_s(d) w_r(I[x+d] - I[x])``
    with Gaussian spatial weight ``w_s`` over the ellipsoidal window
    ``|d / sigma_spatial| <= truncate`` and Gaussian range weight ``w_r`` of
    width ``sigma_color``. This is the filter
    ``skimage.restoration.denoise_bilateral`` approximates (2D only there, with
    a quantised range look-up table and a square window), computed exactly,
    vectorised over the image and available in 3D. Each offset pair ``±d``
    shares one range-weight evaluation. Cost: about half the window's pixel
    count in vectorised passes, so keep ``sigma_spatial`` small in 3D
    (sigma 1 px, truncate 3: 61 passes).

    Parameters
    ----------
    image : ndarray
        2D or 3D single-channel image.
    sigma_color : float, optional
        Range (intensity) standard deviation; default the image's standard
        deviation, like skimage (then the halo is GLOBAL).
    sigma_spatial : float or sequence of float
        Spatial standard deviation (physical units when ``spacing`` is given).
    spacing : float or sequence of float, optional
        Physical pixel size per axis (a scalar: the same on every axis).
    truncate : float
        Window radius in units of ``sigma_spatial`` (skimage uses 3).

    Returns
    -------
    out : ndarray of float32
        Filtered image; boundaries reflected (``mode="symmetric"``). Halo: the
        window radius per axis when ``sigma_color`` is given.

    Raises
    ------
    ValueError
        If ``sigma_color`` or ``sigma_spatial`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> step = np.zeros((16, 16), np.float32); step[:, 8:] = 1
    >>> out = bilateral(step + 0.01, sigma_color=0.1, sigma_spatial=2.0)
    >>> bool(np.allclose(out, step + 0.01, atol=1e-6))  # edge kept intact
    True
    """
    img = as_image(image)
    radius = _window(img.ndim, sigma_spatial, spacing, truncate)
    sig_px = to_pixels(sigma_spatial, spacing, img.ndim, "sigma_spatial", positive=True)
    if sigma_color is None:
        sigma_color = float(img.std())
        if sigma_color == 0:
            return img.copy()
    if not sigma_color > 0:
        raise ValueError(f"sigma_color must be positive, got {sigma_color!r}")
    padded = np.pad(img, [(int(r), int(r)) for r in radius], mode="symmetric")
    num = img.astype(np.float32, copy=True)
    den = np.ones_like(num)
    inv2c = np.float32(-0.5 / sigma_color**2)
    shape = np.array(img.shape)
    for d in itertools.product(*[range(-r, r + 1) for r in radius]):
        d = np.array(d)
        nz = np.flatnonzero(d)
        if nz.size == 0 or d[nz[0]] < 0:  # centre, or the mirror of an offset already seen
            continue
        dist2 = float(np.sum((d / sig_px) ** 2))
        if dist2 > truncate**2 + 1e-9:  # ellipsoidal window
            continue
        ws = np.float32(np.exp(-0.5 * dist2))
        # y covers outputs x (pair +d) and x - d (pair -d); box in padded coordinates
        lo = radius + np.minimum(0, -d)
        hi = radius + shape + np.maximum(0, -d)
        base = padded[tuple(slice(a, b) for a, b in zip(lo, hi))]
        moved = padded[tuple(slice(a + o, b + o) for a, b, o in zip(lo, hi, d))]
        diff = base - moved
        w = np.exp(np.square(diff, out=diff) * inv2c) * ws
        # pair +d: output x = y, neighbour value I[y + d]
        s_plus = tuple(slice(r - a, r - a + n) for r, a, n in zip(radius, lo, shape))
        num += w[s_plus] * moved[s_plus]
        den += w[s_plus]
        # pair -d: output x = y + d, neighbour value I[y] = base
        s_minus = tuple(slice(r - o - a, r - o - a + n) for r, o, a, n in zip(radius, d, lo, shape))
        num += w[s_minus] * base[s_minus]
        den += w[s_minus]
    return num / den
