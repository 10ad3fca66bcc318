"""Tile geometry for tiled inference: padding, tile starts, blending weights, window reads.

Coordinates live on the *padded domain*: the image reflect-padded at the end of each
axis up to a multiple of the model divisor. Tiles have a fixed shape (a multiple of the
divisor), start at multiples of the divisor (so the network's pooling grid matches the
one of a whole-image prediction) and lie fully inside the padded domain. Along each axis
adjacent tiles overlap by at least ``2 * overlap``; the ``overlap`` pixels next to an
interior tile edge are context only and get weight 0, so with ``overlap`` >= the
receptive field every weighted prediction is exact.

Weights are separable: the weight of a tile is the outer product of one 1D profile per
axis, and the profiles are normalised to sum to one at every position. Hence the tiles
form a partition of unity and no weight-sum array is needed, even for outputs larger
than memory.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BLENDINGS = ("gaussian", "linear", "none")


@dataclass(frozen=True)
class AxisPlan:
    """Tiling of one axis.

    Attributes
    ----------
    size : int
        Image size along the axis.
    padded : int
        Padded size (a multiple of the divisor, >= ``size``).
    tile : int
        Tile size (a multiple of the divisor, <= ``padded``).
    starts : tuple of int
        Tile starts (multiples of the divisor).
    weights : tuple of numpy.ndarray
        Normalised 1D weight profile of each tile (length ``tile``).
    support : tuple of (int, int)
        Per tile, the ``[lo, hi)`` image range where its weight is non-zero.
    """

    size: int
    padded: int
    tile: int
    starts: tuple[int, ...]
    weights: tuple[np.ndarray, ...]
    support: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Tile:
    """One tile: where it starts in the padded domain and which region of the output it feeds.

    Attributes
    ----------
    start : tuple of int
        Tile corner in the padded domain.
    write : tuple of slice
        Output region (inside the image) this tile contributes to.
    crop : tuple of slice
        The same region in tile coordinates.
    index : tuple of int
        Tile index along each axis (into :attr:`AxisPlan.weights`).
    """

    start: tuple[int, ...]
    write: tuple[slice, ...]
    crop: tuple[slice, ...]
    index: tuple[int, ...]


@dataclass(frozen=True)
class TilePlan:
    """Tiling of a whole image: one :class:`AxisPlan` per spatial axis.

    Attributes
    ----------
    axes : tuple of AxisPlan
        Per spatial axis geometry.
    blending : str
        ``"gaussian"``, ``"linear"`` or ``"none"``.
    """

    axes: tuple[AxisPlan, ...]
    blending: str

    @property
    def tile_shape(self) -> tuple[int, ...]:
        """Shape of every tile fed to the network."""
        return tuple(a.tile for a in self.axes)

    @property
    def n_tiles(self) -> int:
        """Number of tiles the network runs on."""
        return math.prod(len(a.starts) for a in self.axes)

    def tiles(self) -> Iterator[Tile]:
        """Tiles in raster order."""
        for index in itertools.product(*(range(len(a.starts)) for a in self.axes)):
            start, write, crop = [], [], []
            for a, k in zip(self.axes, index):
                lo, hi = a.support[k]
                start.append(a.starts[k])
                write.append(slice(lo, hi))
                crop.append(slice(lo - a.starts[k], hi - a.starts[k]))
            yield Tile(tuple(start), tuple(write), tuple(crop), index)

    def weight(self, tile: Tile) -> np.ndarray:
        """Normalised weights of ``tile`` on its ``crop`` region (float32)."""
        profiles = [
            a.weights[k][c].astype(np.float32) for a, k, c in zip(self.axes, tile.index, tile.crop)
        ]
        out = profiles[0]
        for p in profiles[1:]:
            out = np.multiply.outer(out, p)
        return out


def round_up(value: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= ``value``."""
    return -(-int(value) // int(multiple)) * int(multiple)


def _stride(tile: int, halo: int, divisor: int, blending: str) -> int:
    """Largest step between tile starts: the core, less a quarter of it when cross-fading."""
    stride = tile - 2 * halo
    if blending != "none":  # extra overlap of about a quarter of the core for cross-fading
        stride -= max(stride // 4, 1)
    return max(stride // divisor * divisor, divisor)


def fit_tile_shape(
    shape: Sequence[int],
    tile_shape: Sequence[int],
    overlap: Sequence[int],
    divisor: Sequence[int],
    blending: str = "gaussian",
) -> tuple[int, ...]:
    """Return the smallest tile (per axis) that needs no more tiles than ``tile_shape``.

    A tile a little too small to cover an axis in ``k`` tiles takes ``k + 1`` of them,
    mostly overlap; the same ``k + 1`` tiles shrunk to just cover the axis compute the
    same prediction on fewer pixels (the result does not depend on the tiling).

    Examples
    --------
    >>> fit_tile_shape((1024,), (564,), (23,), (4,))  # 3 tiles either way
    (440,)
    >>> fit_tile_shape((1000,), (1024,), (23,), (4,))  # one tile: the padded image
    (1000,)
    """
    out = []
    for n, t, h, d in zip(shape, tile_shape, overlap, divisor):
        padded = round_up(n, d)
        t, low = min(int(t), padded), round_up(2 * h + d, d)
        count = _n_tiles(padded, t, h, d, blending)
        while t - d >= low and _n_tiles(padded, t - d, h, d, blending) <= count:
            t -= d
        out.append(t)
    return tuple(out)


def _n_tiles(padded: int, tile: int, halo: int, divisor: int, blending: str) -> int:
    return len(_starts(padded, tile, _stride(tile, halo, divisor, blending), divisor))


def _starts(padded: int, tile: int, stride: int, divisor: int) -> list[int]:
    """Evenly spread tile starts, multiples of ``divisor``, gaps <= ``stride``."""
    if tile >= padded:
        return [0]
    units = (padded - tile) // divisor
    gaps = -(-(padded - tile) // stride)
    return [divisor * (k * units // gaps) for k in range(gaps + 1)]


def _raw_profile(starts: list[int], k: int, tile: int, halo: int, blending: str) -> np.ndarray:
    """Unnormalised 1D weight of tile ``k``: zero on interior context, ramp/Gaussian inside."""
    pos = np.arange(tile, dtype=np.float64)
    lo = 0 if k == 0 else halo
    hi = tile if k == len(starts) - 1 else tile - halo
    if blending == "none":
        # Ownership: cut each overlap band in its middle (>= halo away from both edges).
        if k > 0:
            lo = (starts[k] - starts[k - 1] + tile) // 2 - (starts[k] - starts[k - 1])
        if k < len(starts) - 1:
            hi = (starts[k + 1] - starts[k] + tile) // 2
        return ((pos >= lo) & (pos < hi)).astype(np.float64)
    valid = (pos >= lo) & (pos < hi)
    if blending == "gaussian":
        sigma = tile / 8.0
        weight = np.exp(-0.5 * ((pos - (tile - 1) / 2.0) / sigma) ** 2)
        return np.where(valid, np.maximum(weight, 1e-6), 0.0)
    weight = np.ones(tile)
    if k > 0:  # ramp up across the valid part of the band shared with the previous tile
        width = max(tile - (starts[k] - starts[k - 1]) - 2 * halo, 1)
        weight = np.minimum(weight, np.clip((pos - lo + 0.5) / width, 0.0, 1.0))
    if k < len(starts) - 1:
        width = max(tile - (starts[k + 1] - starts[k]) - 2 * halo, 1)
        weight = np.minimum(weight, np.clip((hi - pos - 0.5) / width, 0.0, 1.0))
    return np.where(valid, weight, 0.0)


def plan_axis(size: int, tile: int, halo: int, divisor: int, blending: str) -> AxisPlan:
    """Tile one axis (see :func:`plan_tiles`)."""
    padded = round_up(size, divisor)
    tile = min(tile, padded)
    if tile < padded and tile - 2 * halo < divisor:
        raise ValueError(
            f"tile size {tile} is too small for overlap {halo}: tiles need at least "
            f"2 * overlap + divisor = {2 * halo + divisor} pixels; use a larger tile_shape or "
            "a smaller overlap"
        )
    starts = _starts(padded, tile, _stride(tile, halo, divisor, blending), divisor)
    raw = [_raw_profile(starts, k, tile, halo, blending) for k in range(len(starts))]
    total = np.zeros(padded)
    for s, w in zip(starts, raw):
        total[s : s + tile] += w
    if np.any(total[:size] <= 0):  # pragma: no cover - guaranteed by construction
        raise RuntimeError("internal error: tiles leave pixels uncovered")
    weights, support, keep = [], [], []
    for s, w in zip(starts, raw):
        norm = np.divide(w, total[s : s + tile], out=np.zeros(tile), where=w > 0)
        nz = np.flatnonzero(norm[: max(size - s, 0)])
        if nz.size:  # tiles that only cover padding are dropped
            keep.append(s)
            weights.append(norm)
            support.append((s + int(nz[0]), s + int(nz[-1]) + 1))
    return AxisPlan(size, padded, tile, tuple(keep), tuple(weights), tuple(support))


def plan_tiles(
    shape: Sequence[int],
    tile_shape: Sequence[int],
    overlap: Sequence[int],
    divisor: Sequence[int],
    blending: str = "gaussian",
) -> TilePlan:
    """Plan the tiles of a tiled prediction.

    Parameters
    ----------
    shape : sequence of int
        Spatial image shape.
    tile_shape : sequence of int
        Tile shape, multiples of ``divisor`` (clipped to the padded image).
    overlap : sequence of int
        Context per side at interior tile edges (weight 0 there).
    divisor : sequence of int
        Model divisor per axis.
    blending : {"gaussian", "linear", "none"}
        Weighting of overlapping tiles.

    Returns
    -------
    TilePlan

    Examples
    --------
    >>> plan = plan_tiles((100,), (48,), (8,), (16,), blending="none")
    >>> plan.axes[0].starts, plan.axes[0].support
    ((0, 32, 64), ((0, 40), (40, 72), (72, 100)))

    """
    axes = tuple(
        plan_axis(int(n), int(t), int(h), int(d), blending)
        for n, t, h, d in zip(shape, tile_shape, overlap, divisor)
    )
    return TilePlan(axes, blending)


def reflect_index(index: np.ndarray, size: int) -> np.ndarray:
    """Map indices beyond ``[0, size)`` like ``numpy.pad(mode="reflect")``."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    m = np.mod(index, period)
    return np.where(m < size, m, period - m)


def read_tile(image: Any, start: Sequence[int], tile_shape: Sequence[int]) -> np.ndarray:
    """Read one tile ``(C, *tile_shape)`` of the reflect-padded image as float32.

    Only the box of the image the tile needs is read, so NumPy, Dask, Zarr and HDF5
    arrays are never loaded whole.
    """
    spatial = image.shape[1:]
    index = [reflect_index(np.arange(s, s + t), n) for s, t, n in zip(start, tile_shape, spatial)]
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in index)
    arr = np.asarray(image[(slice(None), *box)], dtype=np.float32)
    for axis, (i, b) in enumerate(zip(index, box), start=1):
        local = i - b.start
        if local.size != arr.shape[axis] or np.any(local != np.arange(local.size)):
            arr = np.take(arr, local, axis=axis)
    return np.ascontiguousarray(arr)
