"""Geometric augmentation: one affine matrix, one elastic field, one resampling pass.

Conventions: spatial axes are ``(Y, X)`` or ``(Z, Y, X)``. The sampled
transform maps an *input* point ``i`` to the *output* point
``o = T (i - c) + c + t`` (``c`` the patch centre, ``T`` rotation · shear · zoom,
``t`` a translation). Resampling needs the inverse, as in
:func:`scipy.ndimage.affine_transform`: ``i = M o + offset`` with ``M = T⁻¹``.
An elastic displacement field ``d`` (in input pixels) is added to that
coordinate grid, ``i = M o + offset + d(o)``, so every array is interpolated
exactly once.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage as ndi


def _plane_rotation(ndim: int, axes: tuple[int, int], degrees: float) -> np.ndarray:
    rad = np.deg2rad(degrees)
    out = np.eye(ndim)
    a, b = axes
    out[a, a] = out[b, b] = np.cos(rad)
    out[a, b] = -np.sin(rad)
    out[b, a] = np.sin(rad)
    return out


def forward_matrix(
    ndim: int,
    *,
    rotation: float = 0.0,
    tilt: tuple[float, float] = (0.0, 0.0),
    shear: tuple[float, float] = (0.0, 0.0),
    zoom: float = 1.0,
) -> np.ndarray:
    """Return ``T = R · S · Z`` (input → output, about the patch centre).

    ``rotation`` is in the YX plane (degrees), ``tilt`` rotates about the Y
    and X axes (3D), ``shear`` holds the YX and XY shear coefficients and
    ``zoom`` is an isotropic scale factor.
    """
    y, x = ndim - 2, ndim - 1
    rot = _plane_rotation(ndim, (y, x), rotation)
    if ndim == 3:
        rot = rot @ _plane_rotation(3, (0, x), tilt[0]) @ _plane_rotation(3, (0, y), tilt[1])
    sh = np.eye(ndim)
    sh[y, x], sh[x, y] = shear
    return rot @ sh @ (np.eye(ndim) * zoom)


def inverse_affine(
    forward: np.ndarray, translation: np.ndarray, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(M, offset)`` with ``input = M @ output + offset``."""
    centre = (np.asarray(shape, dtype=float) - 1) / 2
    matrix = np.linalg.inv(forward)
    offset = centre - matrix @ (centre + translation)
    return matrix, offset


@functools.lru_cache(maxsize=16)
def _elastic_weights(n: int, sigma: float) -> np.ndarray:
    """Gaussian interpolation weights from coarse knots to ``n`` pixels.

    Knots are spaced ``sigma`` apart (at least one pixel; the ripple this
    leaves in the field's statistics is of order ``exp(-pi**2) ~ 5e-5``) and
    extend ``3 sigma`` beyond the patch so the field is stationary up to the
    border. Rows are normalised to unit L2 norm, so a field built from
    unit-variance knot noise has unit variance at every pixel. The field's
    covariance is then a Gaussian of width ``sigma * sqrt(2)``, as for white
    noise smoothed with a Gaussian of width ``sigma`` (Simard et al., 2003).
    """
    step = max(sigma, 1.0)
    knots = np.arange(-3 * sigma, n - 1 + 3 * sigma + step, step)
    w = np.exp(-((np.arange(n)[:, None] - knots[None, :]) ** 2) / (2 * sigma**2))
    w /= np.sqrt((w**2).sum(axis=1, keepdims=True))
    w = w.astype(np.float32)
    w.setflags(write=False)
    return w


def elastic_field(
    shape: tuple[int, ...], alpha: float, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """Smooth random displacement field ``(ndim, *shape)`` in pixels.

    Unit-variance noise on a coarse grid of knots (spacing ``sigma``) is
    upsampled with separable Gaussian weights (a few small matrix products),
    which both smooths and interpolates it; the result has standard deviation
    ``alpha`` at every pixel along every axis.

    Examples
    --------
    >>> d = elastic_field((64, 64), 3.0, 8.0, np.random.default_rng(0))
    >>> d.shape
    (2, 64, 64)

    """
    ndim = len(shape)
    weights = [_elastic_weights(int(n), float(sigma)) for n in shape]
    coarse = tuple(w.shape[1] for w in weights)
    field = rng.standard_normal((ndim, *coarse), dtype=np.float32)
    # Separable upsampling, one axis at a time, as plain (batched) matrix products.
    field = (weights[0] @ field.reshape(ndim, coarse[0], -1)).reshape(ndim, shape[0], *coarse[1:])
    if ndim == 3:
        field = np.matmul(weights[1], field)
    last = weights[-1]
    field = (field.reshape(-1, field.shape[-1]) @ last.T).reshape(ndim, *shape)
    field *= np.float32(alpha)
    return field


def sample_coordinates(
    shape: tuple[int, ...],
    matrix: np.ndarray,
    offset: np.ndarray,
    displacement: np.ndarray | None,
) -> np.ndarray:
    """Input coordinates ``(ndim, *shape)`` of every output pixel."""
    ndim = len(shape)
    grids = [
        np.arange(n, dtype=np.float64).reshape((-1,) + (1,) * (ndim - k - 1))
        for k, n in enumerate(shape)
    ]
    coords = np.empty((ndim, *shape), dtype=np.float64)
    for k in range(ndim):
        acc = coords[k]
        acc[...] = offset[k]
        for j in range(ndim):
            if matrix[k, j] != 0:
                acc += matrix[k, j] * grids[j]
    if displacement is not None:
        coords += displacement
    return coords


def resample(
    array: np.ndarray,
    *,
    matrix: np.ndarray,
    offset: np.ndarray,
    coords: np.ndarray | None,
    order: int,
    mode: str,
) -> np.ndarray:
    """Resample one spatial array with either the affine map or ``coords``."""
    work = array.view(np.uint8) if array.dtype == bool else array
    if coords is not None:
        out = ndi.map_coordinates(work, coords, order=order, mode=mode, cval=0)
    else:
        out = ndi.affine_transform(work, matrix, offset=offset, order=order, mode=mode, cval=0)
    return out.view(bool) if array.dtype == bool else out


def flip_rotate(array: np.ndarray, flip_axes: tuple[int, ...], k90: int, ndim: int) -> np.ndarray:
    """Flip spatial axes ``flip_axes`` (of ``ndim`` trailing ones), rotate in the YX plane."""
    lead = array.ndim - ndim
    out = np.flip(array, tuple(lead + a for a in flip_axes)) if flip_axes else array
    if k90 % 4:
        out = np.rot90(out, k90, axes=(-2, -1))
    return out
