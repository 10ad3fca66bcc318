import socket

import numpy as np
import pytest

from biakit.data import list_sample_images, sample_image
from biakit.io._meta import ImageMeta


def test_list_has_the_skimage_images():
    names = list_sample_images()
    assert names == sorted(names)
    assert {"cell", "coins"} <= set(names)
    # needs a download through pooch: deliberately not offered
    assert "human_mitosis" not in names


def test_no_network_fixture_blocks_connections(no_network):
    with pytest.raises(OSError, match="network access attempted"):
        socket.create_connection(("example.org", 80))


@pytest.mark.parametrize("name", list_sample_images())
def test_every_sample_loads_offline(name, no_network):
    image, meta = sample_image(name)
    assert isinstance(image, np.ndarray) and isinstance(meta, ImageMeta)
    assert image.ndim == len(meta.axes)
    if "C" in meta.axes:
        assert meta.axes == "YXC" and image.shape[-1] == 3
    assert image.dtype == np.uint8 and image.std() > 0
    assert meta.extra["description"] and meta.extra["source"].startswith("skimage.data.")


def test_known_metadata():
    cell, meta = sample_image("cell")
    assert cell.shape == (660, 550) and meta.axes == "YX"
    assert meta.spacing == (0.107, 0.107) and meta.unit == "micrometer"
    coins, meta = sample_image("coins")
    assert coins.shape == (303, 384) and meta.unit == "pixel"


def test_unknown_name():
    with pytest.raises(
        ValueError, match=r"unknown sample image 'nope'; valid names are \[.*'cell'"
    ):
        sample_image("nope")


def test_labelled_nuclei3d_sample():
    pytest.importorskip("tifffile")
    from biakit.data import labelled_sample, list_labelled_samples

    assert "nuclei3d" in list_labelled_samples()
    image, labels, meta = labelled_sample("nuclei3d")
    assert image.shape == labels.shape == (60, 256, 256) and meta.axes == "ZYX"
    assert labels.max() == 20 and labels.dtype == np.int32
    with pytest.raises(ValueError, match=r"unknown labelled sample 'x'"):
        labelled_sample("x")
