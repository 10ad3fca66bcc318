import h5py
import numpy as np
import pytest
import torch
import zarr
from torch.utils.data import DataLoader

from biakit.errors import DataError
from biakit.nn.datasets import Normalizer, PatchDataset, find_foreground
from biakit.nn.datasets import _sources as sources
from biakit.nn.datasets._sources import ChannelFirst


class Recorder:
    """Array wrapper recording the shape of every read (to check lazy, patch-sized reads)."""

    def __init__(self, array):
        self.array, self.shape, self.dtype = array, array.shape, array.dtype
        self.reads = []

    def __getitem__(self, key):
        out = np.asarray(self.array[key])
        self.reads.append(out.shape)
        return out


def sparse_labels(shape, points, seed=0):
    labels = np.zeros(shape, np.uint16)
    for i, p in enumerate(points, 1):
        labels[p] = i
    return labels


@pytest.fixture
def data2d():
    rng = np.random.default_rng(0)
    images = [rng.random((40, 50)).astype(np.float32), rng.random((64, 30)).astype(np.float32)]
    targets = [(im > 0.7).astype(np.uint8) for im in images]
    return images, targets


def test_shapes_and_dtypes_2d(data2d):
    ds = PatchDataset(*data2d, (16, 24), samples_per_epoch=5)
    assert len(ds) == 5
    x, y = ds[0]
    assert x.shape == (1, 16, 24) and x.dtype == torch.float32
    assert y.shape == (16, 24) and y.dtype == torch.int64


def test_shapes_3d_multichannel_continuous():
    rng = np.random.default_rng(1)
    images = [rng.random((2, 10, 20, 20)), rng.random((2, 6, 30, 25))]
    targets = [rng.random((3, *im.shape[1:])) for im in images]
    ds = PatchDataset(images, targets, (4, 8, 8), target_kind="continuous", samples_per_epoch=3)
    x, y = ds[2]
    assert x.shape == (2, 4, 8, 8) and x.dtype == torch.float32
    assert y.shape == (3, 4, 8, 8) and y.dtype == torch.float32
    # continuous target without channel axis gets Ct = 1; labels with (1, *spatial) are squeezed
    ds = PatchDataset([images[0]], [targets[0][0]], (4, 8, 8), target_kind="continuous")
    assert ds[0][1].shape == (1, 4, 8, 8)
    ds = PatchDataset([images[0]], [np.ones((1, 10, 20, 20), np.int32)], (4, 8, 8))
    assert ds[0][1].shape == (4, 8, 8)


def test_patch_matches_whole_image_normalisation_and_target(data2d):
    images, targets = data2d
    norm = Normalizer(kind="percentile")
    ds = PatchDataset(images, targets, (16, 16), normalizer=norm, seed=3, samples_per_epoch=20)
    for i in range(20):
        loc = ds.locate(i)
        window = tuple(slice(s, s + 16) for s in loc.start)
        x, y = ds[i]
        whole = norm(images[loc.image][None])
        np.testing.assert_allclose(x.numpy()[0], whole[0][window], rtol=1e-6)
        np.testing.assert_array_equal(y.numpy(), targets[loc.image][window])
    assert ds.stats[1] == norm.stats(images[1][None])


def test_deterministic_per_seed_epoch_index(data2d):
    a = PatchDataset(*data2d, (16, 16), seed=7, samples_per_epoch=4)
    b = PatchDataset(*data2d, (16, 16), seed=7, samples_per_epoch=4)
    for i in range(4):
        assert torch.equal(a[i][0], b[i][0]) and torch.equal(a[i][1], b[i][1])
        assert torch.equal(a[i][0], a[i][0])
    first = [a.locate(i) for i in range(4)]
    a.set_epoch(1)
    assert [a.locate(i) for i in range(4)] != first
    a.set_epoch(0)
    assert [a.locate(i) for i in range(4)] == first
    c = PatchDataset(*data2d, (16, 16), seed=8, samples_per_epoch=4)
    assert [c.locate(i) for i in range(4)] != first
    assert a.locate(-1) == a.locate(3)


