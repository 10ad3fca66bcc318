"""Synthetic fluorescent nuclei (2D / 3D) with exact instance labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from biakit.data import _common as c
from biakit.data._geometry import MAX_ASPECT, Ellipsoid, raster
from biakit.data._placement import place_objects
from biakit.data._render import background_field, blur, object_image


@dataclass(frozen=True, eq=False)
class SyntheticImage:
    """A synthetic image with its exact ground truth.

    Attributes
    ----------
    image : ndarray of float32
        The observed (blurred, noisy) image.
    labels : ndarray of int32
        Instance labels: 0 is background, objects are ``1..N`` (consecutive).
    mask : ndarray of bool
        Semantic foreground, ``labels > 0``.
    centroids : ndarray of float64, shape (N, ndim)
        Row ``i`` is the centroid of label ``i + 1`` in pixel coordinates
        (equal to ``scipy.ndimage.center_of_mass``).
    clean : ndarray of float32
        The noise-free image after the PSF blur, before noise.
    spacing : tuple of float
        Physical size of a pixel along each axis.
    axes : str
        ``"YX"`` or ``"ZYX"``.
    """

    image: np.ndarray
    labels: np.ndarray
    mask: np.ndarray
    centroids: np.ndarray
    clean: np.ndarray
    spacing: tuple[float, ...]
    axes: str


def _check_radius(
    radius: tuple[float, float], shape: tuple[int, ...], spacing: tuple[float, ...], axes: str
) -> None:
    bound = radius[1] * np.sqrt(MAX_ASPECT)
    for d, (n, s) in enumerate(zip(shape, spacing)):
        need = 2 * bound / s + 1
        if need > n:
            raise ValueError(
                f"radius {radius} is too big for shape {shape}: an object of radius {radius[1]:g} "
                f"(up to {bound:.3g} with eccentricity) spans {need:.3g} pixels along axis "
                f"{axes[d]} (spacing {s:g}) but the image has {n}; use a smaller radius or a "
                "larger shape"
            )


def _relabel(
    labels: np.ndarray, objects: list[Ellipsoid], spacing: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop objects that lost all pixels, number the rest 1..N; centroids from the boxes.

    Returns the new labels, the indices of the kept objects and their centroids.
    """
    counts = np.bincount(labels.ravel(), minlength=len(objects) + 1)
    keep = np.flatnonzero(counts[1:]) + 1
    lut = np.zeros(len(objects) + 1, np.int32)
    lut[keep] = np.arange(1, len(keep) + 1, dtype=np.int32)
    if len(keep) != len(objects):
        labels = lut[labels]
    centroids = np.zeros((len(keep), labels.ndim))
    for new, old in enumerate(keep, start=1):
        box, _ = raster(objects[old - 1], labels.shape, spacing)
        idx = np.nonzero(labels[box] == new)
        centroids[new - 1] = [i.mean() + b.start for i, b in zip(idx, box)]
    return labels, keep - 1, centroids


