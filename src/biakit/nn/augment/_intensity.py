"""Intensity augmentation of a channel-first float32 image (the target is never touched)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def _channel_stats(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel minimum and range (``max - min``), broadcastable to the image."""
    flat = image.reshape(image.shape[0], -1)
    shape = (-1,) + (1,) * (image.ndim - 1)
    lo = flat.min(axis=1).reshape(shape)
    span = flat.max(axis=1).reshape(shape) - lo
    return lo, span


def brightness_contrast(image: np.ndarray, shift: float, factor: float) -> np.ndarray:
    """Add ``shift`` × channel range, then scale by ``factor`` about the channel mean."""
    if shift:
        _, span = _channel_stats(image)
        image += np.float32(shift) * span
    if factor != 1.0:
        mean = image.reshape(image.shape[0], -1).mean(axis=1, dtype=np.float64)
        mean = mean.astype(np.float32).reshape((-1,) + (1,) * (image.ndim - 1))
        image -= mean
        image *= np.float32(factor)
        image += mean
    return image


def gamma_correct(image: np.ndarray, gamma: float) -> np.ndarray:
    """Apply ``x ** gamma`` on each channel rescaled to ``[0, 1]``, then scale back.

    Working on the normalised range makes this safe for negative images
    (e.g. z-scored); constant channels are left unchanged.
    """
    lo, span = _channel_stats(image)
    safe = np.where(span > 0, span, 1).astype(np.float32)
    image -= lo
    image /= safe
    np.clip(image, 0, 1, out=image)
    np.power(image, np.float32(gamma), out=image)
    image *= safe
    image += lo
    return image


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur along the spatial axes of every channel."""
    for c in range(image.shape[0]):
        ndi.gaussian_filter(image[c], sigma, output=image[c], mode="reflect")
    return image


def gaussian_noise(image: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise with standard deviation ``std`` × channel range."""
    _, span = _channel_stats(image)
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    noise *= np.float32(std) * span
    image += noise
    return image


def poisson_noise(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Shot noise of relative level ``level`` at each channel's maximum.

    Each channel is shifted to start at 0 (non-negative), scaled so that its
    maximum holds ``1 / level**2`` expected photons, Poisson-sampled and
    mapped back to its original offset and scale.
    """
    lo, span = _channel_stats(image)
    peak = 1.0 / max(level, 1e-3) ** 2
    scale = np.where(span > 0, peak / np.where(span > 0, span, 1), 0.0)
    lam = (image - lo) * scale
    counts = rng.poisson(lam).astype(np.float32)
    inv = np.where(scale > 0, 1.0 / np.where(scale > 0, scale, 1), 0.0).astype(np.float32)
    keep = (span == 0).astype(np.float32)
    return counts * inv + lo + keep * (image - lo)


def cutout(image: np.ndarray, box: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Set one box ``((start, stop), ...)`` of every channel to 0."""
    image[(slice(None), *(slice(a, b) for a, b in box))] = 0
    return image
