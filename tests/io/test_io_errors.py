"""Every error path: the message names the file and the problem."""

from __future__ import annotations

import json
import re

import dask.array as da
import h5py
import numpy as np
import pytest
import tifffile
import zarr

from biakit.io import (
    ImageMeta,
    ImageReadError,
    ImageWriteError,
    read_image,
    read_labels,
    write_image,
    write_labels,
)

IMG = np.arange(4 * 6 * 5, dtype=np.uint16).reshape(4, 6, 5)


def named(path) -> str:
    """A ``match`` pattern requiring the file name in the message."""
    return re.escape(str(path))


def test_errors_are_value_errors():
    assert issubclass(ImageReadError, ValueError) and issubclass(ImageWriteError, ValueError)


@pytest.mark.parametrize("name", ["a.tif", "a.ome.tif", "a.png", "a.jpg", "a.npy", "a.h5"])
def test_missing_file(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(ImageReadError, match=named(path) + ".*no such file"):
        read_image(path)


def test_missing_zarr(tmp_path):
    path = tmp_path / "a.ome.zarr"
    with pytest.raises(ImageReadError, match=named(path) + ".*no such file"):
        read_image(path)


def test_folder_with_file_extension(tmp_path):
    (tmp_path / "d.tif").mkdir()
    with pytest.raises(ImageReadError, match=named(tmp_path / "d.tif") + ".*folder"):
        read_image(tmp_path / "d.tif")


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_tiff(tmp_path, cut):
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, np.ones((4, 64, 64), np.uint16), photometric="minisblack")
    data = full.read_bytes()
    path = tmp_path / "cut.tif"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ImageReadError, match=named(path) + ".*not a valid or complete TIFF"):
        read_image(path)


@pytest.mark.parametrize("name", ["junk.tif", "junk.ome.tiff"])
def test_random_bytes_tiff(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(ImageReadError, match=named(path) + ".*not a valid or complete TIFF"):
        read_image(path)


@pytest.mark.parametrize(("name", "what"), [("a.png", "PNG"), ("a.jpg", "JPG"), ("a.npy", "npy")])
def test_corrupt_other_files(tmp_path, name, what):
    path = tmp_path / name
    path.write_bytes(b"not an image at all" * 10)
    with pytest.raises(ImageReadError, match=named(path) + f".*not a valid .*{what}"):
        read_image(path)


def test_corrupt_hdf5(tmp_path):
    path = tmp_path / "a.h5"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ImageReadError, match=named(path) + ".*not a valid HDF5"):
        read_image(path)


def test_unknown_extension_lists_supported(tmp_path):
    path = tmp_path / "a.czi"
    path.write_bytes(b"x")
    with pytest.raises(ImageReadError, match=named(path) + r".*unknown extension.*\.ome\.zarr"):
        read_image(path)
    with pytest.raises(ImageWriteError, match=named(path) + r".*unknown extension.*\.tif"):
        write_image(path, IMG)
    with pytest.raises(ImageReadError, match=r"'\(none\)'"):
        read_image(tmp_path / "noext")


@pytest.mark.parametrize("shape", [(5,), (2, 2, 2, 2, 2, 2)], ids=["1d", "6d"])
@pytest.mark.parametrize("name", ["a.tif", "a.ome.tif", "a.npy", "a.h5", "a.ome.zarr", "a.zarr"])
def test_write_unsupported_dimensionality(tmp_path, shape, name):
    path = tmp_path / name
    with pytest.raises(ImageWriteError, match=named(path) + f".*{len(shape)}-D array"):
        write_image(path, np.zeros(shape, np.uint8))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shape", [(5,), (2, 2, 2, 2, 2, 2)], ids=["1d", "6d"])
def test_read_unsupported_dimensionality(tmp_path, shape):
    path = tmp_path / "a.npy"
    np.save(path, np.zeros(shape))
    with pytest.raises(ImageReadError, match=named(path) + f".*{len(shape)}-D image"):
        read_image(path)
    h5 = tmp_path / "a.h5"
    with h5py.File(h5, "w") as f:
        f["x"] = np.zeros(shape)
    with pytest.raises(ImageReadError, match=named(h5) + f".*{len(shape)}-D image"):
        read_image(h5)


def test_missing_hdf5_dataset_lists_present(tmp_path):
    path = tmp_path / "a.h5"
    with h5py.File(path, "w") as f:
        f["raw"] = np.zeros((3, 3))
        f["seg/labels"] = np.zeros((3, 3), np.int32)
    with pytest.raises(
        ImageReadError, match=named(path) + ".*no dataset '/nope'.*/raw, /seg/labels"
    ):
        read_image(f"{path}:/nope")
    with pytest.raises(ImageReadError, match=named(path) + ".*no dataset given.*/raw"):
        read_image(path)


