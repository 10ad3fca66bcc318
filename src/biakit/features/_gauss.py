"""Separable 1-D correlations (Gaussian and Gaussian derivatives) with numba.

scipy.ndimage filters a non-contiguous axis line by line through a gather
buffer; here every pass keeps the innermost loop on contiguous memory (SIMD)
and runs in parallel over blocks of lines.  Kernels follow
``scipy.ndimage.gaussian_filter`` exactly (radius ``int(truncate * sigma + 0.5)``,
normalised sampled Gaussian, derivative kernels from the same polynomial
recursion) and the boundary is scipy's ``mode="reflect"`` (half-sample
symmetric, repeated when the kernel is longer than the axis), so results equal
scipy's within float32 rounding.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from biakit.features._jit import njit_cached

_CHUNK = 512


def gaussian_kernel1d(sigma: float, order: int, truncate: float) -> np.ndarray:
    """Return scipy's sampled Gaussian (derivative) kernel as float64, centre in the middle."""
    radius = int(truncate * float(sigma) + 0.5)
    if sigma <= 0 or radius == 0:
        k = np.zeros(1)
        k[0] = 1.0 if order == 0 else 0.0
        return k
    x = np.arange(-radius, radius + 1, dtype=float)
    sigma2 = sigma * sigma
    phi = np.exp(-0.5 / sigma2 * x**2)
    phi /= phi.sum()
    if order == 0:
        return phi
    exponent_range = np.arange(order + 1)
    q = np.zeros(order + 1)
    q[0] = 1
    d = np.diag(exponent_range[1:], 1)
    p = np.diag(np.ones(order) / -sigma2, -1)
    qd = d + p
    for _ in range(order):
        q = qd.dot(q)
    return (x[:, None] ** exponent_range).dot(q) * phi


def reflect_index(n: int, radius: int) -> np.ndarray:
    """Map indices ``-radius .. n - 1 + radius`` into ``0..n-1`` by scipy's "reflect" rule."""
    i = np.arange(-radius, n + radius)
    i = np.mod(i, 2 * n)
    return np.where(i >= n, 2 * n - 1 - i, i).astype(np.int64)


@njit_cached(fastmath=True, error_model="numpy")
def _accumulate(acc, s_plus, s_minus, wk, parity):  # pragma: no cover - numba
    """``acc += wk * (s_plus + parity * s_minus)`` on contiguous 1-D arrays (vectorised)."""
    if parity > 0:
        for j in range(acc.size):
            acc[j] += wk * (s_plus[j] + s_minus[j])
    else:
        for j in range(acc.size):
            acc[j] += wk * (s_plus[j] - s_minus[j])


@njit_cached(parallel=True, fastmath=True, error_model="numpy")
def _corr_mid(src, dst, w, idx, radius, parity):  # pragma: no cover - numba
    """Correlate ``src`` (A, L, B) along L into ``dst``; B is contiguous.

    ``w`` holds taps 0..radius of a symmetric (parity 1) or antisymmetric
    (parity -1) kernel, applied as scipy does (``w[k]`` multiplies ``src[l - k]``).
    """
    n_a, n_l, n_b = src.shape
    n_chunks = (n_b + _CHUNK - 1) // _CHUNK
    for t in prange(n_a * n_chunks):
        a = t // n_chunks
        b0 = (t % n_chunks) * _CHUNK
        b1 = min(b0 + _CHUNK, n_b)
        acc = np.empty(b1 - b0, dtype=np.float32)
        for ll in range(n_l):
            row = src[a, ll, b0:b1]
            w0 = w[0]
            for j in range(b1 - b0):
                acc[j] = w0 * row[j]
            for k in range(1, radius + 1):
                _accumulate(
                    acc,
                    src[a, idx[ll - k + radius], b0:b1],
                    src[a, idx[ll + k + radius], b0:b1],
                    w[k],
                    parity,
                )
            dst[a, ll, b0:b1] = acc


@njit_cached(parallel=True, fastmath=True, error_model="numpy")
def _corr_last(src, dst, w, idx, radius, parity, out_idx):  # pragma: no cover - numba
    """Correlate the rows of ``src`` (R, L) along L (the contiguous axis) into ``dst``.

    ``dst`` is (R, M): ``dst[r, q] = result[r, out_idx[q]]`` (reflect padding of the output).
    """
    n_r, n_l = src.shape
    rows = 8
    n_chunks = (n_r + rows - 1) // rows
    for t in prange(n_chunks):
        buf = np.empty(n_l + 2 * radius, dtype=np.float32)
        acc = np.empty(n_l, dtype=np.float32)
        for r in range(t * rows, min((t + 1) * rows, n_r)):
            for j in range(n_l + 2 * radius):
                buf[j] = src[r, idx[j]]
            w0 = w[0]
            for x in range(n_l):
                acc[x] = w0 * buf[x + radius]
            for k in range(1, radius + 1):
                _accumulate(
                    acc,
                    buf[radius - k : radius - k + n_l],
                    buf[radius + k : radius + k + n_l],
                    w[k],
                    parity,
                )
            for q in range(out_idx.size):
                dst[r, q] = acc[out_idx[q]]


def correlate_axis(
    src: np.ndarray,
    dst: np.ndarray,
    axis: int,
    sigma: float,
    order: int,
    truncate: float,
    pad: int = 0,
) -> None:
    """Correlate C-contiguous float32 ``src`` along ``axis`` with a Gaussian (derivative).

    The result goes to ``dst``.  ``src`` and ``dst`` are distinct C-contiguous
    float32 arrays of equal shape, except that with ``pad > 0`` (last axis only)
    ``dst`` is longer by ``2 * pad`` along the last axis and receives the result
    reflect-padded.
    """
    kernel = gaussian_kernel1d(sigma, order, truncate)
    radius = (kernel.size - 1) // 2
    # scipy correlates with the reversed kernel: tap k multiplies src[l - k]
    half = kernel[radius:].astype(np.float32)
    parity = 1 if order % 2 == 0 else -1
    shape = src.shape
    n_l = shape[axis]
    idx = reflect_index(n_l, radius)
    if axis == src.ndim - 1:
        out_idx = reflect_index(n_l, pad)
        _corr_last(
            src.reshape(-1, n_l), dst.reshape(-1, n_l + 2 * pad), half, idx, radius, parity, out_idx
        )
    else:
        n_a = int(np.prod(shape[:axis], dtype=np.int64))
        n_b = int(np.prod(shape[axis + 1 :], dtype=np.int64))
        _corr_mid(src.reshape(n_a, n_l, n_b), dst.reshape(n_a, n_l, n_b), half, idx, radius, parity)


def gaussian_nd(
    image: np.ndarray,
    sigma_px: tuple[float, ...],
    orders: tuple[int, ...],
    truncate: float,
    out: np.ndarray,
    scratch: list[np.ndarray],
    pad: int = 0,
) -> np.ndarray:
    """Separable Gaussian (derivative) of float32 ``image`` into ``out``.

    One pass per axis, last axis last.  ``scratch`` holds one (2-D) or two
    (3-D) C-contiguous float32 buffers of the image's shape, distinct from
    ``image`` and ``out``; ``image`` is left unchanged.  With ``pad > 0``,
    ``out`` is longer by ``2 * pad`` along the last axis and is reflect-padded
    there (so stencils need no boundary tests).  Returns ``out``.
    """
    src = image
    last = image.ndim - 1
    for ax in range(image.ndim):
        dst = out if ax == last else scratch[ax % 2]
        correlate_axis(src, dst, ax, sigma_px[ax], orders[ax], truncate, pad if ax == last else 0)
        src = dst
    return out
