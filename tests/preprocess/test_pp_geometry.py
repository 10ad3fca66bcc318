import numpy as np
import pytest
from scipy import ndimage as ndi

from biakit.errors import ParameterError
from biakit.preprocess import flip, resample, rescale_to_isotropic, rotate, rotate90


def test_rescale_to_isotropic_shape_and_spacing():
    img = np.random.default_rng(0).random((10, 32, 24)).astype(np.float32)
    out, sp = rescale_to_isotropic(img, (2.0, 0.5, 0.5))
    assert out.shape == (40, 32, 24) and sp == (0.5, 0.5, 0.5)
    assert out.dtype == np.float32
    out, sp = rescale_to_isotropic(img, (2.0, 0.5, 0.5), target=1.0)
    assert out.shape == (20, 16, 12) and sp == (1.0, 1.0, 1.0)
    out, sp = rescale_to_isotropic(img, (1.0, 0.3, 0.3), target=0.7)  # shape rounding
    assert out.shape == (14, 14, 10)
    np.testing.assert_allclose(sp, (10 / 14, 32 * 0.3 / 14, 24 * 0.3 / 10))


def test_isotropic_linear_keeps_mean_and_ramp():
    z = np.arange(8, dtype=np.float32)[:, None, None] * np.ones((1, 6, 6), np.float32)
    out, _ = rescale_to_isotropic(z, (4.0, 1.0, 1.0))
    assert out.shape == (32, 6, 6)
    # pixel-edge aligned: output centre k maps to input coordinate (k + 0.5) / 4 - 0.5
    k = np.arange(4, 28)
    np.testing.assert_allclose(out[4:28, 0, 0], (k + 0.5) / 4 - 0.5, atol=1e-5)


def test_labels_order0_never_get_new_values():
    labels = np.zeros((6, 20, 20), np.uint16)
    labels[1:4, 2:9, 3:10] = 3
    labels[2:6, 10:18, 8:19] = 7
    out, _ = rescale_to_isotropic(labels, (3.0, 1.0, 1.0), order=0)
    assert out.dtype == np.uint16 and set(np.unique(out)) == {0, 3, 7}
    assert out.shape == (18, 20, 20)
    np.testing.assert_array_equal(out[::3], labels)  # each z slice repeated 3 times
    rot = rotate(labels, 30, order=0)
    assert rot.dtype == np.uint16 and set(np.unique(rot)) <= {0, 3, 7}


def test_resample_down_and_2d():
    img = np.random.default_rng(1).random((40, 60))
    out = resample(img, (0.5, 0.5), (1.0, 1.0))
    assert out.shape == (20, 30)
    np.testing.assert_allclose(out.mean(), img.mean(), atol=0.01)
    np.testing.assert_array_equal(resample(img, (1, 1), (1, 1), order=0), img)


def test_resample_scalar_spacing_equals_repeated_sequence():
    img = np.random.default_rng(1).random((6, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(resample(img, 0.5, 1.0), resample(img, (0.5,) * 3, (1.0,) * 3))
    out, sp = rescale_to_isotropic(img, 0.7)
    np.testing.assert_array_equal(out, img)
    np.testing.assert_allclose(sp, (0.7, 0.7, 0.7))


def test_flip_rotate90_rotate():
    img = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(flip(img, 0), img[::-1])
    np.testing.assert_array_equal(flip(img), img[..., ::-1])
    np.testing.assert_array_equal(rotate90(img, 2), np.rot90(img, 2, axes=(1, 2)))
    np.testing.assert_array_equal(rotate90(img, 1, axes=(0, 2)), np.rot90(img, 1, axes=(0, 2)))
    square = np.random.default_rng(2).random((9, 9)).astype(np.float32)
    np.testing.assert_allclose(rotate(square, 90), np.rot90(square), atol=1e-5)
    ref = ndi.rotate(square, 17, reshape=False, order=1, mode="constant")
    np.testing.assert_allclose(rotate(square, 17), ref, atol=1e-6)
    assert rotate(square, 45, reshape=True).shape == (13, 13)


def test_geometry_errors():
    img = np.zeros((4, 5, 6))
    with pytest.raises(ParameterError, match=r"spacing has 2 value\(s\) .* 3 spatial axes"):
        rescale_to_isotropic(img, (1.0, 1.0))
    with pytest.raises(ParameterError, match="target must be a positive finite number, got -1"):
        rescale_to_isotropic(img, (2.0, 1.0, 1.0), target=-1)
    with pytest.raises(ParameterError, match="spacing is required: the physical pixel size"):
        rescale_to_isotropic(img, None)
    with pytest.raises(ParameterError, match="new_spacing is required"):
        resample(img, 1.0, None)
    with pytest.raises(ValueError, match="order must be an integer spline order 0-5"):
        resample(img, (1, 1, 1), (2, 2, 2), order=7)
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        flip(img, 3)
    with pytest.raises(ValueError, match="axes must name two different axes"):
        rotate90(img, 1, axes=(1, 1))
    with pytest.raises(ValueError, match="axes 5 is out of range"):
        rotate(img, 10, axes=(0, 5))
