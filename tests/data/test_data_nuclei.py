import dataclasses
import time

import numpy as np
import pytest
from scipy import ndimage as ndi

from biakit.data import SyntheticImage, synthetic_nuclei
from biakit.errors import ParameterError

CASES = [
    pytest.param(dict(shape=(128, 128), n_objects=15, radius=(5, 9)), id="2d"),
    pytest.param(dict(shape=(24, 64, 64), n_objects=10, radius=(5, 8)), id="3d"),
    pytest.param(
        dict(shape=(20, 64, 64), n_objects=10, radius=(5, 8), spacing=(3.0, 1.0, 1.0)),
        id="3d-aniso",
    ),
]


@pytest.mark.parametrize("touching", [0.0, 0.5])
@pytest.mark.parametrize("kwargs", CASES)
def test_labels_partition_and_centroids(kwargs, touching):
    s = synthetic_nuclei(**kwargs, touching=touching, seed=3)
    shape = kwargs["shape"]
    assert isinstance(s, SyntheticImage)
    assert s.image.shape == s.clean.shape == s.labels.shape == s.mask.shape == shape
    assert s.image.dtype == s.clean.dtype == np.float32
    assert s.labels.dtype == np.int32 and s.mask.dtype == bool
    assert s.axes == ("YX" if len(shape) == 2 else "ZYX")
    assert s.spacing == tuple(kwargs.get("spacing", (1.0,) * len(shape)))
    n = len(s.centroids)
    assert 0 < n <= kwargs["n_objects"]
    np.testing.assert_array_equal(np.unique(s.labels), np.arange(n + 1))
    np.testing.assert_array_equal(s.mask, s.labels > 0)
    assert s.centroids.shape == (n, len(shape)) and s.centroids.dtype == np.float64
    expected = ndi.center_of_mass(np.ones(shape), s.labels, np.arange(1, n + 1))
    np.testing.assert_allclose(s.centroids, np.array(expected), rtol=0, atol=1e-9)
    # every object is one connected piece (no fragments left by the overlap split)
    for k in range(1, n + 1):
        assert ndi.label(s.labels == k)[1] == 1


def test_default_places_all_objects_in_default_shape():
    s = synthetic_nuclei()
    assert s.image.shape == (256, 256) and len(s.centroids) == 30


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kwargs", CASES)
def test_touching_zero_separates_every_pair(kwargs, seed, close_pairs):
    s = synthetic_nuclei(**kwargs, touching=0.0, seed=seed)
    assert len(s.centroids) >= 5
    assert close_pairs(s.labels) == set()


def test_touching_places_objects_in_contact(adjacent_pairs):
    s = synthetic_nuclei((128, 128), n_objects=16, radius=(5, 9), touching=0.5, seed=0)
    pairs = adjacent_pairs(s.labels)
    in_contact = {k for pair in pairs for k in pair}
    # 8 objects are placed touching a partner: at least 8 objects are in contact
    assert len(in_contact) >= 8
    full = synthetic_nuclei((128, 128), n_objects=16, radius=(5, 9), touching=1.0, seed=0)
    assert {k for pair in adjacent_pairs(full.labels) for k in pair} == set(
        range(1, len(full.centroids) + 1)
    )


def test_touching_objects_share_a_boundary(adjacent_pairs):
    s = synthetic_nuclei((96, 96), n_objects=8, radius=(8, 10), touching=1.0, seed=5)
    # each contact is a boundary of several pixels, not a single corner
    a, b = sorted(adjacent_pairs(s.labels))[0]
    contact = ndi.binary_dilation(s.labels == a) & (s.labels == b)
    assert contact.sum() >= 3


def _noise_free(shape, **kwargs):
    """``synthetic_nuclei`` with no PSF blur and no noise: ``image == clean`` is the raw model."""
    return synthetic_nuclei(shape, psf_sigma=0, poisson_photons=None, gaussian_noise=0, **kwargs)


def _second_moments(labels, spacing):
    """Mean (over objects) variance of the pixel coordinates along each axis, in pixels."""
    out = []
    for k, box in enumerate(ndi.find_objects(labels), start=1):
        idx = np.nonzero(labels[box] == k)
        out.append([np.var(i) for i in idx])
    return np.mean(out, axis=0)


