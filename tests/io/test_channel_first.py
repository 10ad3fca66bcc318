import numpy as np
import pytest

from biakit.errors import DataError, ImageReadError, ParameterError, UserError
from biakit.io import ImageMeta, read_channel_first, write_image

RNG = np.random.default_rng(1)


def test_grey_2d_and_3d_get_a_channel_axis(tmp_path):
    img = RNG.integers(0, 255, (6, 7)).astype(np.uint8)
    write_image(tmp_path / "a.tif", img, ImageMeta("YX", (0.5, 0.25)))
    out, meta = read_channel_first(tmp_path / "a.tif", ndim=2)
    assert isinstance(out, np.ndarray) and out.shape == (1, 6, 7)
    np.testing.assert_array_equal(out[0], img)
    assert meta.axes == "CYX" and meta.spacing == (1.0, 0.5, 0.25)
    assert meta.unit == "micrometer" and meta.extra["file_axes"] == "YX"
    vol = RNG.integers(0, 255, (3, 6, 7)).astype(np.uint16)
    write_image(tmp_path / "v.ome.zarr", vol, ImageMeta("ZYX", (2.0, 0.5, 0.5)))
    out, meta = read_channel_first(tmp_path / "v.ome.zarr", ndim=3)
    assert isinstance(out, np.ndarray) and out.shape == (1, 3, 6, 7)
    assert meta.axes == "CZYX" and meta.spatial_spacing == (2.0, 0.5, 0.5)


def test_channels_are_moved_first_and_selected(tmp_path):
    img = RNG.integers(0, 255, (3, 2, 6, 7)).astype(np.uint16)  # Z, C, Y, X
    meta = ImageMeta("ZCYX", (2.0, 1.0, 0.5, 0.5), channel_names=("dapi", "gfp"))
    write_image(tmp_path / "a.ome.tif", img, meta)
    out, got = read_channel_first(tmp_path / "a.ome.tif")
    np.testing.assert_array_equal(out, img.transpose(1, 0, 2, 3))
    assert got.axes == "CZYX" and got.channel_names == ("dapi", "gfp")
    one, got = read_channel_first(tmp_path / "a.ome.tif", channel=1)
    np.testing.assert_array_equal(one, img[:, 1][None])
    assert got.channel_names == ("gfp",) and got.spacing == (1.0, 2.0, 0.5, 0.5)
    with pytest.raises(ParameterError, match=r"channel=2 but the image \(.*a.ome.tif\) has 2"):
        read_channel_first(tmp_path / "a.ome.tif", channel=2)
    rgb = RNG.integers(0, 255, (6, 7, 3)).astype(np.uint8)
    write_image(tmp_path / "c.png", rgb, ImageMeta("YXC"))
    out, got = read_channel_first(tmp_path / "c.png", ndim=2)
    assert out.shape == (3, 6, 7) and got.axes == "CYX"
    grey, _ = read_channel_first(tmp_path / "c.png", channel=0)
    np.testing.assert_array_equal(grey[0], rgb[..., 0])


def test_dimensionality_is_checked_against_ndim(tmp_path):
    write_image(tmp_path / "v.tif", np.zeros((3, 6, 7), np.uint8), ImageMeta("ZYX"))
    with pytest.raises(
        DataError, match=r"v.tif: a 3-D image \(axes 'ZYX', shape \(3, 6, 7\)\) but 2-D"
    ):
        read_channel_first(tmp_path / "v.tif", ndim=2)
    write_image(tmp_path / "p.tif", np.zeros((6, 7), np.uint8), ImageMeta("YX"))
    with pytest.raises(DataError, match=r"p.tif: a 2-D image .* but 3-D images are expected"):
        read_channel_first(tmp_path / "p.tif", ndim=3)


def test_time_lapse(tmp_path):
    movie = RNG.integers(0, 255, (4, 6, 7)).astype(np.uint8)
    write_image(tmp_path / "m.tif", movie, ImageMeta("TYX", (5.0, 0.5, 0.5)))
    with pytest.raises(DataError, match=r"m.tif: a time-lapse of 4 frames \(axes 'TYX'.*split"):
        read_channel_first(tmp_path / "m.tif")
    out, meta = read_channel_first(tmp_path / "m.tif", time=True, ndim=2)
    assert out.shape == (4, 1, 6, 7) and meta.axes == "TCYX" and meta.spacing[0] == 5.0
    write_image(tmp_path / "one.tif", movie[:1], ImageMeta("TYX"))
    out, meta = read_channel_first(tmp_path / "one.tif")  # a single frame is dropped
    assert out.shape == (1, 6, 7) and meta.axes == "CYX"


def test_axes_override_and_unreadable(tmp_path):
    data = RNG.integers(0, 9, (2, 3, 6, 7)).astype(np.uint8)
    np.save(tmp_path / "a.npy", data)
    with pytest.raises(ImageReadError, match="4-D image without axes metadata"):
        read_channel_first(tmp_path / "a.npy")
    out, meta = read_channel_first(tmp_path / "a.npy", axes="ZCYX", ndim=3)
    np.testing.assert_array_equal(out, data.transpose(1, 0, 2, 3))
    assert meta.axes == "CZYX" and meta.extra["file_axes"] == "ZCYX"
    with pytest.raises(UserError, match="no such file"):
        read_channel_first(tmp_path / "missing.tif")