def test_hdf5_dataset_exists(tmp_path):
    path = tmp_path / "a.h5"
    write_image(f"{path}:/raw", IMG)
    with pytest.raises(ImageWriteError, match=named(path) + ".*'/raw' already exists"):
        write_image(f"{path}:/raw", IMG)
    write_image(f"{path}:/raw", IMG + 1, overwrite=True)
    np.testing.assert_array_equal(read_image(f"{path}:/raw")[0], IMG + 1)


def test_zarr_group_without_multiscales_lists_arrays(tmp_path):
    path = tmp_path / "a.zarr"
    group = zarr.open_group(str(path), mode="w")
    group.create_array("raw", shape=(4, 4), dtype="u1")
    with pytest.raises(
        ImageReadError, match=named(path) + ".*without OME-Zarr.*arrays inside: raw"
    ):
        read_image(path)


@pytest.mark.parametrize("content", ["empty", "junk"])
def test_bad_zarr(tmp_path, content):
    path = tmp_path / "a.zarr"
    path.mkdir()
    if content == "junk":
        (path / "zarr.json").write_text("{not json")
    with pytest.raises(ImageReadError, match=named(path) + ".*not a Zarr array or group"):
        read_image(path)


def test_malformed_multiscales(tmp_path):
    path = tmp_path / "a.ome.zarr"
    write_image(path, IMG, ngff_version="0.5")
    meta = json.loads((path / "zarr.json").read_text())
    del meta["attributes"]["ome"]["multiscales"][0]["datasets"]
    (path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(ImageReadError, match=named(path) + ".*malformed OME-Zarr"):
        read_image(path)


def test_ome_zarr_level_errors(tmp_path):
    path = tmp_path / "a.ome.zarr"
    write_image(path, IMG, levels=2)
    with pytest.raises(ImageReadError, match=named(path) + ".*level=2 is out of range.*2 level"):
        read_image(path, level=2)
    write_image(tmp_path / "b.tif", IMG)
    with pytest.raises(ImageReadError, match=named(tmp_path / "b.tif") + ".*only to OME-Zarr"):
        read_image(tmp_path / "b.tif", level=1)
    write_image(tmp_path / "c.zarr", IMG)
    with pytest.raises(ImageReadError, match=named(tmp_path / "c.zarr") + ".*plain array"):
        read_image(tmp_path / "c.zarr", level=1)
    import shutil

    shutil.rmtree(path / "1")
    with pytest.raises(ImageReadError, match=named(path) + ".*level path '1'.*missing"):
        read_image(path, level=1)


@pytest.mark.parametrize("name", ["a.tif", "a.ome.tif", "a.png", "a.npy", "a.zarr", "a.ome.zarr"])
def test_existing_target_refused(tmp_path, name):
    path = tmp_path / name
    img = IMG[0].astype(np.uint8)
    write_image(path, img)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(ImageWriteError, match=named(path) + ".*already exists.*overwrite=True"):
        write_image(path, img + 1)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    np.testing.assert_array_equal(np.asarray(read_image(path)[0]), img)
    write_image(path, img + 1, overwrite=True)
    np.testing.assert_array_equal(np.asarray(read_image(path)[0]), img + 1)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp / old leftovers


def test_missing_parent_folder_is_created(tmp_path):
    path = tmp_path / "no" / "deeper" / "a.tif"
    write_image(path, IMG)
    np.testing.assert_array_equal(np.asarray(read_image(path)[0]), IMG)


def test_parent_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "a.tif"
    with pytest.raises(ImageWriteError, match=named(path) + ".*cannot create the folder"):
        write_image(path, IMG)


def test_meta_errors(tmp_path):
    path = tmp_path / "a.tif"
    with pytest.raises(ImageWriteError, match=named(path) + ".*'YX' has 2 letters.*3 dimensions"):
        write_image(path, IMG, ImageMeta("YX"))
    with pytest.raises(ImageWriteError, match=named(path) + ".*meta must be.*ImageMeta.*dict"):
        write_image(path, IMG, {"axes": "ZYX"})


@pytest.mark.parametrize(
    ("name", "array", "axes", "problem"),
    [
        ("a.png", np.zeros((2, 4, 4), np.uint8), "ZYX", "2D grey"),
        ("a.png", np.zeros((4, 4, 2), np.uint8), "YXC", "3 or 4 channels"),
        ("a.jpg", np.zeros((4, 4, 4), np.uint8), "YXC", "with 3 channels"),
        ("a.png", np.zeros((4, 4), np.float32), "YX", "uint8 or uint16 grey.*float32"),
        ("a.png", np.zeros((4, 4, 3), np.uint16), "YXC", "uint8 colour.*uint16"),
        ("a.jpeg", np.zeros((4, 4), np.uint16), "YX", "JPEG holds uint8.*uint16"),
    ],
)
def test_png_jpeg_limits(tmp_path, name, array, axes, problem):
    path = tmp_path / name
    with pytest.raises(ImageWriteError, match=named(path) + f".*{problem}"):
        write_image(path, array, ImageMeta(axes))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["a.tif", "a.h5", "a.zarr", "a.ome.zarr"])
