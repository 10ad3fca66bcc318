"""Tests for biakit.metrics.instance: match_instances, match_instances_dataset, ctc_seg.

Reference numbers marked "StarDist" were printed by StarDist 0.9.2's
``stardist.matching.matching`` / ``matching_dataset`` on the same seeded pairs
(``benchmarks/bench_instance_matching.py --fixtures``), so CI does not need it.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import biakit.metrics._assignment as assignment
from biakit.errors import ParameterError
from biakit.metrics import InstanceMatching, ctc_seg, match_instances, match_instances_dataset

FIELDS = (
    "tp", "fp", "fn", "precision", "recall", "accuracy", "f1", "n_true", "n_pred",
    "mean_true_score", "mean_matched_score", "panoptic_quality",
)  # fmt: skip


def values(m: InstanceMatching) -> list[float]:
    return [float(getattr(m, f)) for f in FIELDS]


def two_squares():
    y_true = np.zeros((40, 40), np.uint16)
    y_true[0:10, 0:10] = 1
    y_true[20:30, 20:30] = 2
    y_pred = np.zeros_like(y_true)
    y_pred[5:15, 0:10] = 1  # IoU 50 / 150 with object 1
    y_pred[20:30, 20:30] = 2  # identical to object 2
    return y_true, y_pred


# ---------------------------------------------------------------- hand-computed


def test_two_squares_iou():
    m = match_instances(*two_squares(), thresh=0.5)
    assert (m.tp, m.fp, m.fn, m.n_true, m.n_pred) == (1, 1, 1, 2, 2)
    assert (m.precision, m.recall, m.f1) == (0.5, 0.5, 0.5)
    assert m.accuracy == pytest.approx(1 / 3)
    assert m.mean_matched_score == pytest.approx(1.0)
    assert m.mean_true_score == pytest.approx(0.5)
    assert m.panoptic_quality == pytest.approx(1.0 / (1 + 0.5 + 0.5))
    low = match_instances(*two_squares(), thresh=0.3)
    assert low.tp == 2
    assert low.mean_matched_score == pytest.approx((1 / 3 + 1) / 2)


def test_two_squares_iot_iop_and_report():
    y_true, y_pred = two_squares()
    for criterion in ("iot", "iop"):
        m = match_instances(y_true, y_pred, thresh=0.5, criterion=criterion, report_matches=True)
        assert m.tp == 2
        assert m.mean_matched_score == pytest.approx(0.75)
        assert m.matched_pairs == ((1, 1), (2, 2))
        assert m.matched_scores == pytest.approx((0.5, 1.0))
        assert m.matched_tps == (0, 1)
    assert match_instances(y_true, y_pred).matched_pairs is None
    assert "matched_pairs" not in match_instances(y_true, y_pred).as_dict()


def test_threshold_is_inclusive():
    y_true = np.zeros((12, 12), np.int32)
    y_true[0:10, 0:10] = 1
    y_pred = np.zeros_like(y_true)
    y_pred[0:10, 0:5] = 1  # IoU exactly 0.5
    assert match_instances(y_true, y_pred, thresh=0.5).tp == 1
    assert match_instances(y_true, y_pred, thresh=0.5001).tp == 0
    iop = match_instances(y_true, y_pred, thresh=1.0, criterion="iop")
    assert iop.tp == 1 and iop.mean_matched_score == 1.0


def test_threshold_compared_in_float32_like_stardist():
    y_true = np.zeros((10, 10), np.uint8)
    y_true[:, :] = 1
    y_pred = np.zeros_like(y_true)
    y_pred[:6, :] = 1  # IoU exactly 0.6
    thr = 0.1 * 6  # 0.6000000000000001 > 0.6 in float64, equal in float32
    assert thr > 0.6
    assert match_instances(y_true, y_pred, thresh=thr).tp == 1


def test_tie_break_uses_sub_threshold_scores():
    # iot: true 1 (10 px) is 60 % in pred 1 and 40 % in pred 2; true 2 (20 px) is
    # 55 % in pred 1.  One candidate pair can be matched; the total score 0.55 + 0.4
    # beats 0.6 + 0, so StarDist matches (2, 1) and the matched score is 0.55.
    y_true = np.zeros((2, 20), np.uint8)
    y_true[0, :10] = 1
    y_true[1, :] = 2
    y_pred = np.zeros_like(y_true)
    y_pred[0, :6] = 1
    y_pred[1, :11] = 1
    y_pred[0, 6:10] = 2
    m = match_instances(y_true, y_pred, thresh=0.5, criterion="iot", report_matches=True)
    assert (m.tp, m.fp, m.fn) == (1, 1, 1)
    assert m.mean_matched_score == pytest.approx(0.55)
    assert m.mean_true_score == pytest.approx(0.275)
    assert set(m.matched_pairs) == {(2, 1), (1, 2)}
    assert [m.matched_pairs[i] for i in m.matched_tps] == [(2, 1)]


def test_3d_cube_shifted():
    y_true = np.zeros((8, 8, 8), np.uint16)
    y_true[2:6, 2:6, 2:6] = 9
    y_pred = np.roll(y_true, 1, axis=0)  # IoU 48 / 80
    m = match_instances(y_true, y_pred, thresh=0.6)
    assert m.tp == 1 and m.mean_matched_score == pytest.approx(0.6)
    assert match_instances(y_true, y_pred, thresh=0.61).tp == 0


@pytest.mark.parametrize(
    ("has_true", "has_pred", "expected"),
    [  # StarDist: all ratios 0 for empty images
        (False, True, (0, 1, 0, 0, 1)),
        (True, False, (0, 0, 1, 1, 0)),
        (False, False, (0, 0, 0, 0, 0)),
    ],
)
def test_empty_images(has_true, has_pred, expected):
    obj = np.zeros((8, 8), np.uint8)
    obj[1:3, 1:3] = 4
    empty = np.zeros_like(obj)
    m = match_instances(obj if has_true else empty, obj if has_pred else empty)
    assert (m.tp, m.fp, m.fn, m.n_true, m.n_pred) == expected
    assert values(m)[3:7] == [0, 0, 0, 0] and values(m)[9:] == [0, 0, 0]


def test_thresh_zero_or_none_matches_without_overlap():
    y_true = np.zeros((8, 8), np.uint8)
    y_true[0:2, 0:2] = 1
    y_pred = np.roll(y_true, 4, axis=0)
    for thresh in (0, None):
        m = match_instances(y_true, y_pred, thresh=thresh)
        assert (m.tp, m.fp, m.fn, m.mean_matched_score) == (1, 0, 0, 0.0)


def test_labels_need_not_be_sequential_and_dtypes_do_not_matter():
    y_true, y_pred = two_squares()
    ref = match_instances(y_true, y_pred, thresh=0.3)
    remapped = np.array([0, 7, 1000], np.int64)
    m = match_instances(remapped[y_true], remapped[y_pred].astype(np.uint32), thresh=0.3)
    assert values(m) == values(ref)
    big = np.array([0, 2**40, 3], np.uint64)  # label values beyond the bincount fast path
    pairs = match_instances(big[y_true], big[y_pred], thresh=0.3, report_matches=True)
    assert values(pairs) == values(ref)
    assert pairs.matched_pairs == ((3, 3), (2**40, 2**40))


def test_sequence_of_thresholds_returns_a_list():
    out = match_instances(*two_squares(), thresh=[0.3, 0.5, 0.9])
    assert isinstance(out, list) and [m.tp for m in out] == [2, 1, 1]
    assert [m.thresh for m in out] == [0.3, 0.5, 0.9]


# ------------------------------------------------------- StarDist fixtures

STARDIST = {  # (case, criterion, thresh): tp fp fn precision recall accuracy f1 n_true n_pred
    # mean_true_score mean_matched_score panoptic_quality
    ("seed3", "iou", 0.3): [19, 7, 6, 0.7307692308, 0.76, 0.59375, 0.7450980392, 25, 26,
                            0.3992825449, 0.5253717523, 0.3914534625],
    ("seed3", "iot", 0.8): [2, 24, 23, 0.0769230769, 0.08, 0.0408163265, 0.0784313725, 25, 26,
                            0.0657254905, 0.8215686083, 0.0644367536],
    ("seed3", "iop", 0.5): [20, 6, 5, 0.7692307692, 0.8, 0.6451612903, 0.7843137255, 25, 26,
                            0.5854215622, 0.7317769527, 0.573942708],
    ("seed7", "iou", 0.5): [8, 18, 17, 0.3076923077, 0.32, 0.1860465116, 0.3137254902, 25, 26,
                            0.2147761583, 0.6711754799, 0.2105648564],
    ("seed7", "iot", 0.3): [21, 5, 4, 0.8076923077, 0.84, 0.7, 0.8235294118, 25, 26,
                            0.5370263457, 0.6393170584, 0.526496401],
    ("seed7", "iop", 0.8): [5, 21, 20, 0.1923076923, 0.2, 0.1086956522, 0.1960784314, 25, 26,
                            0.1728881449, 0.8644407272, 0.1694981818],
    ("seed5_3d", "iou", 0.3): [13, 28, 26, 0.3170731707, 0.3333333333, 0.1940298507, 0.325, 39,
                               41, 0.1301672608, 0.3905017926, 0.1269130826],
    ("seed5_3d", "iot", 0.5): [14, 27, 25, 0.3414634146, 0.358974359, 0.2121212121, 0.35, 39,
                               41, 0.2282363027, 0.6358011109, 0.2225303888],
    ("seed5_3d", "iop", 0.8): [2, 39, 37, 0.0487804878, 0.0512820513, 0.0256410256, 0.05, 39, 41,
                               0.046818573, 0.9129621983, 0.0456481099],
    ("coins", "iou", 0.5): [24, 0, 0, 1.0, 1.0, 1.0, 1.0, 24, 24, 0.7799751163, 0.7799750964,
                            0.7799750964],
    ("coins", "iou", 0.8): [5, 19, 19, 0.2083333333, 0.2083333333, 0.1162790698, 0.2083333333,
                            24, 24, 0.1718520075, 0.8248896599, 0.1718520125],
    ("coins", "iot", 0.8): [13, 11, 11, 0.5416666667, 0.5416666667, 0.3714285714, 0.5416666667,
                            24, 24, 0.4474755526, 0.8261087124, 0.4474755526],
}  # fmt: skip


def case(name, coins_pair, random_label_pair):
    if name == "coins":
        return coins_pair()
    if name == "seed5_3d":
        return random_label_pair(5, (16, 32, 32), 40)
    return random_label_pair(int(name[4:]))


@pytest.mark.parametrize(("name", "criterion", "thresh"), list(STARDIST))
def test_equals_stardist_fixtures(name, criterion, thresh, coins_pair, random_label_pair):
    pair = case(name, coins_pair, random_label_pair)
    m = match_instances(*pair, thresh=thresh, criterion=criterion)
    assert values(m) == pytest.approx(STARDIST[name, criterion, thresh], abs=1e-6)


@pytest.mark.parametrize(
    ("by_image", "expected"),
    [  # StarDist matching_dataset on seeds 3, 7, 11 at IoU 0.5
        (False, [20, 57, 54, 0.2597402597, 0.2702702703, 0.1526717557, 0.2649006623, 74, 77,
                 0.1723737717, 0.6377829552, 0.1689491272]),
        (True, [20, 57, 54, 0.2569230769, 0.2672222222, 0.160626615, 0.2619714552, 74, 77,
                0.1703987569, 0.6238907738, 0.167051134]),
    ],
)  # fmt: skip
def test_dataset_equals_stardist(by_image, expected, random_label_pair):
    pairs = [random_label_pair(s) for s in (3, 7, 11)]
    m = match_instances_dataset(*zip(*pairs), thresh=0.5, by_image=by_image)
    assert m.by_image is by_image
    assert values(m) == pytest.approx(expected, abs=1e-6)
    multi = match_instances_dataset(*zip(*pairs), thresh=[0.5, 0.3], by_image=by_image)
    assert values(multi[0]) == values(m) and multi[1].thresh == 0.3


# ------------------------------------------------ dense brute-force reference


def dense_reference(y_true, y_pred, thresh, criterion):
    """StarDist's published algorithm, written densely (float32 scores)."""
    _, t = np.unique(y_true, return_inverse=True)
    _, p = np.unique(y_pred, return_inverse=True)
    t, p = t.ravel(), p.ravel()
    overlap = np.zeros((t.max() + 1, p.max() + 1), np.int64)
    np.add.at(overlap, (t, p), 1)
    at, ap = overlap.sum(1, keepdims=True), overlap.sum(0, keepdims=True)
    den = {"iou": at + ap - overlap, "iot": at + 0 * ap, "iop": ap + 0 * at}[criterion]
    scores = (overlap / np.maximum(den, 1)).astype(np.float32)[1:, 1:]
    n_true, n_pred = scores.shape
    n = min(n_true, n_pred)
    tp, total = 0, 0.0
    if n:
        cost = -(scores >= np.float32(thresh)).astype(float) - scores / np.float32(2 * n)
        r, c = linear_sum_assignment(cost)
        ok = scores[r, c] >= np.float32(thresh)
        tp, total = int(ok.sum()), float(scores[r, c][ok].astype(float).sum())
    return tp, total / max(tp, 1), total / max(n_true, 1)


