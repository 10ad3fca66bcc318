import numpy as np
import pytest

from biakit.blocks import GLOBAL, get_halo
from biakit.segment import region_growing


def _pieces(shape, seed=0):
    """Piecewise-constant image: 4 quadrants plus a square, distinct levels."""
    truth = np.zeros(shape, np.int32)
    h, w = shape[-2] // 2, shape[-1] // 2
    truth[..., :h, :w], truth[..., :h, w:] = 1, 2
    truth[..., h:, :w], truth[..., h:, w:] = 3, 4
    truth[..., h - 4 : h + 4, w - 4 : w + 4] = 5
    levels = np.array([0, 10.0, 20.0, 30.0, 40.0, 25.0])
    return truth, levels[truth]


@pytest.mark.parametrize("shape", [(40, 48), (6, 20, 24)])
def test_recovers_piecewise_constant(shape):
    truth, image = _pieces(shape)
    seeds = np.zeros(shape, np.int32)
    for k in range(1, 6):
        first = tuple(np.argwhere(truth == k)[0])
        seeds[first] = k
    out = region_growing(image, seeds, tolerance=2.0)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, truth)
    # without tolerance (classic SRG) every pixel is taken and the pieces still come back
    np.testing.assert_array_equal(region_growing(image, seeds), truth)


def test_points_and_mask_seeds_and_noise():
    truth, image = _pieces((40, 40))
    image = image + np.random.default_rng(1).normal(0, 1.0, image.shape)
    points = [tuple(np.argwhere(truth == k)[5]) for k in range(1, 6)]
    out = region_growing(image, points, tolerance=4.5)
    assert (out == truth).mean() > 0.99
    mask_seeds = np.zeros((40, 40), bool)
    mask_seeds[2:4, 2:4] = True
    alone = region_growing(image, mask_seeds, tolerance=4.5)
    assert set(np.unique(alone)) == {0, 1}
    assert ((alone == 1) == (truth == 1)).mean() > 0.99


def test_competition_goes_to_most_similar_region():
    # pixel 2 (value 6) lies between a region of mean 5 and one of mean 9
    image = np.array([[5.0, 5.0, 6.0, 9.0, 9.0]])
    out = region_growing(image, [(0, 0), (0, 4)])
    np.testing.assert_array_equal(out, [[1, 1, 1, 2, 2]])
    image = np.array([[5.0, 5.0, 8.0, 9.0, 9.0]])
    np.testing.assert_array_equal(region_growing(image, [(0, 0), (0, 4)]), [[1, 1, 2, 2, 2]])


def test_running_mean_and_tolerance():
    # ramp 0, 0.5, 1.0, ...: the running means are 0, .25, .5, .75, 1.0, 1.25; pixel 5
    # (2.5) is exactly 1.5 above the mean 1.0, pixel 6 (3.0) is 1.75 above 1.25: stop
    image = np.arange(10, dtype=float)[None, :] * 0.5
    out = region_growing(image, [(0, 0)], tolerance=1.5)
    np.testing.assert_array_equal(out[0], [1] * 6 + [0] * 4)


def test_max_size_and_connectivity():
    image = np.zeros((10, 10))
    out = region_growing(image, [(5, 5)], tolerance=0.0, max_size=7)
    assert (out == 1).sum() == 7
    diag = np.eye(5)
    assert (region_growing(diag, [(0, 0)], tolerance=0.5) == 1).sum() == 1
    assert (region_growing(diag, [(0, 0)], tolerance=0.5, connectivity=2) == 1).sum() == 5
    assert get_halo(region_growing, 2) == GLOBAL


def test_region_growing_errors():
    image = np.zeros((6, 6))
    with pytest.raises(ValueError, match="seeds must be a label image of shape"):
        region_growing(image, [1, 2])
    with pytest.raises(ValueError, match="outside the image"):
        region_growing(image, [(7, 1)])
    with pytest.raises(ValueError, match="seeds have negative values"):
        region_growing(image, -np.ones((6, 6), int))
    with pytest.raises(ValueError, match="tolerance must be a finite number >= 0"):
        region_growing(image, [(1, 1)], tolerance=-1)
    with pytest.raises(ValueError, match="max_size must be a positive int"):
        region_growing(image, [(1, 1)], max_size=0)
    with pytest.raises(ValueError, match="connectivity must be between"):
        region_growing(image, [(1, 1)], connectivity=3)
