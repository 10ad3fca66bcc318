"""Multi-scale filter bank for pixel classification (ilastik / Trainable Weka Segmentation style).

A :class:`FeatureSpec` lists filters (:class:`FilterSpec`) and their scales;
:func:`compute_features` evaluates it on a 2-D or 3-D (multi-channel) image
into one float32 array with features last, so ``features.reshape(-1, F)``
holds one row per pixel.  Names are stable (``"gaussian_s1.0"``,
``"hessian_eig1_s2.0"``, ``"dog_s1.0_2.0"``), the spec round-trips through
JSON (:meth:`FeatureSpec.to_dict`), and :func:`feature_halo` gives the context
that makes block-wise results equal whole-image ones.

Filters (:data:`FILTER_NAMES`): ``intensity``, ``gaussian``,
``gradient_magnitude``, ``sobel``, ``laplacian`` (LoG), ``dog``, ``hessian``
(eigenvalues, descending, closed form), ``structure_tensor`` (eigenvalues),
``mean`` / ``variance`` / ``min`` / ``max`` / ``median`` (box windows of
half-width ``sigma``), ``entropy``, ``gabor`` (2-D), ``membrane`` (2-D, Weka's
membrane projections), ``neighbours`` (Weka's shifted copies).

Performance: per scale the image is smoothed once with a numba separable
Gaussian (SIMD over contiguous memory, both cores), then one fused numba pass
per image row computes the smoothed value, gradient / Sobel magnitude,
Laplacian and Hessian eigenvalues for all scales of that row and writes them
into the preallocated output; no Hessian component arrays are allocated.

Examples
--------
>>> import numpy as np
>>> from biakit.features import compute_features, preset
>>> img = np.random.default_rng(0).random((16, 64, 64)).astype(np.float32)
>>> spec = preset("fast", ndim=3)
>>> feats = compute_features(img, spec, spacing=(3.0, 1.0, 1.0))
>>> feats.shape, spec.names()[:3]
((16, 64, 64, 16), ['intensity', 'gaussian_s1.0', 'gaussian_s2.0'])
"""

from biakit.features._api import compute_features, compute_features_at, compute_features_blockwise
from biakit.features._compute import feature_halo
from biakit.features._eig import symmetric_eigenvalues
from biakit.features._presets import PRESETS, preset, skimage_equivalent_spec
from biakit.features._spec import FILTER_NAMES, FeatureSpec, FilterSpec

__all__ = [
    "FILTER_NAMES",
    "PRESETS",
    "FeatureSpec",
    "FilterSpec",
    "compute_features",
    "compute_features_at",
    "compute_features_blockwise",
    "feature_halo",
    "preset",
    "skimage_equivalent_spec",
    "symmetric_eigenvalues",
]
