"""Is the noise pixel-wise independent? Neighbour correlations of the noise, axis by axis.

Noise2Void restores pixel-wise independent noise; noise correlated along one axis
(line-scan stripes, sCMOS column / row patterns, resampled or compressed images) is
predicted from the neighbours and kept. :func:`noise_structure` measures it before a
network is trained, so a user can switch to structN2V with the right axis and line.

Estimator: the second difference *across* an axis (``x[i-1] - 2 x[i] + x[i+1]`` along
another one) removes smooth structure but keeps the noise's correlation *along* the
axis unchanged (a linear filter along one axis commutes with shifts along another).
Its neighbour correlation at lag ``k`` along the axis is the noise's own at lag ``k``:
0 for white noise of any distribution, ``(L - k) / L`` for white noise averaged over
``L`` pixels along the axis. Edges and texture add to it on every axis; they are kept
out by pooling the products over blocks and using only the quieter half of the blocks
(the least second-difference energy), where noise dominates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BLOCK = 32  # pixels per side of the blocks over which products are pooled
MAX_LAG = 8  # longest lag measured (the longest line structN2V would mask: 2 * 8 + 1)
STRUCTURED = 0.45  # lag-1 correlation along one axis above which noise is called structured
WHITE = 0.15  # ... while every other axis stays below this (structure shows on all axes)
LINE = 0.1  # lags with a correlation above this belong to the masked line


@dataclass(frozen=True)
class NoiseStructure:
    """Neighbour correlations of the noise along each spatial axis.

    Attributes
    ----------
    correlation : tuple of float
        Lag-1 correlation per spatial axis (0 for pixel-wise independent noise).
    lags : tuple of tuple of float
        Correlation at lags 1 .. ``MAX_LAG`` per axis.
    axis : int or None
        The axis the noise is correlated along (negative: -1 is X, -2 Y, -3 Z), when
        its lag-1 correlation is >= ``STRUCTURED`` and every other axis' < ``WHITE``.
    line : int
        Odd length of structN2V's masked line that covers the correlated pixels:
        ``2 k + 1`` where lags ``1 .. k`` all have a correlation > ``LINE`` (1 if none).
    """

    correlation: tuple[float, ...]
    lags: tuple[tuple[float, ...], ...]
    axis: int | None
    line: int


def noise_structure(image: Any, *, block: int = BLOCK) -> NoiseStructure:
    """Measure how the noise of a single-channel 2D / 3D image correlates along each axis.

    Parameters
    ----------
    image : array_like
        ``(Y, X)`` or ``(Z, Y, X)``, any intensity range and dtype; at least 8 pixels
        per axis.
    block : int
        Side of the blocks whose products are pooled (the quieter half is used).

    Returns
    -------
    NoiseStructure

    Examples
    --------
    >>> from scipy import ndimage as ndi
    >>> rng = np.random.default_rng(0)
    >>> white = rng.normal(size=(256, 256))
    >>> noise_structure(white).axis is None
    True
    >>> stripes = ndi.uniform_filter1d(white, 5, axis=-1)  # averaged over 5 pixels in X
    >>> s = noise_structure(stripes)
    >>> s.axis, s.line, round(s.correlation[-1], 1)  # (5 - 1) / 5; lags 1..4 correlated
    (-1, 9, 0.8)
    """
    x = np.asarray(image, dtype=np.float64)
    if x.ndim not in (2, 3) or min(x.shape) < 8:
        raise ValueError(f"expected a 2D or 3D image with >= 8 pixels per axis, got {x.shape}")
    ndim = x.ndim
    lags = []
    for axis in range(ndim):
        across = ndim - 1 if axis != ndim - 1 else ndim - 2  # X, or Y for the X axis
        d = np.diff(x, 2, axis=across)
        n = min(MAX_LAG, d.shape[axis] - 1)
        lags.append(tuple(_pooled_correlation(d, axis, k, block) for k in range(1, n + 1)))
    return _classified(tuple(lags))


def pooled_noise_structure(structures: Sequence[NoiseStructure]) -> NoiseStructure:
    """One :class:`NoiseStructure` of several images: the median correlation per axis and lag.

    Examples
    --------
    >>> one = NoiseStructure((0.0, 0.8), ((0.0,), (0.8,)), -1, 3)
    >>> pooled_noise_structure([one, one, NoiseStructure((0.0, 0.1), ((0.0,), (0.1,)), None, 1)])
    NoiseStructure(correlation=(0.0, 0.8), lags=((0.0,), (0.8,)), axis=-1, line=3)
    """
    if not structures:
        raise ValueError("no noise structures to pool")
    ndim = len(structures[0].lags)
    lags = []
    for a in range(ndim):
        n = min(len(s.lags[a]) for s in structures)
        stack = np.array([s.lags[a][:n] for s in structures])
        lags.append(tuple(float(v) for v in np.median(stack, axis=0)))
    return _classified(tuple(lags))


def _classified(lags: tuple[tuple[float, ...], ...]) -> NoiseStructure:
    """Classify per-axis lag correlations (see :class:`NoiseStructure`)."""
    ndim = len(lags)
    first = tuple(lag[0] for lag in lags)
    axis = None
    for a, c in enumerate(first):
        if c >= STRUCTURED and all(o < WHITE for b, o in enumerate(first) if b != a):
            axis = a - ndim
    line = 1
    if axis is not None:  # the lags from 1 up to the first one not correlated
        longest = next((k for k, c in enumerate(lags[axis]) if c <= LINE), len(lags[axis]))
        line = 2 * longest + 1
    return NoiseStructure(first, lags, axis, line)


def _pooled_correlation(d: np.ndarray, axis: int, lag: int, block: int) -> float:
    """Correlation of ``d`` with itself shifted by ``lag`` along ``axis``, quiet blocks only."""
    a = np.moveaxis(d, axis, -1)
    first, second = a[..., :-lag], a[..., lag:]
    products, squares = first * second, 0.5 * (first**2 + second**2)
    sums = [_block_sums(v, block) for v in (products, squares)]
    p, q = sums[0].ravel(), sums[1].ravel()
    live = q > 1e-12 * q.max() if q.size and q.max() > 0 else np.zeros(q.shape, bool)
    if not live.any():
        return 0.0
    p, q = p[live], q[live]
    quiet = q <= np.median(q)
    return float(p[quiet].sum() / q[quiet].sum())


def _block_sums(values: np.ndarray, block: int) -> np.ndarray:
    """Sum over ``block``-sided blocks (the remainder at each axis' end is dropped)."""
    shape = [max(n // block, 1) for n in values.shape]
    sizes = [min(block, n) for n in values.shape]
    cut = values[tuple(slice(0, s * b) for s, b in zip(shape, sizes))]
    split = [v for s, b in zip(shape, sizes) for v in (s, b)]
    return cut.reshape(split).sum(axis=tuple(range(1, 2 * values.ndim, 2)))
