"""Tests for error_overlay, error_legend and matched_colors on a hand-built scene."""

import numpy as np
import pytest

from biakit.errors import DataError, ParameterError
from biakit.metrics import ErrorCounts, instance_errors
from biakit.visualize import (
    ERROR_COLORS,
    error_legend,
    error_overlay,
    label_colors,
    matched_colors,
    overlay_labels,
    palette,
)


def scene():
    """tp (1/11), fp (12), missed (2), merged (13 over 3 and 4), split (5 into 14, 15)."""
    y_true = np.zeros((40, 60), np.uint16)
    y_pred = np.zeros_like(y_true)
    y_true[2:10, 2:10] = 1
    y_pred[2:10, 2:10] = 11
    y_pred[2:8, 20:26] = 12
    y_true[20:28, 2:10] = 2
    y_true[20:28, 20:26] = 3
    y_true[20:28, 26:32] = 4
    y_pred[19:29, 19:33] = 13
    y_true[32:40, 40:58] = 5
    y_pred[32:40, 40:48] = 14
    y_pred[32:40, 49:57] = 15
    return y_true, y_pred


def colour(rgb, y, x):
    return tuple(int(v) for v in rgb[y, x])


def test_each_outcome_has_its_colour():
    y_true, y_pred = scene()
    rgb = error_overlay(np.zeros(y_true.shape), y_true, y_pred, alpha=0.5)
    assert rgb.shape == (40, 60, 3) and rgb.dtype == np.uint8
    assert colour(rgb, 2, 5) == ERROR_COLORS["tp"]  # outline of the matched prediction
    assert colour(rgb, 2, 22) == ERROR_COLORS["fp"]
    assert colour(rgb, 19, 25) == ERROR_COLORS["merged"]  # outline of the merged prediction
    assert colour(rgb, 24, 25) == ERROR_COLORS["merged"]  # the two true objects inside it
    assert colour(rgb, 32, 44) == ERROR_COLORS["split"]  # fragments
    assert colour(rgb, 32, 48) == ERROR_COLORS["split"]  # outline of the split true object
    assert colour(rgb, 35, 48) == tuple(int(0.5 * c) for c in ERROR_COLORS["split"])
    assert colour(rgb, 20, 5) == ERROR_COLORS["missed"]  # outline of the missed object
    fill = tuple(int(0.5 * c) for c in ERROR_COLORS["missed"])
    assert colour(rgb, 24, 5) == fill  # filled where nothing was predicted
    assert colour(rgb, 5, 5) == tuple(int(0.5 * c) for c in ERROR_COLORS["tp"])
    assert colour(rgb, 15, 40) == (0, 0, 0)  # background untouched


def test_background_stays_grey_and_precomputed_errors_are_used():
    y_true, y_pred = scene()
    image = np.linspace(0, 1, y_true.size).reshape(y_true.shape)
    errors = instance_errors(y_true, y_pred, thresh=0.5)
    rgb = error_overlay(image, y_true, y_pred, errors=errors)
    np.testing.assert_array_equal(rgb, error_overlay(image, y_true, y_pred))
    bg = rgb[(y_true == 0) & (y_pred == 0)]
    assert np.all(bg[:, 0] == bg[:, 1]) and np.all(bg[:, 1] == bg[:, 2])


def test_3d_is_projected():
    y_true, y_pred = scene()
    t3, p3 = np.stack([y_true] * 3), np.stack([y_pred] * 3)
    rgb = error_overlay(np.zeros(t3.shape), t3, p3)
    np.testing.assert_array_equal(rgb, error_overlay(np.zeros(y_true.shape), y_true, y_pred))


def test_legend_text_and_order():
    assert [t for t, _ in error_legend()] == [
        "true positive", "false positive", "missed", "merged", "split"
    ]  # fmt: skip
    counts = instance_errors(*scene()).counts
    assert error_legend(counts) == [
        ("true positive: 1", ERROR_COLORS["tp"]),
        ("false positive: 1", ERROR_COLORS["fp"]),
        ("missed: 1", ERROR_COLORS["missed"]),
        ("merged: 1 (2 true objects)", ERROR_COLORS["merged"]),
        ("split: 1 (2 fragments)", ERROR_COLORS["split"]),
    ]
    assert error_legend(ErrorCounts())[3] == ("merged: 0", ERROR_COLORS["merged"])


def test_matched_objects_share_a_colour():
    y_true, y_pred = scene()
    true_colors, pred_colors = matched_colors(y_true, y_pred)
    assert set(true_colors) == {1, 2, 3, 4, 5} and set(pred_colors) == {11, 12, 13, 14, 15}
    assert pred_colors[11] == true_colors[1]
    assert {pred_colors[p] for p in (12, 13, 14, 15)}.isdisjoint(true_colors.values())
    assert len(set(pred_colors.values())) == 5
    for label, rgb in true_colors.items():  # the truth looks as in a plain overlay
        assert rgb == tuple(int(c) for c in label_colors(5)[label - 1])
    image = np.zeros(y_true.shape)
    np.testing.assert_array_equal(
        overlay_labels(image, y_true, colors=true_colors), overlay_labels(image, y_true)
    )
    rgb = overlay_labels(image, y_pred, colors=pred_colors)
    assert colour(rgb, 2, 5) == true_colors[1]


def test_overlay_with_partial_colour_map_and_sparse_labels():
    labels = np.zeros((10, 10), np.int64)
    labels[1:4, 1:4], labels[5:9, 5:9] = 7, 10**9
    rgb = overlay_labels(np.zeros((10, 10)), labels, colors={7: (1, 2, 3)})
    assert colour(rgb, 1, 2) == (1, 2, 3)
    assert colour(rgb, 5, 6) == tuple(int(c) for c in palette([10**9 - 1])[0])


def test_error_paths():
    y_true, y_pred = scene()
    with pytest.raises(DataError, match=r"same shape, got \(40, 60\), \(40, 60\) and \(4, 4\)"):
        error_overlay(np.zeros((40, 60)), y_true, np.zeros((4, 4), int))
    with pytest.raises(ParameterError, match=r"alpha must be in \[0, 1\], got -1"):
        error_overlay(np.zeros((40, 60)), y_true, y_pred, alpha=-1)
    with pytest.raises(ParameterError, match=r"thresh must be an IoU threshold in \(0, 1\]"):
        error_overlay(np.zeros((40, 60)), y_true, y_pred, thresh=0)
    with pytest.raises(ParameterError, match=r"thresh must be an IoU threshold"):
        matched_colors(y_true, y_pred, thresh=2)
