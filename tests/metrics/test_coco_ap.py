"""Tests for biakit.metrics.average_precision (COCO-style AP on label images).

Numbers marked "pycocotools" were printed by pycocotools 2.0.11's COCOeval
(segm, maxDets 100) on the same seeded pairs and scores
(``benchmarks/bench_instance_matching.py --fixtures``; 3D volumes reshaped to
2D, which keeps every IoU and voxel count).
"""

from __future__ import annotations

import numpy as np
import pytest

from biakit.errors import DataError, ParameterError
from biakit.metrics import average_precision
from biakit.metrics.instance import COCOResult

AREAS = {"all": (0, 1e10), "small": (0, 50), "medium": (50, 150), "large": (150, 1e10)}


def squares(*boxes, shape=(40, 40)):
    img = np.zeros(shape, np.uint16)
    for label, (r, c, h, w) in enumerate(boxes, start=1):
        img[r : r + h, c : c + w] = label
    return img


def test_one_missed_object():
    y_true = squares((2, 2, 6, 6), (10, 10, 8, 8))
    y_pred = squares((2, 2, 6, 6))
    res = average_precision([y_true], [y_pred], [{1: 0.9}])
    assert isinstance(res, COCOResult)
    # recall 0.5 reached at precision 1: recall points 0.00 .. 0.50 (51 of 101)
    assert res.ap == pytest.approx(51 / 101)
    assert res.ap50 == res.ap75 == pytest.approx(51 / 101)
    assert res.ar == pytest.approx(0.5)
    assert res.precision.shape == (10, 101, 4) and res.recall.shape == (10, 4)


def test_false_positive_between_two_hits_two_images():
    y_true = squares((0, 0, 5, 5), (10, 10, 5, 5))
    y_pred = squares((0, 0, 5, 5), (20, 20, 5, 5), (10, 10, 5, 5))
    empty = np.zeros_like(y_true)
    # ranked: TP (0.9), FP (0.8), TP (0.7); the empty second image adds nothing
    res = average_precision([y_true, empty], [y_pred, empty], [[0.9, 0.8, 0.7], []])
    # precision envelope: 1 up to recall 0.5, then 2/3 up to recall 1
    expected = (51 * 1.0 + 50 * 2 / 3) / 101
    assert res.ap == pytest.approx(expected)
    assert res.precision[0, :, 0] == pytest.approx([1.0] * 51 + [2 / 3] * 50)


def test_iou_thresholds_inclusive_and_ap50_ap75():
    y_true = squares((0, 0, 10, 10))
    y_pred = squares((0, 0, 8, 8))  # IoU 0.64: a hit for thresholds 0.5, 0.55, 0.6
    res = average_precision([y_true], [y_pred], [[1.0]])
    assert res.ap == pytest.approx(0.3)
    assert (res.ap50, res.ap75) == pytest.approx((1.0, 0.0))
    exact = average_precision([y_true], [y_pred], [[1.0]], iou_thresholds=[0.64, 0.65])
    assert exact.ap == pytest.approx(0.5) and np.isnan(exact.ap50)


def test_greedy_matching_by_score():
    # gt 10 px; prediction 1 (score 0.2) and prediction 2 (score 0.9) each cover one half:
    # IoU 0.5 for both.  The higher score is matched first, the other is a false
    # positive ranked after it: AP 1.  (Matching in label order would give AP 0.5.)
    y_true = squares((0, 0, 1, 10), shape=(4, 12))
    y_pred = squares((0, 0, 1, 5), (0, 5, 1, 5), shape=(4, 12))
    res = average_precision([y_true], [y_pred], [[0.2, 0.9]], iou_thresholds=[0.5])
    assert res.ap == pytest.approx(1.0)
    assert res.precision[0, -1, 0] == pytest.approx(1.0)
    swapped = average_precision([y_true], [y_pred], [[0.9, 0.2]], iou_thresholds=[0.5, 0.51])
    assert swapped.ap50 == pytest.approx(1.0) and swapped.ap == pytest.approx(0.5)


def test_area_ranges_and_max_dets():
    y_true = squares((0, 0, 5, 5), (10, 10, 10, 10))  # 25 px and 100 px
    y_pred = y_true.copy()
    ranges = {"all": (0, 1e10), "small": (0, 50), "large": (50, 1e10), "huge": (1e3, 1e10)}
    res = average_precision([y_true], [y_pred], [[0.5, 0.9]], area_ranges=ranges)
    assert res.ap_by_area["small"] == pytest.approx(1.0) == res.ap_by_area["large"]
    assert np.isnan(res.ap_by_area["huge"]) and np.isnan(res.ar_by_area["huge"])
    top1 = average_precision([y_true], [y_pred], [[0.5, 0.9]], max_dets=1)
    assert top1.ar == pytest.approx(0.5)
    assert top1.ap == pytest.approx(51 / 101)


