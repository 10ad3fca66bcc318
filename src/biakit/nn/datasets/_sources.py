"""Lazy channel-first views of image / target arrays and foreground voxel search."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

FOREGROUND_SCAN_LIMIT = 2**27
"""Lazy targets up to this many voxels are scanned whole (in slabs) for foreground."""

MAX_FOREGROUND_POINTS = 2**20
"""At most this many foreground voxels are kept per image (a uniform random subset)."""

_SLAB_VOXELS = 2**22
_FG_WINDOWS = 64


class ChannelFirst:
    """Read-only channel-first ``(C, *spatial)`` view of a NumPy, Zarr, h5py or Dask array.

    Only what is sliced is read; an array without channel axis gets ``C = 1``.

    Parameters
    ----------
    array : array_like
        Object with ``shape``, ``dtype`` and NumPy-style slicing.
    has_channel : bool
        Whether ``array``'s first axis is the channel axis.
    """

    def __init__(self, array: Any, has_channel: bool) -> None:
        self.array = array
        self.has_channel = has_channel
        shape = tuple(int(s) for s in array.shape)
        self.shape = shape if has_channel else (1, *shape)
        self.dtype = np.dtype(array.dtype)
        self.ndim = len(self.shape)

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape without the channel axis."""
        return self.shape[1:]

    def stats_input(self) -> Any:
        """Return the input for :meth:`Normalizer.stats`: a NumPy view, or this lazy view."""
        if isinstance(self.array, np.ndarray):
            return self.array if self.has_channel else self.array[None]
        return self

    def __getitem__(self, key: Any) -> np.ndarray:
        """Read ``key`` (slices over ``(C, *spatial)``, or ``...``) into memory."""
        if key is Ellipsis:
            key = (slice(None),) * self.ndim
        key = tuple(key) if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (self.ndim - len(key))
        if self.has_channel:
            return np.asarray(self.array[key])
        return np.asarray(self.array[key[1:]])[None]

    def read(self, starts: Sequence[int], shape: Sequence[int]) -> np.ndarray:
        """Read the region ``starts .. starts + shape``; outside the array: reflect padding.

        Only the part inside the array is read. Regions reaching outside occur only
        along axes where the array is smaller than ``shape``; there the whole axis
        is read, so the padding equals ``numpy.pad(whole_image, mode="reflect")``.
        """
        inner, pads = [], [(0, 0)]
        for s, p, n in zip(starts, shape, self.spatial_shape):
            a, b = max(s, 0), min(s + p, n)
            inner.append(slice(a, b))
            pads.append((a - s, s + p - b))
        data = self[(slice(None), *inner)]
        if any(before or after for before, after in pads):
            data = np.pad(data, pads, mode="reflect")
        return data


def _foreground_mask(block: np.ndarray) -> np.ndarray:
    """Foreground of a ``(C, *spatial)`` target block: any channel > 0."""
    return np.any(block > 0, axis=0)


class _Thinner:
    """Keep every offered index with one common probability, at most ``limit`` in all."""

    def __init__(self, limit: int, rng: np.random.Generator) -> None:
        self.limit, self.rng, self.rate, self.parts = limit, rng, 1.0, []

    def add(self, flat: np.ndarray) -> None:
        if self.rate < 1.0:
            flat = flat[self.rng.random(flat.size) < self.rate]
        self.parts.append(flat)
        while sum(p.size for p in self.parts) > self.limit:
            self.rate /= 2
            self.parts = [p[self.rng.random(p.size) < 0.5] for p in self.parts]

    def result(self) -> np.ndarray:
        if not self.parts:
            return np.empty(0, dtype=np.int64)
        return np.concatenate(self.parts).astype(np.int64)


def _scan_slabs(target: ChannelFirst, thinner: _Thinner) -> None:
    """Scan the whole target in slabs along its first spatial axis."""
    spatial = target.spatial_shape
    per_plane = max(1, math.prod(spatial[1:]) * target.shape[0])
    step = max(1, _SLAB_VOXELS // per_plane)
    for a in range(0, spatial[0], step):
        b = min(a + step, spatial[0])
        mask = _foreground_mask(target[(slice(None), slice(a, b))])
        thinner.add(np.flatnonzero(mask) + a * math.prod(spatial[1:]))


def _scan_windows(target: ChannelFirst, thinner: _Thinner, rng: np.random.Generator) -> None:
    """Scan 64 random windows (about ``2**22`` voxels in all) of a huge lazy target."""
    spatial = target.spatial_shape
    side = max(1, int((_SLAB_VOXELS / _FG_WINDOWS) ** (1 / len(spatial))))
    window = tuple(min(side, n) for n in spatial)
    for _ in range(_FG_WINDOWS):
        starts = [int(rng.integers(0, n - w + 1)) for n, w in zip(spatial, window)]
        mask = _foreground_mask(target.read(starts, window))
        local = np.nonzero(mask)
        coords = tuple(c + s for c, s in zip(local, starts))
        thinner.add(np.ravel_multi_index(coords, spatial))


def find_foreground(target: ChannelFirst, seed: int = 0) -> np.ndarray:
    """Flat indices (into the spatial shape) of foreground voxels (target > 0).

    NumPy targets and lazy targets up to :data:`FOREGROUND_SCAN_LIMIT` voxels are
    scanned whole, slab by slab (bounded memory). Larger lazy targets are
    searched in 64 random windows (about 4 million voxels read), so foreground
    outside these windows is never a sampling centre (uniform patches still
    cover the whole image). At most :data:`MAX_FOREGROUND_POINTS` indices are
    kept: every foreground voxel with the same probability (seeded).

    Parameters
    ----------
    target : ChannelFirst
        The target; for several channels, a voxel is foreground if any is > 0.
    seed : int
        Seed of the windows and of the thinning.

    Returns
    -------
    flat : numpy.ndarray of int64
        Sorted, unique flat indices; empty if no foreground was found.
    """
    rng = np.random.default_rng(seed)
    thinner = _Thinner(MAX_FOREGROUND_POINTS, rng)
    n_voxels = math.prod(target.spatial_shape)
    if isinstance(target.array, np.ndarray) or n_voxels <= FOREGROUND_SCAN_LIMIT:
        _scan_slabs(target, thinner)
    else:
        _scan_windows(target, thinner, rng)
    return np.unique(thinner.result())
