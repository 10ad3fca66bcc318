"""Seeded random label-image pairs for instance-metric tests (NumPy only).

Also imported by benchmarks/bench_instance_matching.py --fixtures, run with a
Python that has StarDist, to record the reference numbers used in the tests.
"""

from __future__ import annotations

import numpy as np


def _paint_ellipses(shape, n, rng, rmin, rmax, label_step=1):
    img = np.zeros(shape, np.int32)
    grids = np.ogrid[tuple(slice(0, s) for s in shape)]
    for k in range(1, n + 1):
        center = rng.uniform(0, shape)
        radii = rng.uniform(rmin, rmax, size=len(shape))
        inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, center, radii)) <= 1
        img[inside] = k * label_step
    return img


def random_label_pair(seed: int, shape=(64, 64), n: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """A ground truth of overlapping ellipses and a perturbed prediction.

    The prediction is the ground truth shifted by up to two pixels, with some
    objects removed, two merged, one split and a few false positives; labels
    are not sequential (to exercise relabelling).
    """
    rng = np.random.default_rng(seed)
    y_true = _paint_ellipses(shape, n, rng, 2, 9, label_step=3)
    shift = tuple(int(v) for v in rng.integers(-2, 3, size=len(shape)))
    y_pred = np.roll(y_true, shift, axis=tuple(range(len(shape)))).astype(np.int32)
    labels = np.unique(y_pred[y_pred > 0])
    if len(labels) > 4:
        drop = rng.choice(labels, size=max(1, len(labels) // 8), replace=False)
        y_pred[np.isin(y_pred, drop)] = 0
        a, b = rng.choice(np.setdiff1d(labels, drop), size=2, replace=False)
        y_pred[y_pred == b] = a
        c = rng.choice(np.setdiff1d(labels, [*drop, a, b]))
        coords = np.nonzero(y_pred == c)
        half = coords[0] > np.median(coords[0])
        y_pred[tuple(x[half] for x in coords)] = 1000 + int(c)
    extra = _paint_ellipses(shape, max(1, n // 6), rng, 2, 6)
    y_pred[extra > 0] = extra[extra > 0] + 5000
    return y_true.astype(np.uint16), y_pred.astype(np.uint16)


def coins_pair() -> tuple[np.ndarray, np.ndarray]:
    """Labelled coins (Otsu) and an eroded, shifted version of the labels."""
    from scipy import ndimage as ndi
    from skimage import data, filters, measure, morphology

    image = data.coins()
    mask = ndi.binary_fill_holes(image > filters.threshold_otsu(image))
    mask = morphology.remove_small_objects(mask, max_size=49)
    y_true = measure.label(mask).astype(np.uint16)
    eroded = morphology.erosion(y_true, morphology.disk(2))
    y_pred = np.roll(eroded, (3, -2), axis=(0, 1))
    return y_true, y_pred.astype(np.uint16)
