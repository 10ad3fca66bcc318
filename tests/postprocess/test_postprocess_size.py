import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import morphology

from biakit.blocks import GLOBAL, get_halo
from biakit.postprocess import (
    clear_border,
    fill_holes,
    relabel_sequential,
    remove_large_objects,
    remove_small_objects,
)


def test_remove_small_and_large_pixels():
    labels = np.zeros((10, 10), np.int32)
    labels[0:2, 0:2] = 3  # 4 px
    labels[5:8, 5:8] = 7  # 9 px
    labels[9, 9] = 2  # 1 px
    out = remove_small_objects(labels, 4)
    assert sorted(np.unique(out)) == [0, 3, 7] and out.dtype == labels.dtype
    assert sorted(np.unique(remove_large_objects(labels, 4))) == [0, 2, 3]


def test_remove_small_physical_units_3d():
    spacing = (2.0, 0.5, 0.5)  # voxel volume 0.5 µm³
    labels = np.zeros((4, 10, 10), np.int32)
    labels[0, 0:2, 0:2] = 1  # 4 voxels = 2 µm³
    labels[1:3, 4:8, 4:8] = 2  # 32 voxels = 16 µm³
    assert sorted(np.unique(remove_small_objects(labels, 3.0, spacing=spacing))) == [0, 2]
    assert sorted(np.unique(remove_small_objects(labels, 3.0))) == [0, 1, 2]  # pixels: 4 >= 3
    assert sorted(np.unique(remove_large_objects(labels, 10.0, spacing=spacing))) == [0, 1]


def test_remove_small_mask_equals_skimage():
    mask = ndi.gaussian_filter(np.random.default_rng(0).random((60, 60)), 1.2) > 0.55
    out = remove_small_objects(mask, 10)
    assert out.dtype == bool
    np.testing.assert_array_equal(out, morphology.remove_small_objects(mask, max_size=9))
    eight = remove_small_objects(mask, 10, connectivity=2)
    ref8 = morphology.remove_small_objects(mask, max_size=9, connectivity=2)
    np.testing.assert_array_equal(eight, ref8)


def test_fill_holes_ring_and_per_object():
    yy, xx = np.mgrid[:30, :50]
    r = np.hypot(yy - 15, xx - 12)
    labels = np.where((r < 10) & (r >= 4), 5, 0).astype(np.int32)
    out = fill_holes(labels)
    np.testing.assert_array_equal(out, np.where(r < 10, 5, 0))
    # a hole enclosed by two touching objects is not a hole of either
    labels[5:25, 30:40] = 1
    labels[5:25, 40:48] = 2
    labels[12:18, 37:43] = 0
    out = fill_holes(labels)
    assert (out[12:18, 37:43] == 0).all()
    assert (out[r < 10] == 5).all()


def test_fill_holes_mask_equals_scipy_3d_and_max_size():
    mask = ndi.gaussian_filter(np.random.default_rng(1).random((12, 30, 30)), 1) > 0.45
    out = fill_holes(mask)
    assert out.dtype == bool
    np.testing.assert_array_equal(out, ndi.binary_fill_holes(mask))
    # the per-object label path gives the same on a single-id label image
    labelled = fill_holes(mask.astype(np.int32))
    np.testing.assert_array_equal(labelled, ndi.binary_fill_holes(mask).astype(np.int32))
    ring = np.ones((9, 9), bool)
    ring[2:4, 2:4] = False  # hole of 4 px
    ring[5, 5] = False  # hole of 1 px
    small = fill_holes(ring, max_hole_size=1)
    assert small[5, 5] and not small[2:4, 2:4].any()
    # with 0.5 µm pixels the holes cover 1.0 and 0.25 µm²
    assert fill_holes(ring, max_hole_size=1.0, spacing=0.5).all()
    np.testing.assert_array_equal(fill_holes(ring, max_hole_size=0.5, spacing=0.5), small)
    assert fill_holes(np.ones((3, 3), np.int32)).all()


def test_clear_border_and_buffer():
    labels = np.zeros((10, 10), np.int32)
    labels[0, 3] = 1
    labels[2:4, 2:4] = 2
    labels[5:7, 5:7] = 3
    assert sorted(np.unique(clear_border(labels))) == [0, 2, 3]
    assert sorted(np.unique(clear_border(labels, buffer=2))) == [0, 3]
    mask = clear_border(labels > 0)
    assert mask.dtype == bool and mask.sum() == 8
    assert not clear_border(labels, buffer=20).any()


def test_relabel_sequential():
    labels = np.array([[0, 7, 7], [3, 0, 12]])
    out = relabel_sequential(labels)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, 2, 2], [1, 0, 3]])
    huge = np.array([[0, 2**40], [5, 5]], dtype=np.int64)
    np.testing.assert_array_equal(relabel_sequential(huge), [[0, 2], [1, 1]])
    np.testing.assert_array_equal(relabel_sequential(np.zeros((2, 2), int)), 0)


def test_size_halos_are_global():
    for func in (remove_small_objects, fill_holes, clear_border, relabel_sequential):
        assert get_halo(func, 2) == GLOBAL


def test_size_errors():
    labels = np.zeros((4, 4), np.int32)
    with pytest.raises(ValueError, match="min_size must be a finite number >= 0"):
        remove_small_objects(labels, -1)
    with pytest.raises(TypeError, match="max_size must be a number"):
        remove_large_objects(labels, None)
    with pytest.raises(TypeError, match="integer label image or a boolean mask"):
        remove_small_objects(labels.astype(float), 2)
    with pytest.raises(ValueError, match="negative values"):
        fill_holes(labels - 1)
    with pytest.raises(ValueError, match="max_hole_size must be a finite number"):
        fill_holes(labels, max_hole_size=np.nan)
    with pytest.raises(ValueError, match="buffer must be a non-negative int"):
        clear_border(labels, buffer=-1)
    with pytest.raises(ValueError, match="labels must be 2D or 3D"):
        relabel_sequential(np.zeros(4, int))
    with pytest.raises(ValueError, match="connectivity must be between"):
        remove_small_objects(labels > 0, 2, connectivity=3)
