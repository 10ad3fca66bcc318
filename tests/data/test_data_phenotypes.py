"""Synthetic cell phenotypes: seeded, balanced or not, and classes measurable from the pixels."""

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.measure import label, regionprops

from biakit.data._phenotypes import PHENOTYPES, phenotype_crops


def _measure(image):
    """Number of nuclei and axis ratio of the largest, from a smoothed threshold."""
    mask = ndi.gaussian_filter(image, 1.0) > 0.1 + 0.25
    props = sorted(regionprops(label(mask)), key=lambda r: r.area, reverse=True)
    big = [r for r in props if r.area >= 6]
    r = big[0]
    return len(big), r.axis_major_length / max(r.axis_minor_length, 1e-6)


def test_classes_are_measurable_from_pixels():
    crops = phenotype_crops(12, (48, 48), noise=0.05, seed=3)
    assert crops.class_names == ("round", "elongated", "multinucleated")
    for image, y, k_true in zip(crops.images, crops.labels, crops.n_nuclei):
        k, ratio = _measure(image)
        if y == 0:
            assert k == 1 and ratio < 1.45
        elif y == 1:
            assert k == 1 and ratio > 1.7
        else:
            assert k == k_true >= 2


def test_textured_crops_have_bright_speckles():
    """Peak over median nucleus intensity (Otsu mask): flat nuclei ~1.1-1.2, speckled >= 1.5."""
    crops = phenotype_crops(15, (48, 48), classes=("round", "textured"), noise=0.05, seed=1)
    ratio = []
    for image in crops.images:
        smooth = ndi.gaussian_filter(image, 0.7)
        ratio.append(smooth.max() / np.median(smooth[smooth > threshold_otsu(smooth)]))
    ratio = np.asarray(ratio)
    assert ratio[crops.labels == 0].max() < 1.3 < 1.45 < ratio[crops.labels == 1].min()


def test_seeded_imbalanced_and_3d():
    a = phenotype_crops((5, 2, 1), (20, 24, 24), seed=7)
    b = phenotype_crops((5, 2, 1), (20, 24, 24), seed=7)
    assert a.labels.tolist() == [0] * 5 + [1] * 2 + [2]
    assert all(np.array_equal(x, y) for x, y in zip(a.images, b.images))
    assert a.images[0].shape == (20, 24, 24) and a.images[0].dtype == np.float32
    c = phenotype_crops((5, 2, 1), (20, 24, 24), seed=8)
    assert not np.array_equal(a.images[0], c.images[0])
    assert set(PHENOTYPES) == {"round", "elongated", "multinucleated", "textured"}
    assert np.all(a.axis_ratio[a.labels == 1] >= 2.0)


def test_errors():
    with pytest.raises(ValueError, match="classes must be distinct names"):
        phenotype_crops(2, classes=("round", "square"))
    with pytest.raises(ValueError, match="classes must be distinct names"):
        phenotype_crops(2, classes=("round", "round"))
    with pytest.raises(ValueError, match="n_per_class must be"):
        phenotype_crops((1, 2))
    with pytest.raises(ValueError, match="noise must be >= 0"):
        phenotype_crops(1, noise=-1)
    with pytest.raises(ValueError, match="too small for a cell"):
        phenotype_crops(1, (8, 8))
    with pytest.raises(ValueError, match="shape must have"):
        phenotype_crops(1, (8,))
