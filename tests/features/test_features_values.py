import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.feature import hessian_matrix, hessian_matrix_eigvals, multiscale_basic_features

from biakit.features import (
    FeatureSpec,
    FilterSpec,
    compute_features,
    skimage_equivalent_spec,
)
from biakit.features._local import neighbour_offsets


def _one(img, name, sigma, spacing=None, derivatives="finite", **params):
    spec = FeatureSpec([FilterSpec(name, sigma, params)], derivatives=derivatives, ndim=img.ndim)
    return compute_features(img, spec, spacing=spacing)


@pytest.fixture(scope="module")
def vol():
    return ndi.gaussian_filter(np.random.default_rng(0).random((14, 22, 26)), 1.0).astype(
        np.float32
    )


def test_gaussian_equals_scipy(vol):
    sp = (3.0, 1.0, 0.5)
    got = _one(vol, "gaussian", (1.5,), spacing=sp)[..., 0]
    ref = ndi.gaussian_filter(vol.astype(np.float64), [1.5 / s for s in sp], mode="reflect")
    np.testing.assert_allclose(got, ref, atol=1e-6)
    img = vol[5]
    np.testing.assert_allclose(
        _one(img, "gaussian", (16.0,))[..., 0], ndi.gaussian_filter(img, 16.0), atol=1e-6
    )


def test_gaussian_derivative_mode_equals_scipy(vol):
    lap = _one(vol, "laplacian", (2.0,), derivatives="gaussian")[..., 0]
    np.testing.assert_allclose(lap, ndi.gaussian_laplace(vol.astype(float), 2.0), atol=1e-5)
    ggm = _one(vol, "gradient_magnitude", (2.0,), derivatives="gaussian")[..., 0]
    ref = ndi.gaussian_gradient_magnitude(vol.astype(float), 2.0)
    np.testing.assert_allclose(ggm, ref, atol=1e-5)


def test_finite_differences_close_to_gaussian_derivatives(vol):
    # accuracy of the fast mode against exact Gaussian derivatives, relative to the signal range
    for name in ("laplacian", "gradient_magnitude", "hessian"):
        fin = _one(vol, name, (2.0,))
        gau = _one(vol, name, (2.0,), derivatives="gaussian")
        assert np.abs(fin - gau).max() < 0.08 * np.abs(gau).max()


def test_hessian_equals_skimage(vol):
    img = vol[6].astype(np.float64)
    for sigma in (1.0, 2.5):
        h = hessian_matrix(img, sigma, mode="reflect", use_gaussian_derivatives=False)
        ref = np.moveaxis(hessian_matrix_eigvals(h), 0, -1)
        got = _one(img, "hessian", (sigma,), derivatives="gradient")
        np.testing.assert_allclose(got[2:-2, 2:-2], ref[2:-2, 2:-2], atol=1e-5)
    h = hessian_matrix(vol.astype(float), 1.5, mode="reflect", use_gaussian_derivatives=False)
    ref = np.moveaxis(hessian_matrix_eigvals(h), 0, -1)
    got = _one(vol, "hessian", (1.5,), derivatives="gradient")
    inner = (slice(2, -2),) * 3
    np.testing.assert_allclose(got[inner], ref[inner], atol=1e-5)


@pytest.mark.parametrize("shape", [(60, 64), (24, 30, 34)])
def test_equals_skimage_multiscale_basic_features(shape):
    img = np.random.default_rng(3).random(shape).astype(np.float32)
    spec = skimage_equivalent_spec(len(shape), sigma_max=4)
    ref = multiscale_basic_features(img, sigma_max=4)
    got = compute_features(img, spec)
    nd, sig = len(shape), spec.filters[0].sigmas
    names = spec.names()
    for i, s in enumerate(sig):
        r = int(4 * s + 0.5) + 2
        inner = tuple(slice(r, n - r) for n in shape)
        if any(sl.start >= sl.stop for sl in inner):
            continue
        block = ref[..., i * (2 + nd) : (i + 1) * (2 + nd)]
        cols = [f"gaussian_s{s}", f"sobel_s{s}"] + [f"hessian_eig{k + 1}_s{s}" for k in range(nd)]
        for j, c in enumerate(cols):
            a = got[..., names.index(c)][inner]
            np.testing.assert_allclose(a, block[..., j][inner], atol=2e-6)


