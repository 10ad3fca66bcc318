"""Rejection sampling of non-overlapping / touching ellipsoids, drawn as a label image."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from biakit.data._geometry import Ellipsoid, make_ellipsoid, paint, random_shape, raster

OVERLAP_MIN = 0.8
"""Touching objects: centre distance >= OVERLAP_MIN * (sum of radii along the centre line)."""
OVERLAP_MAX = 0.95
"""An attached object's centre distance is drawn in [OVERLAP_MIN, OVERLAP_MAX] * (radii sum)."""
MAX_TRIES = 100
"""Candidates tried per object before giving up on it (fewer objects are then placed)."""
MAX_MISSES = 5
"""Placement stops once this many objects in a row found no room (the image is full)."""


class _Layout:
    """Objects placed so far, their label image and the bookkeeping of the tests."""

    def __init__(self, shape: tuple[int, ...], spacing: tuple[float, ...], capacity: int) -> None:
        self.shape = shape
        self.spacing = np.asarray(spacing, float)
        self.gap = 2.0 * float(np.linalg.norm(self.spacing))
        self.labels = np.zeros(shape, np.int32)
        self.qbest = np.full(shape, np.inf)
        self.objects: list[Ellipsoid] = []
        # per object: physical centre, bounding radius, shortest semi-axis, touching flag
        self._centres = np.zeros((capacity, len(shape)))
        self._bound = np.zeros(capacity)
        self._inner = np.zeros(capacity)
        self._social = np.zeros(capacity, bool)
        self._high = np.subtract(shape, 1)

    @property
    def social(self) -> np.ndarray:
        """Whether each placed object touches another one."""
        return self._social[: len(self.objects)]

    def fits(self, ell: Ellipsoid) -> bool:
        """Whether the whole bounding box of ``ell`` lies inside the image."""
        ext = ell.extent / self.spacing
        return bool(((ell.centre - ext) >= 0).all() and ((ell.centre + ext) <= self._high).all())

    def acceptable(self, ell: Ellipsoid, partner: int | None, pixel_test: bool) -> bool:
        """Check ``ell`` against every placed object.

        Objects not allowed to touch it (all of them for a free object; all but
        the partner and other touching objects for an attached one) must be at
        least 2 background pixels away; allowed ones may overlap moderately.
        """
        n = len(self.objects)
        if n == 0:
            return True
        diff = self._centres[:n] - ell.centre * self.spacing
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        bound, inner = self._bound[:n], self._inner[:n]
        allowed = self._social[:n].copy() if partner is not None else np.zeros(n, bool)
        if partner is not None:
            allowed[partner] = True
        if np.any(~allowed & (dist < ell.inner + inner)):
            return False
        for k in np.flatnonzero(allowed & (dist < ell.bound + bound)):
            u = diff[k] / max(dist[k], 1e-12)
            reach = ell.radial(u)[0] + self.objects[k].radial(-u)[0]
            if dist[k] < OVERLAP_MIN * reach * (1 - 1e-9):
                return False
        near = ~allowed & (dist <= ell.bound + bound + self.gap)
        if not near.any():
            return True
        if not pixel_test:
            return False
        box, q2 = raster(ell, self.shape, self.spacing, pad=2)
        forbidden = np.concatenate([[False], ~allowed])[self.labels[box]]
        if not forbidden.any():
            return True
        grown = ndi.maximum_filter((q2 <= 1.0).view(np.uint8), size=5, mode="constant")
        return not np.any(forbidden & grown.view(bool))

    def add(self, ell: Ellipsoid, social: bool, partner: int | None) -> bool:
        """Paint ``ell``; return False (and change nothing) if it covers no pixel centre."""
        n = len(self.objects)
        if paint(self.labels, self.qbest, ell, n + 1, self.spacing) == 0:
            return False
        self.objects.append(ell)
        self._centres[n] = ell.centre * self.spacing
        self._bound[n], self._inner[n], self._social[n] = ell.bound, ell.inner, social
        if partner is not None:
            self._social[partner] = True
        return True


def _unit(ndim: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(ndim)
    return v / np.linalg.norm(v)


def _candidate(
    layout: _Layout, radius: tuple[float, float], attach: bool, rng: np.random.Generator
) -> tuple[Ellipsoid, int | None]:
    """Draw one candidate: free (uniform centre) or attached to a random placed object."""
    ndim = len(layout.shape)
    r, semi, rot = random_shape(ndim, radius, rng)
    ell = make_ellipsoid(np.zeros(ndim), r, semi, rot)
    if attach:
        partner = int(rng.integers(len(layout.objects)))
        other = layout.objects[partner]
        u = _unit(ndim, rng)
        reach = other.radial(u)[0] + ell.radial(-u)[0]
        dist = rng.uniform(OVERLAP_MIN, OVERLAP_MAX) * reach
        return ell.moved(other.centre + u * dist / layout.spacing), partner
    ext = ell.extent / layout.spacing
    high = np.subtract(layout.shape, 1) - ext
    return ell.moved(rng.uniform(ext, np.maximum(high, ext))), None


def place_objects(
    shape: tuple[int, ...],
    spacing: tuple[float, ...],
    n_objects: int,
    radius: tuple[float, float],
    touching: float,
    rng: np.random.Generator,
    *,
    pixel_test: bool = True,
) -> _Layout:
    """Place up to ``n_objects`` ellipsoids by rejection sampling.

    ``round(touching * n_objects)`` randomly chosen objects are placed
    overlapping an already placed one (centre distance 0.8-0.95 of the sum of
    their radii along the centre line); the others keep a gap of at least two
    background pixels to every object.  An object that does not fit after
    :data:`MAX_TRIES` candidates (an attached one falls back to free placement
    half-way) is skipped; after :data:`MAX_MISSES` skipped objects in a row
    placement stops.  With ``pixel_test=False`` the gap is checked with
    bounding spheres only (looser packing, but invariant under translation).
    """
    layout = _Layout(shape, spacing, n_objects)
    attach = np.zeros(n_objects, bool)
    attach[rng.permutation(n_objects)[: round(touching * n_objects)]] = True
    misses = 0
    for i in range(n_objects):
        for t in range(MAX_TRIES):
            mode = bool(attach[i] and layout.objects and t < MAX_TRIES // 2)
            ell, partner = _candidate(layout, radius, mode, rng)
            if not layout.fits(ell) or not layout.acceptable(ell, partner, pixel_test):
                continue
            if layout.add(ell, social=mode, partner=partner):
                misses = 0
                break
        else:
            misses += 1
            if misses == MAX_MISSES:
                break
    return layout
