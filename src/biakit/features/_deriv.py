"""Fused finite-difference features of a smoothed image (numba).

Given ``G``, the image smoothed at one scale and reflect-padded by 2 pixels
along the last axis (see ``gaussian_nd(pad=2)``), one parallel pass computes and
writes straight into the caller's feature array (features last) any of: the
smoothed value, the gradient magnitude, skimage's Sobel magnitude, the
Laplacian and the Hessian eigenvalues (closed form).  No Hessian component
array is ever allocated.

Stencils (``h`` = pixel spacing of the axis, boundary = scipy "reflect"):

- first derivative: ``(G[i+1] - G[i-1]) / (2 h)``;
- mixed second derivative: central difference of central differences,
  ``(G[+1,+1] - G[+1,-1] - G[-1,+1] + G[-1,-1]) / (4 h_a h_b)``;
- pure second derivative: ``"finite"`` uses the compact ``(G[i+1] - 2 G[i] + G[i-1]) / h^2``;
  ``"gradient"`` uses ``np.gradient`` applied twice, ``(G[i+2] - 2 G[i] + G[i-2]) / (4 h^2)``,
  which is what :func:`skimage.feature.multiscale_basic_features` computes;
- Sobel: skimage's ``filters.sobel``: ``[1, 0, -1]`` along the axis times
  ``[1, 2, 1] / 4`` along the others, magnitude ``sqrt(sum_axes(e^2) / ndim)``
  (divided by ``h`` per axis when a spacing is given).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from biakit.features._eig import eig2, eig3
from biakit.features._gauss import reflect_index
from biakit.features._jit import njit_cached

# column slots in the ``cols`` array
GAUSS, GRAD, SOBEL, LAP, EIG = range(5)


def neighbour_index(n: int) -> np.ndarray:
    """``(5, n)`` table of reflected indices ``i-2, i-1, i, i+1, i+2`` for an axis of length n."""
    r = reflect_index(n, 2)
    return np.stack([r[k : k + n] for k in range(5)]).astype(np.int64)


@njit_cached(inline="always", error_model="numpy")
def _put(out, z, y, k, buf):  # pragma: no cover - numba
    for x in range(buf.size):
        out[z, y, x, k] = buf[x]


@njit_cached(fastmath=True, error_model="numpy")
def _sobel3_row(r, sz, sy, sx, res):  # pragma: no cover - numba
    """Sobel magnitude of one row from the 3x3 rows ``r[a][b]`` = G[z + a - 1, y + b - 1]."""
    (r00, r01, r02), (r10, r11, r12), (r20, r21, r22) = r
    for x in range(res.size):
        j = x + 2
        # difference along z, smoothed along y (rows) and x (taps)
        dz0 = r20[j - 1] - r00[j - 1] + 2.0 * (r20[j] - r00[j]) + r20[j + 1] - r00[j + 1]
        dz1 = r21[j - 1] - r01[j - 1] + 2.0 * (r21[j] - r01[j]) + r21[j + 1] - r01[j + 1]
        dz2 = r22[j - 1] - r02[j - 1] + 2.0 * (r22[j] - r02[j]) + r22[j + 1] - r02[j + 1]
        ez = (dz0 + 2.0 * dz1 + dz2) * 0.0625 * sz
        dy0 = r02[j - 1] - r00[j - 1] + 2.0 * (r02[j] - r00[j]) + r02[j + 1] - r00[j + 1]
        dy1 = r12[j - 1] - r10[j - 1] + 2.0 * (r12[j] - r10[j]) + r12[j + 1] - r10[j + 1]
        dy2 = r22[j - 1] - r20[j - 1] + 2.0 * (r22[j] - r20[j]) + r22[j + 1] - r20[j + 1]
        ey = (dy0 + 2.0 * dy1 + dy2) * 0.0625 * sy
        s0 = r00[j + 1] - r00[j - 1] + 2.0 * (r01[j + 1] - r01[j - 1]) + r02[j + 1] - r02[j - 1]
        s1 = r10[j + 1] - r10[j - 1] + 2.0 * (r11[j + 1] - r11[j - 1]) + r12[j + 1] - r12[j - 1]
        s2 = r20[j + 1] - r20[j - 1] + 2.0 * (r21[j + 1] - r21[j - 1]) + r22[j + 1] - r22[j - 1]
        ex = (s0 + 2.0 * s1 + s2) * 0.0625 * sx
        res[x] = np.sqrt((ez * ez + ey * ey + ex * ex) / 3.0)


@njit_cached(parallel=True, fastmath=True, error_model="numpy")
def _fused3(g, out, cols, inv, wide, iz, iy):  # pragma: no cover - numba
    ns, nz, ny, nxp = g.shape
    nx = nxp - 4
    sz, sy, sx = inv[0], inv[1], inv[2]
    d = 2 if wide else 1
    f = 0.25 if wide else 1.0
    for z in prange(nz):
        b1 = np.empty(nx, dtype=np.float32)
        b2 = np.empty(nx, dtype=np.float32)
        b3 = np.empty(nx, dtype=np.float32)
        bl = np.empty(nx, dtype=np.float32)
        zm, zp = iz[1, z], iz[3, z]
        zmd, zpd = iz[2 - d, z], iz[2 + d, z]
        for y in range(ny):
            ym, yp = iy[1, y], iy[3, y]
            ymd, ypd = iy[2 - d, y], iy[2 + d, y]
            for s in range(ns):
                gs = g[s]
                cs = cols[s]
                c = gs[z, y]
                r_zp, r_zm, r_yp, r_ym = gs[zp, y], gs[zm, y], gs[z, yp], gs[z, ym]
                if cs[GAUSS] >= 0:
                    for x in range(nx):
                        b1[x] = c[x + 2]
                    _put(out, z, y, cs[GAUSS], b1)
                if cs[GRAD] >= 0:
                    for x in range(nx):
                        j = x + 2
                        gz = 0.5 * sz * (r_zp[j] - r_zm[j])
                        gy = 0.5 * sy * (r_yp[j] - r_ym[j])
                        gx = 0.5 * sx * (c[j + 1] - c[j - 1])
                        b1[x] = np.sqrt(gz * gz + gy * gy + gx * gx)
                    _put(out, z, y, cs[GRAD], b1)
                if cs[SOBEL] >= 0:
                    rows = (
                        (gs[zm, ym], r_zm, gs[zm, yp]),
                        (r_ym, c, r_yp),
                        (gs[zp, ym], r_zp, gs[zp, yp]),
                    )
                    _sobel3_row(rows, sz, sy, sx, b1)
                    _put(out, z, y, cs[SOBEL], b1)
                if cs[LAP] >= 0 or cs[EIG] >= 0:
                    r_zpd, r_zmd, r_ypd, r_ymd = gs[zpd, y], gs[zmd, y], gs[z, ypd], gs[z, ymd]
                    r_pp, r_pm, r_mp, r_mm = gs[zp, yp], gs[zp, ym], gs[zm, yp], gs[zm, ym]
                    for x in range(nx):
                        j = x + 2
                        cc = 2.0 * np.float64(c[j])
                        hzz = f * sz * sz * (r_zpd[j] - cc + r_zmd[j])
                        hyy = f * sy * sy * (r_ypd[j] - cc + r_ymd[j])
                        hxx = f * sx * sx * (c[j + d] - cc + c[j - d])
                        bl[x] = hzz + hyy + hxx
                        hzy = 0.25 * sz * sy * (np.float64(r_pp[j]) - r_pm[j] - r_mp[j] + r_mm[j])
                        hzx = (
                            0.25
                            * sz
                            * sx
                            * (np.float64(r_zp[j + 1]) - r_zp[j - 1] - r_zm[j + 1] + r_zm[j - 1])
                        )
                        hyx = (
                            0.25
                            * sy
                            * sx
                            * (np.float64(r_yp[j + 1]) - r_yp[j - 1] - r_ym[j + 1] + r_ym[j - 1])
                        )
                        e1, e2, e3 = eig3(hzz, hzy, hzx, hyy, hyx, hxx)
                        b1[x] = e1
                        b2[x] = e2
                        b3[x] = e3
                    if cs[LAP] >= 0:
                        _put(out, z, y, cs[LAP], bl)
                    if cs[EIG] >= 0:
                        _put(out, z, y, cs[EIG], b1)
                        _put(out, z, y, cs[EIG] + 1, b2)
                        _put(out, z, y, cs[EIG] + 2, b3)


@njit_cached(parallel=True, fastmath=True, error_model="numpy")
def _fused2(g, out3, cols, inv, wide, iy):  # pragma: no cover - numba
    ns, ny, nxp = g.shape
    nx = nxp - 4
    sy, sx = inv[0], inv[1]
    d = 2 if wide else 1
    f = 0.25 if wide else 1.0
    for y in prange(ny):
        b1 = np.empty(nx, dtype=np.float32)
        b2 = np.empty(nx, dtype=np.float32)
        bl = np.empty(nx, dtype=np.float32)
        ym, yp = iy[1, y], iy[3, y]
        ymd, ypd = iy[2 - d, y], iy[2 + d, y]
        for s in range(ns):
            gs = g[s]
            cs = cols[s]
            c, r_yp, r_ym = gs[y], gs[yp], gs[ym]
            if cs[GAUSS] >= 0:
                for x in range(nx):
                    b1[x] = c[x + 2]
                _put(out3, 0, y, cs[GAUSS], b1)
            if cs[GRAD] >= 0:
                for x in range(nx):
                    j = x + 2
                    gy = 0.5 * sy * (r_yp[j] - r_ym[j])
                    gx = 0.5 * sx * (c[j + 1] - c[j - 1])
                    b1[x] = np.sqrt(gy * gy + gx * gx)
                _put(out3, 0, y, cs[GRAD], b1)
            if cs[SOBEL] >= 0:
                for x in range(nx):
                    j = x + 2
                    ey = (
                        (
                            r_yp[j - 1]
                            - r_ym[j - 1]
                            + 2.0 * (r_yp[j] - r_ym[j])
                            + r_yp[j + 1]
                            - r_ym[j + 1]
                        )
                        * 0.25
                        * sy
                    )
                    ex = (
                        (
                            r_ym[j + 1]
                            - r_ym[j - 1]
                            + 2.0 * (c[j + 1] - c[j - 1])
                            + r_yp[j + 1]
                            - r_yp[j - 1]
                        )
                        * 0.25
                        * sx
                    )
                    b1[x] = np.sqrt((ey * ey + ex * ex) / 2.0)
                _put(out3, 0, y, cs[SOBEL], b1)
            if cs[LAP] >= 0 or cs[EIG] >= 0:
                r_ypd, r_ymd = gs[ypd], gs[ymd]
                for x in range(nx):
                    j = x + 2
                    cc = 2.0 * np.float64(c[j])
                    hyy = f * sy * sy * (r_ypd[j] - cc + r_ymd[j])
                    hxx = f * sx * sx * (c[j + d] - cc + c[j - d])
                    bl[x] = hyy + hxx
                    hyx = (
                        0.25
                        * sy
                        * sx
                        * (np.float64(r_yp[j + 1]) - r_yp[j - 1] - r_ym[j + 1] + r_ym[j - 1])
                    )
                    e1, e2 = eig2(hyy, hyx, hxx)
                    b1[x] = e1
                    b2[x] = e2
                if cs[LAP] >= 0:
                    _put(out3, 0, y, cs[LAP], bl)
                if cs[EIG] >= 0:
                    _put(out3, 0, y, cs[EIG], b1)
                    _put(out3, 0, y, cs[EIG] + 1, b2)


def fused_features(
    g_padded: np.ndarray, out: np.ndarray, cols: np.ndarray, inv_spacing: np.ndarray, wide: bool
) -> None:
    """Write finite-difference features of smoothed images into ``out[..., cols]``.

    ``g_padded`` stacks S smoothed images (one per scale), each reflect-padded
    by 2 along the last axis: shape ``(S, *spatial[:-1], spatial[-1] + 4)``.
    ``out`` is the full C-contiguous feature array ``(*spatial, F)``; ``cols``
    ``(S, 5)`` gives per scale the first output column of (smoothed, gradient
    magnitude, Sobel, Laplacian, Hessian eigenvalues), -1 to skip.  All scales
    of one image row are written together, so each output row is touched once
    while it is in cache (the features-last layout makes per-scale passes
    memory-bound).
    """
    idx = [neighbour_index(n) for n in g_padded.shape[1:-1]]
    inv = np.asarray(inv_spacing, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.int64).reshape(-1, 5)
    if g_padded.ndim == 4:
        _fused3(g_padded, out, cols, inv, bool(wide), *idx)
    else:
        _fused2(g_padded, out[np.newaxis], cols, inv, bool(wide), *idx)
