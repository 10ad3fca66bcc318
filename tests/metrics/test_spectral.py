"""Checkerboard (Nyquist) energy: hand-computed spectra, invariances, errors."""

import numpy as np
import pytest

from biakit.errors import DataError
from biakit.metrics import nyquist_energy


def _checker(shape):
    return (-1.0) ** np.indices(shape).sum(axis=0)


@pytest.mark.parametrize("shape", [(32, 32), (16, 24), (8, 10, 12), (2, 6)])
def test_checkerboard_and_stripes_are_all_nyquist(shape):
    assert nyquist_energy(_checker(shape)) == pytest.approx(1.0, abs=1e-12)
    stripes = (-1.0) ** np.indices(shape)[-1]  # alternating along X only
    assert nyquist_energy(3.0 + 2.0 * stripes) == pytest.approx(1.0, abs=1e-12)


def test_smooth_image_is_about_zero():
    yy, xx = np.mgrid[:64, :64]
    blob = np.exp(-((yy - 30.0) ** 2 + (xx - 34.0) ** 2) / (2 * 6.0**2))
    assert nyquist_energy(blob) < 1e-12
    assert nyquist_energy(np.cos(2 * np.pi * 3 * yy / 64)) < 1e-20
    zz, yy3, xx3 = np.mgrid[:16, :16, :16]
    assert nyquist_energy(np.sin(2 * np.pi * (zz + yy3 + xx3) / 16)) < 1e-20


def test_hand_computed_mixture_and_invariances():
    # checkerboard (amplitude a) + sine (amplitude b) are orthogonal: a^2 / (a^2 + b^2 / 2)
    xx = np.mgrid[:32, :32][1]
    image = 1.0 * _checker((32, 32)) + 2.0 * np.sin(2 * np.pi * xx / 32)
    assert nyquist_energy(image) == pytest.approx(1.0 / 3.0, abs=1e-12)
    assert nyquist_energy(7.0 * image - 100.0) == pytest.approx(1.0 / 3.0, abs=1e-12)
    assert nyquist_energy((image * 10 + 50).astype(np.uint8)) == pytest.approx(1 / 3, abs=0.02)


def test_white_noise_share_of_nyquist_bins():
    n = 256
    values = [nyquist_energy(np.random.default_rng(s).normal(size=(n, n))) for s in range(4)]
    expected = 1 - (1 - 1 / n) ** 2  # share of the AC bins with one axis at Nyquist
    assert np.mean(values) == pytest.approx(expected, rel=0.1)


def test_odd_sizes_constant_and_bounds():
    odd = nyquist_energy(_checker((33, 31)))
    assert 0.9 < odd <= 1.0  # the two highest-frequency bins of odd axes hold most of it
    assert nyquist_energy(np.full((5, 7), 3.0)) == 0.0
    assert nyquist_energy(np.zeros((4, 4, 4))) == 0.0
    assert nyquist_energy(np.ones((1, 8)) * (-1.0) ** np.arange(8)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros(8), r"1 dimension\(s\).*expected 2 or 3"),
        (np.zeros((2, 2, 2, 2)), r"4 dimension\(s\)"),
        (np.zeros((4, 4), complex), "image must be real-valued, got dtype complex128"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "1 NaN and 0 infinite"),
    ],
)
def test_errors(image, match):
    with pytest.raises(DataError, match=match):
        nyquist_energy(image)
