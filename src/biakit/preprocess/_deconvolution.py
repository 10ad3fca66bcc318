"""Richardson-Lucy deconvolution (FFT-based, 2D and 3D) and Gaussian PSFs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import fft as sfft
from scipy import ndimage as ndi

from biakit.blocks import declare_halo
from biakit.preprocess._validate import as_image, to_pixels
from biakit.validation import check_spacing


def gaussian_psf(
    shape: Sequence[int],
    sigma: float | Sequence[float],
    spacing: float | Sequence[float] | None = None,
) -> np.ndarray:
    """Return a sampled Gaussian point-spread function, centred and normalised to sum 1.

    Parameters
    ----------
    shape : sequence of int
        Odd size per axis (2 or 3 axes).
    sigma : float or sequence of float
        Standard deviation (physical units when ``spacing`` is given).
    spacing : float or sequence of float, optional
        Physical pixel size per axis (a scalar: the same on every axis).

    Returns
    -------
    psf : ndarray of float32

    Raises
    ------
    ValueError
        If a size is even or not positive, or ``sigma`` is not positive.

    Examples
    --------
    >>> psf = gaussian_psf((3, 7, 7), 0.4, spacing=(0.8, 0.2, 0.2))
    >>> psf.shape, round(float(psf.sum()), 5), bool(psf[1, 3, 3] == psf.max())
    ((3, 7, 7), 1.0, True)
    """
    shp = tuple(int(n) for n in np.atleast_1d(shape))
    if len(shp) not in (2, 3) or any(n < 1 or n % 2 == 0 for n in shp):
        raise ValueError(f"shape must have 2 or 3 odd positive sizes, got {tuple(shape)!r}")
    sig = to_pixels(sigma, spacing, len(shp), "sigma", positive=True)
    grids = np.ogrid[tuple(slice(-(n // 2), n // 2 + 1) for n in shp)]
    psf = np.exp(-0.5 * sum((g / s) ** 2 for g, s in zip(grids, sig)))
    return (psf / psf.sum()).astype(np.float32)


def _psf_for(ndim: int, psf: Any, sigma: Any, spacing: Any) -> np.ndarray:
    if (psf is None) == (sigma is None):
        raise ValueError("give exactly one of psf (an array) or sigma (a Gaussian PSF width)")
    if psf is None:
        sig = to_pixels(sigma, spacing, ndim, "sigma", positive=True)
        return gaussian_psf(tuple(2 * int(np.ceil(4 * s)) + 1 for s in sig), tuple(sig))
    arr = np.asarray(psf, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"psf must have {ndim} axes like the image, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.sum() <= 0:
        raise ValueError("psf must be finite and non-negative with a positive sum")
    return (arr / arr.sum()).astype(np.float32)


def _separable(psf: np.ndarray) -> list[np.ndarray] | None:
    """1D factors of a separable odd-sized PSF (e.g. a Gaussian), else ``None``."""
    if any(n % 2 == 0 for n in psf.shape):
        return None
    p = psf.astype(np.float64)
    axes = range(p.ndim)
    factors = [p.sum(axis=tuple(a for a in axes if a != i)) for i in axes]
    outer = factors[0]
    for f in factors[1:]:
        outer = np.multiply.outer(outer, f)
    if not np.allclose(outer, p, rtol=1e-5, atol=1e-7 * p.max()):
        return None
    return factors


def _convolve_axis(x: np.ndarray, w: np.ndarray, axis: int) -> np.ndarray:
    """Zero-padded "same" 1D convolution along ``axis`` (odd ``w``) by shifted adds."""
    r = len(w) // 2
    out = x * np.float32(w[r])
    xm, om = np.moveaxis(x, axis, 0), np.moveaxis(out, axis, 0)
    for k in range(1, min(r, xm.shape[0] - 1) + 1):
        om[k:] += np.float32(w[r + k]) * xm[:-k]  # out[i] += w[r + k] * x[i - k]
        om[:-k] += np.float32(w[r - k]) * xm[k:]  # out[i] += w[r - k] * x[i + k]
    return out


def _convolver(shape: tuple[int, ...], kernel: np.ndarray) -> Any:
    """Return ``conv(x, mirror)``: zero-padded "same" convolution by the kernel or its mirror."""
    factors = _separable(kernel)
    if factors is not None:  # a few 1D passes beat FFTs for separable PSFs

        def separable(x: np.ndarray, mirror: bool) -> np.ndarray:
            for axis, f in enumerate(factors):
                w = f[::-1] if mirror else f
                if axis == x.ndim - 1:
                    x = ndi.convolve1d(x, w, axis=axis, mode="constant", cval=0.0)
                else:  # strided axes: shifted adds of whole planes are faster than scipy here
                    x = _convolve_axis(x, w, axis)
            return x

        return separable
    full = [n + k - 1 for n, k in zip(shape, kernel.shape)]
    fshape = [sfft.next_fast_len(n, real=True) for n in full]
    axes = tuple(range(len(shape)))
    otfs = [sfft.rfftn(h, fshape, axes=axes, workers=-1) for h in (kernel, np.flip(kernel))]
    crop = tuple(slice((k - 1) // 2, (k - 1) // 2 + n) for n, k in zip(shape, kernel.shape))

    def fourier(x: np.ndarray, mirror: bool) -> np.ndarray:
        spec = sfft.rfftn(x, fshape, axes=axes, workers=-1)
        spec *= otfs[int(mirror)]
        return sfft.irfftn(spec, fshape, axes=axes, workers=-1)[crop]

    return fourier


def _rl_halo(
    ndim: int,
    psf: Any = None,
    sigma: Any = None,
    spacing: Any = None,
    iterations: int = 20,
    **_: Any,
) -> tuple[int, ...]:
    shape = _psf_for(ndim, psf, sigma, spacing).shape
    return tuple(2 * int(iterations) * (n // 2) for n in shape)


@declare_halo(_rl_halo)
def richardson_lucy(
    image: np.ndarray,
    psf: np.ndarray | None = None,
    *,
    sigma: float | Sequence[float] | None = None,
    spacing: float | Sequence[float] | None = None,
    iterations: int = 20,
    clip: bool = False,
    eps: float = 1e-12,
) -> np.ndarray:
    """Richardson-Lucy deconvolution with FFT convolutions computed once per PSF.

    Same iteration as ``skimage.restoration.richardson_lucy`` (start 0.5,
    ``x *= (image / (x * psf + eps)) * psf_mirror`` with zero-padded "same"
    convolutions), but faster: a separable PSF (e.g. Gaussian) is applied as
    1D convolutions along each axis; any other PSF through real FFTs whose
    PSF transforms are computed once (four FFTs per iteration, float32, all
    cores).

    Parameters
    ----------
    image : ndarray
        Non-negative 2D or 3D image.
    psf : ndarray, optional
        Point-spread function with the image's number of axes; normalised to
        sum 1 here (RL assumes it).
    sigma : float or sequence of float, optional
        Instead of ``psf``: width of a Gaussian PSF (physical units with
        ``spacing``), sampled to ``4 * sigma`` pixels.
    spacing : float or sequence of float, optional
        Physical pixel size per axis (for ``sigma``); a scalar is the same on
        every axis.
    iterations : int
        Number of iterations (more: sharper and noisier).
    clip : bool
        Clip the result to [-1, 1] like skimage's ``clip=True`` (for images in [0, 1]).
    eps : float
        Added to the re-blurred estimate before dividing (skimage uses 1e-12).

    Returns
    -------
    out : ndarray of float32
        Deconvolved image. Halo: ``2 * iterations * (psf half-size)`` per axis
        (each iteration convolves twice); outside the image counts as zero, so
        run block-wise with ``boundary="none"``.

    Raises
    ------
    ValueError
        If both or neither of ``psf`` / ``sigma`` are given, the PSF is invalid,
        ``iterations`` < 1 or the image has negative values.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> truth = np.zeros((32, 32), np.float32); truth[16, 10] = truth[16, 14] = 1
    >>> blurred = ndi.gaussian_filter(truth, 1.5, mode="constant")
    >>> sharp = richardson_lucy(blurred, sigma=1.5, iterations=30)
    >>> bool(sharp[16, 10] > 2 * blurred[16, 10])
    True
    """
    img = as_image(image)
    if int(iterations) < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations!r}")
    if img.size and float(img.min()) < 0:
        raise ValueError("richardson_lucy needs a non-negative image (photon counts)")
    check_spacing(spacing, img.ndim)
    kernel = _psf_for(img.ndim, psf, sigma, spacing)
    convolve = _convolver(img.shape, kernel)
    estimate = np.full(img.shape, 0.5, dtype=np.float32)
    for _ in range(int(iterations)):
        blurred = convolve(estimate, False)
        blurred += np.float32(eps)
        estimate *= convolve(np.divide(img, blurred, out=blurred), True)
    if clip:
        np.clip(estimate, -1, 1, out=estimate)
    return estimate