def test_dog_and_local_stats(vol):
    img = vol[4].astype(np.float64)
    got = _one(img, "dog", (1.0, 2.0))[..., 0]
    np.testing.assert_allclose(
        got, ndi.gaussian_filter(img, 1) - ndi.gaussian_filter(img, 2), atol=1e-6
    )
    ratio = _one(img, "dog", (2.0,), ratio=0.5)[..., 0]
    np.testing.assert_allclose(
        ratio, ndi.gaussian_filter(img, 2) - ndi.gaussian_filter(img, 1), atol=1e-6
    )
    for name, ref in [
        ("mean", ndi.uniform_filter(img, 5)),
        ("variance", ndi.uniform_filter(img**2, 5) - ndi.uniform_filter(img, 5) ** 2),
        ("min", ndi.minimum_filter(img, 5)),
        ("max", ndi.maximum_filter(img, 5)),
        ("median", ndi.median_filter(img, 5)),
    ]:
        np.testing.assert_allclose(_one(img, name, (2.0,))[..., 0], ref, atol=1e-6)


def test_entropy_hand_computed():
    img = np.zeros((9, 9), np.float32)
    assert np.all(_one(img, "entropy", (1.0,))[..., 0] == 0)
    img[:, ::2] = 1.0  # columns alternate: a 3x3 window holds 6 of one value, 3 of the other
    e = _one(img, "entropy", (1.0,), bins=4)[4, 4, 0]
    assert e == pytest.approx(-(2 / 3 * np.log2(2 / 3) + 1 / 3 * np.log2(1 / 3)), abs=1e-6)


def test_neighbours_shift():
    img = np.arange(100, dtype=np.float32).reshape(10, 10)
    got = _one(img, "neighbours", (2.0,))
    for k, (dy, dx) in enumerate(neighbour_offsets(2)):
        assert got[5, 5, k] == img[5 + 2 * dy, 5 + 2 * dx]
    assert got[0, 0, 0] == img[1, 1]  # reflect: index -2 -> 1


def test_gabor_and_membrane_respond_to_orientation():
    img = np.zeros((41, 41), np.float32)
    img[:, 20] = 1.0  # a vertical line
    g = _one(img, "gabor", (2.0,), n_orientations=4)
    assert g[20, 20].argmax() == 0  # carrier along x: across the vertical line
    m = _one(img, "membrane", ())
    assert m[20, 20, 4] == pytest.approx(19.0, abs=0.5)  # max: the line kernel aligned
    assert m[20, 20, 4] > m[20, 10, 4]


def test_anisotropic_spacing_isotropic_response():
    zz, yy, xx = np.mgrid[0:60, 0:60, 0:60].astype(float)
    iso = np.exp(-((zz - 30) ** 2 + (yy - 30) ** 2 + (xx - 30) ** 2) / (2 * 5.0**2))
    aniso = iso[::3]  # z spacing 3x xy
    spec = FeatureSpec(
        [
            FilterSpec("gaussian", 3.0),
            FilterSpec("hessian", 3.0),
            FilterSpec("gradient_magnitude", 3.0),
        ],
        ndim=3,
        derivatives="gaussian",
    )
    a = compute_features(iso.astype(np.float32), spec)
    b = compute_features(aniso.astype(np.float32), spec, spacing=(3.0, 1.0, 1.0))
    np.testing.assert_allclose(b[10], a[30], atol=0.02 * np.abs(a).max())
    # the blob centre: the three Hessian eigenvalues are equal (isotropic)
    ev = b[10, 30, 30, 1:4]
    assert np.ptp(ev) < 0.03 * np.abs(ev).max()
    ev_pixels = compute_features(aniso.astype(np.float32), spec)[10, 30, 30, 1:4]  # no spacing
    assert np.ptp(ev_pixels) > 0.3 * np.abs(ev_pixels).max()