@pytest.mark.parametrize("seed", range(12))
def test_random_pairs_equal_dense_reference(seed, random_label_pair):
    shape, n = ((12, 24, 24), 30) if seed % 3 == 0 else ((48, 48), 20)
    y_true, y_pred = random_label_pair(100 + seed, shape, n)
    threshs = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9]
    for criterion in ("iou", "iot", "iop"):
        ours = match_instances(y_true, y_pred, thresh=threshs, criterion=criterion)
        for m, thr in zip(ours, threshs):
            tp, mms, mts = dense_reference(y_true, y_pred, thr, criterion)
            assert m.tp == tp
            assert m.mean_matched_score == pytest.approx(mms, abs=1e-6)
            assert m.mean_true_score == pytest.approx(mts, abs=1e-6)


def test_sparse_solver_for_large_components_equals_dense(monkeypatch, random_label_pair):
    pairs = [random_label_pair(s) for s in range(20, 26)]
    kwargs = {"thresh": [0.0, 0.2, 0.5], "criterion": "iot"}
    dense = [match_instances(t, p, **kwargs) for t, p in pairs]
    monkeypatch.setattr(assignment, "DENSE_LIMIT", 0)
    sparse = [match_instances(t, p, **kwargs) for t, p in pairs]
    for a, b in zip(dense, sparse):
        for x, y in zip(a, b):
            assert values(x) == pytest.approx(values(y), abs=1e-9)