def test_anisotropic_objects_are_round_in_physical_space():
    s = _noise_free((24, 96, 96), n_objects=12, radius=(6, 9), spacing=(3.0, 1.0, 1.0), seed=0)
    var_z, var_y, var_x = _second_moments(s.labels, s.spacing)
    # sd in z pixels ~ sd in xy pixels / 3 (a uniform slab of 3 px adds 3**2/12 to var_z*9)
    ratio = np.sqrt(var_z) / np.sqrt(0.5 * (var_y + var_x))
    assert 0.27 < ratio < 0.42
    iso = synthetic_nuclei((32, 64, 64), n_objects=6, radius=(6, 9), seed=0)
    var_z, var_y, var_x = _second_moments(iso.labels, iso.spacing)
    assert 0.8 < np.sqrt(var_z) / np.sqrt(0.5 * (var_y + var_x)) < 1.25


def test_objects_are_mildly_eccentric_ellipses():
    s = synthetic_nuclei((256, 256), n_objects=30, radius=(8, 12), seed=4)
    ratios = []
    for k, box in enumerate(ndi.find_objects(s.labels), start=1):
        idx = np.stack(np.nonzero(s.labels[box] == k))
        ev = np.linalg.eigvalsh(np.cov(idx))
        ratios.append(np.sqrt(ev[-1] / ev[0]))
        r = np.sqrt((s.labels == k).sum() / np.pi)
        assert 7 < r < 13
    assert max(ratios) < 1.5 and min(ratios) < 1.15 and max(ratios) > 1.2


def test_clean_is_brighter_inside_objects():
    flat = _noise_free((128, 128), n_objects=12, radius=(5, 9), background=0.1, seed=2)
    outside = flat.clean[~flat.mask]
    np.testing.assert_allclose(outside, 0.1, rtol=1e-6)
    assert flat.clean[flat.mask].min() > outside.max()
    np.testing.assert_array_equal(flat.image, flat.clean)
    blurred = synthetic_nuclei((128, 128), n_objects=12, radius=(5, 9), psf_sigma=2.0, seed=2)
    assert blurred.clean[blurred.mask].mean() > 3 * blurred.clean[~blurred.mask].mean()
    # the layout does not depend on the imaging parameters
    np.testing.assert_array_equal(blurred.labels, flat.labels)


def test_intensity_range_per_object():
    s = _noise_free(
        (128, 128), n_objects=12, radius=(5, 9), intensity=(0.5, 1.0), background=0.0, seed=1
    )
    means = ndi.mean(s.clean, s.labels, np.arange(1, len(s.centroids) + 1))
    assert 0.45 < means.min() and means.max() < 1.05 and np.ptp(means) > 0.1


def test_background_gradient_amplitude():
    s = _noise_free(
        (128, 128), n_objects=5, radius=(5, 8), background=0.1, background_gradient=0.3, seed=0
    )
    outside = s.clean[~s.mask]
    assert outside.min() >= 0.1 - 1e-6 and outside.max() <= 0.4 + 1e-6
    assert np.ptp(outside) > 0.2


def test_gaussian_read_noise_has_requested_sd():
    s = synthetic_nuclei((256, 256), psf_sigma=0, poisson_photons=None, gaussian_noise=0.05, seed=0)
    residual = s.image.astype(np.float64) - s.clean
    assert abs(residual.std() - 0.05) < 0.05 * 0.02
    assert abs(residual.mean()) < 0.001


def test_poisson_noise_scales_with_mean_over_photons():
    kw = dict(shape=(256, 256), psf_sigma=0, gaussian_noise=0, seed=0)
    for photons in (20.0, 200.0):
        s = synthetic_nuclei(**kw, poisson_photons=photons)
        counts = s.image.astype(np.float64) * photons
        np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)  # photon counts
        residual = s.image.astype(np.float64) - s.clean
        for region in (s.mask, ~s.mask):
            expected = s.clean[region].mean() / photons
            assert abs(np.mean(residual[region] ** 2) / expected - 1) < 0.1


