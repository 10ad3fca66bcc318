"""Paired images for image restoration: noisy / clean and low / high resolution."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from biakit.data import _common as c
from biakit.data._geometry import MAX_ASPECT
from biakit.data._nuclei import synthetic_nuclei

_NOISES = ("poisson_gaussian", "gaussian")


def _filaments(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Smooth curvilinear structures (persistent random walks), max 1, blurred by sd 1 px."""
    ndim = len(shape)
    size = float(np.prod(shape)) ** (1 / ndim)
    canvas = np.zeros(shape, np.float64)
    for _ in range(max(2, round(size / 20))):
        n_steps = int(rng.uniform(1.0, 3.0) * size)
        direction = rng.standard_normal(ndim)
        turns = rng.normal(0.0, 0.08, (n_steps, ndim))
        path = np.empty((n_steps, ndim))
        pos = rng.uniform(0, np.subtract(shape, 1))
        for k in range(n_steps):
            direction = direction / np.linalg.norm(direction)
            pos = pos + 0.5 * direction
            path[k] = pos
            direction = direction + turns[k]
        idx = np.round(path).astype(int)
        idx = idx[np.all((idx >= 0) & (idx < shape), axis=1)]
        np.maximum.at(canvas, tuple(idx.T), rng.uniform(0.3, 0.7))
    canvas = ndi.gaussian_filter(canvas, 1.0)
    top = canvas.max()
    return canvas / top if top > 0 else canvas


def _structure(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Textured nuclei plus filaments, blurred, rescaled to ``[0, 1]`` (float32).

    Nuclei cover about 15 % of the image (radius 5-10 px, smaller when the image
    is small); filaments are added with weight 0.6 before the rescaling.
    """
    ndim = len(shape)
    hi = min(10.0, (min(shape) - 1) / (2 * np.sqrt(MAX_ASPECT)))
    seed = int(rng.integers(2**63))
    if hi >= 1.5:
        lo = min(5.0, 0.6 * hi)
        r = 0.5 * (lo + hi)
        unit = np.pi * r**2 if ndim == 2 else 4 / 3 * np.pi * r**3
        n = max(1, round(0.15 * np.prod(shape) / unit))
        nuclei = synthetic_nuclei(
            shape,
            n_objects=n,
            radius=(lo, hi),
            touching=0.3,
            psf_sigma=1.0,
            poisson_photons=None,
            gaussian_noise=0.0,
            seed=seed,
        ).clean.astype(np.float64)
    else:
        nuclei = np.full(shape, 0.1)
    clean = nuclei + 0.6 * _filaments(shape, rng)
    return (clean / clean.max()).astype(np.float32)


def noisy_clean_pair(
    shape: Sequence[int] = (128, 128),
    *,
    noise: str = "poisson_gaussian",
    level: float = 0.1,
    seed: c.SeedLike = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Make a noisy image and its clean ground truth, for denoising.

    The clean image holds textured nuclei and filaments, rescaled to
    ``[0, 1]``.  Noise models:

    - ``"gaussian"``: ``noisy = clean + N(0, level**2)``.
    - ``"poisson_gaussian"``: ``noisy = Poisson(clean * p) / p + N(0, (level / 2)**2)``
      with ``p = 1 / level**2`` photons per unit intensity, so the shot noise sd
      is ``level`` where ``clean == 1`` (variance ``level**2 * clean``).

    Parameters
    ----------
    shape : sequence of int
        ``(Y, X)`` or ``(Z, Y, X)``.
    noise : {"poisson_gaussian", "gaussian"}
        Noise model.
    level : float
        Noise strength (> 0), see above.
    seed : int, Generator or None
        Random seed; the clean image depends on ``seed`` only, not on the noise.

    Returns
    -------
    noisy, clean : ndarray of float32

    Examples
    --------
    >>> noisy, clean = noisy_clean_pair((32, 32), noise="gaussian", level=0.1)
    >>> noisy.shape, clean.dtype, float(clean.max())
    ((32, 32), dtype('float32'), 1.0)
    """
    shape = c.as_shape(shape)
    if noise not in _NOISES:
        raise ValueError(f"noise must be one of {_NOISES}, got {noise!r}")
    level = c.check_number(level, "level", strict=True)
    rng_structure, rng_noise = c.streams(seed, 2)
    clean = _structure(shape, rng_structure)
    if noise == "gaussian":
        return c.add_noise(clean, rng_noise, None, level), clean
    return c.add_noise(clean, rng_noise, 1.0 / level**2, level / 2), clean


def low_high_resolution_pair(
    shape: Sequence[int] = (128, 128),
    *,
    factor: int = 2,
    gaussian_noise: float = 0.01,
    seed: c.SeedLike = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Make a low-resolution image and its high-resolution ground truth (super-resolution).

    ``high`` is the clean structure of :func:`noisy_clean_pair` (values in
    ``[0, 1]``) with shape ``shape``.  The exact degradation is:

    1. blur ``high`` with a Gaussian of sd ``factor / 2`` pixels per axis
       (``scipy.ndimage.gaussian_filter``, ``mode="reflect"``);
    2. average non-overlapping ``factor``-wide blocks (pixel binning), giving
       shape ``shape // factor``;
    3. add ``N(0, gaussian_noise**2)`` read noise (0 disables it).

    Parameters
    ----------
    shape : sequence of int
        Shape of ``high``, ``(Y, X)`` or ``(Z, Y, X)``; each axis a multiple of
        ``factor``.
    factor : int
        Down-sampling factor along every axis (typically 2 or 4).
    gaussian_noise : float
        Sd of the Gaussian noise added to ``low``.
    seed : int, Generator or None
        Random seed.

    Returns
    -------
    low, high : ndarray of float32

    Examples
    --------
    >>> low, high = low_high_resolution_pair((64, 64), factor=4)
    >>> low.shape, high.shape
    ((16, 16), (64, 64))
    """
    shape = c.as_shape(shape)
    factor = c.check_count(factor, "factor", low=2)
    if any(n % factor for n in shape):
        raise ValueError(
            f"shape {shape} must be a multiple of factor={factor} along every axis; "
            f"e.g. use {tuple(max(factor, n - n % factor) for n in shape)}"
        )
    gaussian_noise = c.check_number(gaussian_noise, "gaussian_noise")
    rng_structure, rng_noise = c.streams(seed, 2)
    high = _structure(shape, rng_structure)
    blurred = ndi.gaussian_filter(high.astype(np.float64), factor / 2, mode="reflect")
    split = [v for n in shape for v in (n // factor, factor)]
    low = blurred.reshape(split).mean(axis=tuple(range(1, 2 * len(shape), 2)))
    return c.add_noise(low, rng_noise, None, gaussian_noise), high