# ------------------------------------------------------------------ ctc_seg


def test_ctc_seg_hand_computed():
    y_true = np.zeros((10, 10), np.uint8)
    y_true[0:4, 0:4] = 1  # 16 px
    y_true[6:8, 6:8] = 2  # 4 px
    y_true[6:10, 0:2] = 3  # 8 px
    y_pred = np.zeros_like(y_true)
    y_pred[0:4, 0:3] = 5  # covers 12/16 > half: J = 12/16
    y_pred[6:8, 6:7] = 6  # covers exactly half of object 2: not matched
    y_pred[6:10, 0:3] = 7  # covers object 3 fully: J = 8/12
    assert ctc_seg(y_true, y_pred) == pytest.approx((12 / 16 + 0 + 8 / 12) / 3)
    assert ctc_seg(y_true, y_true) == 1.0
    assert ctc_seg(y_true, np.zeros_like(y_true)) == 0.0
    assert np.isnan(ctc_seg(np.zeros_like(y_true), y_pred))


def test_ctc_seg_3d():
    y_true = np.zeros((6, 6, 6), np.uint16)
    y_true[1:5, 1:5, 1:5] = 3  # 64 voxels
    y_pred = np.zeros_like(y_true)
    y_pred[1:5, 1:5, 1:4] = 1  # 48 voxels inside
    y_pred[0, 0, 0] = 2
    assert ctc_seg(y_true, y_pred) == pytest.approx(48 / 64)


