"""No guessing beyond 3-D: files without axes metadata need ``axes=``; ``axes=`` overrides."""

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from biakit.errors import ImageReadError
from biakit.io import ImageMeta, read_image, write_image

RNG = np.random.default_rng(0)
VOL4 = RNG.integers(0, 200, (2, 3, 5, 4)).astype(np.uint16)


def test_4d_tiff_without_axes_metadata_asks_for_axes(tmp_path):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, VOL4, metadata=None)  # stored as RGBA pages: series axes 'IYXS'
    with pytest.raises(ImageReadError, match=r"a.tif'.*4-D image without axes metadata.*axes="):
        read_image(path)
    out, meta = read_image(path, axes="TZYX")
    assert meta.axes == "TZYX" and meta.unit == "pixel"
    np.testing.assert_array_equal(out, VOL4)
    shaped = tmp_path / "b.tif"
    tifffile.imwrite(shaped, VOL4, photometric="minisblack")  # shaped, no axes: 'QQYX'
    with pytest.raises(ImageReadError, match="4-D image without axes metadata"):
        read_image(shaped)
    assert read_image(shaped, axes="CZYX")[1].axes == "CZYX"


def test_multipage_rgb_tiff_is_not_guessed(tmp_path):
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, np.zeros((2, 4, 5, 3), np.uint8), photometric="rgb", metadata=None)
    with pytest.raises(ImageReadError, match="without axes metadata"):
        read_image(path)
    assert read_image(path, axes="TYXC")[1].axes == "TYXC"


def test_3d_and_2d_files_keep_documented_defaults(tmp_path):
    tifffile.imwrite(tmp_path / "q.tif", VOL4[0], metadata={"axes": "QYX"})
    assert read_image(tmp_path / "q.tif")[1].axes == "ZYX"
    np.save(tmp_path / "a.npy", VOL4[0])
    assert read_image(tmp_path / "a.npy")[1].axes == "ZYX"
    np.save(tmp_path / "b.npy", VOL4[0, 0])
    assert read_image(tmp_path / "b.npy")[1].axes == "YX"


@pytest.mark.parametrize("ndim", [4, 5])
def test_npy_hdf5_zarr_without_axes_need_axes(tmp_path, ndim):
    data = np.zeros((2,) * (ndim - 2) + (4, 5), np.uint8)
    axes = "TCZYX"[-ndim:]
    np.save(tmp_path / "a.npy", data)
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["x"] = data
    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=data.shape, dtype=data.dtype)
    z[...] = data
    for name in ("a.npy", "a.h5", "a.zarr"):
        with pytest.raises(ImageReadError, match=rf"{name}'.*{ndim}-D image without axes"):
            read_image(tmp_path / name)
        assert read_image(tmp_path / name, axes=axes.lower())[1].axes == axes


def test_axes_override_keeps_spacing_by_letter(tmp_path):
    path = tmp_path / "a.tif"
    write_image(path, VOL4[0], ImageMeta("ZYX", (2.0, 0.5, 0.25)))
    out, meta = read_image(path, axes="TYX")  # a time-lapse saved as a Z-stack
    assert meta.axes == "TYX" and meta.spacing == (1.0, 0.5, 0.25)
    np.testing.assert_array_equal(out, VOL4[0])
    ome = tmp_path / "a.ome.zarr"
    write_image(ome, VOL4[0], ImageMeta("ZYX", (2.0, 0.5, 0.25)))
    _, meta = read_image(ome, axes="CYX")
    assert meta.axes == "CYX" and meta.spacing == (1.0, 0.5, 0.25)


def test_axes_override_of_imagej_hyperstack_is_file_order(tmp_path):
    path = tmp_path / "h.tif"
    write_image(path, VOL4, ImageMeta("CZYX", (1.0, 2.0, 0.5, 0.5), channel_names=("a", "b")))
    canonical, meta = read_image(path)
    assert meta.axes == "CZYX"
    stored, meta = read_image(path, axes="ZCYX")  # ImageJ stores Z before C
    assert meta.axes == "ZCYX" and meta.spacing == (2.0, 1.0, 0.5, 0.5)
    np.testing.assert_array_equal(stored, canonical.transpose(1, 0, 2, 3))


def test_axes_override_keeps_channel_names_only_when_c_stays(tmp_path):
    path = tmp_path / "c.ome.tif"
    write_image(path, VOL4, ImageMeta("CZYX", channel_names=("dapi", "gfp")))
    assert read_image(path, axes="CZYX")[1].channel_names == ("dapi", "gfp")
    assert read_image(path, axes="TZYX")[1].channel_names is None


@pytest.mark.parametrize(
    ("axes", "match"),
    [
        ("ZYX", r"with axes='ZYX': axes 'ZYX' has 3 letters but the array has 4 dimensions"),
        ("TZQX", r"unknown letter"),
        ("TZYY", r"repeats a letter"),
        (4, r"axes must be a string such as 'TZYX', got 4"),
    ],
)
def test_axes_override_errors(tmp_path, axes, match):
    np.save(tmp_path / "a.npy", VOL4)
    with pytest.raises(ImageReadError, match=match):
        read_image(tmp_path / "a.npy", axes=axes)
