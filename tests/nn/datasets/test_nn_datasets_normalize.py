import json

import numpy as np
import pytest
import zarr

from biakit.errors import DataError
from biakit.nn.datasets import (
    MAX_STATS_VOXELS,
    Normalizer,
    NormStats,
    normalize_with_stats,
    sample_voxels,
)


class Recorder:
    """Array wrapper recording every slicing key (to count what is read)."""

    def __init__(self, array):
        self.array, self.shape, self.dtype = array, array.shape, array.dtype
        self.ndim = len(array.shape)
        self.reads = []

    def __getitem__(self, key):
        out = np.asarray(self.array[key])
        self.reads.append(out.shape)
        return out


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return np.stack([rng.gamma(2.0, 100.0, (20, 30)), rng.normal(5.0, 2.0, (20, 30))])


def test_percentile_matches_csbdeep_formula(image):
    out = Normalizer(kind="percentile", low=2.0, high=99.0, eps=1e-6)(image)
    assert out.dtype == np.float32 and out.shape == image.shape
    for c in range(2):
        lo, hi = np.percentile(image[c], 2.0), np.percentile(image[c], 99.0)
        np.testing.assert_allclose(out[c], (image[c] - lo) / (hi - lo + 1e-6), rtol=1e-5, atol=1e-6)
    # no clipping: values beyond the percentiles leave [0, 1]
    assert out.min() < 0 and out.max() > 1


def test_zscore_matches_numpy(image):
    out = Normalizer(kind="zscore")(image)
    for c in range(2):
        expected = (image[c] - image[c].mean()) / (image[c].std() + 1e-6)
        np.testing.assert_allclose(out[c], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.reshape(2, -1).mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(out.reshape(2, -1).std(axis=1), 1, atol=1e-5)


def test_range_fixed_and_dtype_default():
    x = np.array([[[0, 51], [255, 102]]], dtype=np.uint8)
    np.testing.assert_allclose(Normalizer(kind="range")(x), x / 255.0, rtol=1e-6)
    y = np.array([[[10.0, 15.0], [20.0, 30.0]]])
    out = Normalizer(kind="range", value_range=(10, 20))(y)
    np.testing.assert_allclose(out, [[[0.0, 0.5], [1.0, 2.0]]])


def test_none_is_a_cast(image):
    out = Normalizer(kind="none")(image)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, image.astype(np.float32))


@pytest.mark.parametrize("kind", ["percentile", "zscore"])
def test_channels_are_independent_and_affine_invariant(image, kind):
    two = np.stack([image[0], 10 * image[0] + 5])
    out = Normalizer(kind=kind, eps=1e-12)(two)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-4, atol=1e-5)


def test_stats_applied_to_patch_equal_whole_image_normalisation(image):
    norm = Normalizer()
    whole = norm(image)
    patch = normalize_with_stats(image[:, 3:9, 5:17], norm.stats(image))
    np.testing.assert_allclose(patch, whole[:, 3:9, 5:17], rtol=1e-6)


def test_3d_image():
    x = np.random.default_rng(1).random((1, 4, 5, 6))
    out = Normalizer(kind="zscore")(x)
    np.testing.assert_allclose(out[0], (x[0] - x.mean()) / (x.std() + 1e-6), rtol=1e-5, atol=1e-6)


def test_round_trip_dict():
    norm = Normalizer(kind="range", value_range=(0, 4095), eps=1e-3, max_voxels=1000)
    data = json.loads(json.dumps(norm.to_dict()))
    assert Normalizer.from_dict(data) == norm
    assert Normalizer.from_dict(Normalizer().to_dict()) == Normalizer()
    assert Normalizer().max_voxels == MAX_STATS_VOXELS == 2**22
    stats = NormStats((1, 2), (3, 4))
    assert NormStats.from_dict(json.loads(json.dumps(stats.to_dict()))) == stats


def test_subsample_stats_close_to_full_numpy():
    x = np.random.default_rng(2).gamma(2.0, 50.0, (1, 500, 400))
    full = Normalizer(kind="percentile").stats(x)
    sub_norm = Normalizer(kind="percentile", max_voxels=20_000)
    sub = sub_norm.stats(x)
    assert sub == sub_norm.stats(x)  # seeded: deterministic
    np.testing.assert_allclose(sub.offset, full.offset, rtol=0.1)
    np.testing.assert_allclose(sub.scale, full.scale, rtol=0.05)
    z_full, z_sub = Normalizer(kind="zscore").stats(x), Normalizer(kind="zscore", max_voxels=20_000)
    np.testing.assert_allclose(z_sub.stats(x).offset, z_full.offset, rtol=0.02)
    assert sample_voxels(x, 20_000).shape == (1, 20_000)


def test_subsample_stats_of_lazy_zarr_read_only_the_budget():
    x = np.random.default_rng(3).gamma(2.0, 50.0, (2, 40, 50, 50)).astype(np.float32)
    z = zarr.create_array(store={}, shape=x.shape, chunks=(1, 8, 25, 25), dtype=x.dtype)
    z[...] = x
    rec = Recorder(z)
    norm = Normalizer(kind="zscore", max_voxels=5_000)
    stats = norm.stats(rec)
    assert stats == norm.stats(Recorder(z))
    read_voxels = sum(int(np.prod(s[1:])) for s in rec.reads)
    assert 0 < read_voxels <= 5_000
    full = Normalizer(kind="zscore").stats(x)
    np.testing.assert_allclose(stats.offset, full.offset, rtol=0.03)
    np.testing.assert_allclose(stats.scale, full.scale, rtol=0.05)


def test_small_lazy_image_gives_exact_stats(image):
    z = zarr.create_array(store={}, shape=image.shape, chunks=(1, 10, 10), dtype=image.dtype)
    z[...] = image
    assert Normalizer().stats(z) == Normalizer().stats(image)


def test_constant_image_does_not_divide_by_zero():
    out = Normalizer()(np.full((1, 4, 4), 7.0))
    assert np.all(np.isfinite(out)) and np.all(out == 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "minmax"}, "kind"),
        ({"low": 50.0, "high": 10.0}, "low must be < high"),
        ({"high": 101.0}, "high"),
        ({"value_range": (5, 5)}, "value_range must be"),
        ({"eps": 0.0}, "eps"),
        ({"max_voxels": 0}, "max_voxels"),
        ({"sigma": 1}, "sigma"),
    ],
)
def test_normalizer_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Normalizer(**kwargs)


def test_normalizer_errors(image):
    with pytest.raises(DataError, match="channel-first"):
        Normalizer()(image[0])
    with pytest.raises(DataError, match=r"shape \(16, 16, 3\), which looks channel-last"):
        Normalizer().stats(np.zeros((16, 16, 3)))
    with pytest.raises(ValueError, match="needs value_range"):
        Normalizer(kind="range")(image)
    with pytest.raises(ValueError, match="3 channels but stats have 2"):
        normalize_with_stats(np.zeros((3, 2, 2)), Normalizer().stats(image))
    with pytest.raises(ValueError, match="channel-first"):
        normalize_with_stats(np.zeros(3), NormStats((0.0,), (1.0,)))
    with pytest.raises(ValueError, match="scale must be positive"):
        NormStats((0.0,), (0.0,))
    with pytest.raises(ValueError, match="one value per channel"):
        NormStats((0.0, 1.0), (1.0,))