def synthetic_nuclei(
    shape: Sequence[int] = (256, 256),
    *,
    n_objects: int = 30,
    radius: float | tuple[float, float] = (6.0, 12.0),
    touching: float = 0.0,
    spacing: float | Sequence[float] | None = None,
    intensity: float | tuple[float, float] = (0.5, 1.0),
    background: float = 0.1,
    background_gradient: float = 0.0,
    psf_sigma: float | Sequence[float] = 1.0,
    poisson_photons: float | None = 200.0,
    gaussian_noise: float = 0.02,
    seed: c.SeedLike = 0,
) -> SyntheticImage:
    """Fluorescent nuclei (2D or 3D) with exact instance labels and centroids.

    Objects are ellipses / ellipsoids with a random orientation and aspect
    ratio up to 1.4, placed by rejection sampling and drawn in their bounding
    box only.  Overlapping objects are split between their centres (each pixel
    goes to the object it lies deepest in), so touching nuclei share a
    boundary and the labels are a proper partition.  Objects lie entirely
    inside the image.

    The image model is ``clean = blur(background + gradient + objects)``,
    ``image = Poisson(clean * poisson_photons) / poisson_photons + N(0, gaussian_noise**2)``;
    objects carry a smooth texture of 15 % relative sd.  Layout, texture and
    noise use independent random streams of ``seed``: changing only the noise
    parameters keeps the same labels.

    Parameters
    ----------
    shape : sequence of int
        ``(Y, X)`` or ``(Z, Y, X)``.
    n_objects : int
        Objects requested.  When they do not all fit (each gets 100 tries;
        placement stops after 5 objects in a row found no room), fewer are
        placed: ``len(result.centroids)`` tells how many.
    radius : float or (float, float)
        Range of the mean object radius, in physical units (pixels when
        ``spacing`` is None).
    touching : float
        Fraction (0..1) of objects placed overlapping an already placed one
        (centre distance 0.8-0.95 of the sum of their radii); their partners
        touch too, so up to twice that fraction ends up in contact, and 1.0
        gives one clump.  Objects not placed touching keep at least two
        background pixels to every object they do not touch; with 0 every pair
        of objects is that far apart (their 1-pixel dilations do not meet).
    spacing : float or sequence of float, optional
        Pixel size per axis (a scalar: the same on every axis), e.g.
        ``(3.0, 1.0, 1.0)``: objects are round in physical space, so they look
        flattened along z in pixels.
    intensity : float or (float, float)
        Range of the per-object brightness (above background).
    background : float
        Background level.
    background_gradient : float
        Amplitude of the uneven background (a ramp plus a broad blob, max
        ``background + background_gradient``); 0 for a flat background.
    psf_sigma : float or sequence of float
        Gaussian PSF sd in pixels, one per axis allowed; 0 disables.
    poisson_photons : float or None
        Photons per unit intensity for shot noise; None disables it.
    gaussian_noise : float
        Sd of the additive read noise; 0 disables it.
    seed : int, Generator or None
        Random seed; the same seed gives bit-identical output.

    Returns
    -------
    SyntheticImage

    Examples
    --------
    >>> s = synthetic_nuclei((64, 64), n_objects=5, radius=(4, 6), seed=1)
    >>> s.image.dtype, int(s.labels.max()) == len(s.centroids), s.axes
    (dtype('float32'), True, 'YX')
    """
    shape = c.as_shape(shape)
    ndim, axes = len(shape), c.axes_for(len(shape))
    spacing_t = c.as_spacing(spacing, ndim)
    n_objects = c.check_count(n_objects, "n_objects")
    radius_t = c.as_range(radius, "radius")
    touching = c.check_number(touching, "touching")
    if touching > 1:
        raise ValueError(f"touching must be a fraction in [0, 1], got {touching}")
    intensity_t = c.as_range(intensity, "intensity", inclusive=True)
    background = c.check_number(background, "background")
    gradient = c.check_number(background_gradient, "background_gradient")
    psf = c.as_per_axis(psf_sigma, ndim, "psf_sigma")
    photons, read_sd = c.check_noise(poisson_photons, gaussian_noise)
    _check_radius(radius_t, shape, spacing_t, axes)

    rng_layout, rng_look, rng_noise = c.streams(seed, 3)
    layout = place_objects(shape, spacing_t, n_objects, radius_t, touching, rng_layout)
    labels, kept, centroids = _relabel(layout.labels, layout.objects, layout.spacing)
    brightness = rng_look.uniform(*intensity_t, len(layout.objects))[kept]
    raw = object_image(labels, brightness, spacing_t, rng_look) + background
    if gradient > 0:
        raw += gradient * background_field(shape, rng_look)
    clean = blur(raw.astype(np.float32), psf)
    image = c.add_noise(clean, rng_noise, photons, read_sd)
    return SyntheticImage(image, labels, labels > 0, centroids, clean, spacing_t, axes)
