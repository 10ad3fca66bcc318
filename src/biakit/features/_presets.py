"""Preset filter banks: ilastik, Trainable Weka Segmentation, fast, and skimage's basic features."""

from __future__ import annotations

import numpy as np

from biakit.features._spec import FeatureSpec, FilterSpec

ILASTIK_SIGMAS = (0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0)
WEKA_SIGMAS = (1.0, 2.0, 4.0, 8.0, 16.0)
PRESETS = ("ilastik", "weka", "fast")


def preset(name: str, ndim: int = 2) -> FeatureSpec:
    """Return a ready-made filter bank.

    Parameters
    ----------
    name : {"ilastik", "weka", "fast"}
        - ``"ilastik"``: ilastik's six families at all seven scales 0.3, 0.7,
          1.0, 1.6, 3.5, 5.0, 10.0 (the full grid; ilastik's GUI default
          selects a subset): Gaussian smoothing, Laplacian of Gaussian,
          Gaussian gradient magnitude, difference of Gaussians
          ``G(s) - G(0.66 s)``, structure-tensor eigenvalues (inner ``s``,
          outer ``0.5 s``) and Hessian-of-Gaussian eigenvalues, with
          Gaussian-derivative kernels and ``truncate=3.5`` (vigra's window
          ratio).  At 0.3 the sampled kernel is 3 taps wide and almost the
          identity, as in ilastik; its derivatives are crude.
        - ``"weka"``: Trainable Weka Segmentation's default: the original
          image, Gaussian blur, Sobel, Hessian (eigenvalues; Weka adds trace,
          determinant and orientation, not included), difference of Gaussians
          over every pair of scales and membrane projections (patch 19,
          thickness 1, 30 angles), sigmas 1, 2, 4, 8, 16 (membrane only in 2-D).
        - ``"fast"``: intensity, Gaussian, gradient magnitude and Hessian
          eigenvalues at sigmas 1, 2, 4 (finite differences).
    ndim : int
        Spatial dimensionality, 2 or 3.

    Returns
    -------
    spec : FeatureSpec

    Examples
    --------
    >>> preset("fast", ndim=2).n_features()
    13
    >>> preset("ilastik", ndim=3).n_features()
    70

    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    if ndim not in (2, 3):
        raise ValueError(f"ndim must be 2 or 3, got {ndim}")
    if name == "ilastik":
        s = ILASTIK_SIGMAS
        filters = [
            FilterSpec("gaussian", s),
            FilterSpec("laplacian", s),
            FilterSpec("gradient_magnitude", s),
            FilterSpec("dog", s, {"ratio": 0.66}),
            FilterSpec("structure_tensor", s, {"outer_ratio": 0.5}),
            FilterSpec("hessian", s),
        ]
        return FeatureSpec(filters, ndim=ndim, derivatives="gaussian", truncate=3.5)
    if name == "weka":
        s = WEKA_SIGMAS
        filters = [
            FilterSpec("intensity"),
            FilterSpec("gaussian", s),
            FilterSpec("sobel", s),
            FilterSpec("hessian", s),
            FilterSpec("dog", s),
        ]
        if ndim == 2:
            filters.append(FilterSpec("membrane"))
        return FeatureSpec(filters, ndim=ndim)
    s = (1.0, 2.0, 4.0)
    filters = [
        FilterSpec("intensity"),
        FilterSpec("gaussian", s),
        FilterSpec("gradient_magnitude", s),
        FilterSpec("hessian", s),
    ]
    return FeatureSpec(filters, ndim=ndim)


def skimage_sigmas(sigma_min: float = 0.5, sigma_max: float = 16, num_sigma: int | None = None):
    """Return the scales :func:`skimage.feature.multiscale_basic_features` uses."""
    if num_sigma is None:
        num_sigma = int(np.log2(sigma_max) - np.log2(sigma_min) + 1)
    sig = np.logspace(np.log2(sigma_min), np.log2(sigma_max), num=num_sigma, base=2)
    return tuple(float(v) for v in sig)


def skimage_equivalent_spec(
    ndim: int,
    *,
    intensity: bool = True,
    edges: bool = True,
    texture: bool = True,
    sigma_min: float = 0.5,
    sigma_max: float = 16,
    num_sigma: int | None = None,
) -> FeatureSpec:
    """Return the features of :func:`skimage.feature.multiscale_basic_features` as a spec.

    Same scales, and per scale: the Gaussian-smoothed image, skimage's Sobel
    magnitude of it and the Hessian eigenvalues from ``np.gradient`` applied
    twice (``derivatives="gradient"``).  Values equal skimage's away from the
    border; at the border skimage smooths with ``mode="nearest"`` and
    ``np.gradient`` uses one-sided differences, biakit reflects.  skimage orders
    features scale by scale; biakit filter by filter (match them by name).

    Examples
    --------
    >>> skimage_equivalent_spec(2).n_features()
    24

    """
    sig = skimage_sigmas(sigma_min, sigma_max, num_sigma)
    filters = []
    if intensity:
        filters.append(FilterSpec("gaussian", sig))
    if edges:
        filters.append(FilterSpec("sobel", sig))
    if texture:
        filters.append(FilterSpec("hessian", sig))
    if not filters:
        raise ValueError("at least one of intensity, edges, texture must be True")
    return FeatureSpec(filters, ndim=ndim, derivatives="gradient")
