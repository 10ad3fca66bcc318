"""Synthetic wound-healing (scratch assay) movie: two cell sheets closing a gap, gap area known."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from biakit.data import _common as c


@dataclass(frozen=True, eq=False)
class WoundHealing:
    """A wound-healing movie with its exact gap (wound) per frame.

    Attributes
    ----------
    images : ndarray of float32, shape (T, Y, X)
        Observed frames (blurred, noisy).
    clean : ndarray of float32
        Noise-free frames.
    gap : ndarray of bool, shape (T, Y, X)
        The wound: pixels whose centre lies between the two sheets' edges.
    gap_area : ndarray of float64, shape (T,)
        ``gap.sum()`` per frame, in pixels.
    axes : str
        ``"TYX"``.
    """

    images: np.ndarray
    clean: np.ndarray
    gap: np.ndarray
    gap_area: np.ndarray
    axes: str


def wound_healing(
    n_frames: int = 20,
    shape: Sequence[int] = (96, 96),
    *,
    wound_width: float = 40.0,
    speed: float | tuple[float, float] = (0.8, 1.2),
    edge_wobble: float = 3.0,
    cell_size: float = 6.0,
    psf_sigma: float = 1.0,
    poisson_photons: float | None = 200.0,
    gaussian_noise: float = 0.02,
    seed: c.SeedLike = 0,
) -> WoundHealing:
    """Two confluent cell sheets migrating into a vertical scratch, closing it over time.

    The wound runs along Y. The left sheet's edge is at ``x_L(y, t) = x0 + v_L
    t + a_L sin(2 pi y / l_L + p_L)`` and the right one's at ``x_R(y, t) = x0 +
    wound_width - v_R t + a_R sin(...)``, with the speeds ``v_L``, ``v_R`` drawn
    from ``speed`` (pixels per frame) and wobble amplitudes up to
    ``edge_wobble``; a pixel is in the gap when ``x_L < x < x_R`` at its centre
    (rows where the edges met are closed). Each sheet is a monolayer (uniform
    cytoplasm, 0.45 above the background of 0.1) with nuclei (Gaussian blobs
    about ``cell_size`` apart on a jittered lattice) moving with its edge, so the
    motion is predictable. Frames are blurred by a Gaussian PSF, then get shot
    and read noise.

    Parameters
    ----------
    n_frames : int
        Time points (>= 1).
    shape : sequence of int
        Frame shape ``(Y, X)``.
    wound_width : float
        Gap width at ``t = 0`` in pixels (< X).
    speed : float or (float, float)
        Range of the edges' speeds, pixels per frame.
    edge_wobble : float
        Largest amplitude of the edges' sinusoidal wobble, pixels.
    cell_size : float
        Spacing of the nuclei, pixels (> 0).
    psf_sigma : float
        Gaussian PSF sd in pixels.
    poisson_photons : float or None
        Photons per unit intensity for shot noise; None disables it.
    gaussian_noise : float
        Sd of the additive read noise; 0 disables it.
    seed : int, Generator or None
        The same seed gives bit-identical movies.

    Returns
    -------
    WoundHealing

    Examples
    --------
    >>> w = wound_healing(5, (32, 48), wound_width=16, speed=1.0, edge_wobble=0, seed=0)
    >>> w.images.shape, w.gap_area.tolist()    # 32 rows x (16, 14, 12, ...) columns
    ((5, 32, 48), [512.0, 448.0, 384.0, 320.0, 256.0])
    """
    n_frames = c.check_count(n_frames, "n_frames", low=1)
    ny, nx = c.as_shape(shape, ndims=(2,))
    width = c.check_number(wound_width, "wound_width", strict=True)
    if width >= nx:
        raise ValueError(f"wound_width={wound_width} must be below the frame width {nx}")
    v_lo, v_hi = c.as_range(speed, "speed", inclusive=True)
    wobble = c.check_number(edge_wobble, "edge_wobble")
    size = c.check_number(cell_size, "cell_size", strict=True)
    psf = c.as_per_axis(psf_sigma, 2, "psf_sigma")
    photons, read_sd = c.check_noise(poisson_photons, gaussian_noise)
    rng_edge, rng_cells, rng_noise = c.streams(seed, 3)

    x0 = (nx - width) / 2.0  # pixel centres are at integer + 0.5
    v = rng_edge.uniform(v_lo, v_hi, 2)
    amp = rng_edge.uniform(0.0, wobble, 2)
    period = rng_edge.uniform(0.5, 1.5, 2) * ny
    phase = rng_edge.uniform(0.0, 2 * np.pi, 2)
    y = np.arange(ny) + 0.5
    x = np.arange(nx) + 0.5
    nuclei = [_lattice(ny, nx, size, rng_cells) for _ in range(2)]
    clean = np.zeros((n_frames, ny, nx), np.float32)
    gap = np.zeros((n_frames, ny, nx), bool)
    for t in range(n_frames):
        left = x0 + v[0] * t + amp[0] * np.sin(2 * np.pi * y / period[0] + phase[0])
        right = x0 + width - v[1] * t + amp[1] * np.sin(2 * np.pi * y / period[1] + phase[1])
        in_left = x[None, :] <= left[:, None]
        in_right = x[None, :] >= right[:, None]
        gap[t] = ~in_left & ~in_right
        tex_l = _render(nuclei[0], (0.0, v[0] * t), (ny, nx), size)
        tex_r = _render(nuclei[1], (0.0, -v[1] * t), (ny, nx), size)
        sheet = np.maximum(np.where(in_left, 0.45 + 0.4 * tex_l, 0.0),
                           np.where(in_right, 0.45 + 0.4 * tex_r, 0.0))  # fmt: skip
        clean[t] = _blur(0.1 + sheet, psf)
    images = c.add_noise(clean, rng_noise, photons, read_sd)
    return WoundHealing(images, clean, gap, gap.sum(axis=(1, 2)).astype(np.float64), "TYX")


def _lattice(ny: int, nx: int, size: float, rng: np.random.Generator) -> np.ndarray:
    """Jittered lattice of nucleus centres covering the frame and a frame's width either side."""
    ys = np.arange(-size, ny + size, size)
    xs = np.arange(-nx - size, 2 * nx + size, size)
    grid = np.stack(np.meshgrid(ys, xs, indexing="ij"), axis=-1).reshape(-1, 2)
    return grid + rng.uniform(-size / 4, size / 4, grid.shape)


