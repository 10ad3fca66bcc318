"""Closed-form eigenvalues of symmetric 2x2 and 3x3 matrices (numba), sorted descending.

2x2: ``m +- hypot((a - c) / 2, b)`` with ``m = (a + c) / 2``.
3x3: the trigonometric solution (Smith 1961) applied to the shifted matrix
``B = A - m I`` with ``m = trace(A) / 3``; ``p = sqrt(tr(B^2) / 6)``,
``r = det(B / p) / 2`` clamped to ``[-1, 1]``, ``phi = acos(r) / 3``:
``l1 = m + 2 p cos(phi)``, ``l3 = m + 2 p cos(phi + 2 pi / 3)``,
``l2 = m + 2 p cos(phi - 2 pi / 3)``.  The shift removes the common part before
squaring, all arithmetic is float64, ``r`` is clamped and ``p`` floored at
1e-30 so a multiple of the identity returns ``m`` three times (repeated
eigenvalues are exact).  ``cos(acos(r) / 3)`` is evaluated with branch-free
polynomials (error ~1e-8) and ``cos(phi + 2 pi / 3)`` from it through
``sin(phi) = sqrt(1 - cos^2)``, so the loops vectorise (no SVML here) and the
ordering ``l1 >= l2 >= l3`` holds by construction.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from biakit.features._jit import njit_cached

_SQRT3_2 = 0.8660254037844386


@njit_cached(inline="always", error_model="numpy")
def eig2(a, b, c):  # pragma: no cover - numba
    """Eigenvalues (descending) of ``[[a, b], [b, c]]``."""
    m = 0.5 * (a + c)
    d = 0.5 * (a - c)
    r = np.sqrt(d * d + b * b)
    return m + r, m - r


@njit_cached(inline="always", error_model="numpy")
def _cos_acos_3(r):  # pragma: no cover - numba
    """``cos(acos(r) / 3)`` for ``r`` in [-1, 1] with branch-free polynomials (vectorisable).

    ``acos`` from Abramowitz & Stegun 4.4.46 (|error| <= 2e-8 rad), ``cos`` on
    ``[0, pi / 3]`` by its Taylor series to degree 14 (error < 1e-12).
    """
    ax = abs(r)
    a = -0.0012624911
    a = a * ax + 0.0066700901
    a = a * ax + -0.0170881256
    a = a * ax + 0.030891881
    a = a * ax + -0.0501743046
    a = a * ax + 0.0889789874
    a = a * ax + -0.2145988016
    a = a * ax + 1.570796305
    s = np.sqrt(1.0 - ax) * a
    theta = s if r >= 0.0 else np.pi - s
    q = theta * theta / 9.0
    c = -1.0 / 87178291200.0
    c = c * q + 1.0 / 479001600.0
    c = c * q + -1.0 / 3628800.0
    c = c * q + 1.0 / 40320.0
    c = c * q + -1.0 / 720.0
    c = c * q + 1.0 / 24.0
    c = c * q + -0.5
    c = c * q + 1.0
    return c


@njit_cached(inline="always", error_model="numpy")
def eig3(a00, a01, a02, a11, a12, a22):  # pragma: no cover - numba
    """Eigenvalues (descending) of the symmetric 3x3 matrix with upper triangle ``a_ij``."""
    m = (a00 + a11 + a22) / 3.0
    b00 = a00 - m
    b11 = a11 - m
    b22 = a22 - m
    off = a01 * a01 + a02 * a02 + a12 * a12
    p2 = max((b00 * b00 + b11 * b11 + b22 * b22 + 2.0 * off) / 6.0, 1e-60)
    p = np.sqrt(p2)
    det = (
        b00 * (b11 * b22 - a12 * a12)
        - a01 * (a01 * b22 - a12 * a02)
        + a02 * (a01 * a12 - b11 * a02)
    )
    r = min(max(det / (2.0 * p2 * p), -1.0), 1.0)
    c = _cos_acos_3(r)
    s = _SQRT3_2 * np.sqrt(max(1.0 - c * c, 0.0))
    l1 = m + 2.0 * p * c
    l2 = m + p * (s - 0.5 * c) * 2.0
    l3 = m - p * (s + 0.5 * c) * 2.0
    l2 = min(max(l2, l3), l1)  # keep the order under rounding (repeated eigenvalues)
    return l1, l2, l3


@njit_cached(parallel=True, fastmath=True, error_model="numpy")
def _eig_rows(elems, out):  # pragma: no cover - numba
    """Eigenvalues of ``elems`` (k, N) upper-triangle rows into ``out`` (N, d)."""
    n = elems.shape[1]
    if elems.shape[0] == 3:
        for i in prange(n):
            e1, e2 = eig2(np.float64(elems[0, i]), np.float64(elems[1, i]), np.float64(elems[2, i]))
            out[i, 0] = e1
            out[i, 1] = e2
    else:
        for i in prange(n):
            e1, e2, e3 = eig3(
                np.float64(elems[0, i]),
                np.float64(elems[1, i]),
                np.float64(elems[2, i]),
                np.float64(elems[3, i]),
                np.float64(elems[4, i]),
                np.float64(elems[5, i]),
            )
            out[i, 0] = e1
            out[i, 1] = e2
            out[i, 2] = e3


def symmetric_eigenvalues(elems: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """Eigenvalues of a field of symmetric 2x2 or 3x3 matrices, closed form, sorted descending.

    Parameters
    ----------
    elems : sequence of array_like
        The upper-triangle elements in row order, as returned by
        :func:`skimage.feature.hessian_matrix`: ``(a00, a01, a11)`` for 2x2 or
        ``(a00, a01, a02, a11, a12, a22)`` for 3x3, all of the same shape.

    Returns
    -------
    eigvals : ndarray of float32
        Shape ``(d, *elems[0].shape)`` with ``eigvals[0] >= eigvals[1] >= ...``
        (the layout of :func:`skimage.feature.hessian_matrix_eigvals`).

    Raises
    ------
    ValueError
        If ``elems`` does not hold 3 or 6 arrays of one shape.

    Examples
    --------
    >>> import numpy as np
    >>> ev = symmetric_eigenvalues([np.array([2.0]), np.array([0.0]), np.array([1.0])])
    >>> ev[:, 0].tolist()
    [2.0, 1.0]

    """
    arrays = [np.asarray(e) for e in elems]
    if len(arrays) not in (3, 6):
        raise ValueError(
            f"elems must hold 3 (2x2) or 6 (3x3) upper-triangle arrays, got {len(arrays)}"
        )
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays):
        raise ValueError(f"elems arrays must share one shape, got {[a.shape for a in arrays]}")
    d = 2 if len(arrays) == 3 else 3
    stack = np.stack([a.reshape(-1) for a in arrays]).astype(np.float32)
    out = np.empty((stack.shape[1], d), dtype=np.float32)
    _eig_rows(stack, out)
    return np.ascontiguousarray(out.T).reshape((d, *shape))
