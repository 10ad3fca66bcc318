"""napari reader / writer: every biakit.io format, axes and spacing as layer scale, labels."""

from __future__ import annotations

import numpy as np
import pytest

from biakit.errors import ImageWriteError, ParameterError
from biakit.io import ImageMeta, read_image, read_labels, write_image


def test_get_reader_accepts_biakit_formats(tmp_path):
    from biakit.napari._reader import get_reader

    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader([str(tmp_path / "a.tif"), str(tmp_path / "b.txt")]) is None
    for name in ("a.tif", "a.ome.tif", "a.ome.zarr", "a.zarr", "a.h5", "a.npy", "a.png", "a.jpg"):
        assert callable(get_reader(str(tmp_path / name))), name
    empty = tmp_path / "empty"
    empty.mkdir()
    assert get_reader(str(empty)) is None


def test_tiff_round_trip_keeps_scale_and_labels(tmp_path):
    from biakit.napari._reader import get_reader
    from biakit.napari._writer import write_image as napari_write_image
    from biakit.napari._writer import write_labels as napari_write_labels

    volume = np.arange(3 * 8 * 10, dtype=np.uint16).reshape(3, 8, 10)
    attrs = {"scale": (2.0, 0.5, 0.25), "metadata": {"axes": "ZYX", "unit": "micrometer"}}
    path = napari_write_image(str(tmp_path / "vol.tif"), volume, attrs)[0]
    assert read_image(path)[1].spacing == (2.0, 0.5, 0.25)  # independent reader
    [(data, kwargs, kind)] = get_reader(path)(path)
    np.testing.assert_array_equal(data, volume)
    assert kind == "image" and kwargs["scale"] == (2.0, 0.5, 0.25)
    assert kwargs["metadata"] == {"axes": "ZYX", "unit": "micrometer"}
    labels = (volume % 3).astype(np.int32)
    out = napari_write_labels(str(tmp_path / "vol_labels.tif"), labels, attrs)[0]
    [(data, kwargs, kind)] = get_reader(out)(out)
    assert kind == "labels" and kwargs["scale"] == (2.0, 0.5, 0.25)
    np.testing.assert_array_equal(data, labels)


def test_ome_zarr_image_with_labels_and_levels(tmp_path):
    from biakit.napari._reader import read_layers
    from biakit.napari._writer import write_labels as napari_write_labels
    from biakit.napari._writer import write_layers

    image = np.random.default_rng(0).integers(0, 200, (16, 24), dtype=np.uint8)
    cells = np.zeros((16, 24), np.int32)
    cells[2:6, 3:9] = 1
    layers = [(image, {"name": "raw", "scale": (0.5, 0.5)}, "image"),
              (cells, {"name": "cells", "scale": (0.5, 0.5)}, "labels")]  # fmt: skip
    path = str(tmp_path / "a.ome.zarr")
    assert write_layers(path, layers) == [path, str(tmp_path / "a.ome.zarr" / "labels" / "cells")]
    np.testing.assert_array_equal(np.asarray(read_labels(path, "cells")[0]), cells)
    # a labels layer saved into the existing OME-Zarr is added beside the others
    napari_write_labels(path, cells * 2, {"name": "nuclei", "scale": (0.5, 0.5)})
    found = read_layers(path)
    assert [(kw["name"], kind) for _, kw, kind in found] == [
        ("a", "image"),
        ("cells", "labels"),
        ("nuclei", "labels"),
    ]
    for _, kwargs, _ in found:
        assert kwargs["scale"] == (0.5, 0.5)
    np.testing.assert_array_equal(np.asarray(found[2][0]), cells * 2)
    pyramid = tmp_path / "p.ome.zarr"
    write_image(pyramid, np.zeros((32, 32), np.uint16), ImageMeta("YX"), levels=2)
    [(data, kwargs, _)] = read_layers(pyramid)
    assert kwargs["multiscale"] and [d.shape for d in data] == [(32, 32), (16, 16)]


