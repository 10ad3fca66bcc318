import numpy as np
import pytest
from scipy.spatial.distance import pdist

from biakit.data import SyntheticSpots, synthetic_spots
from biakit.errors import ParameterError


def _expected_clean(shape, points, classes, amplitude, sigma, background):
    """Independent rendering: untruncated Gaussians on the full grid."""
    grid = np.indices(shape, dtype=float)
    out = np.full(shape, background)
    for p, k in zip(points, classes):
        s = np.asarray(sigma, float) * (1 + 0.5 * k)
        r2 = sum(((grid[d] - p[d]) / s[d]) ** 2 for d in range(len(shape)))
        out += amplitude * np.exp(-0.5 * r2)
    return out


@pytest.mark.parametrize(
    ("shape", "sigma", "spacing"),
    [((64, 80), 1.5, None), ((12, 40, 40), (0.8, 1.5, 1.5), (2.5, 1.0, 1.0))],
)
def test_clean_matches_analytic_spots(shape, sigma, spacing):
    s = synthetic_spots(
        shape,
        n_spots=12,
        sigma=sigma,
        amplitude=0.8,
        min_distance=6.0,
        n_classes=3,
        background=0.05,
        spacing=spacing,
        gaussian_noise=0,
        seed=1,
    )
    assert isinstance(s, SyntheticSpots)
    assert s.image.shape == s.clean.shape == shape
    assert s.image.dtype == s.clean.dtype == np.float32
    assert s.axes == ("YX" if len(shape) == 2 else "ZYX")
    assert s.points.shape == (12, len(shape)) and s.points.dtype == np.float64
    assert s.classes.shape == (12,) and set(s.classes.tolist()) <= {0, 1, 2}
    assert np.all(s.points >= 0) and np.all(s.points <= np.subtract(shape, 1))
    expected = _expected_clean(
        shape, s.points, s.classes, 0.8, np.broadcast_to(sigma, len(shape)), 0.05
    )
    # the generator truncates each spot at 4 sd: exp(-8) of the amplitude at most
    np.testing.assert_allclose(s.clean, expected, atol=0.8 * np.exp(-8) * 3 + 1e-6)
    np.testing.assert_array_equal(s.image, s.clean)


def test_min_distance_in_physical_units():
    s = synthetic_spots((16, 64, 64), n_spots=80, min_distance=5.0, spacing=(3.0, 1.0, 1.0))
    assert len(s.points) == 80
    assert pdist(s.points * np.array([3.0, 1.0, 1.0])).min() >= 5.0
    assert s.spacing == (3.0, 1.0, 1.0)


def test_too_many_spots_gives_fewer_still_apart():
    s = synthetic_spots((16, 16), n_spots=500, min_distance=4.0, seed=0)
    assert 5 < len(s.points) < 500
    assert len(s.classes) == len(s.points)
    assert pdist(s.points).min() >= 4.0


def test_classes_drawn_uniformly():
    s = synthetic_spots((128, 128), n_spots=300, n_classes=3, min_distance=2.0, seed=0)
    counts = np.bincount(s.classes, minlength=3)
    assert counts.sum() == 300 and counts.min() > 70


def test_noise_statistics():
    s = synthetic_spots((128, 128), n_spots=40, gaussian_noise=0.03, seed=2)
    residual = s.image.astype(np.float64) - s.clean
    assert abs(residual.std() - 0.03) < 0.001
    p = synthetic_spots((128, 128), n_spots=40, gaussian_noise=0, poisson_photons=100.0, seed=2)
    residual = p.image.astype(np.float64) - p.clean
    assert abs(np.mean(residual**2) / (p.clean.mean() / 100.0) - 1) < 0.1


def test_deterministic():
    a = synthetic_spots((32, 32), n_spots=10, n_classes=2, seed=4)
    b = synthetic_spots((32, 32), n_spots=10, n_classes=2, seed=4)
    for field in ("image", "points", "classes", "clean"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = synthetic_spots((32, 32), n_spots=10, n_classes=2, seed=5)
    assert not np.array_equal(a.points, c.points)
    empty = synthetic_spots((8, 8), n_spots=0)
    assert empty.points.shape == (0, 2) and empty.classes.shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(shape=(5,)), ValueError, "shape must have"),
        (dict(sigma=0), ValueError, "sigma must be positive"),
        (dict(sigma=(1, 2, 3)), ValueError, "sigma must be a number or 2 numbers"),
        (dict(n_classes=0), ValueError, "n_classes must be >= 1"),
        (dict(amplitude=(1.0, 0.5)), ValueError, "amplitude must satisfy"),
        (dict(min_distance=-1), ValueError, "min_distance must be a finite number >= 0"),
        (dict(n_spots=-3), ValueError, "n_spots must be >= 0"),
        (dict(spacing=(1, 1, 1)), ParameterError, r"spacing has 3 value\(s\) .* 2 spatial axes"),
    ],
)
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        synthetic_spots(**{"shape": (32, 32), **kwargs})
