import numpy as np
import pytest

from biakit.errors import DataError, ParameterError
from biakit.visualize import label_colors, overlay_labels, project


def test_overlay_colours_objects_and_keeps_background_grey():
    image = np.linspace(0, 1, 400).reshape(20, 20)
    labels = np.zeros((20, 20), int)
    labels[5:10, 5:10] = 1
    rgb = overlay_labels(image, labels)
    assert rgb.shape == (20, 20, 3) and rgb.dtype == np.uint8
    bg = rgb[labels == 0]
    assert np.all(bg[:, 0] == bg[:, 1]) and np.all(bg[:, 1] == bg[:, 2])
    edge = rgb[5, 7]
    assert np.array_equal(edge, label_colors(1)[0])


def test_projection_of_3d_takes_nearest_object():
    labels = np.zeros((3, 4, 4), int)
    labels[2, 1, 1] = 5
    labels[1, 1, 1] = 7
    img, lab = project(np.zeros((3, 4, 4)), labels)
    assert img.shape == (4, 4) and lab[1, 1] == 7


def test_distinct_colours():
    c = label_colors(50)
    assert len({tuple(x) for x in c}) == 50


def test_overlay_errors():
    with pytest.raises(DataError, match=r"image shape \(2, 2\) differs from labels shape \(3, 3\)"):
        overlay_labels(np.zeros((2, 2)), np.zeros((3, 3), int))
    with pytest.raises(ParameterError, match=r"alpha must be in \[0, 1\]"):
        overlay_labels(np.zeros((2, 2)), np.zeros((2, 2), int), alpha=2)
