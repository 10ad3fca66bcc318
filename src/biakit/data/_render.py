"""From a label image to a fluorescence image: texture, uneven background, PSF blur."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

TEXTURE = 0.15
"""Relative amplitude (sd) of the smooth chromatin-like texture inside objects."""
TEXTURE_SIGMA = 1.5
"""Correlation length of that texture, in pixels of the finest axis."""


def background_field(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Smooth uneven illumination in ``[0, 1]`` (max exactly 1).

    Half a linear ramp along a random direction, half a broad Gaussian blob
    (sd 30 % of the image size) at a random position, rescaled to max 1.
    """
    ndim = len(shape)
    grids = [
        np.linspace(0.0, 1.0, n).reshape([-1 if k == d else 1 for k in range(ndim)])
        for d, n in enumerate(shape)
    ]
    v = rng.standard_normal(ndim)
    v /= np.linalg.norm(v)
    ramp = sum(v[d] * grids[d] for d in range(ndim))
    ramp = ramp - ramp.min()
    ramp = ramp / max(float(ramp.max()), 1e-12)
    centre = rng.uniform(0, 1, ndim)
    blob = np.exp(-sum((grids[d] - centre[d]) ** 2 for d in range(ndim)) / (2 * 0.3**2))
    field = np.broadcast_to(0.5 * ramp + 0.5 * blob, shape)
    return field / field.max()


def object_image(
    labels: np.ndarray,
    intensities: np.ndarray,
    spacing: tuple[float, ...],
    rng: np.random.Generator,
) -> np.ndarray:
    """Per-object brightness times ``1 + TEXTURE * smooth noise`` (0 outside objects), float64."""
    s = np.asarray(spacing, float)
    sigma = TEXTURE_SIGMA * s.min() / s
    field = ndi.gaussian_filter(rng.standard_normal(labels.shape).astype(np.float32), sigma)
    sd = float(field.std())
    field = field / sd if sd > 0 else field
    lut = np.concatenate([[0.0], np.asarray(intensities, float)])
    return lut[labels] * np.clip(1.0 + TEXTURE * field, 0.2, None)


def blur(image: np.ndarray, psf_sigma: tuple[float, ...]) -> np.ndarray:
    """Gaussian PSF (sd in pixels per axis; 0 skips that axis), reflecting borders."""
    if not any(psf_sigma):
        return image
    return ndi.gaussian_filter(image, psf_sigma, mode="reflect")