def test_default_area_ranges_2d_and_3d():
    y2 = squares((0, 0, 40, 40), shape=(50, 50))  # 1600 px: COCO "medium"
    res2 = average_precision([y2], [y2], [[1.0]])
    assert res2.ap_by_area["medium"] == pytest.approx(1.0) and np.isnan(res2.ap_by_area["small"])
    y3 = np.zeros((30, 30, 30), np.uint8)
    y3[:20, :20, :20] = 1  # 8000 voxels: "small" below 128**2
    res3 = average_precision([y3], [y3], [{1: 0.3}])
    assert res3.ap_by_area["small"] == pytest.approx(1.0) and np.isnan(res3.ap_by_area["large"])


PYCOCOTOOLS = {  # ap, ap50, ap75, [all, small, medium, large], ar
    "seed3": (0.0545849728, 0.2131953195, 0.0, [0.0545849728, 0.0129792979, 0.0931097038, 0.2],
              0.124),
    "seeds4_6": (0.0143401446, 0.1084945684, 0.0, [0.0143401446, 0.0, 0.0386982507,
                 0.1336633663], 0.0506666667),
    "seed8_3d": (0.0029346038, 0.0238989416, 0.0, [0.0029346038, 0.0, 0.0, 0.0105730573],
                 0.0216216216),
    "coins": (0.582849164, 1.0, 0.71805752, [0.582849164, np.nan, np.nan, 0.582849164],
              0.6041666667),
}  # fmt: skip


@pytest.mark.parametrize("name", list(PYCOCOTOOLS))
def test_equals_pycocotools(name, coins_pair, random_label_pair):
    seeds = {"seed3": [3], "seeds4_6": [4, 5, 6], "seed8_3d": [8], "coins": [0]}[name]
    trues, preds, scores = [], [], []
    for seed in seeds:
        if name == "coins":
            t, p = coins_pair()
        elif name.endswith("3d"):
            t, p = random_label_pair(seed, (16, 32, 32), 40)
        else:
            t, p = random_label_pair(seed)
        n_pred = len(np.unique(p[p > 0]))
        trues.append(t)
        preds.append(p)
        scores.append(np.random.default_rng(seed + 100).random(n_pred))
    res = average_precision(trues, preds, scores, area_ranges=AREAS)
    ap, ap50, ap75, by_area, ar = PYCOCOTOOLS[name]
    assert (res.ap, res.ap50, res.ap75, res.ar) == pytest.approx((ap, ap50, ap75, ar), abs=1e-8)
    got = [res.ap_by_area[k] for k in AREAS]
    assert got == pytest.approx(by_area, abs=1e-8, nan_ok=True)


def test_scores_as_mapping_equal_array(random_label_pair):
    t, p = random_label_pair(3)
    labels = np.unique(p[p > 0])
    sc = np.random.default_rng(0).random(len(labels))
    a = average_precision([t], [p], [sc])
    b = average_precision([t], [p], [dict(zip(labels.tolist(), sc))])
    assert a.ap == b.ap and np.array_equal(a.precision, b.precision, equal_nan=True)


def test_errors():
    y = squares((0, 0, 5, 5))
    with pytest.raises(TypeError, match="y_true_list must be a list"):
        average_precision(y, [y], [[1.0]])
    with pytest.raises(ValueError, match="same non-zero length"):
        average_precision([y], [y, y], [[1.0]])
    with pytest.raises(ParameterError, match=r"iou_thresholds value must be a number in \(0, 1\]"):
        average_precision([y], [y], [[1.0]], iou_thresholds=[0.0, 0.5])
    with pytest.raises(ParameterError, match=r"iou_thresholds must be one or more numbers"):
        average_precision([y], [y], [[1.0]], iou_thresholds=[])
    with pytest.raises(ValueError, match="'all' entry"):
        average_precision([y], [y], [[1.0]], area_ranges={"small": (0, 10)})
    with pytest.raises(ValueError, match="min <= max"):
        average_precision([y], [y], [[1.0]], area_ranges={"all": (10, 0)})
    with pytest.raises(ValueError, match="max_dets must be a positive integer"):
        average_precision([y], [y], [[1.0]], max_dets=0)
    with pytest.raises(ValueError, match=r"scores_list\[0\] has no score for"):
        average_precision([y], [y], [{2: 0.5}])
    with pytest.raises(ValueError, match="one score per predicted object"):
        average_precision([y], [y], [[0.5, 0.4]])
    with pytest.raises(DataError, match=r"scores_list\[0\] has 1 NaN and 0 infinite"):
        average_precision([y], [y], [[np.nan]])
    with pytest.raises(TypeError, match="integer dtype"):
        average_precision([y.astype(float)], [y], [[1.0]])
