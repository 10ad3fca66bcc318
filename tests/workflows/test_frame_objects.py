"""Object-level scores of predicted frames, the wound-healing generator and the horizon plot."""

import numpy as np
import pandas as pd
import pytest

from biakit.data._wound_healing import wound_healing
from biakit.errors import DataError
from biakit.workflows._frame_config import FramePredictionConfig, ObjectScoreOptions
from biakit.workflows._frame_eval import object_options, score_origin
from biakit.workflows._frame_objects import gap_mask, object_scores, segment_frame
from biakit.workflows._frame_plots import plot_horizon_scores


def _squares(boxes, shape=(24, 24), value=10.0):
    frame = np.zeros(shape, np.float32)
    for y, x, h, w in boxes:
        frame[y : y + h, x : x + w] = value
    return frame


# ---------------------------------------------------------------- segmentation and scores
def test_segment_frame_counts_objects_and_drops_small_ones():
    opts = ObjectScoreOptions(smooth_sigma=0.0, min_size=5)
    frame = _squares([(1, 1, 4, 4), (10, 10, 5, 3), (20, 20, 2, 2)])  # 16, 15 and 4 pixels
    labels = segment_frame(frame, opts)
    assert labels.max() == 2 and sorted(np.bincount(labels.ravel())[1:]) == [15, 16]
    two_channels = np.stack([frame, frame])  # channels are averaged
    np.testing.assert_array_equal(segment_frame(two_channels, opts, ndim=2), labels)
    manual = ObjectScoreOptions(method="manual", value=20.0, smooth_sigma=0.0)
    assert segment_frame(frame, manual).max() == 0  # nothing above 20


def test_object_scores_hand_computed():
    opts = ObjectScoreOptions(smooth_sigma=0.0, min_size=0)
    truth = segment_frame(_squares([(0, 0, 4, 4), (10, 10, 4, 4)]), opts)
    # object 1 shifted by 2 rows: IoU 8 / 24 = 1/3; object 2 exact; one spurious object
    pred = segment_frame(_squares([(2, 0, 4, 4), (10, 10, 4, 4), (20, 0, 3, 3)]), opts)
    s = object_scores(truth, pred, opts)
    assert s["count_error"] == 1.0
    assert s["mean_iou"] == pytest.approx((1 / 3 + 1.0) / 2)
    # at IoU >= 0.5: tp 1 (object 2), fp 2, fn 1 -> F1 = 2 / (2 + 2 + 1)
    assert s["object_f1"] == pytest.approx(2 / 5)
    empty = np.zeros_like(truth)
    assert object_scores(empty, empty, opts) == {"count_error": 0.0, "mean_iou": 0.0,
                                                 "object_f1": 1.0}  # fmt: skip
    assert object_scores(truth, empty, opts)["count_error"] == 2.0


def test_gap_area_of_a_hand_made_monolayer():
    opts = ObjectScoreOptions(kind="monolayer", smooth_sigma=0.0, min_size=0, min_gap=10)
    frame = np.full((20, 30), 5.0, np.float32)
    frame[:, 12:18] = 0.0  # a 6-column wound: 120 pixels
    frame[3, 3] = frame[15, 25] = 0.0  # single-pixel holes between cells: not the gap
    labels = segment_frame(frame, opts)
    assert gap_mask(labels, opts.min_gap).sum() == 120
    pred = frame.copy()
    pred[:, 12] = 5.0  # the prediction closed one column too much
    s = object_scores(labels, segment_frame(pred, opts), opts)
    assert s == {"gap_area_error": 20.0}


def test_options_errors():
    with pytest.raises(ValueError, match="a value is needed with"):
        ObjectScoreOptions(method="manual")
    with pytest.raises(ValueError, match="a value is needed with"):
        ObjectScoreOptions(value=3.0)
    cfg = FramePredictionConfig()
    assert object_options(cfg, None).kind == "objects"
    assert object_options(cfg, "monolayer").kind == "monolayer"
    assert object_options(cfg, {"kind": "none"}).kind == "none"
    with pytest.raises(DataError, match="objects='cells': expected 'objects', 'monolayer'"):
        object_options(cfg, "cells")


