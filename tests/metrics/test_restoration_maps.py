import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from biakit.metrics import RestorationMaps, psnr_care, restoration_maps, ssim


def _pair(shape, seed):
    rng = np.random.default_rng(seed)
    gt = 200 * rng.random(shape) + 10
    pred = 0.01 * gt + 0.3 * rng.standard_normal(shape) + 5  # another intensity scale
    return gt, pred


def _care(gt, pred):
    """CARE's normalisation by hand: percentiles of gt, least-squares fit of pred."""
    lo, hi = np.percentile(gt, [0.1, 99.9])
    gt_n = (gt - lo) / (hi - lo)
    a, b = np.polyfit(pred.ravel(), gt_n.ravel(), 1)
    return gt_n, a * pred + b


@pytest.mark.parametrize("shape", [(24, 30), (11, 12, 14)])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"win_size": 5},
        {"gaussian_weights": True, "use_sample_covariance": False},  # ZeroCostDL4Mic
    ],
)
def test_maps_equal_skimage_full(shape, kwargs):
    gt, pred = _pair(shape, 0)
    gt_n, pred_n = _care(gt, pred)
    ref_mean, ref_map = structural_similarity(gt_n, pred_n, data_range=1.0, full=True, **kwargs)
    maps = restoration_maps(gt, pred, **kwargs)
    assert isinstance(maps, RestorationMaps) and maps.ssim_map.shape == shape
    np.testing.assert_allclose(maps.ssim_map, ref_map, rtol=0, atol=1e-6)
    assert maps.ssim == pytest.approx(ref_mean, abs=1e-6)
    # the mean of the map (without its border) is biakit's SSIM of the compared images
    assert maps.ssim == pytest.approx(ssim(maps.gt, maps.pred, data_range=1.0, **kwargs), abs=1e-12)
    np.testing.assert_allclose(maps.squared_error, (gt_n - pred_n) ** 2, rtol=0, atol=1e-10)


def test_scalar_metrics_by_hand():
    gt, pred = _pair((32, 32), 1)
    gt_n, pred_n = _care(gt, pred)
    mse = np.mean((gt_n - pred_n) ** 2)
    maps = restoration_maps(gt, pred)
    assert maps.data_range == 1.0 and maps.crop == 3
    assert maps.mse == pytest.approx(mse, rel=1e-9)
    assert maps.psnr == pytest.approx(10 * np.log10(1 / mse), abs=1e-6)
    assert maps.psnr == pytest.approx(psnr_care(gt, pred), abs=1e-9)
    assert maps.psnr == pytest.approx(peak_signal_noise_ratio(gt_n, pred_n, data_range=1), abs=1e-6)
    assert maps.nrmse == pytest.approx(np.sqrt(mse), rel=1e-9)
    assert set(maps.as_dict()) == {"mse", "psnr", "ssim", "nrmse"}


def test_hand_made_squared_error_and_perfect_copy():
    gt = np.zeros((8, 8))
    gt[:, 4:] = 1.0  # percentiles 0 and 1: the normalisation is the identity
    pred = gt.copy()
    pred[2, 2] = 0.5
    raw = restoration_maps(gt, pred, normalize=False, data_range=1.0)
    expected = np.zeros((8, 8))
    expected[2, 2] = 0.25
    np.testing.assert_array_equal(raw.squared_error, expected)
    assert raw.psnr == pytest.approx(10 * np.log10(64 / 0.25))
    copy = restoration_maps(gt, 3 * gt - 2)  # an affine copy is perfect after normalize_minmse
    assert copy.ssim == pytest.approx(1.0, abs=1e-9) and copy.nrmse < 1e-12


def test_raw_mode_uses_the_dtype_range():
    rng = np.random.default_rng(2)
    gt = rng.integers(0, 256, (16, 16)).astype(np.uint8)
    pred = np.clip(gt + rng.integers(-9, 10, gt.shape), 0, 255).astype(np.uint8)
    maps = restoration_maps(gt, pred, normalize=False)
    ref_mean, ref_map = structural_similarity(gt, pred, full=True)
    assert maps.data_range == 255.0
    np.testing.assert_allclose(maps.ssim_map, ref_map, atol=1e-6)
    assert maps.ssim == pytest.approx(ref_mean, abs=1e-6)
    assert maps.psnr == pytest.approx(peak_signal_noise_ratio(gt, pred), abs=1e-6)


def test_slicewise_for_thin_stacks():
    gt, pred = _pair((4, 16, 18), 4)
    gt_n, pred_n = _care(gt, pred)  # normalised over the whole stack
    maps = restoration_maps(gt, pred, slicewise=True)
    refs = [structural_similarity(g, p, data_range=1.0, full=True) for g, p in zip(gt_n, pred_n)]
    np.testing.assert_allclose(maps.ssim_map, np.stack([m for _, m in refs]), atol=1e-6)
    assert maps.ssim == pytest.approx(np.mean([v for v, _ in refs]), abs=1e-6)
    with pytest.raises(ValueError, match=r"win_size 7 exceeds the image extent \(4, 16, 18\)"):
        restoration_maps(gt, pred)
    with pytest.raises(ValueError, match=r"slicewise needs a 3D stack, got .* \(16, 18\)"):
        restoration_maps(gt[0], pred[0], slicewise=True)


def test_errors():
    gt, pred = _pair((8, 8), 3)
    with pytest.raises(ValueError, match="data_range is required for floating-point"):
        restoration_maps(gt, pred, normalize=False)
    with pytest.raises(ValueError, match="data_range must be a finite number > 0, got -1"):
        restoration_maps(gt, pred, data_range=-1)
    with pytest.raises(ValueError, match="0 <= pmin < pmax <= 100, got 60, 40"):
        restoration_maps(gt, pred, pmin=60, pmax=40)
    with pytest.raises(ValueError, match=r"win_size 9 exceeds the image extent \(8, 8\)"):
        restoration_maps(gt, pred, win_size=9)
    with pytest.raises(ValueError, match=r"gt \(8, 8\) and pred \(8, 7\)"):
        restoration_maps(gt, pred[:, :7])
    with pytest.raises(TypeError, match=r"unknown SSIM options \['window'\]; valid: "):
        restoration_maps(gt, pred, window=3)
