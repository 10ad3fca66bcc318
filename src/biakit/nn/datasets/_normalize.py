"""Per-channel intensity normalisation with statistics that can be applied patch-wise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from biakit.errors import DataError
from biakit.validation import check_channel_layout

MAX_STATS_VOXELS = 2**22
"""Default voxel budget (per channel) of the statistics subsample (about 4 million)."""

_STATS_SEED = 0
_N_WINDOWS = 64


@dataclass(frozen=True)
class NormStats:
    """Per-channel statistics of one image: ``normalised = (x - offset) / scale``.

    Attributes
    ----------
    offset, scale : tuple of float
        One value per channel; ``scale`` is positive.

    Examples
    --------
    >>> s = NormStats(offset=(1.0,), scale=(2.0,))
    >>> NormStats.from_dict(s.to_dict()) == s
    True
    """

    offset: tuple[float, ...]
    scale: tuple[float, ...]

    def __post_init__(self) -> None:
        offset = tuple(float(v) for v in self.offset)
        scale = tuple(float(v) for v in self.scale)
        if len(offset) != len(scale):
            raise ValueError(
                f"offset and scale need one value per channel, got {len(offset)} and {len(scale)}"
            )
        if not all(s > 0 and math.isfinite(s) for s in scale):
            raise ValueError(f"scale must be positive and finite, got {scale}")
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "scale", scale)

    def to_dict(self) -> dict[str, list[float]]:
        """Return a JSON-friendly dictionary."""
        return {"offset": list(self.offset), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NormStats:
        """Rebuild from :meth:`to_dict` output."""
        return cls(offset=tuple(data["offset"]), scale=tuple(data["scale"]))


def _check_channel_first(image: Any, name: str = "image") -> tuple[int, ...]:
    """Shape of a channel-first image with 2 or 3 spatial axes (never read: may be lazy)."""
    shape = tuple(int(s) for s in image.shape)
    if len(shape) not in (3, 4):
        raise DataError(
            f"{name} must be channel-first (C, Y, X) or (C, Z, Y, X), got shape {shape}; "
            "add a channel axis to a single-channel image with image[None]"
        )
    shape_only = np.broadcast_to(np.zeros((), np.uint8), shape)  # reads nothing
    check_channel_layout(shape_only, len(shape) - 1, name=name)
    return shape


def normalize_with_stats(image: Any, stats: NormStats) -> np.ndarray:
    """Normalise a channel-first image or patch with precomputed statistics.

    Parameters
    ----------
    image : array_like, shape (C, *spatial)
        The image or any patch of it.
    stats : NormStats
        Statistics from :meth:`Normalizer.stats` (usually of the whole image).

    Returns
    -------
    out : numpy.ndarray of float32
        ``(image[c] - stats.offset[c]) / stats.scale[c]`` per channel.

    Examples
    --------
    >>> out = normalize_with_stats(np.full((1, 2, 2), 5), NormStats((1.0,), (2.0,)))
    >>> out[0, 0, 0], out.dtype
    (np.float32(2.0), dtype('float32'))
    """
    array = np.asarray(image)
    if array.ndim < 2:
        raise ValueError(f"image must be channel-first (C, *spatial), got shape {array.shape}")
    if array.shape[0] != len(stats.offset):
        raise ValueError(
            f"image has {array.shape[0]} channels but stats have {len(stats.offset)} "
            f"(stats were computed on another image?)"
        )
    bshape = (-1,) + (1,) * (array.ndim - 1)
    offset = np.asarray(stats.offset, dtype=np.float32).reshape(bshape)
    scale = np.asarray(stats.scale, dtype=np.float32).reshape(bshape)
    out = array.astype(np.float32, copy=True)
    out -= offset
    out /= scale
    return out


def denormalize_with_stats(image: Any, stats: NormStats) -> np.ndarray:
    """Map a normalised channel-first image back: ``x * scale + offset`` per channel (float32).

    The inverse of :func:`normalize_with_stats`; restoration networks use it to
    return outputs in an intensity scale (the input's or the targets').

    Examples
    --------
    >>> s = NormStats(offset=(10.0,), scale=(2.0,))
    >>> x = np.array([[[10.0, 14.0]]])
    >>> denormalize_with_stats(normalize_with_stats(x, s), s).tolist()
    [[[10.0, 14.0]]]
    """
    array = np.asarray(image, dtype=np.float32)
    bshape = (-1,) + (1,) * (array.ndim - 1)
    scale = np.asarray(stats.scale, dtype=np.float32).reshape(bshape)
    offset = np.asarray(stats.offset, dtype=np.float32).reshape(bshape)
    return array * scale + offset


def _window_reads(image: Any, budget: int, rng: np.random.Generator) -> np.ndarray:
    """Read random windows (at most ``budget`` voxels per channel) as ``(C, n)``."""
    spatial = image.shape[1:]
    side = max(1, int((budget / _N_WINDOWS) ** (1 / len(spatial))))
    window = tuple(min(side, n) for n in spatial)
    n_windows = max(1, budget // math.prod(window))
    parts = []
    for _ in range(n_windows):
        starts = [int(rng.integers(0, n - w + 1)) for n, w in zip(spatial, window)]
        key = (slice(None), *(slice(s, s + w) for s, w in zip(starts, window)))
        block = np.asarray(image[key])
        parts.append(block.reshape(block.shape[0], -1))
    return np.concatenate(parts, axis=1)


def sample_voxels(image: Any, max_voxels: int = MAX_STATS_VOXELS, seed: int = 0) -> np.ndarray:
    """Voxel values used for statistics: all, or a seeded subsample of a big image.

    Parameters
    ----------
    image : array_like, shape (C, *spatial)
        NumPy array, or any lazy array with ``shape`` and NumPy-style slicing
        (Zarr array, h5py dataset, Dask array).
    max_voxels : int
        Budget per channel. Images with at most this many voxels per channel are
        read whole. Bigger NumPy arrays: ``max_voxels`` voxel positions drawn at
        random (with replacement). Bigger lazy arrays: 64 random windows (hyper-
        cubes of side ``(max_voxels / 64) ** (1 / ndim)``), so only about
        ``max_voxels`` voxels per channel are read from disk.
    seed : int
        Seed of the subsample (same seed, same voxels).

    Returns
    -------
    values : numpy.ndarray, shape (C, n)
        The sampled values per channel.

    Examples
    --------
    >>> sample_voxels(np.zeros((2, 100, 100)), max_voxels=50).shape
    (2, 50)
    """
    shape = _check_channel_first(image)
    n_spatial = math.prod(shape[1:])
    if n_spatial <= max_voxels:
        return np.asarray(image[...]).reshape(shape[0], -1)
    rng = np.random.default_rng(seed)
    if isinstance(image, np.ndarray):
        flat = rng.integers(0, n_spatial, size=max_voxels)
        coords = np.unravel_index(flat, shape[1:])
        return image[(slice(None), *coords)]
    return _window_reads(image, max_voxels, rng)


class Normalizer(BaseModel):
    """Per-channel intensity normalisation of a channel-first image.

    All kinds compute ``(x - offset) / scale`` per channel, with:

    * ``"percentile"`` -- CSBDeep / StarDist ``normalize``: offset = ``low``-th
      percentile, scale = ``high``-th minus ``low``-th percentile ``+ eps``; no clipping.
    * ``"zscore"`` -- offset = mean, scale = standard deviation ``+ eps``.
    * ``"range"`` -- fixed: ``value_range = (vmin, vmax)`` maps to ``[0, 1]``; with
      ``value_range=None`` integer images use their dtype's range (``uint8`` -> 0..255);
      float images then raise.
    * ``"none"`` -- only a cast to float32.

    Statistics of images with more than ``max_voxels`` voxels per channel come
    from a seeded subsample (see :func:`sample_voxels`; random voxels of NumPy
    arrays, 64 random windows of lazy Zarr / HDF5 / Dask arrays), so they are
    deterministic and need only about ``max_voxels`` voxels read.

    Parameters
    ----------
    kind : {"percentile", "zscore", "range", "none"}
        Normalisation method.
    low, high : float
        Percentiles (0-100) for ``"percentile"``.
    value_range : (float, float), optional
        Fixed ``(vmin, vmax)`` for ``"range"``.
    eps : float
        Added to the scale of ``"percentile"`` and ``"zscore"`` (constant images).
    max_voxels : int
        Voxel budget per channel of the statistics subsample.

    Examples
    --------
    >>> norm = Normalizer(kind="percentile", low=1.0, high=99.8)
    >>> image = np.arange(1000, dtype=np.uint16).reshape(1, 10, 100)
    >>> out = norm(image)
    >>> out.dtype, bool(abs(np.percentile(out, 1.0)) < 1e-6)
    (dtype('float32'), True)
    >>> stats = norm.stats(image)        # whole-image statistics ...
    >>> patch = normalize_with_stats(image[:, :4, :4], stats)   # ... applied to a patch
    >>> Normalizer.from_dict(norm.to_dict()) == norm
    True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["percentile", "zscore", "range", "none"] = "percentile"
    low: float = Field(1.0, ge=0.0, le=100.0)
    high: float = Field(99.8, ge=0.0, le=100.0)
    value_range: tuple[float, float] | None = None
    eps: float = Field(1e-6, gt=0.0)
    max_voxels: int = Field(MAX_STATS_VOXELS, ge=1)

    @model_validator(mode="after")
    def _check(self) -> Normalizer:
        if not self.low < self.high:
            raise ValueError(f"low must be < high, got low={self.low}, high={self.high}")
        if self.value_range is not None and not self.value_range[0] < self.value_range[1]:
            raise ValueError(
                f"value_range must be (vmin, vmax) with vmin < vmax, got {self.value_range}"
            )
        return self

    def stats(self, image: Any) -> NormStats:
        """Statistics of a channel-first image (NumPy, Zarr, h5py or Dask array).

        Parameters
        ----------
        image : array_like, shape (C, *spatial)
            The whole image; read lazily (at most ``max_voxels`` voxels per channel
            for percentile / zscore, nothing for range / none).

        Returns
        -------
        stats : NormStats
            Offsets and scales, one per channel.
        """
        shape = _check_channel_first(image)
        n_channels = shape[0]
        if self.kind == "none":
            return NormStats((0.0,) * n_channels, (1.0,) * n_channels)
        if self.kind == "range":
            vmin, vmax = self._range(np.dtype(image.dtype))
            return NormStats((vmin,) * n_channels, (vmax - vmin,) * n_channels)
        values = sample_voxels(image, self.max_voxels, _STATS_SEED)
        if self.kind == "percentile":
            lo, hi = np.percentile(values, [self.low, self.high], axis=1)
            return NormStats(tuple(lo), tuple(hi - lo + self.eps))
        values = values.astype(np.float64)
        return NormStats(tuple(values.mean(axis=1)), tuple(values.std(axis=1) + self.eps))

    def _range(self, dtype: np.dtype) -> tuple[float, float]:
        if self.value_range is not None:
            return float(self.value_range[0]), float(self.value_range[1])
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            return float(info.min), float(info.max)
        raise ValueError(
            f"Normalizer(kind='range') needs value_range=(vmin, vmax) for {dtype} images; "
            "only integer images default to their dtype's range"
        )

    def __call__(self, image: Any) -> np.ndarray:
        """Normalise a channel-first image with its own statistics (float32 out)."""
        return normalize_with_stats(np.asarray(image), self.stats(image))

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-friendly dictionary."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalizer:
        """Rebuild a normaliser from :meth:`to_dict` output."""
        return cls.model_validate(data)