def test_same_seed_is_bit_identical_and_seeds_differ():
    for kw in (
        dict(shape=(64, 64), n_objects=6, radius=(4, 7), touching=0.5),
        dict(shape=(16, 32, 32), n_objects=4, radius=(4, 6), spacing=(2, 1, 1)),
    ):
        a, b = synthetic_nuclei(**kw, seed=7), synthetic_nuclei(**kw, seed=7)
        for field in ("image", "labels", "centroids", "clean"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        c = synthetic_nuclei(**kw, seed=8)
        assert not np.array_equal(a.image, c.image)
    gen = synthetic_nuclei((32, 32), n_objects=2, radius=3, seed=np.random.default_rng(1))
    assert gen.labels.max() == 2


def test_is_frozen():
    s = synthetic_nuclei((32, 32), n_objects=1, radius=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.image = None


def test_crowded_places_fewer_and_stays_valid(close_pairs):
    s = synthetic_nuclei((48, 48), n_objects=200, radius=(4, 6), seed=0)
    n = len(s.centroids)
    assert 3 < n < 200
    np.testing.assert_array_equal(np.unique(s.labels), np.arange(n + 1))
    assert close_pairs(s.labels) == set()
    empty = synthetic_nuclei((32, 32), n_objects=0)
    assert empty.centroids.shape == (0, 2) and empty.labels.max() == 0


def test_per_axis_psf():
    kw = dict(n_objects=3, radius=(4, 6), poisson_photons=None, gaussian_noise=0, seed=0)
    sharp = synthetic_nuclei((48, 48), psf_sigma=0, **kw)
    along_x = synthetic_nuclei((48, 48), psf_sigma=(0, 2.0), **kw)
    expected = ndi.gaussian_filter1d(sharp.clean, 2.0, axis=1, mode="reflect")
    np.testing.assert_allclose(along_x.clean, expected, atol=1e-6)


def test_fast_enough():
    synthetic_nuclei()
    start = time.perf_counter()
    synthetic_nuclei()
    t2 = time.perf_counter() - start
    start = time.perf_counter()
    synthetic_nuclei((64, 128, 128), radius=(5, 9), spacing=(2.0, 1.0, 1.0))
    t3 = time.perf_counter() - start
    # budgets are 50 ms and 1 s; allow slow CI machines a generous factor
    assert t2 < 0.25 and t3 < 4.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(shape=(64,)), ValueError, r"shape must have 2 \(YX\) or 3 \(ZYX\) entries"),
        (dict(shape=(2, 2, 64, 64)), ValueError, "shape must have"),
        (dict(shape=(64, 0)), ValueError, "shape must contain positive integers"),
        (dict(shape=(32, 32), radius=(6, 20)), ValueError, "radius .* is too big for shape"),
        (dict(shape=(8, 64, 64), radius=(4, 6), spacing=(1, 1, 1)), ValueError, "along axis Z"),
        (dict(radius=(9, 3)), ValueError, "radius must satisfy"),
        (dict(radius=0), ValueError, "radius must satisfy"),
        (dict(touching=1.5), ValueError, r"touching must be a fraction in \[0, 1\]"),
        (dict(touching=-0.1), ValueError, "touching must be a finite number >= 0"),
        (dict(spacing=(1.0, 1.0, 1.0)), ParameterError, r"spacing has 3 value\(s\)"),
        (dict(spacing=(0.0, 1.0)), ParameterError, "spacing must be positive finite numbers"),
        (dict(psf_sigma=(1, 1, 1)), ValueError, "psf_sigma must be a number or 2 numbers"),
        (dict(psf_sigma=-1), ValueError, "psf_sigma must be non-negative"),
        (dict(poisson_photons=0), ValueError, "poisson_photons must be a finite number > 0"),
        (dict(gaussian_noise=-0.1), ValueError, "gaussian_noise must be a finite number >= 0"),
        (dict(intensity=(-1, 1)), ValueError, "intensity must satisfy"),
        (dict(background="dark"), TypeError, "background must be a number"),
        (dict(n_objects=-1), ValueError, "n_objects must be >= 0"),
        (dict(n_objects=2.5), TypeError, "n_objects must be an integer"),
        (dict(seed="abc"), TypeError, "seed must be an int"),
        (dict(shape=5), TypeError, "shape must be a sequence of integers"),
    ],
)
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        synthetic_nuclei(**kwargs)
