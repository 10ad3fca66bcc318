import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import measure, segmentation

from biakit.blocks import GLOBAL, apply_blockwise, get_halo
from biakit.segment import label, watershed_distance, watershed_seeded


def test_label_matches_skimage_2d_3d():
    rng = np.random.default_rng(0)
    for shape in [(40, 50), (10, 20, 20)]:
        mask = ndi.gaussian_filter(rng.random(shape), 1.5) > 0.5
        for conn in range(1, len(shape) + 1):
            out = label(mask, connectivity=conn)
            ref = measure.label(mask, connectivity=conn)
            assert out.dtype == np.int32
            np.testing.assert_array_equal(out, ref)
            assert set(np.unique(out)) == set(range(out.max() + 1))


def test_label_hand_case_and_halo():
    mask = np.array([[1, 0, 1], [0, 1, 0]])
    assert label(mask).max() == 3
    assert label(mask, connectivity=2).max() == 1
    assert get_halo(label, 2) == GLOBAL
    with pytest.raises(ValueError, match="whole image"):
        apply_blockwise(label, mask, chunks=2)


def test_label_errors():
    with pytest.raises(ValueError, match="connectivity must be between 1 and 2"):
        label(np.ones((3, 3)), connectivity=3)
    with pytest.raises(TypeError, match="connectivity must be an int"):
        label(np.ones((3, 3)), connectivity=1.0)
    with pytest.raises(ValueError, match="mask must be 2D or 3D"):
        label(np.ones((2, 2, 2, 2)))


def test_watershed_seeded_equals_skimage():
    rng = np.random.default_rng(1)
    image = ndi.gaussian_filter(rng.random((40, 40)), 2)
    markers = np.zeros((40, 40), int)
    markers[5, 5], markers[30, 30], markers[5, 35] = 1, 2, 3
    mask = image > np.percentile(image, 10)
    for kw in [{}, {"compactness": 0.01}, {"watershed_line": True}]:
        out = watershed_seeded(image, markers, mask=mask, **kw)
        ref = segmentation.watershed(image, markers, mask=mask, **kw)
        assert out.dtype == np.int32
        np.testing.assert_array_equal(out, ref)


def test_watershed_seeded_ridge():
    image = np.array([[0, 1, 5, 1, 0]], dtype=float).repeat(3, axis=0)
    markers = np.zeros((3, 5), dtype=int)
    markers[1, 0], markers[1, 4] = 1, 2
    np.testing.assert_array_equal(watershed_seeded(image, markers)[0], [1, 1, 1, 2, 2])
    line = watershed_seeded(image, markers, watershed_line=True)[0]
    np.testing.assert_array_equal(line, [1, 1, 0, 2, 2])


def test_watershed_seeded_errors():
    image = np.zeros((5, 5))
    with pytest.raises(ValueError, match="markers has shape"):
        watershed_seeded(image, np.zeros((4, 5), int))
    with pytest.raises(ValueError, match="mask has shape"):
        watershed_seeded(image, np.zeros((5, 5), int), mask=np.ones((5, 4)))
    with pytest.raises(TypeError, match="markers must be an integer label image"):
        watershed_seeded(image, np.zeros((5, 5)))
    with pytest.raises(ValueError, match="markers have negative values"):
        watershed_seeded(image, -np.ones((5, 5), int))
    with pytest.raises(ValueError, match="compactness must be a finite number >= 0"):
        watershed_seeded(image, np.zeros((5, 5), int), compactness=-1)


@pytest.mark.parametrize(("radius", "gap"), [(6, 9.5), (9, 15.0), (12, 19.0), (10, 20.0)])
def test_two_overlapping_discs_split(balls, iou, radius, gap):
    shape = (4 * radius, 4 * radius + int(gap))
    c1 = (2 * radius, 2 * radius)
    c2 = (2 * radius + 0.3, 2 * radius + gap)
    truth = [balls(shape, [c], radius) > 0 for c in (c1, c2)]
    out = watershed_distance(truth[0] | truth[1])
    assert out.dtype == np.int32
    assert out.max() == 2
    assert min(iou(out, t) for t in truth) > 0.9


def test_single_ellipses_not_split(seed=2):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:40, :40]
    for _ in range(20):
        r, aspect, th = rng.uniform(6, 12), rng.uniform(1.0, 1.5), rng.uniform(0, np.pi)
        u = (yy - 20) * np.cos(th) + (xx - 20) * np.sin(th)
        v = -(yy - 20) * np.sin(th) + (xx - 20) * np.cos(th)
        mask = (u / (r * np.sqrt(aspect))) ** 2 + (v * np.sqrt(aspect) / r) ** 2 < 1
        assert watershed_distance(mask).max() == 1


def test_h_maxima_and_min_distance_control_splitting(balls):
    # two discs of radius 8 whose centres are 13 px apart: EDT peaks 8, saddle 6
    mask = balls((32, 44), [(16, 16), (16, 29)], 8) > 0
    assert watershed_distance(mask).max() == 2
    assert watershed_distance(mask, min_distance=14).max() == 1  # seeds too close
    assert watershed_distance(mask, h=2.5).max() == 1  # saddle depth 2 < h
    assert watershed_distance(mask, h=1.5).max() == 2
    fp = np.ones((3, 3), bool)
    assert watershed_distance(mask, footprint=fp).max() >= 2


def test_every_component_labelled_and_watershed_line(balls):
    mask = balls((40, 70), [(20, 12), (20, 26), (20, 60)], 8) > 0
    mask[2, 2] = True  # a one-pixel object next to nothing
    out = watershed_distance(mask)
    assert out.max() == 4
    np.testing.assert_array_equal(out > 0, mask)
    lined = watershed_distance(mask, watershed_line=True)
    assert lined.max() == 4 and (mask & (lined == 0)).sum() > 0
    assert watershed_distance(np.zeros((8, 8), bool)).max() == 0


def test_anisotropic_spheres_need_spacing(balls, iou):
    spacing = (3.0, 1.0, 1.0)  # z steps three times the xy pixel size
    centers = [(21.0, 20.0, 20.0), (39.0, 20.0, 20.0)]  # stacked along z, 18 apart
    truth = [balls((20, 40, 40), [c], 10, spacing) > 0 for c in centers]
    mask = truth[0] | truth[1]
    with_spacing = watershed_distance(mask, spacing=spacing)
    assert with_spacing.max() == 2
    assert min(iou(with_spacing, t) for t in truth) > 0.9
    without = watershed_distance(mask)
    assert without.max() != 2 or min(iou(without, t) for t in truth) < 0.9


def test_watershed_distance_errors():
    mask = np.ones((6, 6), bool)
    with pytest.raises(ValueError, match=r"spacing has 3 value\(s\) .* 2 spatial axes"):
        watershed_distance(mask, spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="spacing must be positive"):
        watershed_distance(mask, spacing=(0, 1))
    with pytest.raises(ValueError, match="min_distance must be a finite number >= 0"):
        watershed_distance(mask, min_distance=-2)
    with pytest.raises(ValueError, match="h must be a finite number >= 0"):
        watershed_distance(mask, h=np.inf)
    with pytest.raises(ValueError, match="footprint must be a non-empty 2D"):
        watershed_distance(mask, footprint=np.ones(3, bool))
    with pytest.raises(TypeError, match="compactness must be a number"):
        watershed_distance(mask, compactness="0")
