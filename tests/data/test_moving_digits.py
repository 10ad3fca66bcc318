"""Moving-digits generator: shapes, seeds, bouncing motion checked against sklearn's digits."""

import numpy as np
import pytest
from scipy import ndimage as ndi
from sklearn.datasets import load_digits

from biakit.data._moving_digits import moving_digits


def test_shape_range_and_seed():
    a = moving_digits(3, 6, canvas=24, seed=4)
    assert a.shape == (3, 6, 24, 24) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, moving_digits(3, 6, canvas=24, seed=4))
    assert not np.array_equal(a, moving_digits(3, 6, canvas=24, seed=5))


def test_still_digit_is_an_enlarged_sklearn_digit():
    movie = moving_digits(1, 3, canvas=20, n_digits=1, digit_scale=2, speed=0.0, seed=0)[0]
    np.testing.assert_array_equal(movie[0], movie[2])  # speed 0: nothing moves
    frame_box = _bbox_crop(movie[0])
    digits = load_digits().images / 16.0
    # the frame shows one of sklearn's digits, each pixel replicated 2 x 2
    assert any(np.array_equal(_bbox_crop(np.kron(d, np.ones((2, 2)))), frame_box) for d in digits)


def _bbox_crop(image):
    ys, xs = np.nonzero(image)
    return image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def test_one_digit_keeps_its_mass_and_moves_at_speed():
    movie = moving_digits(1, 30, canvas=32, n_digits=1, speed=2.0, seed=3)[0]
    mass = movie.sum(axis=(1, 2))
    np.testing.assert_allclose(mass, mass[0], rtol=1e-6)  # never leaves the canvas
    centres = np.array([ndi.center_of_mass(f) for f in movie])
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    assert steps.max() <= 2.0 + 1.0 + 1e-9  # speed plus rounding to whole pixels
    assert np.median(steps) > 1.0  # it moves


def test_errors():
    with pytest.raises(ValueError, match="n_frames must be >= 1, got 0"):
        moving_digits(1, 0)
    with pytest.raises(ValueError, match="do not fit canvas=10"):
        moving_digits(1, 2, canvas=10, digit_scale=2)
    with pytest.raises(ValueError, match="speed must be >= 0"):
        moving_digits(1, 2, speed=-1.0)