def test_channels_rgb_hdf5_npy_and_frame_folders(tmp_path):
    import h5py
    import imageio.v3 as iio

    from biakit.napari._reader import read_layers

    two = np.zeros((2, 4, 8, 8), np.uint16)
    write_image(tmp_path / "c.ome.tif", two, ImageMeta("CZYX", (1.0, 3.0, 0.2, 0.2)))
    [(_, kwargs, _)] = read_layers(tmp_path / "c.ome.tif")
    assert kwargs["channel_axis"] == 0 and kwargs["scale"] == (3.0, 0.2, 0.2)
    rgb = np.zeros((8, 8, 3), np.uint8)
    iio.imwrite(tmp_path / "rgb.png", rgb)
    [(data, kwargs, _)] = read_layers(tmp_path / "rgb.png")
    assert kwargs["rgb"] and data.shape == (8, 8, 3)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["raw"] = np.ones((6, 6), np.float32)
        f["seg/labels"] = np.eye(6, dtype=np.uint8)
    found = read_layers(tmp_path / "d.h5")
    assert [(kw["name"], kind) for _, kw, kind in found] == [
        ("d:raw", "image"),
        ("d:seg/labels", "labels"),
    ]
    np.save(tmp_path / "a.npy", np.ones((5, 6), np.float32))
    assert read_layers(tmp_path / "a.npy")[0][0].shape == (5, 6)
    frames = tmp_path / "movie"
    frames.mkdir()
    for t in range(3):
        write_image(frames / f"t{t:03d}.tif", np.full((4, 4), t, np.uint16), ImageMeta("YX"))
    [(data, kwargs, kind)] = read_layers(frames)
    assert data.shape == (3, 4, 4) and kwargs["metadata"]["axes"] == "TYX" and kind == "image"
    np.testing.assert_array_equal(data[:, 0, 0], [0, 1, 2])


def test_viewer_opens_files_and_samples_through_the_manifest(make_napari_viewer, tmp_path):
    from biakit.napari._widgets_common import layer_to_array

    path = tmp_path / "cells.ome.tif"
    write_image(path, np.ones((3, 8, 8), np.uint16), ImageMeta("ZYX", (2.0, 0.5, 0.5)))
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(path), plugin="biakit")
    assert tuple(layer.scale) == (2.0, 0.5, 0.5)
    _, meta = layer_to_array(layer)
    assert meta.axes == "ZYX" and meta.spacing == (2.0, 0.5, 0.5) and meta.unit == "micrometer"
    viewer.layers.clear()
    viewer.open_sample("biakit", "nuclei_2d")
    assert [layer.name for layer in viewer.layers] == ["nuclei", "nuclei labels (truth)"]
    assert viewer.layers["nuclei labels (truth)"]._type_string == "labels"
    assert tuple(viewer.layers["nuclei"].scale) == (0.5, 0.5)


def test_writer_and_layer_errors(tmp_path):
    from napari.layers import Image

    from biakit.napari._widgets_common import layer_to_array
    from biakit.napari._writer import write_image as napari_write_image
    from biakit.napari._writer import write_layers

    with pytest.raises(ImageWriteError, match=r"saves '\.tif' or '\.ome\.zarr'"):
        napari_write_image(str(tmp_path / "a.png"), np.zeros((4, 4)), {})
    with pytest.raises(ImageWriteError, match="needs metadata\\['axes'\\]"):
        napari_write_image(str(tmp_path / "a.tif"), np.zeros((1,) * 6), {})
    two = [(np.zeros((4, 4)), {}, "image")] * 2
    with pytest.raises(ImageWriteError, match="expected one image layer"):
        write_layers(str(tmp_path / "b.ome.zarr"), two)
    with pytest.raises(ImageWriteError, match=r"saved together to a '\.ome\.zarr'"):
        write_layers(str(tmp_path / "b.tif"), two)
    with pytest.raises(ParameterError, match="cannot guess the axes of 5-D data"):
        layer_to_array(Image(np.zeros((1, 1, 1, 4, 4))))
    _, meta = layer_to_array(Image(np.zeros((2, 3, 4, 4))))
    assert meta.axes == "TZYX" and meta.unit == "pixel"
    _, meta = layer_to_array(Image(np.zeros((4, 4, 3), np.uint8), rgb=True, scale=(0.5, 0.5)))
    assert meta.axes == "YXC" and meta.spacing == (0.5, 0.5, 1.0)
