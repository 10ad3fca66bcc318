"""Pre-processing: array-in, array-out filters for 2D (YX) and 3D (ZYX) single-channel images.

Every function takes a NumPy array, returns a new one (float32 unless noted)
and, where physical scale matters, an explicit ``spacing`` so that lengths
(sigma, radius) are in physical units and anisotropic z is handled. Each
per-pixel function declares its halo (:mod:`biakit.blocks`) so it can run
block-wise with :func:`biakit.blocks.apply_blockwise`; whole-image steps
declare ``GLOBAL``.

- denoise: :func:`gaussian`, :func:`median`, :func:`bilateral`, :func:`nl_means`,
  :func:`estimate_noise`
- background: :func:`rolling_ball`, :func:`estimate_background`, :func:`tophat`
- contrast: :func:`normalize_percentile`, :func:`clahe`, :func:`gamma`,
  :func:`rescale_intensity`
- geometry: :func:`rescale_to_isotropic`, :func:`resample`, :func:`flip`,
  :func:`rotate90`, :func:`rotate`
- deconvolution: :func:`richardson_lucy`, :func:`gaussian_psf`
- noise structure: :func:`noise_structure`, :func:`pooled_noise_structure` (is the noise
  pixel-wise independent, or correlated along an axis?)

Examples
--------
>>> import numpy as np
>>> from biakit import preprocess as pp
>>> img = np.random.default_rng(0).random((8, 32, 32)).astype(np.float32)
>>> smooth = pp.gaussian(img, 1.0, spacing=(2.0, 0.5, 0.5))
>>> iso, spacing = pp.rescale_to_isotropic(smooth, (2.0, 0.5, 0.5))
>>> iso.shape, spacing
((32, 32, 32), (0.5, 0.5, 0.5))
"""

from biakit.preprocess._background import estimate_background, rolling_ball, tophat
from biakit.preprocess._bilateral import bilateral
from biakit.preprocess._contrast import clahe, gamma, normalize_percentile, rescale_intensity
from biakit.preprocess._deconvolution import gaussian_psf, richardson_lucy
from biakit.preprocess._denoise import estimate_noise, gaussian, median, nl_means
from biakit.preprocess._geometry import flip, resample, rescale_to_isotropic, rotate, rotate90
from biakit.preprocess._noise_structure import (
    NoiseStructure,
    noise_structure,
    pooled_noise_structure,
)

__all__ = [
    "NoiseStructure",
    "bilateral",
    "clahe",
    "estimate_background",
    "estimate_noise",
    "flip",
    "gamma",
    "gaussian",
    "gaussian_psf",
    "median",
    "nl_means",
    "noise_structure",
    "normalize_percentile",
    "pooled_noise_structure",
    "resample",
    "rescale_intensity",
    "rescale_to_isotropic",
    "richardson_lucy",
    "rolling_ball",
    "rotate",
    "rotate90",
    "tophat",
]
