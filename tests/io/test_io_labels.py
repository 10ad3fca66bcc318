"""OME-Zarr label images: writing beside an image, reading back, interoperability."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import zarr

from biakit.io import ImageMeta, read_image, read_labels, write_image, write_labels

RNG = np.random.default_rng(1)
IMAGE = RNG.integers(0, 4000, (2, 3, 15, 13)).astype(np.uint16)  # CZYX, odd sizes
META = ImageMeta("CZYX", (1.0, 2.5, 0.325, 0.325), channel_names=("dapi", "gfp"))
LABELS = RNG.integers(0, 5, (3, 15, 13)).astype(np.int32)


@pytest.fixture(params=["0.4", "0.5"])
def image_path(tmp_path, request):
    path = tmp_path / "img.ome.zarr"
    write_image(path, IMAGE, META, ngff_version=request.param, levels=3)
    return path


def test_labels_roundtrip_takes_image_axes_and_levels(image_path):
    write_labels(image_path, "nuclei", LABELS)
    labels, meta = read_labels(image_path, lazy=False)
    np.testing.assert_array_equal(labels, LABELS)
    assert labels.dtype == np.int32
    assert meta.axes == "ZYX" and meta.spacing == (2.5, 0.325, 0.325)
    assert meta.extra["image-label"]["source"] == {"image": "../../"}
    same, _ = read_image(image_path / "labels" / "nuclei", lazy=False)  # path form
    np.testing.assert_array_equal(same, LABELS)
    _, image_meta = read_image(image_path)
    assert image_meta.extra["labels"] == ["nuclei"]
    assert meta.extra["levels"] == image_meta.extra["levels"]
    for level in (1, 2):
        img, im = read_image(image_path, level=level)
        lab, lm = read_labels(image_path, "nuclei", level=level, lazy=False)
        assert lab.shape == img.shape[1:]
        assert lm.spacing == pytest.approx(im.spacing[1:])
        f = 2**level  # nearest neighbour: every f-th pixel of the full labels
        np.testing.assert_array_equal(lab, LABELS[:, ::f, ::f][:, : lab.shape[1], : lab.shape[2]])


def test_labels_overwrite_and_several(image_path):
    write_labels(image_path, "a", LABELS)
    write_labels(image_path, "b", LABELS > 2)  # bool -> uint8
    write_labels(image_path, "a", LABELS + 1, overwrite=True)
    assert read_image(image_path)[1].extra["labels"] == ["a", "b"]
    b, _ = read_labels(image_path, "b", lazy=False)
    assert b.dtype == np.uint8 and b.max() == 1
    a, _ = read_labels(image_path, "a", lazy=False)
    np.testing.assert_array_equal(a, LABELS + 1)
    leftovers = [p.name for p in (image_path / "labels").iterdir() if p.name.startswith(".")]
    assert leftovers == [] or set(leftovers) <= {".zattrs", ".zgroup"}


def test_labels_with_own_meta_single_level(image_path):
    small = LABELS[1]  # one plane: its own meta, no pyramid matching
    write_labels(image_path, "plane", small, ImageMeta("YX", (0.325, 0.325)))
    lab, meta = read_labels(image_path, "plane", lazy=False)
    np.testing.assert_array_equal(lab, small)
    assert meta.axes == "YX" and meta.extra["levels"] == ("0",)


def test_labels_validate_with_ome_zarr_models(image_path):
    write_labels(image_path, "nuclei", LABELS)
    version = read_image(image_path)[1].extra["ngff_version"]
    models = pytest.importorskip("ome_zarr_models." + {"0.4": "v04", "0.5": "v05"}[version])
    models.Image.from_zarr(zarr.open_group(str(image_path), mode="r"))
    models.ImageLabel.from_zarr(zarr.open_group(str(image_path / "labels" / "nuclei"), mode="r"))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside ome-zarr-py
@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_read_labels_written_by_ome_zarr_py(tmp_path, version):
    writer = importlib.import_module("ome_zarr.writer")
    fmt_mod = importlib.import_module("ome_zarr.format")
    fmt = fmt_mod.FormatV04() if version == "0.4" else fmt_mod.FormatV05()
    path = tmp_path / "x.ome.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=fmt.zarr_format)
    image = RNG.integers(0, 255, (3, 32, 32)).astype(np.uint8)
    labels = (image > 128).astype(np.uint32)
    writer.write_image(image, root, axes="zyx", fmt=fmt, scale_factors=[2])
    writer.write_labels(labels, root, name="mask", axes="zyx", fmt=fmt, scale_factors=[2])
    got, meta = read_labels(path, lazy=False)
    np.testing.assert_array_equal(got, labels)
    assert meta.axes == "ZYX" and meta.extra["ngff_version"] == version
    paths = [
        d["path"]
        for d in zarr.open_group(str(path / "labels" / "mask"))
        .attrs.asdict()
        .get("ome", zarr.open_group(str(path / "labels" / "mask")).attrs.asdict())["multiscales"][
            0
        ]["datasets"]
    ]
    assert meta.extra["levels"] == tuple(paths) and len(paths) >= 2
    low, _ = read_labels(path, "mask", level=1, lazy=False)
    assert low.shape == (3, 16, 16)
