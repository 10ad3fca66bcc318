import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.transform import downscale_local_mean

from biakit.data import low_high_resolution_pair, noisy_clean_pair


@pytest.mark.parametrize("shape", [(96, 128), (16, 48, 48)])
def test_clean_is_structured_and_normalised(shape):
    noisy, clean = noisy_clean_pair(shape, seed=0)
    assert noisy.shape == clean.shape == shape
    assert noisy.dtype == clean.dtype == np.float32
    assert clean.min() >= 0 and clean.max() == 1.0
    bright = (clean > 0.3).mean()
    assert 0.05 < bright < 0.6  # objects on a dark background, not flat
    assert np.abs(ndi.sobel(clean.astype(float), axis=-1)).mean() > 0.01  # edges, texture


def test_gaussian_noise_has_requested_sd():
    noisy, clean = noisy_clean_pair((256, 256), noise="gaussian", level=0.07, seed=1)
    residual = noisy.astype(np.float64) - clean
    assert abs(residual.std() - 0.07) < 0.07 * 0.02
    assert abs(residual.mean()) < 0.002


def test_poisson_gaussian_variance_model():
    level = 0.1
    noisy, clean = noisy_clean_pair((256, 256), noise="poisson_gaussian", level=level, seed=1)
    residual = noisy.astype(np.float64) - clean
    variance = level**2 * clean.astype(np.float64) + (level / 2) ** 2
    # per pixel the standardised residual has unit variance ...
    assert abs(np.mean(residual**2 / variance) - 1) < 0.03
    # ... and the variance grows with the signal (shot noise)
    for region in (clean < 0.15, clean > 0.5):
        assert abs(residual[region].var() / variance[region].mean() - 1) < 0.06
    assert variance[clean > 0.5].mean() > 2.5 * variance[clean < 0.15].mean()


def test_clean_depends_on_seed_only():
    _, a = noisy_clean_pair((64, 64), noise="gaussian", level=0.05, seed=3)
    n1, b = noisy_clean_pair((64, 64), noise="poisson_gaussian", level=0.2, seed=3)
    n2, _ = noisy_clean_pair((64, 64), noise="poisson_gaussian", level=0.2, seed=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(n1, n2)
    _, c = noisy_clean_pair((64, 64), seed=4)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(("shape", "factor"), [((64, 96), 2), ((64, 64), 4), ((16, 32, 32), 2)])
def test_low_resolution_is_the_documented_degradation(shape, factor):
    low, high = low_high_resolution_pair(shape, factor=factor, gaussian_noise=0.0, seed=2)
    assert high.shape == shape and low.shape == tuple(n // factor for n in shape)
    assert low.dtype == high.dtype == np.float32
    blurred = ndi.gaussian_filter(high.astype(np.float64), factor / 2, mode="reflect")
    expected = downscale_local_mean(blurred, (factor,) * len(shape))
    np.testing.assert_allclose(low, expected, atol=1e-6)
    _, clean = noisy_clean_pair(shape, seed=2)
    np.testing.assert_array_equal(high, clean)


def test_low_resolution_noise_and_determinism():
    low0, _ = low_high_resolution_pair((256, 256), factor=2, gaussian_noise=0.0, seed=0)
    low, _ = low_high_resolution_pair((256, 256), factor=2, gaussian_noise=0.02, seed=0)
    assert abs((low.astype(np.float64) - low0).std() - 0.02) < 0.02 * 0.03
    again, _ = low_high_resolution_pair((256, 256), factor=2, gaussian_noise=0.02, seed=0)
    np.testing.assert_array_equal(low, again)


@pytest.mark.parametrize(
    ("func", "kwargs", "error", "match"),
    [
        (noisy_clean_pair, dict(noise="salt"), ValueError, "noise must be one of"),
        (noisy_clean_pair, dict(level=0), ValueError, "level must be a finite number > 0"),
        (noisy_clean_pair, dict(shape=(4, 4, 4, 4)), ValueError, "shape must have"),
        (
            low_high_resolution_pair,
            dict(shape=(30, 32), factor=4),
            ValueError,
            r"must be a multiple of factor=4.*\(28, 32\)",
        ),
        (low_high_resolution_pair, dict(factor=1), ValueError, "factor must be >= 2"),
        (low_high_resolution_pair, dict(factor=2.0), TypeError, "factor must be an integer"),
        (low_high_resolution_pair, dict(gaussian_noise=-1), ValueError, "gaussian_noise must be a"),
    ],
)
def test_errors(func, kwargs, error, match):
    with pytest.raises(error, match=match):
        func(**kwargs)