def test_foreground_fraction_one_always_contains_foreground():
    labels = sparse_labels((64, 64), [(3, 60), (40, 10), (63, 63)])
    image = np.random.default_rng(0).random((64, 64))
    ds = PatchDataset([image], [labels], (12, 12), foreground_fraction=1.0, samples_per_epoch=200)
    assert all(ds[i][1].sum() > 0 for i in range(200))
    assert all(ds.locate(i).foreground for i in range(200))
    np.testing.assert_array_equal(ds.foreground(0), np.flatnonzero(labels))


def test_foreground_fraction_zero_is_uniform():
    # one foreground pixel in the corner: a uniform 4x4 patch of a 12x12 image covers it
    # with probability 1/81; with foreground_fraction=0.5 about 0.5 + 0.5/81
    labels = sparse_labels((12, 12), [(0, 0)])
    image = np.zeros((12, 12))
    n = 4000
    ds = PatchDataset([image], [labels], (4, 4), foreground_fraction=0.0, samples_per_epoch=n)
    starts = np.array([ds.locate(i).start for i in range(n)])
    for axis in range(2):
        counts = np.bincount(starts[:, axis], minlength=9)
        assert counts.size == 9
        chi2 = ((counts - n / 9) ** 2 / (n / 9)).sum()
        assert chi2 < 26.1  # 8 degrees of freedom, p = 0.001
    hits = np.mean(np.all(starts == 0, axis=1))
    assert abs(hits - 1 / 81) < 0.008
    half = PatchDataset([image], [labels], (4, 4), foreground_fraction=0.5, samples_per_epoch=n)
    hits = np.mean([half.locate(i).start == (0, 0) for i in range(n)])
    assert abs(hits - (0.5 + 0.5 / 81)) < 0.04


def test_images_weighted_by_size():
    images = [np.zeros((10, 10)), np.zeros((10, 30))]
    targets = [np.zeros((10, 10), int), np.zeros((10, 30), int)]
    ds = PatchDataset(images, targets, (4, 4), samples_per_epoch=3000)
    share = np.mean([ds.locate(i).image for i in range(3000)])
    assert abs(share - 0.75) < 0.03
    # no foreground anywhere: foreground sampling falls back to uniform
    assert not any(ds.locate(i).foreground for i in range(50))


def test_small_image_is_reflect_padded():
    rng = np.random.default_rng(4)
    image = rng.random((5, 40))
    labels = rng.integers(0, 3, (5, 40))
    ds = PatchDataset([image], [labels], (8, 8), normalizer=Normalizer(kind="none"), seed=1)
    for i in range(10):
        (s0, s1) = ds.locate(i).start
        assert -3 <= s0 <= 0 and 0 <= s1 <= 32
        x, y = ds[i]
        pad = ((-s0, 8 - 5 + s0), (0, 0))
        expected = np.pad(image, pad, mode="reflect")[:, s1 : s1 + 8]
        np.testing.assert_allclose(x.numpy()[0], expected, rtol=1e-6)
        np.testing.assert_array_equal(
            y.numpy(), np.pad(labels, pad, mode="reflect")[:, s1 : s1 + 8]
        )
    tiny = PatchDataset([np.ones((1, 2, 3))], [np.ones((2, 3), int)], (4, 4), foreground_fraction=1)
    assert tiny[0][0].shape == (1, 4, 4) and bool(torch.all(tiny[0][1] == 1))


def test_zarr_and_h5py_read_lazily_and_match_numpy(tmp_path, data2d):
    images, targets = data2d
    zimages = []
    for im in images:
        z = zarr.create_array(store={}, shape=im.shape, chunks=(8, 8), dtype=im.dtype)
        z[...] = im
        zimages.append(z)
    with h5py.File(tmp_path / "t.h5", "w") as f:
        for k, t in enumerate(targets):
            f.create_dataset(f"t{k}", data=t, chunks=(8, 8))
    with h5py.File(tmp_path / "t.h5", "r") as f:
        htargets = [f["t0"], f["t1"]]
        ref = PatchDataset(images, targets, (16, 16), samples_per_epoch=6, seed=2)
        lazy = PatchDataset(zimages, htargets, (16, 16), samples_per_epoch=6, seed=2)
        for i in range(6):
            assert torch.equal(ref[i][0], lazy[i][0]) and torch.equal(ref[i][1], lazy[i][1])


