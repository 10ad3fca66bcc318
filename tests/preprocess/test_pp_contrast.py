import numpy as np
import pytest
from skimage import exposure

from biakit.preprocess import clahe, gamma, normalize_percentile, rescale_intensity


def _csbdeep(x, pmin, pmax, clip=False, eps=1e-20):
    """CSBDeep's normalize() written out (csbdeep.utils.normalize_mi_ma)."""
    mi, ma = np.percentile(x, pmin), np.percentile(x, pmax)
    out = (x - mi) / (ma - mi + eps)
    return np.clip(out, 0, 1) if clip else out


@pytest.mark.parametrize("shape", [(30, 40), (5, 20, 21)])
def test_normalize_percentile_csbdeep_semantics(shape):
    img = np.random.default_rng(0).gamma(2.0, 10.0, shape).astype(np.float32)
    out = normalize_percentile(img)
    np.testing.assert_allclose(out, _csbdeep(img.astype(np.float64), 1.0, 99.8), atol=1e-5)
    np.testing.assert_allclose(
        normalize_percentile(img, 3, 97, clip=True), _csbdeep(img, 3, 97, clip=True), atol=1e-5
    )
    assert out.dtype == np.float32


def test_normalize_percentile_maps_percentiles_to_0_and_1():
    img = np.arange(1000, dtype=np.float32).reshape(10, 100)
    out = normalize_percentile(img, 2, 98)
    lo, hi = np.percentile(img, [2, 98])
    assert np.percentile(out, 2) == pytest.approx(0, abs=1e-6)
    assert np.percentile(out, 98) == pytest.approx(1, abs=1e-6)
    assert out.min() < 0 and out.max() > 1  # no clipping by default
    fixed = normalize_percentile(img, low_value=lo, high_value=hi)
    np.testing.assert_allclose(fixed, out, atol=1e-6)
    flat = normalize_percentile(np.full((4, 4), 7.0))
    assert np.all(flat == 0)


def test_normalize_percentile_errors():
    img = np.zeros((4, 4))
    with pytest.raises(ValueError, match="0 <= low < high <= 100"):
        normalize_percentile(img, 50, 10)
    with pytest.raises(ValueError, match="0 <= low < high <= 100"):
        normalize_percentile(img, -1, 10)


@pytest.mark.parametrize("shape", [(64, 64), (16, 32, 32)])
def test_clahe_matches_skimage(shape):
    img = np.random.default_rng(1).random(shape).astype(np.float32) * 0.3 + 0.2
    out = clahe(img, clip_limit=0.02)
    ref = exposure.equalize_adapthist(img, clip_limit=0.02)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    assert out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    np.testing.assert_array_equal(clahe(np.ones((16, 16))), 0)


def test_clahe_errors():
    with pytest.raises(ValueError, match="clip_limit must be in"):
        clahe(np.zeros((8, 8)), clip_limit=2)


def test_gamma_matches_skimage():
    img = np.random.default_rng(2).random((10, 12))
    np.testing.assert_allclose(gamma(img, 0.5), exposure.adjust_gamma(img, 0.5), rtol=1e-6)
    np.testing.assert_allclose(gamma(img, 2.0, gain=3.0), 3 * img**2, rtol=1e-6)
    with pytest.raises(ValueError, match="gamma must be positive"):
        gamma(img, 0)
    with pytest.raises(ValueError, match="non-negative image"):
        gamma(img - 1, 2.0)


def test_rescale_intensity_matches_skimage():
    img = np.random.default_rng(3).random((6, 10, 10)) * 100
    out = rescale_intensity(img, (10, 80), (0, 1))
    ref = exposure.rescale_intensity(img, in_range=(10, 80), out_range=(0.0, 1.0))
    np.testing.assert_allclose(out, ref, atol=1e-6)
    np.testing.assert_allclose(
        rescale_intensity(img, "image", (-1, 1)),
        exposure.rescale_intensity(img, in_range="image", out_range=(-1.0, 1.0)),
        atol=1e-6,
    )
    np.testing.assert_array_equal(rescale_intensity(np.full((3, 3), 5.0), out_range=(2, 4)), 2)


def test_rescale_intensity_errors():
    img = np.zeros((4, 4))
    with pytest.raises(ValueError, match="in_range must be 'image' or a pair"):
        rescale_intensity(img, "dtype")
    with pytest.raises(ValueError, match="in_range must be a pair"):
        rescale_intensity(img, (1, 1))
    with pytest.raises(ValueError, match="out_range must be a pair"):
        rescale_intensity(img, (0, 1), (0, 1, 2))
