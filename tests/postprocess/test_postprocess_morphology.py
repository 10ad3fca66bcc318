import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import segmentation

from biakit.blocks import apply_blockwise, get_halo
from biakit.postprocess import closing, expand_labels, opening
from biakit.segment._common import ellipsoid_footprint


def _random_labels(shape, seed):
    rng = np.random.default_rng(seed)
    cells = rng.integers(1, 6, size=tuple(-(-n // 6) for n in shape))
    labels = np.kron(cells, np.ones((6,) * len(shape), int))[tuple(slice(0, n) for n in shape)]
    labels[ndi.gaussian_filter(rng.random(shape), 1) < 0.45] = 0
    return labels.astype(np.int32)


def _per_object_opening(labels, fp):
    """Reference: binary opening of each object, outside of the image ignored."""
    out = np.zeros_like(labels)
    for k in np.unique(labels[labels > 0]):
        obj = labels == k
        eroded = ndi.binary_erosion(obj, fp, border_value=1)
        out[ndi.binary_dilation(eroded, fp) & obj] = k
    return out


@pytest.mark.parametrize(("shape", "radius"), [((40, 44), 1.5), ((12, 24, 24), 1.0)])
def test_opening_equals_per_object_reference(shape, radius):
    labels = _random_labels(shape, 0)
    fp = ellipsoid_footprint(radius, (1.0,) * len(shape))
    out = opening(labels, radius)
    np.testing.assert_array_equal(out, _per_object_opening(labels, fp))
    assert set(np.unique(out)) <= set(np.unique(labels))


def test_opening_keeps_touching_objects_apart():
    labels = np.zeros((12, 20), np.int32)
    labels[2:10, 2:10], labels[2:10, 10:18] = 1, 2
    labels[5, 18] = 2  # spur
    out = opening(labels, 1.5)
    assert out[5, 18] == 0
    np.testing.assert_array_equal(out[2:10, 2:18], labels[2:10, 2:18])
    mask_out = opening(labels > 0, 1.5)
    assert mask_out.dtype == bool and not mask_out[5, 18]


def test_closing_per_object_no_merge():
    labels = np.zeros((12, 24), np.int32)
    labels[2:10, 2:10] = 1
    labels[5, 5] = 0  # hole inside object 1
    labels[2:10, 11:20] = 2  # one-pixel gap at column 10 between the two objects
    out = closing(labels, 1.5)
    assert out[5, 5] == 1
    assert (out[:, 10] == 0).all()  # the gap between two objects is not closed
    merged = closing(labels > 0, 1.5)
    assert merged[2:10, 10].all()  # a mask is closed as a whole
    # closing never shrinks objects at the image border
    edge = np.zeros((6, 6), np.int32)
    edge[:, :3] = 4
    np.testing.assert_array_equal(closing(edge, 2.0), edge)


def test_morphology_anisotropic_spacing():
    labels = np.zeros((9, 9, 9), np.int32)
    labels[2:7, 2:7, 2:7] = 1
    # radius 2 µm with 2 µm z-steps: the ball is 1 voxel along z, 2 in y and x
    assert get_halo(opening, 3, radius=2.0, spacing=(2.0, 1.0, 1.0)) == (2, 4, 4)
    assert opening(labels, 2.0, spacing=(2.0, 1.0, 1.0)).sum() > 0
    assert opening(labels, 3.0).sum() == 0  # a ball 7 px across does not fit in 5 px


@pytest.mark.parametrize("func", [opening, closing])
def test_morphology_blockwise_equals_whole(func):
    labels = _random_labels((48, 48), 1)
    whole = func(labels, 1.5)
    blocks = apply_blockwise(func, labels, chunks=16, boundary="none", radius=1.5)
    np.testing.assert_array_equal(blocks.compute(), whole)


def test_expand_labels_equals_skimage_and_spacing():
    labels = _random_labels((40, 40), 2)
    labels[labels == 3] = 0
    out = expand_labels(labels, 3)
    np.testing.assert_array_equal(out, segmentation.expand_labels(labels, 3))
    line = np.zeros((1, 12), np.int32)
    line[0, 5] = 1
    np.testing.assert_array_equal(
        expand_labels(line, 2, spacing=(1.0, 0.5))[0] > 0, np.abs(np.arange(12) - 5) <= 4
    )
    mask = expand_labels(line > 0, 1)
    assert mask.dtype == bool and mask.sum() == 3
    assert not expand_labels(np.zeros((3, 3), int), 2).any()


def test_expand_labels_blockwise():
    labels = np.zeros((40, 40), np.int32)
    labels[5, 5], labels[20, 30], labels[33, 12] = 1, 2, 3
    whole = expand_labels(labels, 4)
    blocks = apply_blockwise(expand_labels, labels, chunks=10, boundary="none", distance=4)
    np.testing.assert_array_equal(blocks.compute(), whole)


def test_morphology_errors():
    labels = np.zeros((5, 5), np.int32)
    with pytest.raises(ValueError, match="radius must be a finite number >= 0"):
        opening(labels, -1)
    with pytest.raises(TypeError, match="radius must be a number"):
        closing(labels, "2")
    with pytest.raises(ValueError, match="distance must be a finite number"):
        expand_labels(labels, np.inf)
    with pytest.raises(ValueError, match="spacing must be positive"):
        expand_labels(labels, 1, spacing=(-1, 1))
    with pytest.raises(TypeError, match="labels_or_mask must be an integer label image"):
        opening(labels.astype(float), 1)