# ---------------------------------------------------------------- wound-healing movies
def test_wound_healing_gap_area_is_exact_and_closes():
    w = wound_healing(6, (32, 48), wound_width=16, speed=1.0, edge_wobble=0, seed=0)
    # straight edges moving 1 px per frame each: 16, 14, 12, ... columns over 32 rows
    np.testing.assert_array_equal(w.gap_area, 32.0 * np.array([16, 14, 12, 10, 8, 6]))
    np.testing.assert_array_equal(w.gap_area, w.gap.sum(axis=(1, 2)))
    assert w.gap[0, :, 16:32].all() and not w.gap[0, :, :16].any() and not w.gap[0, :, 32:].any()
    # the wound is dark, the sheets bright
    assert w.clean[0][w.gap[0]].mean() < 0.2 < 0.45 < w.clean[0][~w.gap[0]].mean()
    again = wound_healing(6, (32, 48), wound_width=16, speed=1.0, edge_wobble=0, seed=0)
    np.testing.assert_array_equal(w.images, again.images)  # seeded
    with pytest.raises(ValueError, match="wound_width=60 must be below the frame width 48"):
        wound_healing(3, (32, 48), wound_width=60)


def test_monolayer_scores_recover_the_wound_area():
    w = wound_healing(8, (48, 64), wound_width=24, seed=1)
    opts = ObjectScoreOptions(kind="monolayer")
    for t in (0, 4, 7):
        found = gap_mask(segment_frame(w.images[t], opts), opts.min_gap).sum()
        assert abs(found - w.gap_area[t]) <= 0.05 * w.gap_area[t]


# ---------------------------------------------------------------- in the evaluation
class _Oracle:
    """A stand-in forecaster that returns the true frames (for score_origin)."""

    def __init__(self, movie):
        self.movie = movie

    def forecast(self, ctx, h, blend=True):
        return self.movie[len(ctx) : len(ctx) + h]


def test_score_origin_object_columns_for_model_and_baselines():
    from biakit.workflows._frame_eval import _Segmenter

    frames = [_squares([(2, 2 + 2 * t, 5, 5), (14, 4, 5, 5)]) for t in range(6)]
    movie = np.stack(frames)[:, None]  # (T, C, Y, X), one square moving 2 px per frame
    seg = _Segmenter(ObjectScoreOptions(smooth_sigma=0.0, min_size=0), 2)
    rows = pd.DataFrame(score_origin(_Oracle(movie), movie, 3, 2, 10.0, segmenter=seg))
    assert list(rows["n_objects"]) == [2.0, 2.0]
    assert list(rows["mean_iou"]) == [1.0, 1.0] and list(rows["count_error"]) == [0.0, 0.0]
    # persistence: the moving square is 2 px behind per horizon: IoU 15/35, 5/45; still one 1
    expected = [(15 / 35 + 1) / 2, (5 / 45 + 1) / 2]
    np.testing.assert_allclose(rows["persistence_mean_iou"], expected)
    # linear extrapolation of a moving square leaves a negative ghost and a doubled front
    assert rows["linear_mean_iou"].iloc[0] < 1.0


def test_horizon_plot_is_written(tmp_path):
    summary = pd.DataFrame({"horizon": [1, 2, 3], "psnr": [30.0, 29.0, 28.0],
                            "persistence_psnr": [29.0, 28.0, 27.0], "ssim": [0.9, 0.8, 0.7],
                            "count_error": [0.0, 1.0, 1.0],
                            "persistence_count_error": [1.0, 1.0, 2.0]})  # fmt: skip
    path = plot_horizon_scores(summary, tmp_path / "h.png")
    from biakit.io import read_image

    picture, _ = read_image(path)
    assert picture.shape[1] > 2 * picture.shape[0]  # three panels side by side
