"""The blind-spot blend: noise variance from a high-pass, MMSE weights, clipping.

Truth: images ``f(y) + g(x)`` (the second-difference high-pass removes them exactly),
noise of known variance, and a stand-in "prediction" = clean + independent error of
known variance, for which the best weight and the blended error follow by hand:
``w = e / (e + n)`` and ``MSE = e n / (e + n)``.
"""

import numpy as np
import pytest

from biakit.nn.infer import (
    BlendWeights,
    blend_blind_spot,
    blend_weight_region,
    blind_spot_weights,
    pixel_noise_variance,
)


def _separable(shape, seed=0):
    """A clean image the high-pass removes exactly: ``f(y) + g(x)`` with sharp steps."""
    rng = np.random.default_rng(seed)
    fy = np.cumsum(rng.normal(0, 3, shape[-2]))
    gx = 20 * (np.arange(shape[-1]) > shape[-1] // 2) + np.sin(np.arange(shape[-1]) / 3)
    return np.add.outer(fy, gx)


@pytest.mark.parametrize("sigma", [0.5, 3.0, 40.0])
def test_noise_variance_of_gaussian_noise_on_any_separable_image(sigma):
    clean = _separable((400, 400))
    noisy = clean + sigma * np.random.default_rng(1).standard_normal(clean.shape)
    (var,) = pixel_noise_variance(noisy[None])
    assert var == pytest.approx(sigma**2, rel=0.03)
    assert pixel_noise_variance(clean[None])[0] == pytest.approx(0.0, abs=1e-9)


def test_noise_variance_of_sparse_poisson_counts_and_channels_and_3d():
    """Photon counts at 0.3 per pixel (mostly zeros; a median-based estimate gives 0)."""
    rng = np.random.default_rng(2)
    counts = rng.poisson(0.3, (2, 4, 200, 200)).astype(np.float64)
    counts[1] *= 10.0  # a second channel at another gain: variance x100
    var = pixel_noise_variance(counts)  # (C, Z, Y, X): Z planes pooled
    assert var[0] == pytest.approx(0.3, rel=0.05)
    assert var[1] == pytest.approx(30.0, rel=0.05)


def test_weights_and_blended_error_match_the_hand_computed_optimum():
    rng = np.random.default_rng(3)
    clean = _separable((512, 512))
    noise_var, error_var = 4.0, 1.0
    noisy = clean + np.sqrt(noise_var) * rng.standard_normal(clean.shape)
    guess = clean + np.sqrt(error_var) * rng.standard_normal(clean.shape)  # independent error
    blend = blind_spot_weights(noisy[None], guess[None])
    assert blend.weights[0] == pytest.approx(error_var / (error_var + noise_var), abs=0.01)
    assert blend.limits[0] == pytest.approx(4 * np.sqrt(noise_var + error_var), rel=0.02)
    out = blend_blind_spot(noisy[None], guess[None], blend)[0]
    mse = np.mean((out - clean) ** 2)
    optimum = error_var * noise_var / (error_var + noise_var)  # 0.8, the prediction alone 1.0
    assert mse == pytest.approx(optimum, rel=0.03)
    assert mse < np.mean((guess - clean) ** 2)


def test_weights_follow_no_gain_or_offset_and_limits_scale_with_gain():
    rng = np.random.default_rng(4)
    clean = _separable((128, 128))
    noisy = (clean + 2 * rng.standard_normal(clean.shape))[None]
    guess = (clean + rng.standard_normal(clean.shape))[None]
    a, b = 7.5, -300.0
    base, moved = blind_spot_weights(noisy, guess), blind_spot_weights(a * noisy + b, a * guess + b)
    np.testing.assert_allclose(moved.weights, base.weights, rtol=1e-9)
    np.testing.assert_allclose(moved.limits, np.multiply(base.limits, a), rtol=1e-9)
    out = blend_blind_spot(a * noisy + b, a * guess + b, moved)
    np.testing.assert_allclose(out, a * blend_blind_spot(noisy, guess, base) + b, atol=1e-3)


def test_edge_cases_no_noise_no_residual_and_outliers():
    rng = np.random.default_rng(5)
    clean = _separable((64, 64))[None]
    guess = clean + rng.standard_normal(clean.shape)
    # a noise-free image: the pixel itself is the best estimate
    assert blind_spot_weights(clean, guess).weights == (1.0,)
    # a prediction equal to the image: nothing to add back
    assert blind_spot_weights(guess, guess).weights == (0.0,)
    # a residual smaller than the noise: the prediction alone
    noisy = clean + 3 * rng.standard_normal(clean.shape)
    assert blind_spot_weights(noisy, noisy - 0.1 * (noisy - clean)).weights == (0.0,)
    # a hot pixel comes back as at most w * limit
    hot = noisy.copy()
    hot[0, 10, 10] = 1e6
    out = blend_blind_spot(hot, clean, BlendWeights((0.5,), (12.0,)))
    assert out[0, 10, 10] == pytest.approx(clean[0, 10, 10] + 6.0)


def test_region_and_errors():
    assert blend_weight_region((30, 40)) == (slice(0, 30), slice(0, 40))
    assert blend_weight_region((2100, 512)) == (slice(26, 2074), slice(0, 512))
    assert blend_weight_region((20, 10, 700)) == (slice(2, 18), slice(0, 10), slice(94, 606))
    with pytest.raises(ValueError, match="same shape"):
        blind_spot_weights(np.zeros((1, 8, 8)), np.zeros((1, 8, 9)))
    with pytest.raises(ValueError, match="Y and X >= 3"):
        pixel_noise_variance(np.zeros((1, 2, 8)))
