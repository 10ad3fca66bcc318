"""Gaussian point heat maps: peak values, widths, overlaps, classes, speed, errors."""

import time

import numpy as np
import pytest

from biakit.errors import DataError, ParameterError
from biakit.nn.targets._points import point_heatmap


def dense_reference(points, shape, sd, subpixel, truncate=4.0):
    """Brute force: every voxel, every point, same truncation box (independent of the code)."""
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    out = np.zeros(shape)
    for p in np.asarray(points, float):
        c = p if subpixel else np.rint(p)
        base = np.rint(c)
        radius = np.ceil(truncate * np.asarray(sd))
        inside = np.all([np.abs(g - b) <= r for g, b, r in zip(grids, base, radius)], axis=0)
        value = np.exp(-0.5 * sum(((g - ci) / s) ** 2 for g, ci, s in zip(grids, c, sd)))
        out = np.maximum(out, np.where(inside, value, 0))
    return out


def test_peak_is_one_and_profile_is_gaussian():
    h = point_heatmap([[10, 12]], (21, 25), sigma=2.0)
    assert h.shape == (1, 21, 25) and h.dtype == np.float32
    assert h[0, 10, 12] == 1.0 and h.max() == 1.0
    for d in range(1, 5):  # exp(-d^2 / 8): the sd is 2 pixels
        assert h[0, 10, 12 + d] == pytest.approx(np.exp(-(d**2) / 8), rel=1e-6)
        assert h[0, 10 - d, 12] == pytest.approx(np.exp(-(d**2) / 8), rel=1e-6)
    # full width at half maximum 2 sqrt(2 ln 2) sigma = 4.71 px: half max between 2 and 3 px
    assert h[0, 10, 14] > 0.5 > h[0, 10, 15]
    assert h[0, 10, 12 + 9] == 0  # beyond ceil(4 sigma) = 8 px: truncated


def test_rounded_positions_versus_subpixel():
    rounded = point_heatmap([[5.4, 7.6]], (12, 14), sigma=1.0)
    assert rounded[0, 5, 8] == 1.0
    exact = point_heatmap([[5.4, 7.6]], (12, 14), sigma=1.0, subpixel=True)
    assert exact.max() < 1.0
    assert exact[0, 5, 8] == pytest.approx(np.exp(-0.5 * (0.4**2 + 0.4**2)), rel=1e-6)
    assert exact[0, 6, 7] == pytest.approx(np.exp(-0.5 * (0.6**2 + 0.6**2)), rel=1e-6)


def test_anisotropic_spacing_gives_physical_sigma():
    # sigma 2 (physical), spacing (2, 1): sd 1 px along y, 2 px along x
    h = point_heatmap([[8, 8]], (17, 17), sigma=2.0, spacing=(2.0, 1.0))
    assert h[0, 9, 8] == pytest.approx(np.exp(-0.5), rel=1e-6)
    assert h[0, 8, 10] == pytest.approx(np.exp(-0.5), rel=1e-6)
    per_axis = point_heatmap([[8, 8]], (17, 17), sigma=(1.0, 2.0))
    np.testing.assert_array_equal(h, per_axis)


def test_overlapping_points_take_the_maximum():
    h = point_heatmap([[10, 10], [10, 12]], (21, 23), sigma=2.0)
    assert h[0, 10, 10] == 1.0 and h[0, 10, 12] == 1.0
    assert h[0, 10, 11] == pytest.approx(np.exp(-1 / 8), rel=1e-6)  # not the sum
    dup = point_heatmap([[3, 3], [3, 3]], (7, 7), sigma=1.0)
    assert dup.max() == 1.0


@pytest.mark.parametrize("subpixel", [False, True])
def test_matches_dense_reference_2d_3d_and_borders(subpixel):
    rng = np.random.default_rng(0)
    pts2 = rng.uniform(-1, 30, (40, 2))  # some near / past the borders
    h2 = point_heatmap(pts2, (30, 28), sigma=1.5, subpixel=subpixel)
    ref2 = dense_reference(pts2, (30, 28), (1.5, 1.5), subpixel)
    np.testing.assert_allclose(h2[0], ref2, atol=1e-6)
    pts3 = rng.uniform(0, 12, (15, 3))
    h3 = point_heatmap(pts3, (12, 14, 13), sigma=2.0, spacing=(2.0, 1.0, 1.0), subpixel=subpixel)
    ref3 = dense_reference(pts3, (12, 14, 13), (1.0, 2.0, 2.0), subpixel)
    np.testing.assert_allclose(h3[0], ref3, atol=1e-6)


def test_classes_go_to_their_channel_and_empty_input():
    h = point_heatmap([[2, 2], [6, 6], [2, 6]], (9, 9), sigma=1.0, classes=[0, 2, 2], n_classes=3)
    assert h.shape == (3, 9, 9)
    assert h[0, 2, 2] == 1 and h[0, 6, 6] < 1e-3
    assert not h[1].any()
    assert h[2, 6, 6] == 1 and h[2, 2, 6] == 1 and h[2, 2, 2] < 1e-3
    empty = point_heatmap(np.zeros((0, 3)), (4, 5, 6), n_classes=2)
    assert empty.shape == (2, 4, 5, 6) and not empty.any()
    assert not point_heatmap([], (4, 5)).any()


def test_ten_thousand_points_are_fast():
    points = np.random.default_rng(1).uniform(0, 1023, (10_000, 2))
    start = time.perf_counter()
    h = point_heatmap(points, (1024, 1024), sigma=2.0)
    assert time.perf_counter() - start < 5.0  # ~0.2 s unloaded
    assert (h[0][tuple(np.rint(points).astype(int).T)] == 1).all()


def test_scalar_spacing_equals_repeated_sequence():
    pts = [[2.3, 4.1, 5.7]]
    np.testing.assert_array_equal(
        point_heatmap(pts, (6, 9, 10), sigma=1.5, spacing=0.5),
        point_heatmap(pts, (6, 9, 10), sigma=(1.5,) * 3, spacing=(0.5, 0.5, 0.5)),
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"points": [[1, 2, 3]]}, ValueError, r"points must be an \(N, 2\) array"),
        ({"points": [[1, np.nan]]}, DataError, r"points has 1 NaN and 0 infinite value\(s\)"),
        ({"shape": (5,)}, ValueError, "shape must be 2 or 3 positive sizes"),
        ({"shape": 5}, TypeError, "shape must be a tuple of ints"),
        ({"sigma": -1.0}, ParameterError, "sigma must be positive finite numbers"),
        ({"sigma": (1.0, 2.0, 3.0)}, ParameterError, r"sigma has 3 value\(s\)"),
        ({"spacing": (1.0, 0.0)}, ParameterError, "spacing must be positive finite numbers"),
        ({"spacing": (1.0, 1.0, 1.0)}, ParameterError, r"spacing has 3 value\(s\)"),
        ({"classes": [0, 1]}, ValueError, "classes has 2 entries but there are 1 points"),
        ({"classes": [3], "n_classes": 2}, ValueError, r"expected 0\.\.1 \(set n_classes\)"),
        ({"classes": [0.5]}, ValueError, "classes must be integers"),
        ({"n_classes": 0}, ValueError, "n_classes must be >= 1"),
        ({"n_classes": 1.0}, TypeError, "n_classes must be an int"),
        ({"truncate": 0}, ParameterError, "truncate must be a positive finite number"),
    ],
)
def test_errors(kwargs, error, match):
    args = {"points": [[1, 2]], "shape": (8, 8)} | kwargs
    with pytest.raises(error, match=match):
        point_heatmap(args.pop("points"), args.pop("shape"), **args)
