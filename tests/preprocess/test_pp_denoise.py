import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import filters, morphology

from biakit.errors import ParameterError
from biakit.preprocess import estimate_noise, gaussian, median, nl_means


def _img(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(24, 31), (9, 20, 22)])
def test_gaussian_matches_scipy_and_skimage(shape):
    img = _img(shape)
    out = gaussian(img, 1.5)
    assert out.dtype == np.float32 and out.shape == img.shape
    ref = ndi.gaussian_filter(img.astype(np.float64), 1.5, mode="reflect")
    np.testing.assert_allclose(out, ref, atol=1e-5)
    sk = filters.gaussian(img, sigma=1.5, mode="reflect", preserve_range=True, truncate=4.0)
    np.testing.assert_allclose(out, sk, atol=1e-5)


def test_gaussian_physical_sigma_uses_spacing():
    img = _img((10, 20, 20))
    out = gaussian(img, 1.0, spacing=(2.0, 0.5, 0.5))  # 0.5 px in z, 2 px in y/x
    ref = ndi.gaussian_filter(img, (0.5, 2.0, 2.0))
    np.testing.assert_allclose(out, ref, atol=1e-6)


def test_gaussian_preserves_mass_and_zero_sigma_is_identity():
    img = np.zeros((21, 21), np.float32)
    img[10, 10] = 1
    assert gaussian(img, 2.0).sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(gaussian(img, 0.0), img)


def test_scalar_spacing_equals_repeated_sequence():
    img = _img((6, 9, 10))
    np.testing.assert_array_equal(
        gaussian(img, 1.0, spacing=0.5), gaussian(img, 1.0, spacing=(0.5, 0.5, 0.5))
    )
    np.testing.assert_array_equal(
        median(img, radius=1.0, spacing=2), median(img, radius=1.0, spacing=(2, 2, 2))
    )


def test_gaussian_errors():
    img = _img((8, 8))
    with pytest.raises(ValueError, match="sigma must be non-negative"):
        gaussian(img, -1.0)
    with pytest.raises(ValueError, match="sigma must be a scalar or have one entry per axis"):
        gaussian(img, (1.0, 1.0, 1.0))
    with pytest.raises(ParameterError, match=r"spacing has 3 value\(s\) .* 2 spatial axes"):
        gaussian(img, 1.0, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ParameterError, match="spacing must be positive finite numbers"):
        gaussian(img, 1.0, spacing=(0.0, 1.0))
    with pytest.raises(ParameterError, match="spacing must be positive finite numbers"):
        gaussian(img, 1.0, spacing=float("nan"))
    with pytest.raises(ValueError, match="truncate must be positive"):
        gaussian(img, 1.0, truncate=0)
    with pytest.raises(ValueError, match=r"2D \(YX\) or 3D"):
        gaussian(np.zeros(5), 1.0)
    with pytest.raises(TypeError, match="real-valued numeric"):
        gaussian(np.zeros((4, 4), bool), 1.0)


@pytest.mark.parametrize("shape, fp", [((20, 23), morphology.disk), ((8, 12, 13), morphology.ball)])
def test_median_radius_matches_scipy_with_skimage_footprint(shape, fp):
    img = _img(shape)
    out = median(img, radius=2)
    ref = ndi.median_filter(img, footprint=fp(2), mode="reflect")
    np.testing.assert_array_equal(out, ref)
    # radius 1 box: skimage.filters.median's default footprint
    np.testing.assert_array_equal(median(img, footprint="box"), filters.median(img, mode="reflect"))
    cross = ndi.generate_binary_structure(img.ndim, 1)
    np.testing.assert_array_equal(median(img), ndi.median_filter(img, footprint=cross))


def test_median_size_box_and_disk_footprints():
    img = _img((9, 15, 16))
    np.testing.assert_array_equal(median(img, 3, footprint="box"), ndi.median_filter(img, size=3))
    out = median(img, radius=2, footprint="disk")  # plane by plane
    ref = np.stack([ndi.median_filter(p, footprint=morphology.disk(2)) for p in img])
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(median(img[0], 5), median(img[0], radius=2))


def test_median_removes_salt_noise_and_anisotropic_radius():
    img = np.zeros((9, 9, 9), np.float32)
    img[4, 4, 4] = 100
    assert median(img, radius=1.0, spacing=(2.0, 1.0, 1.0)).max() == 0


def test_median_errors():
    img = _img((8, 8))
    with pytest.raises(ValueError, match="size must be odd"):
        median(img, 4)
    with pytest.raises(ValueError, match="size must be positive"):
        median(img, 0)
    with pytest.raises(ValueError, match="either size or radius"):
        median(img, 3, radius=1)
    with pytest.raises(ValueError, match="footprint must be 'ball', 'disk' or 'box'"):
        median(img, radius=1, footprint="star")
    with pytest.raises(ValueError, match="footprint array must have 2 axes of odd length"):
        median(img, footprint=np.ones((2, 2)))


def test_estimate_noise_recovers_sigma():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:128, :128]
    clean = np.sin(xx / 15.0) + yy / 128.0
    for sigma in (0.05, 0.2):
        assert estimate_noise(clean + rng.normal(0, sigma, clean.shape)) == pytest.approx(
            sigma, rel=0.1
        )
    assert estimate_noise(rng.normal(0, 0.3, (20, 30, 30))) == pytest.approx(0.3, rel=0.1)


def test_nl_means_matches_skimage_and_denoises():
    from skimage.restoration import denoise_nl_means

    rng = np.random.default_rng(2)
    clean = np.zeros((40, 40))
    clean[10:30, 12:28] = 1
    noisy = clean + rng.normal(0, 0.2, clean.shape)
    out = nl_means(noisy, 0.2)
    ref = denoise_nl_means(noisy, h=0.16, sigma=0.2, patch_size=5, patch_distance=6, fast_mode=True)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    auto = nl_means(noisy)  # sigma estimated
    assert np.abs(auto - clean).mean() < 0.5 * np.abs(noisy - clean).mean()
    vol = clean[None].repeat(6, 0) + rng.normal(0, 0.2, (6, 40, 40))
    assert np.abs(nl_means(vol, 0.2) - clean).mean() < 0.5 * np.abs(vol - clean).mean()


def test_nl_means_errors():
    img = _img((16, 16))
    with pytest.raises(ValueError, match="sigma and h must be non-negative"):
        nl_means(img, -0.1)
    with pytest.raises(ValueError, match="patch_size must be >= 1"):
        nl_means(img, 0.1, patch_size=0)
