"""Zero, negative or NaN spacing in a file header is refused, naming the file and the axis."""

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from biakit.errors import ImageReadError
from biakit.io import ImageMeta, read_image, write_image

STACK = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)


@pytest.mark.parametrize("value", [-2.0, 0.0, float("nan")])
def test_imagej_z_spacing(tmp_path, value):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, STACK, imagej=True, metadata={"axes": "ZYX", "spacing": value})
    with pytest.raises(ImageReadError, match=r"ij.tif'.*spacing (-2.0|0.0|nan) for axis 'Z'"):
        read_image(path)


def test_imagej_negative_frame_interval(tmp_path):
    path = tmp_path / "t.tif"
    tifffile.imwrite(path, STACK, imagej=True, metadata={"axes": "TYX", "finterval": -1.0})
    with pytest.raises(ImageReadError, match=r"spacing -1.0 for axis 'T'"):
        read_image(path)


def test_imagej_zero_resolution(tmp_path):
    path = tmp_path / "r.tif"
    tifffile.imwrite(path, STACK, imagej=True, metadata={"axes": "ZYX"}, resolution=(0, 1))
    with pytest.raises(ImageReadError, match=r"r.tif'.*X resolution tag is 0.0 .*axis 'X'"):
        read_image(path)


@pytest.mark.parametrize(("key", "value", "axis"), [
    ("PhysicalSizeX", -0.5, "X"), ("PhysicalSizeZ", 0, "Z"), ("PhysicalSizeY", "NaN", "Y"),
])  # fmt: skip
def test_ome_tiff_physical_size(tmp_path, key, value, axis):
    path = tmp_path / "a.ome.tif"
    tifffile.imwrite(path, STACK, ome=True, metadata={"axes": "ZYX", key: value})
    with pytest.raises(ImageReadError, match=rf"a.ome.tif'.*for axis '{axis}'"):
        read_image(path)


def test_plain_tiff_zero_resolution_with_a_unit(tmp_path):
    path = tmp_path / "p.tif"
    tifffile.imwrite(path, STACK[0], resolution=(0, 0), resolutionunit="CENTIMETER", metadata=None)
    with pytest.raises(ImageReadError, match=r"p.tif'.*X resolution tag.*axis 'X'"):
        read_image(path)
    ok = tmp_path / "ok.tif"  # no unit: the tags say nothing and are ignored
    tifffile.imwrite(ok, STACK[0], resolution=(0, 0), resolutionunit="NONE", metadata=None)
    assert read_image(ok)[1].unit == "pixel"


def test_plain_tiff_shaped_spacing(tmp_path):
    path = tmp_path / "s.tif"
    md = {"axes": "ZYX", "spacing": [1.0, -0.5, 0.5]}
    tifffile.imwrite(path, STACK, metadata=md, photometric="minisblack")
    with pytest.raises(ImageReadError, match=r"s.tif'.*spacing -0.5 for axis 'Y'"):
        read_image(path)


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_scale(tmp_path, version):
    path = tmp_path / "a.ome.zarr"
    write_image(path, STACK, ImageMeta("ZYX", (2.0, 0.5, 0.5)), ngff_version=version)
    group = zarr.open_group(str(path), mode="r+")
    attrs = group.attrs.asdict()
    ome = attrs["ome"] if version == "0.5" else attrs
    ome["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"] = [2, -1, 0.5]
    group.attrs.update(attrs)
    with pytest.raises(ImageReadError, match=r"a.ome.zarr'.*spacing -1.0 for axis 'Y'"):
        read_image(path)


def test_plain_zarr_and_hdf5_attributes(tmp_path):
    path = tmp_path / "a.zarr"
    write_image(path, STACK, ImageMeta("ZYX"))
    zarr.open_array(str(path), mode="r+").attrs["spacing"] = [1.0, 1.0, float("nan")]
    with pytest.raises(ImageReadError, match=r"a.zarr'.*spacing nan for axis 'X'"):
        read_image(path)
    h5 = tmp_path / "a.h5"
    with h5py.File(h5, "w") as f:
        f["x"] = STACK
        f["x"].attrs["element_size_um"] = [0.0, 0.5, 0.5]
    with pytest.raises(ImageReadError, match=r"a.h5'.*spacing 0.0 for axis 'Z'"):
        read_image(h5)
