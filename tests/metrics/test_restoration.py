import numpy as np
import pytest
from skimage import data
from skimage.metrics import (
    normalized_root_mse,
    peak_signal_noise_ratio,
    structural_similarity,
)

from biakit.metrics import (
    RestorationMetrics,
    normalize_minmse,
    nrmse,
    psnr,
    psnr_care,
    restoration_metrics,
    ssim,
)


def _pair(shape, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    gt = rng.random(shape)
    pred = gt + 0.1 * rng.standard_normal(shape)
    return gt.astype(dtype), pred.astype(dtype)


@pytest.mark.parametrize("shape", [(32, 40), (12, 14, 16)])
def test_psnr_nrmse_equal_skimage(shape):
    gt, pred = _pair(shape, 0)
    assert psnr(gt, pred, data_range=1.0) == pytest.approx(
        peak_signal_noise_ratio(gt, pred, data_range=1.0), abs=1e-6
    )
    for norm in ("euclidean", "min-max", "mean"):
        assert nrmse(gt, pred, normalization=norm) == pytest.approx(
            normalized_root_mse(gt, pred, normalization=norm), abs=1e-6
        )


@pytest.mark.parametrize("shape", [(32, 40), (12, 14, 16)])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"win_size": 5},
        {"gaussian_weights": True},
        {"gaussian_weights": True, "sigma": 1.0, "use_sample_covariance": False},
        {"k1": 0.02, "k2": 0.05},
    ],
)
def test_ssim_equal_skimage(shape, kwargs):
    gt, pred = _pair(shape, 1)
    sk_kwargs = {k.upper() if k in ("k1", "k2") else k: v for k, v in kwargs.items()}
    ref = structural_similarity(gt, pred, data_range=1.0, **sk_kwargs)
    assert ssim(gt, pred, data_range=1.0, **kwargs) == pytest.approx(ref, abs=1e-6)


def test_uint8_sample_image_defaults_to_dtype_range():
    gt = data.camera()[::4, ::4]
    noisy = np.clip(gt + np.random.default_rng(2).normal(0, 20, gt.shape), 0, 255).astype(np.uint8)
    assert psnr(gt, noisy) == pytest.approx(peak_signal_noise_ratio(gt, noisy), abs=1e-6)
    assert ssim(gt, noisy) == pytest.approx(structural_similarity(gt, noisy), abs=1e-6)


def test_identical_images():
    gt, _ = _pair((16, 16), 3)
    assert psnr(gt, gt, data_range=1.0) == np.inf
    assert ssim(gt, gt, data_range=1.0) == pytest.approx(1.0, abs=1e-12)
    assert nrmse(gt, gt) == 0.0


def test_psnr_hand_case():
    gt = np.zeros((10, 10))
    pred = np.full((10, 10), 2.0)  # mse = 4
    assert psnr(gt, pred, data_range=20.0) == pytest.approx(10 * np.log10(400 / 4), abs=1e-12)


def test_normalize_minmse_recovers_affine_exactly():
    gt, _ = _pair((20, 30), 4)
    for a, b in ((3.0, 7.0), (-0.25, 100.0), (1e-3, -5.0)):
        np.testing.assert_allclose(normalize_minmse(a * gt + b, gt), gt, rtol=0, atol=1e-10)
    const = normalize_minmse(np.ones_like(gt), gt)
    np.testing.assert_allclose(const, gt.mean(), rtol=0, atol=1e-15)


def test_normalize_minmse_is_least_squares():
    gt, pred = _pair((20, 30), 5)
    a, b = np.polyfit(pred.ravel(), gt.ravel(), 1)
    np.testing.assert_allclose(normalize_minmse(pred, gt), a * pred + b, rtol=1e-10, atol=1e-12)


def test_psnr_care_procedure_and_invariance():
    gt, pred = _pair((40, 40), 6)
    gt = 1000 * gt + 50
    lo, hi = np.percentile(gt, [0.1, 99.9])
    gt_n = (gt - lo) / (hi - lo)
    a, b = np.polyfit(pred.ravel(), gt_n.ravel(), 1)
    expected = peak_signal_noise_ratio(gt_n, a * pred + b, data_range=1.0)
    assert psnr_care(gt, pred) == pytest.approx(expected, abs=1e-6)
    assert psnr_care(gt, 4 * pred - 9) == pytest.approx(expected, abs=1e-6)
    assert psnr_care(gt, 3 * gt + 1) > 150  # exact affine copy: only rounding error left


def test_restoration_metrics_bundle():
    gt, pred = _pair((16, 16), 7)
    m = restoration_metrics(gt, pred, data_range=1.0, win_size=5)
    assert isinstance(m, RestorationMetrics)
    assert m.psnr == psnr(gt, pred, data_range=1.0)
    assert m.ssim == ssim(gt, pred, data_range=1.0, win_size=5)
    assert m.mse == pytest.approx(np.mean((gt - pred) ** 2), abs=1e-15)
    assert m.mae == pytest.approx(np.mean(np.abs(gt - pred)), abs=1e-15)
    assert m.nrmse == nrmse(gt, pred) and set(m.as_dict()) >= {"psnr", "ssim"}


def test_error_float_without_data_range():
    gt, pred = _pair((8, 8), 8)
    for func in (psnr, ssim, restoration_metrics):
        with pytest.raises(ValueError, match="data_range is required for floating-point"):
            func(gt, pred)
    with pytest.raises(ValueError, match=r"data_range is required.*int16"):
        psnr(gt.astype(np.int16), pred.astype(np.int16))
    with pytest.raises(ValueError, match="data_range must be a finite number > 0, got 0"):
        psnr(gt, pred, data_range=0)


def test_error_shapes_and_dtypes():
    with pytest.raises(ValueError, match=r"gt \(4, 4\) and pred \(4, 5\)"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)), data_range=1)
    with pytest.raises(TypeError, match="pred must be a real-valued image, got dtype complex128"):
        nrmse(np.zeros(3), np.zeros(3, complex))
    with pytest.raises(ValueError, match=r"gt is empty \(shape \(0,\)\)"):
        nrmse(np.zeros(0), np.zeros(0))


def test_error_ssim_window():
    gt, pred = _pair((8, 8), 9)
    with pytest.raises(ValueError, match="win_size must be an odd positive integer, got 4"):
        ssim(gt, pred, data_range=1, win_size=4)
    with pytest.raises(ValueError, match=r"win_size 9 exceeds the image extent \(8, 8\)"):
        ssim(gt, pred, data_range=1, win_size=9)
    with pytest.raises(ValueError, match="k1, k2 and sigma must be >= 0"):
        ssim(gt, pred, data_range=1, k1=-1)


def test_error_nrmse_and_care_arguments():
    with pytest.raises(ValueError, match=r"normalization must be one of.*'min-max'.*got 'max'"):
        nrmse(np.ones(3), np.ones(3), normalization="max")
    with pytest.raises(ValueError, match="normalization='min-max' is undefined"):
        nrmse(np.ones(3), np.zeros(3), normalization="min-max")
    with pytest.raises(ValueError, match="0 <= pmin < pmax <= 100, got 50, 10"):
        psnr_care(np.ones(3), np.ones(3), pmin=50, pmax=10)
