"""Classification metrics against scikit-learn and hand-computed cases."""

import numpy as np
import pytest
from sklearn import metrics as skm

from biakit.metrics.classification import (
    ClassificationMetrics,
    classification_metrics,
    confusion_matrix,
    roc_auc_ovr,
)


def _random_case(seed, n=60, k=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    logits[::7] = np.round(logits[::7])  # some ties
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_sklearn(seed):
    y, p = _random_case(seed)
    pred = p.argmax(1)
    m = classification_metrics(y, probabilities=p)
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, pred, zero_division=0)
    np.testing.assert_allclose(m.precision, prec)
    np.testing.assert_allclose(m.recall, rec)
    np.testing.assert_allclose(m.f1, f1)
    assert m.support == tuple(sup)
    assert np.array_equal(np.asarray(m.confusion), skm.confusion_matrix(y, pred))
    assert m.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert m.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(y, pred))
    for avg in ("macro", "weighted"):
        ref = skm.precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
        got = [getattr(m, f"{avg}_{k}") for k in ("precision", "recall", "f1")]
        np.testing.assert_allclose(got, ref[:3])
    assert m.macro_roc_auc == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"))
    for k in range(4):
        assert m.roc_auc[k] == pytest.approx(skm.roc_auc_score(y == k, p[:, k]))


def test_binary_auc_matches_sklearn():
    y, p = _random_case(3, k=2)
    assert classification_metrics(y, probabilities=p).macro_roc_auc == pytest.approx(
        skm.roc_auc_score(y, p[:, 1])
    )


def test_hand_computed_case():
    # truth 0 0 1 1 2, predicted 0 1 1 1 1: class 2 never predicted
    m = classification_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 1], class_names=["a", "b", "c"])
    assert m.confusion == ((1, 1, 0), (0, 2, 0), (0, 1, 0))
    assert m.precision == (1.0, 0.5, 0.0)  # zero division -> 0
    assert m.recall == (0.5, 1.0, 0.0)
    assert m.f1[:2] == pytest.approx((2 / 3, 2 / 3))
    assert m.balanced_accuracy == pytest.approx(0.5)
    assert m.accuracy == pytest.approx(0.6)
    assert np.isnan(m.macro_roc_auc) and m.roc_auc is None
    report = m.report()
    assert list(report["class"]) == ["a", "b", "c", "macro avg", "weighted avg"]
    assert report["support"].tolist() == [2, 2, 1, 5, 5]
    assert m.confusion_table().loc["c", "b"] == 1


def test_absent_class_is_left_out_of_macro_and_auc():
    """A class in neither truth nor prediction does not count (scikit-learn's label set)."""
    p = np.array([[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.6, 0.3, 0.1]])
    m = classification_metrics([0, 1, 1], probabilities=p)
    assert m.support == (1, 2, 0)
    assert m.macro_f1 == pytest.approx(skm.f1_score([0, 1, 1], [0, 1, 0], average="macro"))
    assert np.isnan(m.roc_auc[2]) and m.macro_roc_auc == pytest.approx(1.0)


def test_auc_ties_count_half():
    assert roc_auc_ovr([0, 1], [[0.5, 0.5], [0.5, 0.5]]).tolist() == [0.5, 0.5]


def test_frozen_and_summary():
    m = classification_metrics([0, 1], [0, 1])
    assert isinstance(m, ClassificationMetrics) and m.n_classes == 2
    with pytest.raises(AttributeError):
        m.accuracy = 0.0
    assert m.summary()["f1"] == 1.0 and m.as_dict()["support"] == (1, 1)


def test_errors():
    with pytest.raises(ValueError, match="y_true is empty"):
        classification_metrics([], [])
    with pytest.raises(ValueError, match="give y_pred or probabilities"):
        classification_metrics([0, 1])
    with pytest.raises(ValueError, match="probabilities must have shape"):
        classification_metrics([0, 1], probabilities=[0.1, 0.9])
    with pytest.raises(ValueError, match="class_names has 3 names for 2 classes"):
        classification_metrics([0, 1], [0, 1], n_classes=2, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="y_pred has 1"):
        confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match="non-negative integer class ids"):
        confusion_matrix([0, -1], [0, 1])
    with pytest.raises(ValueError, match="non-negative integer class ids"):
        confusion_matrix([0.5, 1], [0, 1])
    assert confusion_matrix([0.0, 1.0], [0, 1]).tolist() == [[1, 0], [0, 1]]
    with pytest.raises(ValueError, match="n_classes=2 but the labels hold class 2"):
        confusion_matrix([0, 2], [0, 1], n_classes=2)
    with pytest.raises(ValueError, match="1D sequence"):
        confusion_matrix([[0, 1]], [[0, 1]])
    with pytest.raises(ValueError, match="probabilities must have shape"):
        roc_auc_ovr([0, 1], [[0.1, 0.9]])
