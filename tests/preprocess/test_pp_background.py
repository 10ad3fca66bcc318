import numpy as np
import pytest
from skimage import morphology
from skimage.restoration import rolling_ball as sk_rolling_ball

from biakit.errors import ParameterError
from biakit.preprocess import estimate_background, rolling_ball, tophat


def _spots_on_ramp(shape, seed=0, slope=0.02, n=12, height=10.0):
    rng = np.random.default_rng(seed)
    grids = np.indices(shape)
    img = slope * grids.sum(axis=0).astype(np.float32)
    truth = np.zeros(shape, np.float32)
    for _ in range(n):
        c = [int(rng.integers(3, s - 3)) for s in shape]
        truth[tuple(slice(x - 1, x + 2) for x in c)] = height
    return img + truth, truth


@pytest.mark.parametrize("shape, radius", [((40, 48), 7), ((12, 24, 26), 4)])
def test_exact_equals_skimage(shape, radius):
    img = np.random.default_rng(1).random(shape).astype(np.float32) * 5
    ref = sk_rolling_ball(img, radius=radius)
    np.testing.assert_array_equal(estimate_background(img, radius, method="exact"), ref)
    np.testing.assert_array_equal(rolling_ball(img, radius, method="exact"), img - ref)


def test_exact_anisotropic_matches_skimage_with_hand_kernel():
    img = np.random.default_rng(2).random((10, 20, 20)).astype(np.float32) * 4
    # ball of radius 4 in physical units, z spacing 2: heights sqrt(16 - (2z)^2 - y^2 - x^2)
    kernel = np.full((5, 9, 9), np.inf, np.float32)
    for z, y, x in np.ndindex(kernel.shape):
        d2 = (2 * (z - 2)) ** 2 + (y - 4) ** 2 + (x - 4) ** 2
        if d2 <= 16:
            kernel[z, y, x] = np.sqrt(16 - d2)
    ref = sk_rolling_ball(img, kernel=kernel)
    out = estimate_background(img, 4.0, method="exact", spacing=(2.0, 1.0, 1.0))
    np.testing.assert_allclose(out, ref, atol=1e-6)


@pytest.mark.parametrize("method", ["exact", "fast"])
@pytest.mark.parametrize("shape", [(96, 96), (24, 48, 48)])
def test_rolling_ball_removes_linear_ramp_keeps_spots(shape, method):
    img, truth = _spots_on_ramp(shape)
    out = rolling_ball(img, 30 if len(shape) == 2 else 12, method=method)
    atol = 0.05 if method == "exact" else 0.2
    np.testing.assert_allclose(out[truth == 0], 0, atol=atol)
    np.testing.assert_allclose(out[truth > 0], truth[truth > 0], atol=0.5)


def test_fast_mode_close_to_exact_and_shrinks():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:128, :128]
    img = (20 + 10 * np.sin(xx / 40.0) + 0.05 * yy).astype(np.float32)
    img += rng.normal(0, 0.5, img.shape).astype(np.float32)
    img[40:44, 60:64] += 30
    exact = estimate_background(img, 40, method="exact")
    fast = estimate_background(img, 40)  # shrink 3 in 2D
    fast2 = estimate_background(img, 40, shrink=2)
    assert np.all(fast <= img) and np.all(fast2 <= img)
    assert np.abs(fast - exact).mean() < 0.4  # noise sigma 0.5
    assert np.abs(fast2 - exact).mean() < np.abs(fast - exact).mean()


def test_light_background():
    img, _ = _spots_on_ramp((64, 64), seed=4)
    inverted = 50 - img
    out = rolling_ball(inverted, 20, light_background=True, method="exact")
    np.testing.assert_allclose(out, rolling_ball(img, 20, method="exact"), atol=1e-4)
    bg = estimate_background(inverted, 20, light_background=True)
    assert np.all(bg >= inverted)


def test_rolling_ball_errors():
    img = np.zeros((16, 16), np.float32)
    with pytest.raises(ParameterError, match="radius must be a positive finite number, got -3"):
        rolling_ball(img, -3)
    with pytest.raises(ValueError, match="method must be 'fast' or 'exact'"):
        rolling_ball(img, 3, method="slow")
    with pytest.raises(ValueError, match="shrink must be a positive integer"):
        rolling_ball(img, 30, shrink=0)
    with pytest.raises(ParameterError, match=r"spacing has 3 value\(s\) .* 2 spatial axes"):
        rolling_ball(img, 3, spacing=(1.0,) * 3)


def test_scalar_spacing_equals_repeated_sequence():
    img = np.random.default_rng(0).random((12, 13)).astype(np.float32)
    np.testing.assert_array_equal(
        rolling_ball(img, 3, spacing=0.5), rolling_ball(img, 3, spacing=(0.5, 0.5))
    )
    np.testing.assert_array_equal(tophat(img, 2, spacing=0.5), tophat(img, 2, spacing=(0.5, 0.5)))


@pytest.mark.parametrize("kind", ["white", "black"])
@pytest.mark.parametrize(
    "shape, fp", [((30, 33), morphology.disk), ((10, 18, 19), morphology.ball)]
)
def test_tophat_equals_skimage(shape, fp, kind):
    img = np.random.default_rng(5).random(shape).astype(np.float32)
    sk = morphology.white_tophat if kind == "white" else morphology.black_tophat
    r = 3 if len(shape) == 2 else 2
    np.testing.assert_array_equal(tophat(img, r, kind=kind), sk(img, fp(r)))


def test_tophat_disk_in_3d_and_anisotropic():
    img = np.random.default_rng(6).random((6, 15, 16)).astype(np.float32)
    out = tophat(img, 2, footprint="disk")
    ref = np.stack([morphology.white_tophat(p, morphology.disk(2)) for p in img])
    np.testing.assert_array_equal(out, ref)
    fp = np.zeros((3, 5, 5), bool)  # radius 2 with z spacing 2: ellipsoid (1, 2, 2)
    fp[1] = morphology.disk(2)
    fp[0, 2, 2] = fp[2, 2, 2] = True
    out = tophat(img, 2.0, spacing=(2.0, 1.0, 1.0))
    np.testing.assert_array_equal(out, morphology.white_tophat(img, fp))


def test_tophat_keeps_small_spots_removes_plateaus():
    img = np.zeros((40, 40), np.float32)
    img[5:35, 5:35] = 4  # large plateau
    img[20, 20] += 3  # small bright spot
    img[10:12, 30:32] += 2  # 2x2 spot
    out = tophat(img, 3)
    assert out[20, 20] == pytest.approx(3) and out[10, 30] == pytest.approx(2)
    assert out[15, 15] == 0 and out[25, 10] == 0
    dark = img.copy()
    dark[30, 10] -= 3
    assert tophat(dark, 3, kind="black")[30, 10] == pytest.approx(3)


def test_tophat_errors():
    img = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match="kind must be 'white' or 'black'"):
        tophat(img, 2, kind="grey")
    with pytest.raises(ValueError, match="footprint must be 'ball' or 'disk'"):
        tophat(img, 2, footprint="box")
    with pytest.raises(ParameterError, match="radius must be a positive finite number, got 0"):
        tophat(img, 0)
