import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    jaccard_score,
    precision_recall_fscore_support,
)

from biakit.metrics import ConfusionMetrics, confusion_metrics, confusion_metrics_dataset

ATOL = 1e-12


def _same(a, b):
    if np.isnan(b):
        return np.isnan(a)
    return abs(a - b) <= ATOL


def _check_against_sklearn(t, p, average, labels=None, zero_division=0.0, pos_label=1):
    m = confusion_metrics(
        t, p, average=average, labels=labels, zero_division=zero_division, pos_label=pos_label
    )
    kw = {"average": average, "zero_division": zero_division}
    if labels is not None:
        kw["labels"] = labels
    if average == "binary":
        kw["pos_label"] = pos_label
    prec, rec, f1, _ = precision_recall_fscore_support(t.ravel(), p.ravel(), **kw)
    if np.isnan(zero_division):  # jaccard_score rejects NaN: check defined classes only
        kw["zero_division"] = 0.0
        kw["average"] = None if average != "binary" else "binary"
        per = np.atleast_1d(jaccard_score(t.ravel(), p.ravel(), **kw))
        ref_iou = np.atleast_1d(m.per_class["iou"])
        defined = ~np.isnan(ref_iou)
        np.testing.assert_allclose(ref_iou[defined], per[defined], rtol=0, atol=ATOL)
        return m
    jac = jaccard_score(t.ravel(), p.ravel(), **kw)
    assert _same(m.precision, prec), (m.precision, prec)
    assert _same(m.recall, rec), (m.recall, rec)
    assert _same(m.f1, f1), (m.f1, f1)
    assert _same(m.dice, f1)
    assert _same(m.iou, jac), (m.iou, jac)
    assert _same(m.accuracy, accuracy_score(t.ravel(), p.ravel()))
    if average == "binary":
        ref = confusion_matrix(t.ravel() == pos_label, p.ravel() == pos_label, labels=[0, 1])
    else:
        ref = confusion_matrix(t.ravel(), p.ravel(), labels=m.labels)
    np.testing.assert_array_equal(m.confusion_matrix, ref)
    return m


@pytest.mark.parametrize("zero_division", [0.0, 1.0, np.nan])
def test_random_binary_against_sklearn(zero_division):
    rng = np.random.default_rng(0)
    for _ in range(20):
        shape = tuple(rng.integers(1, 6, size=rng.integers(1, 4)))
        t = rng.random(shape) < rng.random()
        p = rng.random(shape) < rng.random()
        _check_against_sklearn(t, p, "binary", zero_division=zero_division)
        _check_against_sklearn(t.astype(np.int16), p.astype(np.int16), "binary")


@pytest.mark.parametrize("average", ["micro", "macro", "weighted"])
@pytest.mark.parametrize("zero_division", [0.0, 1.0, np.nan])
def test_random_multiclass_against_sklearn(average, zero_division):
    rng = np.random.default_rng(1)
    for i in range(12):
        k = int(rng.integers(2, 6))
        shape = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
        t = rng.integers(0, k, size=shape)
        p = rng.integers(0, k, size=shape)
        if i % 3 == 0:  # sparse predictions: classes never predicted
            p = np.where(rng.random(shape) < 0.7, 0, p)
        _check_against_sklearn(t, p, average, zero_division=zero_division)
        # labels include classes absent from both images -> zero division everywhere
        labels = list(range(k + 2))
        _check_against_sklearn(t, p, average, labels=labels, zero_division=zero_division)
        # a subset of labels (others still count as errors)
        _check_against_sklearn(t, p, average, labels=[k - 1, 0], zero_division=zero_division)


def test_hand_computed_2x2():
    t = np.array([[1, 1, 1, 0], [0, 0, 0, 0]])
    p = np.array([[1, 1, 0, 1], [0, 0, 0, 0]])
    m = confusion_metrics(t, p)
    assert (m.tp, m.fp, m.fn, m.tn, m.n) == (2, 1, 1, 4, 8)
    assert m.confusion_matrix.tolist() == [[4, 1], [1, 2]]
    assert m.precision == 2 / 3 and m.recall == 2 / 3 and m.sensitivity == 2 / 3
    assert m.fpr == 1 / 5 and m.tnr == 4 / 5 and m.specificity == 4 / 5 and m.fnr == 1 / 3
    assert m.iou == 2 / 4 and m.jaccard == 0.5 and m.f1 == 4 / 6
    assert m.accuracy == 6 / 8 and m.error_rate == 2 / 8


def test_hand_computed_multiclass_micro_equals_accuracy():
    t = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    m = confusion_metrics(t, p, average="micro")
    assert m.confusion_matrix.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m.tp.tolist() == [1, 2, 1] and m.fp.tolist() == [1, 1, 0]
    assert m.precision == m.recall == m.f1 == m.accuracy == 4 / 6
    mac = confusion_metrics(t, p, average="macro")
    assert mac.recall == pytest.approx((1 / 2 + 1 + 1 / 2) / 3, abs=1e-15)
    assert mac.per_class["iou"].tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 2])


def test_empty_class_zero_division_policy():
    t = np.zeros((3, 3), dtype=bool)
    p = np.zeros((3, 3), dtype=bool)
    for zd in (0.0, 1.0):
        m = confusion_metrics(t, p, zero_division=zd)
        assert m.precision == m.recall == m.f1 == m.iou == zd
        assert m.tnr == 1.0 and m.accuracy == 1.0
    assert np.isnan(confusion_metrics(t, p, zero_division=np.nan).iou)


