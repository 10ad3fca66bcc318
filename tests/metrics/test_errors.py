"""Tests for biakit.metrics.errors: per-object error kinds on hand-built label images."""

from __future__ import annotations

import numpy as np
import pytest

from biakit.errors import ParameterError
from biakit.metrics import ErrorCounts, instance_errors, match_instances


def scene():
    """One object of each kind; every IoU below is computed by hand in the comments."""
    y_true = np.zeros((40, 60), np.uint16)
    y_pred = np.zeros_like(y_true)
    y_true[2:10, 2:10] = 1  # matched exactly by 11
    y_pred[2:10, 2:10] = 11
    y_pred[2:8, 20:26] = 12  # on background: false positive
    y_true[20:28, 2:10] = 2  # nothing there: missed
    y_true[20:28, 20:26] = 3  # 48 px
    y_true[20:28, 26:32] = 4  # 48 px
    y_pred[19:29, 19:33] = 13  # 140 px holding all of 3 and 4: IoU 48/140 each -> merged
    y_true[32:40, 40:58] = 5  # 144 px
    y_pred[32:40, 40:48] = 14  # 64 px inside 5: IoU 64/144
    y_pred[32:40, 49:57] = 15  # 64 px inside 5: IoU 64/144 -> 5 is split
    return y_true, y_pred


def test_each_kind_is_found_exactly():
    y_true, y_pred = scene()
    errors = instance_errors(y_true, y_pred, thresh=0.5)
    assert errors.counts == ErrorCounts(
        tp=1, fp=1, missed=1, merged=1, split=1, merged_true=2, split_pred=2, n_true=5, n_pred=5
    )
    assert errors.true_outcome() == {1: "tp", 2: "missed", 3: "merged", 4: "merged", 5: "split"}
    assert errors.pred_outcome() == {11: "tp", 12: "fp", 13: "merged", 14: "split", 15: "split"}
    assert errors.matched_pairs == ((1, 11),)
    assert errors.thresh == 0.5


def test_kinds_partition_matching_fp_and_fn(random_label_pair):
    for seed in range(6):
        y_true, y_pred = random_label_pair(seed)
        for thresh in (0.3, 0.5, 0.75):
            c = instance_errors(y_true, y_pred, thresh=thresh).counts
            m = match_instances(y_true, y_pred, thresh=thresh)
            assert c.tp == m.tp
            assert c.fp + c.merged + c.split_pred == m.fp
            assert c.missed + c.merged_true + c.split == m.fn
            assert (c.n_true, c.n_pred) == (m.n_true, m.n_pred)


def test_iou_threshold_is_inclusive():
    y_true = np.zeros((10, 10), np.int32)
    y_true[0:4, 0:4] = 1
    y_pred = np.zeros_like(y_true)
    y_pred[0:4, 0:2] = 1  # IoU 8/16 = 0.5 exactly
    assert instance_errors(y_true, y_pred, thresh=0.5).counts.tp == 1
    c = instance_errors(y_true, y_pred, thresh=0.51).counts
    assert (c.tp, c.fp, c.missed) == (0, 1, 1)


def test_covering_exactly_half_is_not_a_merge():
    y_true = np.zeros((4, 20), np.int32)
    y_true[:, 0:4], y_true[:, 4:8] = 1, 2
    y_pred = np.zeros_like(y_true)
    y_pred[:, 2:6] = 9  # half of 1 and half of 2 (strict rule: not more than half)
    c = instance_errors(y_true, y_pred).counts
    assert (c.merged, c.fp, c.missed) == (0, 1, 2)
    y_pred[:, 1:7] = 9  # three quarters of each
    c = instance_errors(y_true, y_pred).counts
    assert (c.merged, c.merged_true, c.fp, c.missed) == (1, 2, 0, 0)


def test_a_match_wins_over_a_merge():
    y_true = np.zeros((12, 12), np.int32)
    y_true[0:10, 0:10] = 1  # 100 px
    y_true[10:12, 0:2] = 2  # 4 px
    y_pred = np.zeros_like(y_true)
    y_pred[0:12, 0:10] = 3  # holds all of both; IoU with 1 is 100/120
    errors = instance_errors(y_true, y_pred)
    assert errors.true_outcome() == {1: "tp", 2: "missed"}
    assert errors.pred_outcome() == {3: "tp"}


def test_one_fragment_inside_is_a_false_positive_not_a_split():
    y_true = np.zeros((10, 10), np.int32)
    y_true[0:10, 0:10] = 1
    y_pred = np.zeros_like(y_true)
    y_pred[0:3, 0:3] = 4
    errors = instance_errors(y_true, y_pred)
    assert errors.true_outcome() == {1: "missed"} and errors.pred_outcome() == {4: "fp"}


def test_split_in_3d_with_sparse_labels():
    y_true = np.zeros((4, 8, 8), np.int64)
    y_true[:, :, :] = 1000
    y_pred = np.zeros_like(y_true)
    y_pred[:2], y_pred[2:] = 7, 500  # two halves: IoU 0.5 each -> one matches at 0.5
    assert instance_errors(y_true, y_pred).counts.tp == 1
    errors = instance_errors(y_true, y_pred, thresh=0.6)
    assert errors.true_outcome() == {1000: "split"}
    assert errors.pred_outcome() == {7: "split", 500: "split"}


def test_empty_images_and_pooling():
    empty = np.zeros((5, 5), np.uint8)
    assert instance_errors(empty, empty).counts == ErrorCounts()
    y_true, y_pred = scene()
    one = instance_errors(y_true, y_pred).counts
    total = one + instance_errors(empty, empty).counts + one
    assert total.as_dict() == {k: 2 * v for k, v in one.as_dict().items()}
    with pytest.raises(TypeError, match="unsupported operand"):
        one + 1


@pytest.mark.parametrize("thresh", [0, -0.1, 1.5, float("nan"), "a", None])
def test_thresh_must_be_in_0_1(thresh):
    y = np.zeros((3, 3), np.uint8)
    with pytest.raises(ParameterError, match=r"thresh must be an IoU threshold in \(0, 1\]"):
        instance_errors(y, y, thresh=thresh)


def test_label_images_are_checked():
    with pytest.raises(ValueError, match="same shape"):
        instance_errors(np.zeros((3, 3), np.uint8), np.zeros((3, 4), np.uint8))
    with pytest.raises(TypeError, match="integer dtype"):
        instance_errors(np.zeros((3, 3)), np.zeros((3, 3), np.uint8))
