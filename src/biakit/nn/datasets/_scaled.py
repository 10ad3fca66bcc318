"""Training pairs for super-resolution: a declared degradation and low/high patch pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from biakit.errors import DataError, ParameterError
from biakit.validation import check_channel_layout, check_positive


def degrade(
    image: Any,
    factors: Sequence[int],
    *,
    sigma: float | Sequence[float] | None = None,
    gaussian_noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Make the low-resolution version of a channel-first image: blur, bin, add noise.

    1. Gaussian blur with sd ``sigma`` pixels per spatial axis (default
       ``factor / 2``; no blur along axes with factor 1);
    2. mean of non-overlapping ``factors`` blocks (pixel binning); the image is
       cropped to a multiple of ``factors`` first;
    3. ``N(0, gaussian_noise**2)`` noise, as a fraction of each channel's range.

    Parameters
    ----------
    image : array_like, shape (C, *spatial)
        High-resolution image.
    factors : sequence of int
        Down-sampling factor per spatial axis (``(1, 4)`` along X only,
        ``(4, 1, 1)`` along Z for an anisotropic stack).
    sigma : float or sequence of float, optional
        Blur per spatial axis in high-resolution pixels.
    gaussian_noise : float
        Noise sd relative to the channel's range; 0 disables it.
    seed : int
        Seed of the noise.

    Returns
    -------
    numpy.ndarray of float32, shape (C, *(spatial // factors))

    Examples
    --------
    >>> high = np.arange(16, dtype=float).reshape(1, 4, 4)
    >>> degrade(high, (2, 2), sigma=0)[0].tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    array = np.asarray(check_channel_layout(image, len(factors)), dtype=np.float64)
    factors = tuple(int(check_positive(f, name="factors", integer=True)) for f in factors)
    spatial = array.shape[1:]
    if any(n < f for n, f in zip(spatial, factors)):
        raise DataError(f"image of spatial shape {spatial} is smaller than factors {factors}")
    if sigma is None:
        sd = tuple(f / 2 if f > 1 else 0.0 for f in factors)
    else:
        sd = tuple(np.broadcast_to(np.asarray(sigma, float), (len(factors),)).tolist())
        if any(s < 0 for s in sd):
            raise ParameterError(f"sigma must be >= 0, got {sigma!r}")
    crop = tuple(slice(0, n - n % f) for n, f in zip(spatial, factors))
    out = []
    rng = np.random.default_rng(seed)
    for channel in array:
        blurred = ndi.gaussian_filter(channel, sd, mode="reflect")[crop]
        split = [v for n, f in zip(blurred.shape, factors) for v in (n // f, f)]
        low = blurred.reshape(split).mean(axis=tuple(range(1, 2 * len(factors), 2)))
        if gaussian_noise:
            span = float(channel.max() - channel.min()) or 1.0
            low = low + rng.normal(0.0, gaussian_noise * span, low.shape)
        out.append(low)
    return np.stack(out).astype(np.float32)


class ScaledPairDataset:
    """Random aligned patch pairs ``(low (C, *patch), high (C', *(patch * factors)))``.

    A map-style dataset for :class:`biakit.nn.train.Trainer`: item ``i`` of epoch
    ``e`` is drawn with the seed ``(seed, e, i)`` (an image chosen with probability
    proportional to its size, a random aligned window, random flips of every
    spatial axis and, with ``rotate90``, a random multiple of 90 degrees in the
    plane of the last two axes, applied to both patches), so runs are
    reproducible and resumable. A quarter turn swaps two axes, so it is only
    drawn where it maps the pair onto a valid pair: equal factors and equal patch
    sizes along the last two axes (2D x2, x4; not the ``(4, 1)`` of an axial
    restoration, which then gets half turns only). Both transforms commute with
    the block-mean of :func:`degrade`, so a degraded pair stays a degraded pair.

    Examples
    --------
    >>> low, high = np.zeros((1, 16, 16), np.float32), np.zeros((1, 32, 32), np.float32)
    >>> ds = ScaledPairDataset([low], [high], (8, 8), (2, 2), samples_per_epoch=3)
    >>> x, y = ds[0]
    >>> tuple(x.shape), tuple(y.shape), len(ds)
    ((1, 8, 8), (1, 16, 16), 3)
    """

    def __init__(
        self,
        lows: Sequence[np.ndarray],
        highs: Sequence[np.ndarray],
        patch_shape: Sequence[int],
        factors: Sequence[int],
        *,
        samples_per_epoch: int = 256,
        flip: bool = True,
        rotate90: bool = False,
        seed: int = 0,
    ) -> None:
        self.factors = tuple(int(f) for f in factors)
        self.patch = tuple(int(p) for p in patch_shape)
        if len(lows) != len(highs) or not lows:
            raise DataError(f"got {len(lows)} low and {len(highs)} high image(s); need equal, > 0")
        for i, (lo, hi) in enumerate(zip(lows, highs)):
            want = tuple(n * f for n, f in zip(lo.shape[1:], self.factors))
            if tuple(hi.shape[1:]) != want:
                raise DataError(
                    f"high image {i} has spatial shape {tuple(hi.shape[1:])}; expected {want} "
                    f"(low {tuple(lo.shape[1:])} x factors {self.factors})"
                )
            if any(n < p for n, p in zip(lo.shape[1:], self.patch)):
                raise DataError(
                    f"low image {i} of spatial shape {tuple(lo.shape[1:])} is smaller than "
                    f"patch_shape {self.patch}"
                )
        self.lows, self.highs = list(lows), list(highs)
        sizes = np.array([np.prod(lo.shape[1:]) for lo in self.lows], float)
        self.weights = sizes / sizes.sum()
        self.samples_per_epoch, self.flip, self.seed, self.epoch = samples_per_epoch, flip, seed, 0
        self.rotate90 = bool(rotate90) and len(self.patch) >= 2
        square = self.patch[-1] == self.patch[-2] and self.factors[-1] == self.factors[-2]
        self.quarter_turns = self.rotate90 and square

    def set_epoch(self, epoch: int) -> None:
        """Draw the patches of ``epoch`` (called by the Trainer)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        import torch

        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        k = int(rng.choice(len(self.lows), p=self.weights))
        low, high = self.lows[k], self.highs[k]
        origin = [int(rng.integers(0, n - p + 1)) for n, p in zip(low.shape[1:], self.patch)]
        lo = low[(slice(None), *(slice(o, o + p) for o, p in zip(origin, self.patch)))]
        window = [slice(o * f, (o + p) * f) for o, p, f in zip(origin, self.patch, self.factors)]
        hi = high[(slice(None), *window)]
        if self.flip:
            for axis in range(1, lo.ndim):
                if rng.random() < 0.5:
                    lo, hi = np.flip(lo, axis), np.flip(hi, axis)
        if self.rotate90:
            k = int(rng.integers(4)) if self.quarter_turns else 2 * int(rng.integers(2))
            lo, hi = np.rot90(lo, k, axes=(-2, -1)), np.rot90(hi, k, axes=(-2, -1))
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.float32))  # noqa: E731
        return as_tensor(lo), as_tensor(hi)