def test_ignore_label_excluded():
    rng = np.random.default_rng(2)
    t = rng.integers(0, 3, size=(20, 20))
    p = rng.integers(0, 3, size=(20, 20))
    t_void = t.copy()
    t_void[:5] = 255
    m = confusion_metrics(t_void, p, average="macro", ignore_label=255)
    ref = confusion_metrics(t[5:], p[5:], average="macro")
    np.testing.assert_array_equal(m.confusion_matrix, ref.confusion_matrix)
    assert m.n == 300 and m.f1 == ref.f1 and 255 not in m.labels


def test_label_values_any_range():
    rng = np.random.default_rng(3)
    for offset in (-7, 0, 40_000, -(2**40)):
        t = rng.integers(0, 4, size=200) * (1 + abs(offset) // 4) + offset
        p = rng.integers(0, 4, size=200) * (1 + abs(offset) // 4) + offset
        _check_against_sklearn(t, p, "macro")
    big = np.array([0, 5000, 5000, 9_000_000])
    _check_against_sklearn(big, big[::-1].copy(), "weighted")


def test_result_is_frozen_and_readonly():
    m = confusion_metrics(np.array([0, 1]), np.array([1, 1]), average="macro")
    assert isinstance(m, ConfusionMetrics)
    with pytest.raises(AttributeError):
        m.f1 = 1.0
    with pytest.raises(ValueError, match="read-only"):
        m.confusion_matrix[0, 0] = 3
    assert set(m.as_dict()) >= {"f1", "iou", "accuracy"}


def test_dataset_pooled_and_mean():
    rng = np.random.default_rng(4)
    pairs = [(rng.integers(0, 3, (5, 6)), rng.integers(0, 3, (5, 6))) for _ in range(4)]
    pairs.append((rng.integers(0, 2, (4, 4)), rng.integers(0, 2, (4, 4))))  # no class 2
    pooled = confusion_metrics_dataset(pairs, average="macro")
    t = np.concatenate([a.ravel() for a, _ in pairs])
    p = np.concatenate([b.ravel() for _, b in pairs])
    ref = confusion_metrics(t, p, average="macro")
    np.testing.assert_array_equal(pooled.confusion_matrix, ref.confusion_matrix)
    assert pooled.f1 == ref.f1 and pooled.iou == ref.iou
    mean = confusion_metrics_dataset(pairs, average="macro", aggregate="mean")
    per = [confusion_metrics(a, b, average="macro", labels=[0, 1, 2]) for a, b in pairs]
    assert mean.f1 == pytest.approx(np.mean([m.f1 for m in per]), abs=ATOL)
    assert mean.accuracy == pytest.approx(np.mean([m.accuracy for m in per]), abs=ATOL)
    np.testing.assert_array_equal(mean.tp, pooled.tp)


def test_dataset_mean_skips_nan_images():
    pairs = [(np.array([1, 0]), np.array([1, 0])), (np.array([0, 0]), np.array([0, 0]))]
    m = confusion_metrics_dataset(pairs, aggregate="mean", zero_division=np.nan)
    assert m.recall == 1.0


def test_error_shape_mismatch_names_both():
    with pytest.raises(ValueError, match=r"y_true \(2, 3\) and y_pred \(3, 2\)"):
        confusion_metrics(np.zeros((2, 3), int), np.zeros((3, 2), int))


def test_error_unknown_average_lists_valid():
    with pytest.raises(ValueError, match=r"average must be one of.*'micro', 'macro', 'weighted'"):
        confusion_metrics(np.zeros(3, int), np.zeros(3, int), average="samples")


def test_error_float_labels():
    with pytest.raises(TypeError, match=r"y_pred must be a boolean or integer.*float64"):
        confusion_metrics(np.zeros(3, int), np.zeros(3))


def test_error_binary_with_many_labels():
    with pytest.raises(ValueError, match="at most 2 distinct labels but found 3"):
        confusion_metrics(np.array([0, 1, 2]), np.array([0, 1, 1]))


def test_error_pos_label_absent():
    with pytest.raises(ValueError, match="pos_label=5 is not a valid label"):
        confusion_metrics(np.array([0, 1]), np.array([0, 1]), pos_label=5)


def test_error_labels_with_binary_and_bad_labels():
    t = np.array([0, 1])
    with pytest.raises(ValueError, match="labels cannot be combined with average='binary'"):
        confusion_metrics(t, t, labels=[0, 1])
    with pytest.raises(ValueError, match="labels must be a non-empty 1-D sequence"):
        confusion_metrics(t, t, labels=[0.5], average="macro")
    with pytest.raises(ValueError, match="labels must not repeat"):
        confusion_metrics(t, t, labels=[1, 1], average="macro")


def test_error_zero_division_and_empty():
    t = np.array([0, 1])
    with pytest.raises(ValueError, match=r"zero_division must be 0\.0, 1\.0 or np\.nan, got 0\.5"):
        confusion_metrics(t, t, zero_division=0.5)
    with pytest.raises(ValueError, match="no labels to evaluate"):
        confusion_metrics(np.zeros(3, int), np.zeros(3, int), average="macro", ignore_label=0)


def test_error_dataset_arguments():
    with pytest.raises(ValueError, match="aggregate must be 'pooled' or 'mean', got 'median'"):
        confusion_metrics_dataset([], aggregate="median")
    with pytest.raises(ValueError, match="pairs is empty"):
        confusion_metrics_dataset([])
