"""Synthetic diffraction-limited spots (2D / 3D) with exact sub-pixel positions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from biakit.data import _common as c


@dataclass(frozen=True, eq=False)
class SyntheticSpots:
    """Spots with their exact positions and classes.

    Attributes
    ----------
    image : ndarray of float32
        The observed (noisy) image.
    points : ndarray of float64, shape (N, ndim)
        Spot centres in pixel coordinates (sub-pixel).
    classes : ndarray of int64, shape (N,)
        Class of each spot, ``0..n_classes-1``.
    clean : ndarray of float32
        The noise-free image.
    spacing : tuple of float
        Physical size of a pixel along each axis.
    axes : str
        ``"YX"`` or ``"ZYX"``.
    """

    image: np.ndarray
    points: np.ndarray
    classes: np.ndarray
    clean: np.ndarray
    spacing: tuple[float, ...]
    axes: str


def _sample_points(
    shape: tuple[int, ...],
    n: int,
    min_distance: float,
    spacing: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Dart throwing: uniform points in ``[0, shape-1]`` at least ``min_distance`` apart."""
    high = np.subtract(shape, 1).astype(float)
    accepted = np.empty((n, len(shape)))
    count = 0
    for _ in range(30):
        for p in rng.uniform(0.0, high, (max(n, 1), len(shape))):
            if count == n:
                return accepted
            if count and min_distance > 0:
                d2 = (((accepted[:count] - p) * spacing) ** 2).sum(axis=1)
                if d2.min() < min_distance**2:
                    continue
            accepted[count] = p
            count += 1
    return accepted[:count]


def _draw(clean: np.ndarray, point: np.ndarray, sigma: np.ndarray, amplitude: float) -> None:
    """Add ``amplitude * exp(-|x - point|^2 / 2 sigma^2)`` within 4 sd of ``point``."""
    lo = np.maximum(np.floor(point - 4 * sigma).astype(int), 0)
    hi = np.minimum(np.ceil(point + 4 * sigma).astype(int) + 1, clean.shape)
    value = np.asarray(amplitude, float)
    for d in range(clean.ndim):
        x = np.arange(lo[d], hi[d]) - point[d]
        value = np.multiply.outer(value, np.exp(-0.5 * (x / sigma[d]) ** 2))
    clean[tuple(slice(a, b) for a, b in zip(lo, hi))] += value


def synthetic_spots(
    shape: Sequence[int] = (128, 128),
    *,
    n_spots: int = 50,
    sigma: float | Sequence[float] = 1.5,
    amplitude: float | tuple[float, float] = (0.5, 1.0),
    min_distance: float = 4.0,
    n_classes: int = 1,
    background: float = 0.05,
    spacing: float | Sequence[float] | None = None,
    poisson_photons: float | None = None,
    gaussian_noise: float = 0.02,
    seed: c.SeedLike = 0,
) -> SyntheticSpots:
    """Gaussian spots at exact sub-pixel positions, for detection and counting.

    ``clean = background + sum_i a_i * exp(-sum_d (x_d - p_id)^2 / (2 s_cd^2))``
    where spot ``i`` of class ``c`` has sd ``s_c = sigma * (1 + 0.5 c)``
    (classes differ in size) and a peak ``a_i`` drawn from ``amplitude``;
    each spot is drawn within 4 sd of its centre.  Noise as in
    :func:`synthetic_nuclei`.

    Parameters
    ----------
    shape : sequence of int
        ``(Y, X)`` or ``(Z, Y, X)``.
    n_spots : int
        Spots requested; uniform in ``[0, n - 1]`` along each axis.  When they
        cannot all be placed ``min_distance`` apart, fewer are returned.
    sigma : float or sequence of float
        Spot sd in pixels (class 0), one per axis allowed.
    amplitude : float or (float, float)
        Range of the spot peak height above background.
    min_distance : float
        Smallest distance between two spot centres, in physical units
        (pixels when ``spacing`` is None).
    n_classes : int
        Number of spot classes, drawn uniformly.
    background : float
        Background level.
    spacing : float or sequence of float, optional
        Pixel size per axis (a scalar: the same on every axis) (used for ``min_distance``).
    poisson_photons : float or None
        Photons per unit intensity for shot noise; None disables it.
    gaussian_noise : float
        Sd of the additive read noise; 0 disables it.
    seed : int, Generator or None
        Random seed; the same seed gives bit-identical output.

    Returns
    -------
    SyntheticSpots

    Examples
    --------
    >>> s = synthetic_spots((32, 32), n_spots=5, seed=0)
    >>> s.points.shape, s.classes.tolist()
    ((5, 2), [0, 0, 0, 0, 0])
    """
    shape = c.as_shape(shape)
    ndim = len(shape)
    spacing_t = c.as_spacing(spacing, ndim)
    n_spots = c.check_count(n_spots, "n_spots")
    sig = np.asarray(c.as_per_axis(sigma, ndim, "sigma"))
    if np.any(sig == 0):
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    amp = c.as_range(amplitude, "amplitude", inclusive=True)
    min_distance = c.check_number(min_distance, "min_distance")
    n_classes = c.check_count(n_classes, "n_classes", low=1)
    background = c.check_number(background, "background")
    photons, read_sd = c.check_noise(poisson_photons, gaussian_noise)

    rng_pos, rng_look, rng_noise = c.streams(seed, 3)
    points = _sample_points(shape, n_spots, min_distance, np.asarray(spacing_t), rng_pos)
    classes = rng_look.integers(0, n_classes, len(points))
    amplitudes = rng_look.uniform(*amp, len(points))
    clean = np.full(shape, background, dtype=np.float64)
    for p, k, a in zip(points, classes, amplitudes):
        _draw(clean, p, sig * (1 + 0.5 * k), a)
    clean = clean.astype(np.float32)
    image = c.add_noise(clean, rng_noise, photons, read_sd)
    return SyntheticSpots(
        image, points, classes.astype(np.int64), clean, spacing_t, c.axes_for(ndim)
    )