def _render(centres: np.ndarray, shift: tuple[float, float], shape: tuple[int, int],
            size: float) -> np.ndarray:  # fmt: skip
    """Nuclei as Gaussian blobs (sd ``size / 4``) at ``centres + shift``, peak about 1."""
    from scipy.ndimage import gaussian_filter

    pts = centres + np.asarray(shift)
    pts = pts[(pts[:, 0] > -2) & (pts[:, 0] < shape[0] + 1)
              & (pts[:, 1] > -2) & (pts[:, 1] < shape[1] + 1)]  # fmt: skip
    out = np.zeros((shape[0] + 4, shape[1] + 4))
    base = np.floor(pts).astype(int)
    frac = pts - base
    for dy in (0, 1):
        for dx in (0, 1):  # bilinear splat: sub-pixel positions move smoothly
            w = (frac[:, 0] if dy else 1 - frac[:, 0]) * (frac[:, 1] if dx else 1 - frac[:, 1])
            np.add.at(out, (base[:, 0] + dy + 2, base[:, 1] + dx + 2), w)
    sd = size / 4
    blobs = gaussian_filter(out, sd)[2:-2, 2:-2] * (2 * np.pi * sd * sd)
    return np.minimum(blobs, 1.5).astype(np.float32)


def _blur(image: np.ndarray, psf: tuple[float, ...]) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(image, psf).astype(np.float32) if any(psf) else image
