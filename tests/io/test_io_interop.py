"""Files written by other tools: metadata read from the file, not assumed."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from biakit.io import ImageMeta, list_images, read_image, supported_formats, write_image

RNG = np.random.default_rng(2)
STACK = RNG.integers(0, 255, (3, 8, 6)).astype(np.uint8)


def test_imagej_hyperstack_from_tifffile(tmp_path):
    data = RNG.integers(0, 999, (2, 4, 3, 8, 6)).astype(np.uint16)  # TZCYX, ImageJ's order
    path = tmp_path / "fiji.tif"
    tifffile.imwrite(
        path, data, imagej=True, resolution=(1 / 0.2, 1 / 0.4),
        metadata={"axes": "TZCYX", "spacing": 1.5, "unit": "\\u00B5m", "finterval": 60},
    )  # fmt: skip
    out, meta = read_image(path)
    assert meta.axes == "TCZYX" and meta.unit == "micrometer"
    assert meta.spacing == pytest.approx((60.0, 1.0, 1.5, 0.4, 0.2))
    np.testing.assert_array_equal(out, data.transpose(0, 2, 1, 3, 4))


def test_imagej_without_unit_is_pixel(tmp_path):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, STACK, imagej=True, metadata={"axes": "ZYX"})
    _, meta = read_image(path)
    assert meta.axes == "ZYX" and meta.unit == "pixel" and meta.spacing == (1.0, 1.0, 1.0)


def test_ome_tiff_mixed_units(tmp_path):
    path = tmp_path / "a.ome.tif"
    md = {"axes": "ZYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5, "PhysicalSizeZ": 2000}
    md["PhysicalSizeZUnit"] = "nm"
    tifffile.imwrite(path, STACK, ome=True, metadata=md)
    _, meta = read_image(path)
    assert meta.unit == "micrometer" and meta.spacing == pytest.approx((2.0, 0.5, 0.5))


@pytest.mark.parametrize(("unit", "res", "spacing"), [("CENTIMETER", 1e4 / 0.5, 0.5), (None, 1, 1)])
def test_plain_tiff_resolution_tags(tmp_path, unit, res, spacing):
    path = tmp_path / "a.tif"
    kw = {"resolution": (res, res), "resolutionunit": unit} if unit else {}
    tifffile.imwrite(path, STACK[0], photometric="minisblack", metadata=None, **kw)
    _, meta = read_image(path)
    assert meta.axes == "YX" and meta.spacing == pytest.approx((spacing, spacing))
    assert meta.unit == ("micrometer" if unit else "pixel")


def test_plain_tiff_inch_resolution_ignored(tmp_path):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, STACK[0], resolution=(72, 72), resolutionunit="INCH", metadata=None)
    assert read_image(path)[1].unit == "pixel"


def test_tiff_unknown_axes_are_guessed(tmp_path):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, STACK, metadata={"axes": "QYX"}, photometric="minisblack")
    out, meta = read_image(path)
    assert meta.axes == "ZYX"
    np.testing.assert_array_equal(out, STACK)


def test_plain_hdf5_dataset_default_axes(tmp_path):
    path = tmp_path / "a.h5"
    with h5py.File(path, "w") as f:
        f["volume"] = STACK
        f["vol_um"] = STACK
        f["vol_um"].attrs["element_size_um"] = [2.0, 0.5, 0.5]
        f["ilastik"] = STACK[..., None]
        tags = {"axes": [{"key": k} for k in "yxc"]}
        f["ilastik"].attrs["axistags"] = json.dumps(tags)
    out, meta = read_image(f"{path}:/volume")
    np.testing.assert_array_equal(out, STACK)
    assert meta.axes == "ZYX" and meta.unit == "pixel"
    _, meta = read_image(f"{path}:/vol_um")
    assert meta.spacing == (2.0, 0.5, 0.5) and meta.unit == "micrometer"
    with h5py.File(path, "w") as f:
        f["ilastik"] = STACK[0][..., None].repeat(2, axis=-1)
        f["ilastik"].attrs["axistags"] = json.dumps(tags)
    _, meta = read_image(path)
    assert meta.axes == "YXC"


def test_plain_zarr_without_attributes(tmp_path):
    path = tmp_path / "a.zarr"
    z = zarr.create_array(str(path), shape=STACK.shape, dtype=STACK.dtype, chunks=(1, 8, 6))
    z[...] = STACK
    out, meta = read_image(path, lazy=False)
    np.testing.assert_array_equal(out, STACK)
    assert meta.axes == "ZYX" and meta.unit == "pixel"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside ome-zarr-py
@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_written_by_ome_zarr_py(tmp_path, version):
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_image as ozw

    fmt = FormatV04() if version == "0.4" else FormatV05()
    path = tmp_path / "x.ome.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=fmt.zarr_format)
    data = RNG.integers(0, 255, (2, 3, 16, 16)).astype(np.uint8)
    scales = [[1.0, 2.5, 0.325 * 2**i, 0.325 * 2**i] for i in range(2)]
    ozw(
        data, root, axes="czyx", fmt=fmt, scale_factors=[2],
        scale={"c": 1.0, "z": 2.5, "y": 0.325, "x": 0.325}, axes_units={"z": "micrometer"},
    )  # fmt: skip
    out, meta = read_image(path)
    assert meta.axes == "CZYX" and meta.extra["ngff_version"] == version
    assert meta.spacing == pytest.approx(scales[0])
    np.testing.assert_array_equal(out.compute(), data)
    low, low_meta = read_image(path, level=1)
    assert low.shape == (2, 3, 8, 8) and low_meta.spacing == pytest.approx(scales[1])
    assert meta.extra["levels"][0] in ("0", "s0")


def test_ngff_global_scale_and_units(tmp_path):
    path = tmp_path / "x.ome.zarr"
    write_image(path, STACK, ImageMeta("ZYX", (2.0, 0.5, 0.5), unit="nanometer"))
    attrs = json.loads((path / ".zattrs").read_text())
    attrs["multiscales"][0]["coordinateTransformations"] = [{"type": "scale", "scale": [2, 2, 2]}]
    (path / ".zattrs").write_text(json.dumps(attrs))
    _, meta = read_image(path)
    assert meta.spacing == (4.0, 1.0, 1.0) and meta.unit == "nanometer"


def test_input_array_never_modified(tmp_path):
    data = RNG.integers(0, 999, (2, 3, 4, 5, 6)).astype(np.uint16)
    copy = data.copy()
    meta = ImageMeta("ZCTYX")
    for name in ["a.tif", "a.ome.tif", "a.ome.zarr", "a.h5", "a.zarr", "a.npy"]:
        write_image(tmp_path / name, data, meta)
        np.testing.assert_array_equal(data, copy)
    assert data.flags.writeable and data.flags.c_contiguous


def test_supported_formats():
    exts = supported_formats()
    for ext in [".tif", ".tiff", ".ome.tif", ".png", ".jpg", ".npy", ".h5", ".zarr", ".ome.zarr"]:
        assert ext in exts


def test_list_images(tmp_path):
    write_image(tmp_path / "b.tif", STACK)
    write_image(tmp_path / "a.ome.zarr", STACK)
    write_image(tmp_path / "c.npy", STACK)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden.tif").write_bytes(b"x")
    (tmp_path / "folder.tif").mkdir()
    (tmp_path / "sub").mkdir()
    write_image(tmp_path / "sub" / "d.png", STACK[0])
    names = [p.name for p in list_images(tmp_path)]
    assert names == ["a.ome.zarr", "b.tif", "c.npy"]
    assert [p.name for p in list_images(f"{tmp_path}/**/*.png")] == ["d.png"]
    assert [p.name for p in list_images(f"{tmp_path}/*.zarr")] == ["a.ome.zarr"]
    assert list_images(tmp_path / "a.ome.zarr") == [tmp_path / "a.ome.zarr"]
    assert list_images(str(tmp_path / "b.tif")) == [tmp_path / "b.tif"]


def test_list_images_nothing_found(tmp_path):
    from biakit.io import ImageReadError

    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ImageReadError, match=f"no images found for folder '{tmp_path}'.*\\.tif"):
        list_images(tmp_path)
    with pytest.raises(ImageReadError, match=r"no images found for pattern .*\*\.czi"):
        list_images(f"{tmp_path}/*.czi")
    with pytest.raises(ImageReadError, match=r"nope\.tif' \(it does not exist\)"):
        list_images(tmp_path / "nope.tif")
