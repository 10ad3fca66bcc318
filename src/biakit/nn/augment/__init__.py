"""Paired, label-safe data augmentation for training networks (NumPy/SciPy, 2D and 3D).

Geometry (flips, 90-degree turns, rotation, translation, zoom, shear, elastic
deformation) is applied identically to an image and its target, composed into
a single resampling pass; labels are resampled nearest-neighbour so no new
label value ever appears. Intensity transforms (brightness, contrast, gamma,
blur, Gaussian and Poisson noise, cutout) touch the image only.

Examples
--------
>>> import numpy as np
>>> from biakit.nn.augment import AugmentConfig, Augmenter
>>> aug = Augmenter(AugmentConfig(rotation=15, elastic=2.0, brightness=0.1), ndim=2)
>>> image = np.zeros((1, 64, 64), np.float32)
>>> labels = np.zeros((64, 64), np.uint16)
>>> out_image, out_labels = aug(image, labels, rng=np.random.default_rng(0))
>>> out_image.shape, out_labels.dtype
((1, 64, 64), dtype('uint16'))

"""

from biakit.nn.augment._augmenter import Augmenter, AugmentParams
from biakit.nn.augment._config import AugmentConfig
from biakit.nn.augment._geometry import elastic_field
from biakit.nn.augment._preview import save_preview

__all__ = ["AugmentConfig", "AugmentParams", "Augmenter", "elastic_field", "save_preview"]
