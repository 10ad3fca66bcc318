"""Local-window and Weka-style filters: statistics, entropy, Gabor, membranes, neighbours.

Windows are boxes of half-width ``int(sigma / spacing + 0.5)`` pixels per axis
(Weka uses discs; a box keeps min / max / mean separable and fast).  The
boundary is scipy's "reflect" everywhere, like the Gaussian filters, so
block-wise results equal whole-image results with the declared halo.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
from numba import prange
from scipy import ndimage as ndi

from biakit.features._gauss import reflect_index
from biakit.features._jit import njit_cached
from biakit.features._spec import FilterSpec


def half_width(sigma: float, spacing: tuple[float, ...]) -> tuple[int, ...]:
    """Window half-width in pixels per axis for a physical radius ``sigma``."""
    return tuple(int(sigma / sp + 0.5) for sp in spacing)


def local_stat(img: np.ndarray, name: str, w: tuple[int, ...]) -> np.ndarray:
    """Box-window mean / variance / min / max / median of float32 ``img`` (reflect boundary)."""
    size = tuple(2 * k + 1 for k in w)
    if name in ("mean", "variance"):
        x = img.astype(np.float64)
        mean = ndi.uniform_filter(x, size, mode="reflect")
        if name == "mean":
            return mean.astype(np.float32)
        sq = ndi.uniform_filter(x * x, size, mode="reflect")
        return np.maximum(sq - mean * mean, 0.0).astype(np.float32)
    func = {"min": ndi.minimum_filter, "max": ndi.maximum_filter, "median": ndi.median_filter}
    return func[name](img, size=size, mode="reflect").astype(np.float32, copy=False)


@njit_cached(parallel=True, error_model="numpy")
def _entropy3(padded, lo, hi, w, bins, out):  # pragma: no cover - numba
    nz, ny, nx = out.shape
    wz, wy, wx = w[0], w[1], w[2]
    for z in prange(nz):
        hist = np.zeros(bins, dtype=np.int64)
        for y in range(ny):
            for x in range(nx):
                a, b = lo[z, y, x], hi[z, y, x]
                if b <= a:
                    out[z, y, x] = 0.0
                    continue
                hist[:] = 0
                scale = bins / (b - a)
                for dz in range(2 * wz + 1):
                    for dy in range(2 * wy + 1):
                        for dx in range(2 * wx + 1):
                            k = int((padded[z + dz, y + dy, x + dx] - a) * scale)
                            hist[min(k, bins - 1)] += 1
                n = (2 * wz + 1) * (2 * wy + 1) * (2 * wx + 1)
                e = 0.0
                for k in range(bins):
                    if hist[k] > 0:
                        p = hist[k] / n
                        e -= p * np.log2(p)
                out[z, y, x] = e


def entropy(img: np.ndarray, w: tuple[int, ...], bins: int) -> np.ndarray:
    """Shannon entropy (bits) of the histogram of each box window, ``bins`` bins over its range."""
    size = tuple(2 * k + 1 for k in w)
    lo = ndi.minimum_filter(img, size=size, mode="reflect")
    hi = ndi.maximum_filter(img, size=size, mode="reflect")
    padded = np.pad(img, [(k, k) for k in w], mode="symmetric")
    out = np.empty(img.shape, dtype=np.float32)
    if img.ndim == 2:
        _entropy3(padded[None], lo[None], hi[None], np.array([0, *w]), int(bins), out[None])
    else:
        _entropy3(padded, lo, hi, np.array(w), int(bins), out)
    return out


def gabor_kernel(
    sigma: float, theta: float, spacing: tuple[float, ...], truncate: float
) -> np.ndarray:
    """Return a complex Gabor kernel: envelope ``sigma``, wavelength ``2 sigma``, angle theta."""
    rad = [int(truncate * sigma / sp + 0.5) for sp in spacing]
    y, x = np.meshgrid(
        np.arange(-rad[0], rad[0] + 1) * spacing[0],
        np.arange(-rad[1], rad[1] + 1) * spacing[1],
        indexing="ij",
    )
    xr = x * np.cos(theta) + y * np.sin(theta)
    env = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    env /= env.sum()
    return env * np.exp(1j * 2 * np.pi * xr / (2 * sigma))


def membrane_taps(patch: int, thickness: int, n_angles: int) -> list[np.ndarray]:
    """Weka's membrane kernels: a centred line of ``thickness`` in a ``patch`` square, rotated."""
    from skimage.transform import rotate

    base = np.zeros((patch, patch))
    c = patch // 2
    base[:, c - thickness // 2 : c - thickness // 2 + thickness] = 1.0
    return [
        rotate(base, 180.0 * k / n_angles, order=1, preserve_range=True) for k in range(n_angles)
    ]


@njit_cached(parallel=True, error_model="numpy")
def _membrane(padded, taps_dy, taps_dx, taps_w, starts, out):  # pragma: no cover - numba
    ny, nx, _ = out.shape
    n_ang = starts.size - 1
    for y in prange(ny):
        v = np.empty(n_ang, dtype=np.float64)
        for x in range(nx):
            for a in range(n_ang):
                acc = 0.0
                for t in range(starts[a], starts[a + 1]):
                    acc += taps_w[t] * padded[y + taps_dy[t], x + taps_dx[t]]
                v[a] = acc
            s = v.sum()
            mean = s / n_ang
            out[y, x, 0] = s
            out[y, x, 1] = mean
            out[y, x, 2] = np.sqrt(max((v * v).sum() / n_ang - mean * mean, 0.0))
            out[y, x, 3] = np.median(v)
            out[y, x, 4] = v.max()
            out[y, x, 5] = v.min()


def membrane(img: np.ndarray, patch: int, thickness: int, n_angles: int) -> np.ndarray:
    """Project the rotated-line responses: sum, mean, std, median, max, min (features last)."""
    kernels = membrane_taps(patch, thickness, n_angles)
    dy, dx, ww, starts = [], [], [], [0]
    for k in kernels:
        iy, ix = np.nonzero(np.abs(k) > 1e-6)
        dy.append(iy)
        dx.append(ix)
        ww.append(k[iy, ix])
        starts.append(starts[-1] + iy.size)
    h = patch // 2
    padded = np.pad(img, h, mode="symmetric").astype(np.float64)
    out = np.empty((*img.shape, 6), dtype=np.float32)
    _membrane(
        padded,
        np.concatenate(dy).astype(np.int64),
        np.concatenate(dx).astype(np.int64),
        np.concatenate(ww),
        np.array(starts, dtype=np.int64),
        out,
    )
    return out


def neighbour_offsets(ndim: int) -> list[tuple[int, ...]]:
    """Return the ``3**ndim - 1`` unit neighbour offsets in ``itertools.product`` order."""
    return [d for d in itertools.product((-1, 0, 1), repeat=ndim) if any(d)]


def neighbours(img: np.ndarray, w: tuple[int, ...]) -> Iterator[np.ndarray]:
    """Yield the image shifted by ``d * w`` for each neighbour direction ``d`` (reflect)."""
    for d in neighbour_offsets(img.ndim):
        shifted = img
        for ax, (step, k) in enumerate(zip(d, w)):
            if step and k:
                n = img.shape[ax]
                idx = reflect_index(n, k)[k + step * k : k + step * k + n]
                shifted = np.take(shifted, idx, axis=ax)
        yield np.ascontiguousarray(shifted, dtype=np.float32)


def gabor(
    img: np.ndarray, f: FilterSpec, spacing: tuple[float, ...], truncate: float
) -> Iterator[np.ndarray]:
    """Yield Gabor magnitudes per sigma and orientation (2-D only)."""
    m = int(f.params["n_orientations"])
    for s in f.sigmas:
        for k in range(m):
            kern = gabor_kernel(s, np.pi * k / m, spacing, min(truncate, 3.0))
            re = ndi.correlate(img, kern.real.astype(np.float32), mode="reflect")
            im = ndi.correlate(img, kern.imag.astype(np.float32), mode="reflect")
            yield np.hypot(re, im)
