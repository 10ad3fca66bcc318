"""find_peaks: exact maps, min_distance, inclusive threshold, plateaus, spacing, sub-pixel."""

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.feature import peak_local_max

from biakit.errors import ParameterError
from biakit.nn.targets._points import point_heatmap
from biakit.segment import find_peaks


def as_set(points):
    return {tuple(p) for p in np.asarray(points).tolist()}


def test_min_distance_suppresses_lower_peaks():
    h = np.zeros((1, 20, 20), np.float32)
    h[0, 5, 5], h[0, 5, 8], h[0, 15, 15] = 0.9, 0.8, 0.7  # 3 px apart, then far away
    pts, cls, scores = find_peaks(h, threshold=0.1, min_distance=3, subpixel=False)
    assert as_set(pts) == {(5.0, 5.0), (15.0, 15.0)}  # distance 3 <= min_distance: suppressed
    np.testing.assert_allclose(scores, [0.9, 0.7])
    assert cls.tolist() == [0, 0] and pts.dtype == np.float64 and scores.dtype == np.float32
    pts, _, _ = find_peaks(h, threshold=0.1, min_distance=2.9, subpixel=False)
    assert as_set(pts) == {(5.0, 5.0), (5.0, 8.0), (15.0, 15.0)}


def test_threshold_is_inclusive():
    h = np.zeros((1, 9, 9))
    h[0, 2, 2], h[0, 6, 6] = 0.5, 0.49999
    pts, _, _ = find_peaks(h, threshold=0.5, min_distance=1, subpixel=False)
    assert pts.tolist() == [[2.0, 2.0]]


def test_border_peaks_and_empty_map():
    h = np.zeros((1, 6, 7))
    h[0, 0, 0], h[0, 5, 6] = 1.0, 0.8
    pts, _, _ = find_peaks(h, threshold=0.5, min_distance=2)
    assert pts.tolist() == [[0.0, 0.0], [5.0, 6.0]]  # border axes are not refined
    pts, cls, scores = find_peaks(np.zeros((2, 5, 5)), threshold=0.5)
    assert pts.shape == (0, 2) and cls.shape == (0,) and scores.shape == (0,)


def test_plateau_gives_one_peak_at_its_centre():
    h = np.zeros((1, 12, 12))
    h[0, 4:6, 4:7] = 0.8  # 2 x 3 plateau, centroid (4.5, 5)
    h[0, 9, 1:4] = 0.6  # 1 x 3 ridge, centroid (9, 2)
    pts, _, scores = find_peaks(h, threshold=0.5, min_distance=1, subpixel=True)
    assert pts.tolist() == [[4.5, 5.0], [9.0, 2.0]]
    np.testing.assert_allclose(scores, [0.8, 0.6])
    pts, _, _ = find_peaks(h, threshold=0.5, min_distance=1, subpixel=False)
    assert pts.tolist() == [[4.0, 5.0], [9.0, 2.0]]  # the plateau voxel nearest the centroid


def test_separate_ties_within_min_distance_keep_the_first():
    h = np.zeros((1, 10, 10))
    h[0, 3, 3] = h[0, 3, 5] = 1.0  # equal, not touching, 2 px apart
    pts, _, _ = find_peaks(h, threshold=0.5, min_distance=3, subpixel=False)
    assert pts.tolist() == [[3.0, 3.0]]
    pts, _, _ = find_peaks(h, threshold=0.5, min_distance=1.5, subpixel=False)
    assert pts.tolist() == [[3.0, 3.0], [3.0, 5.0]]


def test_anisotropic_spacing():
    h = np.zeros((1, 9, 9, 9))
    h[0, 2, 4, 4], h[0, 4, 4, 4] = 1.0, 0.9  # 2 voxels apart along z = 6 physical units
    h[0, 4, 4, 6] = 0.8  # 2 voxels apart along x from the second = 2 physical units
    pts, _, _ = find_peaks(h, threshold=0.5, min_distance=4, spacing=(3, 1, 1), subpixel=False)
    assert pts.tolist() == [[2.0, 4.0, 4.0], [4.0, 4.0, 4.0]]
    pts, _, _ = find_peaks(h, threshold=0.5, min_distance=4, subpixel=False)  # isotropic: 1 peak
    assert pts.tolist() == [[2.0, 4.0, 4.0]]


def test_classes_are_separate_and_sorted():
    h = np.zeros((2, 8, 8))
    h[0, 1, 1], h[0, 6, 6] = 0.6, 0.9
    h[1, 1, 1] = 0.7  # same place, other class: both found
    pts, cls, scores = find_peaks(h, threshold=0.5, min_distance=2, subpixel=False)
    assert pts.tolist() == [[6.0, 6.0], [1.0, 1.0], [1.0, 1.0]]
    assert cls.tolist() == [0, 0, 1]
    np.testing.assert_allclose(scores, [0.9, 0.6, 0.7])