def test_only_patch_regions_are_read_after_construction():
    rng = np.random.default_rng(5)
    image = rng.random((3, 200, 300)).astype(np.float32)
    labels = (rng.random((200, 300)) > 0.99).astype(np.int32)
    z = zarr.create_array(store={}, shape=image.shape, chunks=(1, 50, 50), dtype=image.dtype)
    z[...] = image
    rec_image, rec_labels = Recorder(z), Recorder(labels)
    norm = Normalizer(kind="zscore", max_voxels=4096)
    ds = PatchDataset([rec_image], [rec_labels], (32, 32), normalizer=norm, samples_per_epoch=8)
    assert sum(np.prod(s[1:]) for s in rec_image.reads) <= 4096  # statistics: a subsample
    assert rec_labels.reads == []  # foreground found lazily, on first need
    rec_image.reads.clear()
    for i in range(8):
        ds[i]
    assert rec_image.reads == [(3, 32, 32)] * 8
    scan = [s for s in rec_labels.reads if s != (32, 32)]
    assert sum(np.prod(s) for s in scan) == labels.size  # one full scan, in slabs
    rec_labels.reads.clear()
    for i in range(8):
        ds[i]
    assert rec_labels.reads == [(32, 32)] * 8


def test_huge_lazy_target_searched_in_windows(monkeypatch):
    labels = np.zeros((128, 128), np.uint8)
    labels[::4, ::4] = 1
    monkeypatch.setattr(sources, "FOREGROUND_SCAN_LIMIT", 1000)
    monkeypatch.setattr(sources, "_SLAB_VOXELS", 64 * 16)  # 64 windows of 4x4
    rec = Recorder(labels)
    flat = find_foreground(ChannelFirst(rec, has_channel=False), seed=0)
    assert sum(np.prod(s) for s in rec.reads) <= 64 * 16
    assert flat.size > 0 and np.all(labels.flat[flat] == 1)
    full = find_foreground(ChannelFirst(labels[None], True), seed=0)  # NumPy: scanned whole
    assert full.size == 32 * 32 and flat.size < full.size and np.isin(flat, full).all()


def test_foreground_points_thinned_uniformly(monkeypatch):
    labels = np.zeros((100, 50), np.uint8)
    labels[:, ::2] = 1  # 2500 foreground pixels over all rows
    monkeypatch.setattr(sources, "MAX_FOREGROUND_POINTS", 200)
    monkeypatch.setattr(sources, "_SLAB_VOXELS", 250)  # 5 rows per slab
    flat = find_foreground(ChannelFirst(labels, has_channel=False), seed=0)
    assert 50 <= flat.size <= 200 and np.all(labels.flat[flat] == 1)
    rows = flat // 50
    assert abs(rows.mean() - 49.5) < 8 and rows.min() < 15 and rows.max() > 85


def test_augmenter_and_target_transform_are_called_in_order(data2d):
    calls = []

    def augmenter(image, target, *, rng, target_kind):
        calls.append(("aug", image.shape, target.shape, target_kind))
        assert isinstance(rng, np.random.Generator)
        return image[..., ::-1], target[..., ::-1]

    def transform(target):
        calls.append(("tt", target.copy()))
        return (target > 0).astype(np.float32)[None]

    plain = PatchDataset(*data2d, (16, 16), seed=1)
    ds = PatchDataset(*data2d, (16, 16), seed=1, augmenter=augmenter, target_transform=transform)
    x, y = ds[0]
    assert calls[0] == ("aug", (1, 16, 16), (16, 16), "labels")
    np.testing.assert_array_equal(calls[1][1], plain[0][1].numpy()[:, ::-1])
    assert torch.equal(x, plain[0][0].flip(-1))
    assert y.dtype == torch.float32 and y.shape == (1, 16, 16)
    ds = PatchDataset(*data2d, (16, 16), target_transform=lambda t: t.astype(bool))
    assert ds[0][1].dtype == torch.int64


