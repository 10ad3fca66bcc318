"""Noise structure: neighbour correlations of the noise against box-filtered noise's exact ones."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from biakit.preprocess import NoiseStructure, noise_structure, pooled_noise_structure


def _noise(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("kind", ["gaussian", "poisson", "uint8"])
def test_independent_noise_of_any_distribution_is_white(kind):
    rng = np.random.default_rng(1)
    image = {
        "gaussian": lambda: rng.normal(100.0, 5.0, (384, 384)),
        "poisson": lambda: rng.poisson(2.0, (384, 384)),
        "uint8": lambda: np.clip(rng.normal(128, 20, (384, 384)), 0, 255).astype(np.uint8),
    }[kind]()
    found = noise_structure(image)
    assert found.axis is None and found.line == 1
    assert max(abs(c) for c in found.correlation) < 0.03


@pytest.mark.parametrize(("axis", "length"), [(-1, 5), (-2, 3)])
def test_averaged_noise_has_the_box_filters_correlations(axis, length):
    """White noise averaged over ``L`` pixels along an axis: correlation (L - k) / L at lag
    k along it, 0 across; structN2V's line covers lags 1 .. L - 1."""
    found = noise_structure(ndi.uniform_filter1d(_noise((512, 512)), length, axis=axis))
    expected = [(length - k) / length for k in range(1, length)]
    np.testing.assert_allclose(found.lags[axis][: length - 1], expected, atol=0.04)
    assert abs(found.lags[axis][length]) < 0.03  # beyond the box: independent
    assert abs(found.correlation[-3 - axis]) < 0.03  # the other axis
    assert found.axis == axis and found.line == 2 * length - 1


def test_column_offsets_are_correlated_along_y():
    """A camera's fixed column pattern (one offset per column, sd 6) over photon noise
    (variance 20): correlation 36 / (36 + 20) along Y at every lag, 0 along X."""
    rng = np.random.default_rng(2)
    columns = np.repeat(rng.normal(size=(1, 300)), 300, axis=0)
    found = noise_structure(rng.poisson(20.0, (300, 300)) + 6.0 * columns)
    np.testing.assert_allclose(found.lags[-2], 36 / 56, atol=0.06)
    assert found.axis == -2 and abs(found.correlation[1]) < 0.05 and found.line == 17


def test_3d_noise_correlated_along_z():
    found = noise_structure(ndi.uniform_filter1d(_noise((40, 96, 96)), 3, axis=0))
    assert found.axis == -3 and abs(found.correlation[0] - 2 / 3) < 0.05
    assert max(abs(c) for c in found.correlation[1:]) < 0.05


def test_structure_on_every_axis_is_not_called_structured_noise():
    """Blurred noise (isotropic) and a smooth image are correlated on every axis: no axis."""
    blurred = ndi.gaussian_filter(_noise((256, 256)), 1.0)
    assert min(noise_structure(blurred).correlation) > 0.3
    assert noise_structure(blurred).axis is None
    yy, xx = np.mgrid[:256, :256]
    assert noise_structure(np.sin(xx / 9.0) + np.cos(yy / 7.0)).axis is None


def test_pooled_structure_is_the_median():
    a = noise_structure(ndi.uniform_filter1d(_noise((256, 256), 3), 5, axis=-1))
    white = noise_structure(_noise((256, 256), 4))
    assert pooled_noise_structure([a, a, white]).axis == -1
    assert pooled_noise_structure([a, white, white]).axis is None
    with pytest.raises(ValueError, match="no noise structures"):
        pooled_noise_structure([])


def test_errors():
    with pytest.raises(ValueError, match="2D or 3D image with >= 8 pixels"):
        noise_structure(np.zeros((4, 64)))
    assert isinstance(noise_structure(np.zeros((16, 16))), NoiseStructure)  # constant: 0