@pytest.mark.parametrize("spacing", [None, (2.0, 1.0, 0.5)])
def test_gaussian_refinement_recovers_subpixel_points(spacing):
    rng = np.random.default_rng(3)
    if spacing is None:  # 2D, grid points with random sub-pixel offsets
        truth = np.stack(np.meshgrid([8, 24, 40], [8, 24, 40], indexing="ij"), -1).reshape(-1, 2)
        truth = truth + rng.uniform(-0.5, 0.5, truth.shape)
        h = point_heatmap(truth, (48, 48), sigma=1.5, subpixel=True)
    else:
        truth = np.array([[5, 8, 10], [10, 20, 30], [6, 24, 12]]) + rng.uniform(-0.5, 0.5, (3, 3))
        h = point_heatmap(truth, (16, 32, 40), sigma=2.0, spacing=spacing, subpixel=True)
    pts, _, _ = find_peaks(h, threshold=0.3, min_distance=2, spacing=spacing, subpixel=True)
    order = np.lexsort(truth.T[::-1])
    np.testing.assert_allclose(pts[np.lexsort(pts.T[::-1])], truth[order], atol=1e-4)


def test_quadratic_and_centroid_refinement_hand_computed():
    h = np.zeros((1, 5, 5))
    h[0, 2, 1:4] = [0.5, 1.0, 0.75]
    quad, _, _ = find_peaks(h, threshold=0.5, min_distance=1, subpixel="quadratic")
    # 0.5 (vm - vp) / (vm - 2 v0 + vp) = 0.5 * -0.25 / -0.75 = -1/6 -> +1/6 towards vp
    np.testing.assert_allclose(quad, [[2.0, 2.0 + 1 / 6]])
    cen, _, _ = find_peaks(h, threshold=0.5, min_distance=1, subpixel="centroid")
    # weights h - min(h) over the 3 x 3 window: (0.75 - 0.5) / 2.25
    np.testing.assert_allclose(cen, [[2.0, 2.0 + 0.25 / 2.25]])
    gauss, _, _ = find_peaks(h, threshold=0.5, min_distance=1, subpixel=True)
    lm, l0, lp = np.log([0.5, 1.0, 0.75])
    np.testing.assert_allclose(gauss, [[2.0, 2.0 + 0.5 * (lm - lp) / (lm - 2 * l0 + lp)]])


def test_agrees_with_skimage_peak_local_max_on_random_maps():
    rng = np.random.default_rng(7)
    h = ndi.gaussian_filter(rng.random((80, 90)), 2.0)
    h = (h - h.min()) / (h.max() - h.min())
    for md in (1, 2, 4):
        pts, _, _ = find_peaks(h[None], threshold=0.3001, min_distance=md, subpixel=False)
        yy, xx = np.mgrid[-md : md + 1, -md : md + 1]
        footprint = (yy**2 + xx**2 <= md**2) | ((abs(yy) <= 1) & (abs(xx) <= 1))
        ref = peak_local_max(
            h, footprint=footprint, threshold_abs=0.3001, exclude_border=False, min_distance=1
        )
        assert as_set(pts.astype(int)) == as_set(ref)
        assert len(pts) > 3


def test_scalar_spacing_equals_repeated_sequence():
    h = np.zeros((1, 9, 12), np.float32)
    h[0, 2, 3], h[0, 2, 5], h[0, 6, 9] = 0.75, 0.625, 0.5
    for a, b in zip(
        find_peaks(h, threshold=0.5, min_distance=1.5, spacing=0.8),
        find_peaks(h, threshold=0.5, min_distance=1.5, spacing=(0.8, 0.8)),
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("heatmap", "kwargs", "error", "match"),
    [
        (np.zeros((5, 5)), {}, ValueError, r"channel-first \(n_classes, Y, X\)"),
        (np.zeros((1, 5, 5), complex), {}, TypeError, "real-valued"),
        (np.zeros((1, 5, 5)), {"threshold": "high"}, TypeError, "threshold must be a number"),
        (np.zeros((1, 5, 5)), {"threshold": np.nan}, ValueError, "threshold must be finite"),
        (np.zeros((1, 5, 5)), {"min_distance": -1}, ValueError, "min_distance must be a finite"),
        (np.zeros((1, 5, 5)), {"subpixel": "cubic"}, ValueError, "subpixel must be True, False"),
        (np.zeros((1, 5, 5)), {"spacing": (1, 1, 1)}, ParameterError, r"spacing has 3 value\(s\)"),
    ],
)
def test_errors(heatmap, kwargs, error, match):
    with pytest.raises(error, match=match):
        find_peaks(heatmap, **kwargs)