def test_real_augmenter(data2d):
    augment = pytest.importorskip("biakit.nn.augment")
    aug = augment.Augmenter(augment.AugmentConfig(rotation=20.0, brightness=0.1), ndim=2)
    ds = PatchDataset(*data2d, (16, 16), augmenter=aug, samples_per_epoch=3)
    x, y = ds[1]
    assert x.shape == (1, 16, 16) and y.shape == (16, 16)
    assert set(np.unique(y.numpy())) <= {0, 1}
    assert torch.equal(ds[1][0], x)


def test_dataloader_batches(data2d):
    ds = PatchDataset(*data2d, (16, 16), samples_per_epoch=10)
    batches = list(DataLoader(ds, batch_size=4, num_workers=0))
    assert [tuple(b[0].shape) for b in batches] == [(4, 1, 16, 16)] * 2 + [(2, 1, 16, 16)]
    assert batches[0][1].shape == (4, 16, 16) and batches[0][1].dtype == torch.int64


def test_error_paths(data2d):
    images, targets = data2d
    with pytest.raises(ValueError, match="same length, got 2 images and 1 targets"):
        PatchDataset(images, targets[:1], (8, 8))
    with pytest.raises(ValueError, match="patch_shape has 3 spatial axes"):
        PatchDataset(images, targets, (4, 8, 8))
    with pytest.raises(ValueError, match="patch_shape must be 2 or 3"):
        PatchDataset(images, targets, (8,))
    with pytest.raises(ValueError, match="patch_shape must be 2 or 3"):
        PatchDataset(images, targets, (0, 8))
    with pytest.raises(TypeError, match="patch_shape must be a tuple"):
        PatchDataset(images, targets, 8)
    with pytest.raises(ValueError, match="target_kind must be"):
        PatchDataset(images, targets, (8, 8), target_kind="points")
    with pytest.raises(ValueError, match="foreground_fraction"):
        PatchDataset(images, targets, (8, 8), foreground_fraction=1.5)
    with pytest.raises(ValueError, match="samples_per_epoch"):
        PatchDataset(images, targets, (8, 8), samples_per_epoch=0)
    with pytest.raises(ValueError, match="seed must be"):
        PatchDataset(images, targets, (8, 8), seed=-1)
    with pytest.raises(TypeError, match="augmenter must be callable"):
        PatchDataset(images, targets, (8, 8), augmenter="flip")
    with pytest.raises(TypeError, match="normalizer must be a Normalizer"):
        PatchDataset(images, targets, (8, 8), normalizer="percentile")
    with pytest.raises(TypeError, match="wrap it in a list"):
        PatchDataset(images[0], targets[0], (8, 8))
    with pytest.raises(TypeError, match="images must be a list"):
        PatchDataset(3, targets, (8, 8))
    with pytest.raises(ValueError, match="images is empty"):
        PatchDataset([], [], (8, 8))


def test_error_paths_targets_and_indexing(data2d):
    images, targets = data2d
    with pytest.raises(ValueError, match=r"targets\[1\] has spatial shape"):
        PatchDataset(images, [targets[0], targets[0]], (8, 8))
    with pytest.raises(ValueError, match="needs integer labels"):
        PatchDataset(images, [t.astype(float) for t in targets], (8, 8))
    with pytest.raises(DataError, match=r"expected \(Y, X\) or \(1, Y, X\)"):
        PatchDataset(images, [np.stack([t, t]) for t in targets], (8, 8))
    with pytest.raises(DataError, match=r"images\[0\] has shape .* looks channel-last"):
        PatchDataset([np.zeros((16, 16, 3))], [np.zeros((16, 16), int)], (8, 8))
    ds = PatchDataset(images, targets, (8, 8), samples_per_epoch=3)
    with pytest.raises(IndexError, match="out of range"):
        ds[3]
    with pytest.raises(TypeError, match="index must be an int"):
        ds[1.0]
    with pytest.raises(ValueError, match="epoch must be"):
        ds.set_epoch(-1)
    bad = PatchDataset(images, targets, (8, 8), augmenter=lambda im, t, **kw: (im[:, :4], t))
    with pytest.raises(ValueError, match="augmenter must keep the patch shape"):
        bad[0]
