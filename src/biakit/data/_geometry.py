"""Ellipses / ellipsoids in physical space, rasterised into their bounding box only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_ASPECT = 1.4
"""Largest ratio of longest to shortest semi-axis of a synthetic object."""


@dataclass(frozen=True, eq=False)
class Ellipsoid:
    """One object: centre in pixel coordinates, shape in physical units.

    A point ``x`` (physical offset from the centre) is inside when
    ``x @ metric @ x <= 1``.
    """

    centre: np.ndarray  # pixel coordinates, float64 (ndim,)
    metric: np.ndarray  # (ndim, ndim), physical units
    radius: float  # mean radius (physical)
    bound: float  # longest semi-axis = radius of a bounding sphere (physical)
    inner: float  # shortest semi-axis (physical)
    extent: np.ndarray  # half-extent of the bounding box along each axis, physical

    def moved(self, centre: np.ndarray) -> Ellipsoid:
        """Return the same shape at another centre (pixel coordinates)."""
        return Ellipsoid(
            np.asarray(centre, float), self.metric, self.radius, self.bound, self.inner, self.extent
        )

    def radial(self, directions: np.ndarray) -> np.ndarray:
        """Distance from the centre to the boundary along unit ``directions`` (physical)."""
        d = np.atleast_2d(directions)
        return 1.0 / np.sqrt(np.einsum("ni,ij,nj->n", d, self.metric, d))


def random_rotation(ndim: int, rng: np.random.Generator) -> np.ndarray:
    """Draw a uniformly random rotation matrix (Haar measure on SO(ndim))."""
    if ndim == 2:
        a = rng.uniform(0, 2 * np.pi)
        return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    w, x, y, z = rng.standard_normal(4)  # a uniform unit quaternion
    n = w * w + x * x + y * y + z * z
    w, x, y, z = np.array([w, x, y, z]) / np.sqrt(n)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def random_shape(
    ndim: int, radius: tuple[float, float], rng: np.random.Generator
) -> tuple[float, np.ndarray, np.ndarray]:
    """Draw a mean radius, semi-axes with aspect ratio up to :data:`MAX_ASPECT`, a rotation.

    Returns ``(radius, semi_axes, rotation)``; the semi-axes have the geometric
    mean ``radius`` in 2D (equal area) and ``radius * (sqrt(e), 1/sqrt(e), 1)``
    in 3D (equal volume).
    """
    r = rng.uniform(*radius)
    e = rng.uniform(1.0, MAX_ASPECT)
    axes = np.array([np.sqrt(e), 1 / np.sqrt(e), 1.0][:ndim]) * r
    return r, axes, random_rotation(ndim, rng)


def make_ellipsoid(
    centre: np.ndarray, radius: float, semi_axes: np.ndarray, rotation: np.ndarray
) -> Ellipsoid:
    """Build an :class:`Ellipsoid` from its semi-axes and rotation (physical units)."""
    metric = (rotation / semi_axes**2) @ rotation.T
    cov = (rotation * semi_axes**2) @ rotation.T
    return Ellipsoid(
        np.asarray(centre, float),
        metric,
        float(radius),
        float(semi_axes.max()),
        float(semi_axes.min()),
        np.sqrt(np.diag(cov)),
    )


def raster(
    ell: Ellipsoid, shape: tuple[int, ...], spacing: np.ndarray, pad: int = 0
) -> tuple[tuple[slice, ...], np.ndarray]:
    """Squared normalised distance ``q**2`` over the (padded) bounding box of ``ell``.

    Pixel ``p`` (integer index = pixel centre) is inside when ``q**2 <= 1``.

    Returns
    -------
    box : tuple of slice
        The box in image coordinates, clipped to ``shape``.
    q2 : ndarray
        ``(p - c) M (p - c)`` in physical units over the box (float64).
    """
    ext = ell.extent / spacing
    lo = np.maximum(np.floor(ell.centre - ext).astype(int) - pad, 0)
    hi = np.minimum(np.ceil(ell.centre + ext).astype(int) + 1 + pad, shape)
    hi = np.maximum(hi, lo)
    ndim = len(shape)
    xs = []
    for d in range(ndim):
        x = (np.arange(lo[d], hi[d]) - ell.centre[d]) * spacing[d]
        xs.append(x.reshape([-1 if k == d else 1 for k in range(ndim)]))
    m = ell.metric
    q2 = np.zeros(tuple(hi - lo))
    for i in range(ndim):
        q2 = q2 + m[i, i] * xs[i] ** 2
        for j in range(i + 1, ndim):
            q2 = q2 + 2.0 * m[i, j] * (xs[i] * xs[j])
    return tuple(slice(a, b) for a, b in zip(lo, hi)), q2


def paint(
    labels: np.ndarray, qbest: np.ndarray, ell: Ellipsoid, label: int, spacing: np.ndarray
) -> int:
    """Draw ``ell`` as ``label`` where it is inside and deeper than any object drawn before.

    Overlaps go to the object with the smallest normalised distance ``q``
    (each object keeps its centre; equal circles split along the bisector).
    Returns the number of pixels that took ``label``.
    """
    box, q2 = raster(ell, labels.shape, spacing)
    take = (q2 <= 1.0) & (q2 < qbest[box])
    labels[box][take] = label
    qbest[box][take] = q2[take]
    return int(take.sum())