# ------------------------------------------------------------------- errors


def test_errors():
    y, _ = two_squares()
    with pytest.raises(TypeError, match=r"y_true must be a numpy\.ndarray"):
        match_instances([[0, 1]], y)
    with pytest.raises(TypeError, match="y_pred must have an integer dtype"):
        match_instances(y, y.astype(float))
    with pytest.raises(ValueError, match="y_true must not contain negative labels"):
        match_instances(-y.astype(np.int8), y)
    with pytest.raises(ValueError, match="same shape"):
        match_instances(y, y[:5])
    with pytest.raises(ValueError, match="criterion must be one of"):
        match_instances(y, y, criterion="dice")
    for bad in (float("nan"), -1.0, 1.5, "0.5", [0.5, "x"], [0.5, 2.0]):
        with pytest.raises(ParameterError, match=r"thresh must be a number in \[0, 1\], got"):
            match_instances(y, y, thresh=bad)
    with pytest.raises(ParameterError, match="1-D sequence"):
        match_instances(y, y, thresh=[[0.5]])
    with pytest.raises(ParameterError, match="1-D sequence"):
        match_instances(y, y, thresh=[])
    with pytest.raises(ValueError, match="same length"):
        match_instances_dataset([y, y], [y])
    with pytest.raises(ValueError, match="at least one image pair"):
        match_instances_dataset([], [])
    with pytest.raises(ValueError, match="same shape"):
        ctc_seg(y, y[:5])