def test_bad_compression(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(ImageWriteError, match=named(path) + ".*compression 'rar'.*expected one"):
        write_image(path, IMG, compression="rar")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["a.png", "a.npy"])
def test_compression_not_applicable(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(ImageWriteError, match=named(path) + ".*'zlib' does not apply"):
        write_image(path, IMG[0].astype(np.uint8), compression="zlib")
    assert list(tmp_path.iterdir()) == []


def test_bad_ngff_version_and_levels(tmp_path):
    path = tmp_path / "a.ome.zarr"
    with pytest.raises(ImageWriteError, match=named(path) + ".*ngff_version '0.3'"):
        write_image(path, IMG, ngff_version="0.3")
    with pytest.raises(ImageWriteError, match=named(path) + ".*levels must be an int >= 1"):
        write_image(path, IMG, levels=0)
    assert list(tmp_path.iterdir()) == []


def test_write_inside_zarr_refused(tmp_path):
    path = tmp_path / "a.ome.zarr" / "labels" / "x"
    with pytest.raises(ImageWriteError, match=named(path) + ".*use write_labels"):
        write_image(path, IMG)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "a.tif"
    write_image(path, IMG)

    def broken(file, *args, **kwargs):
        with open(file, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(tifffile, "imwrite", broken)
    with pytest.raises(ImageWriteError, match=named(path) + ".*OSError: disk full"):
        write_image(path, IMG + 1, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["a.tif"]
    np.testing.assert_array_equal(read_image(path)[0], IMG)


def test_failed_zarr_write_leaves_nothing(tmp_path):
    path = tmp_path / "a.ome.zarr"

    def explode(block):
        raise RuntimeError("boom")

    bad = da.from_array(IMG, chunks=2).map_blocks(explode, dtype=IMG.dtype)
    with pytest.raises(ImageWriteError, match=named(path) + ".*RuntimeError: boom"):
        write_image(path, bad)
    assert list(tmp_path.iterdir()) == []


def test_labels_errors(tmp_path):
    plain = tmp_path / "plain.zarr"
    write_image(plain, IMG)
    with pytest.raises(ImageWriteError, match=named(plain) + ".*not an OME-Zarr image"):
        write_labels(plain, "x", IMG.astype(np.int32))
    with pytest.raises(ImageReadError, match=named(plain) + ".*not an OME-Zarr image"):
        read_labels(plain, "x")
    path = tmp_path / "a.ome.zarr"
    write_image(path, IMG)
    with pytest.raises(ImageWriteError, match=named(path) + ".*name must be a folder name"):
        write_labels(path, "../x", IMG.astype(np.int32))
    with pytest.raises(ImageWriteError, match=named(path) + ".*must be integers.*float32"):
        write_labels(path, "x", IMG.astype(np.float32))
    with pytest.raises(ImageWriteError, match=named(path) + r".*shape \(4, 6\).*\(4, 6, 5\)"):
        write_labels(path, "x", np.zeros((4, 6), np.int32))
    with pytest.raises(ImageReadError, match=named(path) + r".*label images present: \(none\)"):
        read_labels(path)
    write_labels(path, "a", IMG.astype(np.int32))
    write_labels(path, "b", IMG.astype(np.int32))
    with pytest.raises(ImageWriteError, match=named(path / "labels" / "a") + ".*already exists"):
        write_labels(path, "a", IMG.astype(np.int32))
    with pytest.raises(ImageReadError, match=named(path) + ".*no label name given.*a, b"):
        read_labels(path)
    with pytest.raises(ImageReadError, match=named(path) + ".*no label image 'c'.*a, b"):
        read_labels(path, "c")
    with pytest.raises(ImageReadError, match=named(path) + ".*labels group holding.*read_labels"):
        read_image(path / "labels")
    group = tmp_path / "g.zarr"
    zarr.open_group(str(group), mode="w")
    zarr.open_group(str(group / "labels"), mode="w").attrs["labels"] = ["x"]
    with pytest.raises(ImageReadError, match=named(group) + r".*holds labels \['x'\]"):
        read_image(group)
