import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.restoration import richardson_lucy as sk_richardson_lucy

from biakit.preprocess import gaussian_psf, richardson_lucy


def test_gaussian_psf_normalised_centred_anisotropic():
    psf = gaussian_psf((5, 9, 9), (1.0, 0.5, 0.5), spacing=(1.0, 0.25, 0.25))
    assert psf.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.unravel_index(psf.argmax(), psf.shape) == (2, 4, 4)
    # sigma (1, 2, 2) px: each line through the centre is a sampled 1D Gaussian
    g = np.exp(-0.5 * (np.arange(-4, 5) / 2.0) ** 2)
    np.testing.assert_allclose(psf[2, 4] / psf[2, 4].sum(), g / g.sum(), rtol=1e-5)
    gz = np.exp(-0.5 * np.arange(-2, 3) ** 2)
    np.testing.assert_allclose(psf[:, 4, 4] / psf[:, 4, 4].sum(), gz / gz.sum(), rtol=1e-5)


@pytest.mark.parametrize("separable", [True, False])
@pytest.mark.parametrize("shape", [(40, 50), (12, 30, 32)])
def test_agrees_with_skimage(shape, separable):
    rng = np.random.default_rng(0)
    img = rng.random(shape).astype(np.float32)
    psf = gaussian_psf((5,) * len(shape), 1.2)
    if not separable:
        psf = psf + rng.random(psf.shape).astype(np.float32) * 0.01
        psf /= psf.sum()
    out = richardson_lucy(img, psf, iterations=8)
    ref = sk_richardson_lucy(img, psf, num_iter=8, clip=False)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    clipped = richardson_lucy(img, psf, iterations=8, clip=True)
    np.testing.assert_allclose(clipped, sk_richardson_lucy(img, psf, num_iter=8), atol=1e-4)


def test_even_psf_and_unnormalised_psf():
    img = np.random.default_rng(1).random((30, 30)).astype(np.float32)
    psf = np.ones((4, 4), np.float32) / 16
    ref = sk_richardson_lucy(img, psf, num_iter=5, clip=False)
    np.testing.assert_allclose(richardson_lucy(img, psf * 7, iterations=5), ref, atol=1e-5)


@pytest.mark.parametrize("ndim", [2, 3])
def test_deconvolution_sharpens_points_and_bars(ndim):
    shape = (48, 48) if ndim == 2 else (16, 32, 32)
    truth = np.zeros(shape, np.float32)
    c = tuple(s // 2 for s in shape)
    truth[c] = 50
    truth[(*c[:-1], slice(5, 9))] = 20  # bar along x
    truth[(*c[:-2], slice(5, 9), 25)] = 20  # bar along y
    sigma = 1.5
    blurred = ndi.gaussian_filter(truth, sigma, mode="constant", truncate=4.0)
    out = richardson_lucy(blurred, sigma=sigma, iterations=50)
    assert np.abs(out - truth).sum() < 0.6 * np.abs(blurred - truth).sum()
    assert out[c] > 2 * blurred[c]


def test_physical_sigma():
    img = np.random.default_rng(2).random((6, 20, 20)).astype(np.float32)
    a = richardson_lucy(img, sigma=(0.5, 0.2, 0.2), spacing=(0.5, 0.2, 0.2), iterations=3)
    b = richardson_lucy(img, sigma=1.0, iterations=3)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_errors():
    img = np.ones((10, 10), np.float32)
    with pytest.raises(ValueError, match="exactly one of psf"):
        richardson_lucy(img)
    with pytest.raises(ValueError, match="exactly one of psf"):
        richardson_lucy(img, np.ones((3, 3)), sigma=1.0)
    with pytest.raises(ValueError, match="psf must have 2 axes"):
        richardson_lucy(img, np.ones(3))
    with pytest.raises(ValueError, match="psf must be finite and non-negative"):
        richardson_lucy(img, -np.ones((3, 3)))
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        richardson_lucy(img, sigma=1.0, iterations=0)
    with pytest.raises(ValueError, match="non-negative image"):
        richardson_lucy(-img, sigma=1.0)
    with pytest.raises(ValueError, match="sigma must be positive"):
        richardson_lucy(img, sigma=-1.0)
    with pytest.raises(ValueError, match="shape must have 2 or 3 odd positive sizes"):
        gaussian_psf((4, 5), 1.0)
