"""The blind-spot blend: noise variance from a high-pass, MMSE weights, clipping.

Truth: images ``f(y) + g(x)`` (the second-difference high-pass removes them exactly),
noise of known variance, and a stand-in "prediction" = clean + independent error of
known variance, for which the best weight and the blended error follow by hand:
``w = e / (e + n)`` and ``MSE = e n / (e + n)``; a prediction that kept a share ``a``
of the noise, whose best weight is found by a brute-force search over ``w``; linear
filters with a known centre tap for :func:`centre_gain`.
"""

import numpy as np
import pytest
from scipy import ndimage as ndi

from biakit.nn.infer import (
    BlendWeights,
    blend_blind_spot,
    blend_weight_region,
    blind_spot_weights,
    centre_gain,
    pixel_noise_variance,
    whiteness,
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
    # a noise-free image: its high frequencies are structure, not white noise; the blend
    # cannot tell that from correlated noise and leaves the prediction alone
    assert blind_spot_weights(clean, guess).weights == (0.0,)
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


@pytest.mark.parametrize("share", [0.1, 0.2])
def test_weights_for_a_prediction_that_kept_part_of_the_noise(share):
    """The weight allowing for the centre gain is the brute-force optimum; ignoring the
    gain gives a worse blend (here: none at all)."""
    rng = np.random.default_rng(6)
    clean = _separable((512, 512))
    noise = 2.0 * rng.standard_normal(clean.shape)  # variance 4
    leaky = clean + 1.0 * rng.standard_normal(clean.shape) + share * noise
    noisy = (clean + noise)[None]
    blend = blind_spot_weights(noisy, leaky[None], [share])
    grid = np.linspace(-0.5, 1.0, 301)
    mse = [np.mean((leaky + w * (noisy[0] - leaky) - clean) ** 2) for w in grid]
    best = grid[int(np.argmin(mse))]
    assert blend.weights[0] == pytest.approx(max(best, 0.0), abs=0.02), (blend, best)
    naive = blind_spot_weights(noisy, leaky[None])
    assert naive.weights[0] < blend.weights[0] - 0.04
    err = lambda b: np.mean((blend_blind_spot(noisy, leaky[None], b)[0] - clean) ** 2)  # noqa: E731
    assert err(blend) < err(naive) * 0.98  # MSE 0.94 vs 0.98 (0.1), 1.12 vs 1.16 (0.2)
    assert blend.centre_gains == (share,) and naive.centre_gains == (0.0,)
    with pytest.raises(ValueError, match="one value per channel"):
        blind_spot_weights(noisy, leaky[None], [0.1, 0.2])


def _ring_filter(x, taps):
    """Per channel ``a x + (1 - a) * mean of the 8 neighbours`` (3D: of the 26)."""
    ring = np.ones((3,) * (x.ndim - 1))
    ring[(1,) * ring.ndim] = 0.0
    ring /= ring.sum()
    return np.stack([a * c + (1 - a) * ndi.convolve(c, ring, mode="reflect")
                     for a, c in zip(taps, x)])  # fmt: skip


def test_centre_gain_of_filters_with_a_known_centre_tap():
    rng = np.random.default_rng(7)
    x = np.stack([_separable((300, 280)), _separable((300, 280), seed=1)])
    x = x + rng.normal(0, 2.0, x.shape)
    shapes = []

    def predict(a):
        shapes.append(a.shape)
        return _ring_filter(a, (0.3, 0.0))

    gains = centre_gain(predict, x, seed=1)
    assert gains == pytest.approx((0.3, 0.0), abs=0.01)
    assert shapes == [(2, 128, 128)] * 2  # a central crop, probed once
    volume = rng.normal(size=(1, 40, 20, 300))
    shapes.clear()
    assert centre_gain(lambda a: (shapes.append(a.shape), _ring_filter(a, (0.5,)))[1],
                       volume)[0] == pytest.approx(0.5, abs=0.01)  # fmt: skip
    assert shapes[0] == (1, 8, 20, 128)
    # the identity keeps everything; a noise-free image still gets a finite probe
    flat = np.full((1, 32, 32), 5.0)
    assert centre_gain(lambda a: a, flat) == pytest.approx((1.0,), abs=1e-4)
    assert centre_gain(lambda a: a, x, seed=3) == pytest.approx((1.0, 1.0), abs=1e-4)


def test_hot_pixels_are_left_out_of_the_variances():
    """0.2% hot pixels at 100x the noise: weights and limits as without them."""
    rng = np.random.default_rng(8)
    clean = _separable((256, 256))
    noise = 2.0 * rng.standard_normal(clean.shape)
    leaky = clean + rng.standard_normal(clean.shape) + 0.1 * noise
    noisy = clean + noise
    hot = noisy.copy()
    where = rng.choice(hot.size, hot.size // 500, replace=False)
    hot.flat[where] += 200.0
    for gains in (None, [0.1]):
        base = blind_spot_weights(noisy[None], leaky[None], gains)
        with_hot = blind_spot_weights(hot[None], leaky[None], gains)
        assert with_hot.weights[0] == pytest.approx(base.weights[0], abs=0.01)
        assert with_hot.limits[0] == pytest.approx(base.limits[0], rel=0.02)
    keep = np.ones(hot.shape, bool)
    keep.flat[where] = False
    assert pixel_noise_variance(hot[None], keep[None])[0] == pytest.approx(4.0, rel=0.05)
    assert pixel_noise_variance(hot[None])[0] > 50
    with pytest.raises(ValueError, match="keep"):
        pixel_noise_variance(hot[None], keep)


def test_whiteness_and_no_blend_for_correlated_noise():
    """White noise of any distribution: -2/3 exactly (cov -4 s / var 6 s); blurred noise,
    which the blend's premise excludes, reads near -0.1 and turns the blend off."""
    rng = np.random.default_rng(9)
    white = [rng.normal(size=(1, 300, 300)), rng.poisson(0.5, (1, 300, 300)),
             np.round(rng.uniform(0, 4, (1, 300, 300)))]  # fmt: skip
    for x in white:
        assert whiteness(x)[0] == pytest.approx(-2 / 3, abs=0.01)
    clean = _separable((300, 300))
    assert whiteness((clean + 2.0 * rng.standard_normal(clean.shape))[None])[0] < -0.6  # full
    blurred = ndi.gaussian_filter(rng.standard_normal((300, 300)), 0.8)
    assert -0.2 < whiteness(blurred[None])[0] < 0.0  # -0.07 in theory for sd 0.8
    noisy = clean + 10 * blurred
    guess = clean + 2 * blurred + rng.standard_normal(clean.shape)
    blend = blind_spot_weights(noisy[None], guess[None])
    assert blend.weights == (0.0,) and blend.whiteness[0] > -0.5
    assert (
        blind_spot_weights(
            (clean + 2 * rng.standard_normal(clean.shape))[None],
            clean[None] + rng.standard_normal(clean.shape),
        ).weights[0]
        > 0.1
    )
    keep = np.ones((1, 300, 300), bool)
    keep[0, 100:200, 100:200] = False
    mixed = rng.normal(size=(1, 300, 300))
    mixed[0, 100:200, 100:200] = blurred[100:200, 100:200] * 10
    assert whiteness(mixed, keep)[0] == pytest.approx(-2 / 3, abs=0.01)
