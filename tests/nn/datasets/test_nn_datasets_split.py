import dask.array as da
import numpy as np
import pytest

from biakit.errors import DataError
from biakit.io import ImageMeta, write_image
from biakit.model_selection import train_val_test_split
from biakit.nn.datasets import PatchDataset, load_pairs, split_dataset


def test_split_dataset_keeps_pairs_and_matches_model_selection():
    images = [np.full((4, 4), i) for i in range(10)]
    targets = [f"t{i}" for i in range(10)]
    s = split_dataset(images, targets, val=0.2, seed=3)
    ref = train_val_test_split(10, val=0.2, test=0.0, seed=3)
    np.testing.assert_array_equal(s.train_index, ref.train)
    np.testing.assert_array_equal(s.val_index, ref.val)
    assert len(s.train_images) == 8 and len(s.val_images) == 2
    for im, t in zip(s.train_images + s.val_images, s.train_targets + s.val_targets):
        assert t == f"t{int(im[0, 0])}"
    assert set(s.train_index) | set(s.val_index) == set(range(10))
    again = split_dataset(images, targets, val=0.2, seed=3)
    np.testing.assert_array_equal(again.val_index, s.val_index)


def test_split_dataset_errors():
    with pytest.raises(ValueError, match="same length"):
        split_dataset([1, 2], [1])
    with pytest.raises(ValueError, match=r"val must be a fraction in \(0, 1\)"):
        split_dataset([1, 2], [1, 2], val=0.0)
    with pytest.raises(ValueError, match="at least 2 images"):
        split_dataset([1], [1])


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(0)
    im_dir, gt_dir = tmp_path / "images", tmp_path / "labels"
    im_dir.mkdir()
    gt_dir.mkdir()
    gray = rng.integers(0, 255, (20, 24), dtype=np.uint8)
    write_image(im_dir / "a.tif", gray, ImageMeta("YX"))
    write_image(gt_dir / "a_labels.tif", (gray > 128).astype(np.uint16), ImageMeta("YX"))
    multi = rng.random((16, 2, 18)).astype(np.float32)  # Y, C, X on disk
    write_image(im_dir / "b.zarr", multi, ImageMeta("YCX"))
    write_image(gt_dir / "b.zarr", np.ones((16, 18), np.uint16), ImageMeta("YX"))
    vol = rng.random((5, 12, 12)).astype(np.float32)
    write_image(im_dir / "c.tif", vol, ImageMeta("ZYX"))
    write_image(gt_dir / "c_mask.tif", np.zeros((5, 12, 12), np.uint8), ImageMeta("ZYX"))
    return im_dir, gt_dir, gray, multi, vol


def test_load_pairs_channel_first(folders):
    im_dir, gt_dir, gray, multi, vol = folders
    pairs = load_pairs(im_dir, gt_dir)
    assert [p.name for p in pairs.image_paths] == ["a.tif", "b.zarr", "c.tif"]
    assert [p.name for p in pairs.target_paths] == ["a_labels.tif", "b.zarr", "c_mask.tif"]
    a, b, c = pairs.images
    np.testing.assert_array_equal(a, gray[None])
    assert isinstance(b, da.Array)  # Zarr stays lazy
    np.testing.assert_array_equal(b.compute(), multi.transpose(1, 0, 2))
    np.testing.assert_array_equal(c, vol[None])
    assert [t.shape for t in pairs.targets] == [(20, 24), (16, 18), (5, 12, 12)]
    assert pairs.metas[1].axes == "CYX" and pairs.metas[1].extra["file_axes"] == "YCX"
    ds = PatchDataset(pairs.images[:2], pairs.targets[:2], (8, 8), samples_per_epoch=2)
    for i in range(2):
        x, y = ds[i]
        assert x.shape == (pairs.images[ds.locate(i).image].shape[0], 8, 8) and y.shape == (8, 8)


def test_load_pairs_errors(folders, tmp_path):
    im_dir, gt_dir, *_ = folders
    write_image(gt_dir / "d.tif", np.zeros((4, 4), np.uint8), ImageMeta("YX"))
    with pytest.raises(DataError, match=r"cannot pair images .* no ground truth for"):
        load_pairs(im_dir, gt_dir)
    other_im, other_gt = tmp_path / "i2", tmp_path / "g2"
    other_im.mkdir()
    other_gt.mkdir()
    write_image(other_im / "x.tif", np.zeros((6, 6), np.uint8), ImageMeta("YX"))
    write_image(other_gt / "x.tif", np.zeros((6, 7), np.uint8), ImageMeta("YX"))
    with pytest.raises(DataError, match="they must match"):
        load_pairs(other_im, other_gt)
    write_image(other_im / "x.tif", np.zeros((3, 6, 6), np.uint8), ImageMeta("TYX"), overwrite=True)
    with pytest.raises(DataError, match="a time-lapse of 3 frames"):
        load_pairs(other_im, other_gt)
