"""Whole-image statistics from chunk-wise passes, equal to the in-memory values.

A *producer* gives the pixels of one block (a :class:`LazySource` region, or the
result of per-pixel steps on it); each pass runs one small task per block and
sums the partial results on the client. Nothing holds the whole image.

* minimum / maximum: one pass, exact.
* histogram on fixed bins: one pass, exact (NumPy's uniform-bin rule is applied
  pixel by pixel), hence Otsu's and Yen's thresholds equal scikit-image's on the
  whole image (256 bins between its min and max for floats; per value for integers).
* order statistics (percentiles): radix selection on the bit patterns, 16 bits per
  pass (1 pass for 8/16-bit pixels, 2 for float32, 4 for float64): the exact
  k-th smallest values, then NumPy's ``linear`` interpolation between them.
* mean: one pass, summed in float64 (NumPy sums float32 images in float32, so
  ``threshold="mean"`` may differ from the in-memory threshold by float32 rounding).
* triangle: from the exact histogram (scikit-image's algorithm, same bins).
* Li's threshold is not offered block-wise: scikit-image's stopping tolerance is half
  the smallest gap between distinct intensities, which needs every value at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from biakit.errors import ParameterError

from ._engine import plan_blocks, run_blocks

STAT_METHODS = ("otsu", "yen", "triangle", "mean")


@dataclass(frozen=True)
class _Pass:
    """Task: one statistic of one block's pixels (from ``producer(block)``)."""

    producer: Callable[[Any], np.ndarray]
    op: str
    args: tuple[Any, ...] = ()

    def __call__(self, block: Any) -> Any:
        values = np.asarray(self.producer(block)).ravel()
        if values.dtype == bool:
            values = values.astype(np.uint8)
        if self.op == "minmax":
            if values.size == 0:
                return None
            return values.min(), values.max()
        if self.op == "hist":
            lo, hi, nbins = self.args
            return np.histogram(values, bins=nbins, range=(lo, hi))[0]
        if self.op == "bincount":
            (lo,) = self.args
            return np.bincount((values.astype(np.int64) - lo).ravel())
        if self.op == "sums":
            return float(values.sum(dtype=np.float64)), values.size
        if self.op == "digits":
            shift, prefixes = self.args
            keys = sortable_keys(values)
            digit = ((keys >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int64)
            above = keys >> np.uint64(shift + 16)
            return [np.bincount(digit[above == p], minlength=1 << 16) for p in prefixes]
        raise ValueError(f"unknown statistic {self.op!r}")  # pragma: no cover


def sortable_keys(values: np.ndarray) -> np.ndarray:
    """Unsigned 64-bit keys whose order is the order of ``values`` (ints and floats).

    Examples
    --------
    >>> v = np.array([-2.5, -0.0, 0.0, 1.0, -np.inf], np.float32)
    >>> np.argsort(sortable_keys(v), kind="stable").tolist()
    [4, 0, 1, 2, 3]
    """
    v = np.asarray(values)
    if v.dtype.kind == "f":
        bits = v.dtype.itemsize * 8
        u = v.view(f"u{v.dtype.itemsize}").astype(np.uint64)
        sign = np.uint64(1) << np.uint64(bits - 1)
        full = np.uint64((1 << bits) - 1) if bits < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
        return np.where(u & sign, ~u & full, u | sign)
    if v.dtype.kind == "i":
        bits = v.dtype.itemsize * 8
        return (v.astype(np.int64) + (1 << (bits - 1))).astype(np.uint64)
    return v.astype(np.uint64)


def _from_key(key: int, dtype: np.dtype) -> Any:
    dtype = np.dtype(dtype)
    bits = dtype.itemsize * 8
    if dtype.kind == "f":
        sign = 1 << (bits - 1)
        raw = key ^ sign if key & sign else (~key) & ((1 << bits) - 1)
        return np.array(raw, dtype=f"u{dtype.itemsize}").view(dtype)[()]
    if dtype.kind == "i":
        return dtype.type(key - (1 << (bits - 1)))
    return dtype.type(key)


def _run(client: Any, producer: Any, blocks: list, op: str, *args: Any) -> list[Any]:
    return run_blocks(client, _Pass(producer, op, args), blocks, stage=f"statistics {op}")


def order_statistics(
    client: Any, producer: Any, blocks: list, ranks: Sequence[int], dtype: Any
) -> list[Any]:
    """Return the exact ``ranks``-th smallest values (0-based) of all blocks' pixels."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        dtype = np.dtype(np.uint8)
    bits = 16 if dtype.itemsize <= 2 else dtype.itemsize * 8
    prefixes = [0] * len(ranks)
    residual = [int(r) for r in ranks]
    for shift in range(bits - 16, -1, -16):
        unique = sorted(set(prefixes))
        parts = _run(client, producer, blocks, "digits", shift, tuple(unique))
        hists = {p: sum(part[j] for part in parts) for j, p in enumerate(unique)}
        for i, p in enumerate(prefixes):
            cum = np.cumsum(hists[p])
            digit = int(np.searchsorted(cum, residual[i], side="right"))
            residual[i] -= int(cum[digit - 1]) if digit else 0
            prefixes[i] = (p << 16) | digit
    return [_from_key(p, dtype) for p in prefixes]


def exact_percentile(
    client: Any, producer: Any, blocks: list, q: Sequence[float], dtype: Any, size: int,
    *, scalar: bool = False,
) -> list[float]:  # fmt: skip
    """``numpy.percentile(image, q)`` (linear) of the whole image, from chunk-wise passes.

    ``scalar=True`` gives what ``numpy.percentile(image, q_i)`` returns for each single
    Python float (computed in the image's float type), else what a list of
    percentiles gives (float64).
    """
    index = [(float(p) / 100) * (size - 1) for p in q]
    ranks = sorted({int(np.floor(i)) for i in index} | {int(np.ceil(i)) for i in index})
    values = dict(zip(ranks, order_statistics(client, producer, blocks, ranks, dtype)))
    out = []
    for i in index:
        lo, hi = int(np.floor(i)), int(np.ceil(i))
        pair = np.array([values[lo], values[hi]], dtype=np.dtype(dtype))
        gamma = i - lo  # numpy's weight: one Python float (scalar) or a float64 array
        value = np.quantile(pair, gamma) if scalar else np.quantile(pair, [gamma])[0]
        out.append(float(value))
    return out


def global_threshold(client: Any, producer: Any, blocks: list, method: str, dtype: Any) -> float:
    """Whole-image threshold (``biakit.segment.threshold_value``) from chunk-wise passes."""
    from skimage import filters

    if method not in STAT_METHODS:
        raise ParameterError(
            f"method: block-wise thresholds are {', '.join(STAT_METHODS)} (or manual), "
            f"got {method!r}"
        )
    lo, hi = _minmax(client, producer, blocks)
    if lo == hi:
        return float(lo)
    if method == "mean":
        parts = _run(client, producer, blocks, "sums")
        return float(sum(p[0] for p in parts) / sum(p[1] for p in parts))
    counts, centers = _skimage_histogram(client, producer, blocks, lo, hi, np.dtype(dtype))
    if method == "otsu":
        return float(filters.threshold_otsu(hist=(counts, centers)))
    if method == "yen":
        return float(filters.threshold_yen(hist=(counts, centers)))
    return _triangle(counts, centers)


def _minmax(client: Any, producer: Any, blocks: list) -> tuple[Any, Any]:
    parts = [p for p in _run(client, producer, blocks, "minmax") if p is not None]
    return min(p[0] for p in parts), max(p[1] for p in parts)


def _skimage_histogram(
    client: Any, producer: Any, blocks: list, lo: Any, hi: Any, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """``skimage.exposure.histogram(image, 256, source_range="image")`` of the whole image."""
    if dtype.kind in "iub":
        parts = _run(client, producer, blocks, "bincount", int(lo))
        size = int(hi) - int(lo) + 1
        counts = sum(np.pad(p, (0, size - p.size)) for p in parts)
        return counts, np.arange(int(lo), int(hi) + 1)
    parts = _run(client, producer, blocks, "hist", lo, hi, 256)
    edges = np.histogram_bin_edges(np.array([lo, hi], dtype=dtype), bins=256, range=(lo, hi))
    return sum(parts), (edges[:-1] + edges[1:]) / 2.0


def _triangle(counts: np.ndarray, centers: np.ndarray) -> float:
    """scikit-image's triangle threshold from a histogram (its algorithm, unchanged)."""
    nbins = len(counts)
    arg_peak_height = int(np.argmax(counts))
    peak_height = counts[arg_peak_height]
    arg_low_level, arg_high_level = np.flatnonzero(counts)[[0, -1]]
    if arg_low_level == arg_high_level:
        return float(centers[arg_low_level])
    flip = arg_peak_height - arg_low_level < arg_high_level - arg_peak_height
    if flip:
        counts = counts[::-1]
        arg_low_level = nbins - arg_high_level - 1
        arg_peak_height = nbins - arg_peak_height - 1
    del arg_high_level
    width = arg_peak_height - arg_low_level
    x1 = np.arange(width)
    y1 = counts[x1 + arg_low_level]
    norm = np.sqrt(peak_height**2 + width**2)
    peak_height = peak_height / norm
    width = width / norm
    length = peak_height * x1 - width * y1
    arg_level = int(np.argmax(length)) + arg_low_level
    if flip:
        arg_level = nbins - arg_level - 1
    return float(centers[arg_level])


def global_statistics(
    source: Any,
    *,
    client: Any = "threads",
    block_shape: int | Sequence[int] = 256,
    percentiles: Sequence[float] = (),
    threshold: str | None = None,
) -> dict[str, Any]:
    """Min, max, exact percentiles and a global threshold of an image, chunk-wise.

    Parameters
    ----------
    source : path, array or LazySource
        The image (see :func:`open_source`); statistics over all its pixels.
    client : see :func:`get_client`
        Where the passes run.
    block_shape : int or sequence of int
        Block shape of the passes.
    percentiles : sequence of float
        Percentiles in [0, 100] (``numpy.percentile``'s ``linear`` method, exact).
    threshold : str, optional
        ``"otsu"``, ``"yen"``, ``"triangle"`` or ``"mean"``.

    Returns
    -------
    dict
        ``min``, ``max``, ``percentiles`` (list) and ``threshold`` (when asked).

    Examples
    --------
    >>> image = np.random.default_rng(0).random((50, 60)).astype(np.float32)
    >>> stats = global_statistics(image, block_shape=16, percentiles=[1, 99.8])
    >>> np.allclose(stats["percentiles"], np.percentile(image, [1, 99.8]), rtol=0, atol=0)
    True
    """
    from ._client import BlockClient, get_client
    from ._engine import check_block_shape
    from ._source import open_source

    src = open_source(source)
    shape = tuple(src.shape)
    blocks = plan_blocks(shape, check_block_shape(block_shape, len(shape)), (0,) * len(shape))
    producer = _Reader(src)
    with get_client(client) if not isinstance(client, BlockClient) else nullcontext(client) as bc:
        lo, hi = _minmax(bc, producer, blocks)
        out: dict[str, Any] = {"min": float(lo), "max": float(hi)}
        if percentiles:
            size = int(np.prod(shape))
            q = list(percentiles)
            out["percentiles"] = exact_percentile(bc, producer, blocks, q, src.dtype, size)
        if threshold is not None:
            out["threshold"] = global_threshold(bc, producer, blocks, threshold, src.dtype)
    return out


@dataclass(frozen=True)
class _Reader:
    source: Any

    def __call__(self, block: Any) -> np.ndarray:
        return self.source.read(block.write)
