"""Synthetic time-lapse: nuclei moving by a random walk, with exact tracks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from biakit.data import _common as c
from biakit.data._geometry import Ellipsoid, paint, raster
from biakit.data._nuclei import _check_radius
from biakit.data._placement import place_objects
from biakit.data._render import blur, object_image

_MOVE_TRIES = 20


@dataclass(frozen=True, eq=False)
class SyntheticTimelapse:
    """A time-lapse with exact per-frame labels and tracks.

    Attributes
    ----------
    images : ndarray of float32
        Observed frames, axes ``"TYX"`` (or ``"TZYX"``).
    labels : ndarray of int32
        Instance labels per frame; an object keeps the same id in every frame
        (its track id, ``1..N``).
    tracks : ndarray of float64, shape (n_frames * N, 2 + ndim)
        Rows ``(t, track_id, y, x)`` (``(t, track_id, z, y, x)`` in 3D) sorted
        by ``t`` then ``track_id``; the position is the centroid of the label
        in that frame (``scipy.ndimage.center_of_mass``).
    clean : ndarray of float32
        Noise-free frames.
    spacing : tuple of float
        Pixel size of the spatial axes (1.0: the walk is in pixels).
    axes : str
        ``"TYX"`` or ``"TZYX"``.
    """

    images: np.ndarray
    labels: np.ndarray
    tracks: np.ndarray
    clean: np.ndarray
    spacing: tuple[float, ...]
    axes: str


def _free(ell: Ellipsoid, others: list[Ellipsoid], gap: float, shape: tuple[int, ...]) -> bool:
    """Inside the image, covering a pixel, and farther than ``gap`` from every other object."""
    if np.any(ell.centre - ell.extent < 0) or np.any(
        ell.centre + ell.extent > np.subtract(shape, 1)
    ):
        return False
    if not np.any(raster(ell, shape, np.ones(len(shape)))[1] <= 1.0):
        return False
    return all(np.linalg.norm(ell.centre - o.centre) > ell.bound + o.bound + gap for o in others)


def _step(
    objects: list[Ellipsoid],
    max_step: float,
    gap: float,
    shape: tuple[int, ...],
    rng: np.random.Generator,
) -> list[Ellipsoid]:
    """Move each object in turn by a random vector of length <= ``max_step``.

    A move that would leave the image or come within ``gap`` pixels of another
    object (bounding spheres) is redrawn up to 20 times, after which the object
    stays put for this frame.
    """
    out = list(objects)
    ndim = len(shape)
    for i, ell in enumerate(objects):
        for _ in range(_MOVE_TRIES):
            u = rng.standard_normal(ndim)
            u *= rng.uniform(0.0, max_step) / np.linalg.norm(u)
            moved = ell.moved(ell.centre + u)
            if _free(moved, out[:i] + out[i + 1 :], gap, shape):
                out[i] = moved
                break
    return out


def _frame(objects: list[Ellipsoid], shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Labels (ids 1..N in list order) and centroids of one frame."""
    labels = np.zeros(shape, np.int32)
    qbest = np.full(shape, np.inf)
    one = np.ones(len(shape))
    for k, ell in enumerate(objects, start=1):
        paint(labels, qbest, ell, k, one)
    idx = np.nonzero(labels)
    ids = labels[idx]
    counts = np.bincount(ids, minlength=len(objects) + 1)[1:]
    cents = [np.bincount(ids, weights=i, minlength=len(objects) + 1)[1:] / counts for i in idx]
    return labels, np.stack(cents, axis=1)


def synthetic_timelapse(
    n_frames: int = 10,
    shape: Sequence[int] = (128, 128),
    *,
    n_objects: int = 8,
    max_displacement: float = 3.0,
    radius: float | tuple[float, float] = (5.0, 8.0),
    psf_sigma: float = 1.0,
    poisson_photons: float | None = 200.0,
    gaussian_noise: float = 0.02,
    seed: c.SeedLike = 0,
) -> SyntheticTimelapse:
    """Nuclei moving by a random walk, with labels and tracks known exactly.

    Objects (as in :func:`synthetic_nuclei`, fixed shape and brightness per
    track) start well separated; between frames each moves by a random vector
    of length uniform in ``[0, max_displacement]`` pixels, redrawn when it would
    leave the image or come within a gap of another object, so the objects never
    touch, never leave the image and keep their id.  No divisions, no
    appearances.  Each frame gets its own texture and noise.

    Parameters
    ----------
    n_frames : int
        Number of time points (>= 1).
    shape : sequence of int
        Frame shape ``(Y, X)`` or ``(Z, Y, X)``.
    n_objects : int
        Objects requested (fewer if they do not fit: see ``labels.max()``).
    max_displacement : float
        Largest displacement between consecutive frames, in pixels.
    radius : float or (float, float)
        Range of object radii in pixels.
    psf_sigma : float
        Gaussian PSF sd in pixels.
    poisson_photons : float or None
        Photons per unit intensity for shot noise; None disables it.
    gaussian_noise : float
        Sd of the additive read noise; 0 disables it.
    seed : int, Generator or None
        Random seed; the same seed gives bit-identical output.

    Returns
    -------
    SyntheticTimelapse

    Examples
    --------
    >>> tl = synthetic_timelapse(3, (48, 48), n_objects=2, radius=(4, 5))
    >>> tl.images.shape, tl.tracks.shape, tl.axes
    ((3, 48, 48), (6, 4), 'TYX')
    """
    n_frames = c.check_count(n_frames, "n_frames", low=1)
    shape = c.as_shape(shape)
    ndim, axes = len(shape), "T" + c.axes_for(len(shape))
    n_objects = c.check_count(n_objects, "n_objects")
    max_step = c.check_number(max_displacement, "max_displacement")
    radius_t = c.as_range(radius, "radius")
    psf = c.as_per_axis(psf_sigma, ndim, "psf_sigma")
    photons, read_sd = c.check_noise(poisson_photons, gaussian_noise)
    spacing = (1.0,) * ndim
    _check_radius(radius_t, shape, spacing, axes[1:])

    rng_layout, rng_walk, rng_look, rng_noise = c.streams(seed, 4)
    layout = place_objects(shape, spacing, n_objects, radius_t, 0.0, rng_layout, pixel_test=False)
    objects = layout.objects
    brightness = rng_look.uniform(0.5, 1.0, len(objects))
    labels = np.zeros((n_frames, *shape), np.int32)
    clean = np.zeros((n_frames, *shape), np.float32)
    rows = []
    for t in range(n_frames):
        if t:
            objects = _step(objects, max_step, layout.gap, shape, rng_walk)
        labels[t], cents = _frame(objects, shape)
        raw = object_image(labels[t], brightness, spacing, rng_look) + 0.1
        clean[t] = blur(raw.astype(np.float32), psf)
        ids = np.arange(1, len(objects) + 1, dtype=float)
        rows.append(np.column_stack([np.full(len(objects), t, float), ids, cents]))
    images = c.add_noise(clean, rng_noise, photons, read_sd)
    tracks = np.concatenate(rows) if rows else np.zeros((0, 2 + ndim))
    return SyntheticTimelapse(images, labels, tracks, clean, spacing, axes)
