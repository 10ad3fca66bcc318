"""Round trips through every format: pixels, dtype, axes, spacing, unit."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from biakit.io import ImageMeta, read_image, write_image

RNG = np.random.default_rng(0)
IMG2 = RNG.integers(0, 60000, (12, 10)).astype(np.uint16)
IMG3 = RNG.integers(0, 60000, (4, 12, 10)).astype(np.uint16)
HYPER = RNG.integers(0, 60000, (2, 3, 4, 6, 5)).astype(np.uint16)  # TCZYX
META2 = ImageMeta("YX", (0.325, 0.325))
META3 = ImageMeta("ZYX", (2.5, 0.325, 0.325))
META5 = ImageMeta("TCZYX", (30.0, 1.0, 2.5, 0.325, 0.325), channel_names=("dapi", "gfp", "rfp"))

FULL_META_FORMATS = ["a.tif", "a.ome.tif", "a.h5:/g/img", "a.zarr", "a.ome.zarr"]


def _check(tmp_path, name, data, meta, **kw):
    path = tmp_path / name if ":" not in name else f"{tmp_path}/{name}"
    write_image(path, data, meta, **kw)
    out, got = read_image(path, lazy=False)
    assert isinstance(out, np.ndarray)
    assert out.dtype == data.dtype
    np.testing.assert_array_equal(out, data)
    assert got.axes == meta.axes
    assert got.spacing == pytest.approx(meta.spacing, rel=1e-9)
    return got


@pytest.mark.parametrize("name", FULL_META_FORMATS)
@pytest.mark.parametrize(("data", "meta"), [(IMG2, META2), (IMG3, META3)], ids=["2d", "3d"])
def test_roundtrip_axes_and_spacing(tmp_path, name, data, meta):
    got = _check(tmp_path, name, data, meta)
    assert got.unit == "micrometer"


@pytest.mark.parametrize("name", ["a.tif", "a.ome.tif", "a.ome.zarr", "a.h5:/x", "a.zarr"])
def test_roundtrip_hyperstack_tczyx(tmp_path, name):
    got = _check(tmp_path, name, HYPER, META5)
    if name != "a.tif":  # ImageJ hyperstacks keep no channel names
        assert got.channel_names == ("dapi", "gfp", "rfp")


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_versions(tmp_path, version):
    got = _check(tmp_path, "a.ome.zarr", HYPER, META5, ngff_version=version)
    assert got.extra["ngff_version"] == version
    assert got.extra["zarr_format"] == (2 if version == "0.4" else 3)
    assert got.extra["levels"] == ("0",)


@pytest.mark.parametrize("dtype", [np.int32, np.float64, np.int8, np.uint32, np.int16, bool])
def test_tiff_non_imagej_dtypes(tmp_path, dtype):
    data = (RNG.random((3, 5, 4)) * 100).astype(dtype)
    got = _check(tmp_path, "a.tif", data, META3)
    assert got.extra["format"] == "tiff"


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_tiff_imagej_dtypes(tmp_path, dtype):
    got = _check(tmp_path, "a.tif", IMG3.astype(dtype), META3)
    assert got.extra["format"] == "imagej-tiff"


def test_imagej_non_canonical_order_reads_canonical(tmp_path):
    data = HYPER[0].transpose(1, 0, 2, 3)  # ZCYX
    meta = ImageMeta("ZCYX", (2.5, 1.0, 0.5, 0.5))
    write_image(tmp_path / "a.tif", data, meta)
    out, got = read_image(tmp_path / "a.tif")
    assert got.axes == "CZYX"
    np.testing.assert_array_equal(out, HYPER[0])
    assert got.spacing == pytest.approx((1.0, 2.5, 0.5, 0.5))


@pytest.mark.parametrize("name", ["a.tif", "a.ome.tif"])
def test_tiff_rgb_reads_as_yxc(tmp_path, name):
    rgb = RNG.integers(0, 255, (6, 5, 3)).astype(np.uint8)
    got = _check(tmp_path, name, rgb, ImageMeta("YXC", (0.5, 0.5, 1.0)))
    assert got.axes == "YXC"


def test_tiff_units_and_compression(tmp_path):
    meta = ImageMeta("ZYX", (200.0, 65.0, 65.0), unit="nanometer")
    for name in ["a.tif", "a.ome.tif"]:
        got = _check(tmp_path, name, IMG3, meta, compression="zlib")
        assert got.unit == "nanometer"
    got = _check(tmp_path, "b.tif", IMG3.astype(np.int32), meta, compression="lzma")
    assert got.unit == "nanometer"


def test_pixel_unit_roundtrip(tmp_path):
    meta = ImageMeta("YX", unit="pixel")
    for name in ["a.tif", "a.ome.tif", "a.ome.zarr", "a.h5"]:
        assert _check(tmp_path, name, IMG2, meta).unit == "pixel"


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_grey_and_rgb(tmp_path, dtype):
    grey = IMG2.astype(dtype)
    got = _check(tmp_path, "a.png", grey, ImageMeta("YX", unit="pixel"))
    assert got.unit == "pixel"
    rgb = RNG.integers(0, 255, (8, 9, 3)).astype(np.uint8)
    _check(tmp_path, "b.png", rgb, ImageMeta("YXC", unit="pixel"))


def test_png_channel_first_is_written_channel_last(tmp_path):
    rgba = RNG.integers(0, 255, (4, 8, 9)).astype(np.uint8)
    write_image(tmp_path / "a.png", rgba, ImageMeta("CYX"))
    out, got = read_image(tmp_path / "a.png")
    assert got.axes == "YXC"
    np.testing.assert_array_equal(out, rgba.transpose(1, 2, 0))


def test_jpeg_is_lossy_but_close(tmp_path):
    yy, xx = np.mgrid[:32, :32]
    smooth = (4 * yy + 2 * xx).astype(np.uint8)
    write_image(tmp_path / "a.jpg", smooth)
    out, got = read_image(tmp_path / "a.jpg")
    assert got.axes == "YX" and out.dtype == np.uint8
    assert np.abs(out.astype(int) - smooth).max() <= 3
    rgb = np.stack([smooth, smooth // 2, 255 - smooth], axis=-1)
    write_image(tmp_path / "b.jpeg", rgb, ImageMeta("YXC"))
    out, got = read_image(tmp_path / "b.jpeg")
    assert got.axes == "YXC" and np.abs(out.astype(int) - rgb).mean() < 3


@pytest.mark.parametrize("data", [IMG2, IMG3, HYPER.astype(np.float32)], ids=["2d", "3d", "5d"])
def test_npy_pixels_and_default_axes(tmp_path, data):
    write_image(tmp_path / "a.npy", data)
    axes = "TCZYX" if data.ndim == 5 else None  # NPY has no axes: 5-D must be named
    out, got = read_image(tmp_path / "a.npy", axes=axes)
    np.testing.assert_array_equal(out, data)
    assert out.dtype == data.dtype
    assert got.axes == {2: "YX", 3: "ZYX", 5: "TCZYX"}[data.ndim]
    assert got.unit == "pixel" and got.spacing == (1.0,) * data.ndim
    lazy, _ = read_image(tmp_path / "a.npy", lazy=True, axes=axes)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), data)


def test_hdf5_default_dataset_and_several_datasets(tmp_path):
    path = tmp_path / "a.h5"
    write_image(path, IMG3, META3)
    _, got = read_image(path)  # one dataset: found without naming it
    assert got.extra["dataset"] == "/data"
    write_image(f"{path}:/seg/labels", IMG3.astype(np.int32), META3)  # added beside /data
    raw, _ = read_image(f"{path}:/data")
    seg, got = read_image(f"{path}:seg/labels")
    np.testing.assert_array_equal(raw, IMG3)
    np.testing.assert_array_equal(seg, IMG3.astype(np.int32))
    assert got.axes == "ZYX" and got.spacing == META3.spacing


@pytest.mark.parametrize("compression", [None, "lzf", "gzip"])
def test_hdf5_compression_and_lazy(tmp_path, compression):
    path = f"{tmp_path}/a.hdf5:/x"
    write_image(path, IMG3, META3, compression=compression)
    lazy, got = read_image(path, lazy=True)
    assert isinstance(lazy, da.Array) and got.axes == "ZYX"
    np.testing.assert_array_equal(lazy.compute(), IMG3)


@pytest.mark.parametrize("name", ["a.zarr", "a.ome.zarr"])
@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_zarr_is_lazy_dask_by_default(tmp_path, name, version):
    write_image(tmp_path / name, IMG3, META3, ngff_version=version, chunks=(2, 6, 5))
    lazy, got = read_image(tmp_path / name)
    assert isinstance(lazy, da.Array)
    assert lazy.chunksize == (2, 6, 5)
    np.testing.assert_array_equal(lazy.compute(), IMG3)
    assert got.axes == "ZYX"


@pytest.mark.parametrize("compression", [None, "zstd", "blosc", "gzip"])
@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_zarr_compression(tmp_path, compression, version):
    _check(tmp_path, "a.ome.zarr", IMG3, META3, compression=compression, ngff_version=version)


def test_ome_zarr_writes_dask_input_and_canonical_order(tmp_path):
    data = da.from_array(HYPER.transpose(0, 2, 1, 3, 4), chunks=(1, 2, 1, 3, 5))  # TZCYX
    meta = ImageMeta("TZCYX", (30.0, 2.5, 1.0, 0.325, 0.325))
    write_image(tmp_path / "a.ome.zarr", data, meta)
    out, got = read_image(tmp_path / "a.ome.zarr", lazy=False)
    assert got.axes == "TCZYX"
    np.testing.assert_array_equal(out, HYPER)
    assert got.spacing == META5.spacing


def test_ome_zarr_pyramid_levels(tmp_path):
    path = tmp_path / "a.ome.zarr"
    img = RNG.integers(0, 1000, (2, 8, 12)).astype(np.uint16)
    write_image(path, img, META3, levels=3, ngff_version="0.5")
    _, got = read_image(path)
    assert got.extra["levels"] == ("0", "1", "2")
    lvl1, m1 = read_image(path, level=1, lazy=False)
    assert m1.spacing == pytest.approx((2.5, 0.65, 0.65))
    expected = img.reshape(2, 4, 2, 6, 2).mean(axis=(2, 4))
    np.testing.assert_array_equal(lvl1, np.round(expected).astype(np.uint16))
    lvl2, m2 = read_image(path, level=2, lazy=False)
    assert lvl2.shape == (2, 2, 3) and m2.spacing == pytest.approx((2.5, 1.3, 1.3))


def test_lazy_true_wraps_in_memory_formats(tmp_path):
    write_image(tmp_path / "a.tif", IMG3, META3)
    lazy, _ = read_image(tmp_path / "a.tif", lazy=True)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), IMG3)


def test_dask_input_written_to_tiff(tmp_path):
    write_image(tmp_path / "a.ome.tif", da.from_array(IMG3, chunks=2), META3)
    np.testing.assert_array_equal(read_image(tmp_path / "a.ome.tif")[0], IMG3)


def test_default_meta_when_none(tmp_path):
    write_image(tmp_path / "a.ome.zarr", HYPER)
    _, got = read_image(tmp_path / "a.ome.zarr")
    assert got.axes == "TCZYX" and got.unit == "pixel"
