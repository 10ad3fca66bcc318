import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, jaccard_score, precision_score, recall_score

from biakit.model_selection import default_metric, foreground_metrics


def test_foreground_metrics_hand_checked():
    t = np.array([[0, 1, 1, 1], [0, 0, 2, 2]])
    p = np.array([[1, 1, 1, 0], [0, 0, 2, 1]])
    # foreground: tp = 4 (1,1 / 1,2 / 2,2 / 2,3), fp = 1 (0,0), fn = 1 (0,3)
    s = foreground_metrics(t, p)
    assert s["iou"] == pytest.approx(4 / 6)
    assert s["dice"] == s["f1"] == pytest.approx(8 / 10)
    assert s["precision"] == pytest.approx(4 / 5) and s["recall"] == pytest.approx(4 / 5)
    assert s["accuracy"] == pytest.approx(5 / 8)  # labels equal (2 vs 1 at (1, 3) differs)
    assert default_metric(t, p) == {"iou": s["iou"], "dice": s["dice"], "accuracy": s["accuracy"]}


def test_foreground_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    t = (rng.random((20, 20)) > 0.6).astype(int)
    p = (rng.random((20, 20)) > 0.5).astype(int)
    s = foreground_metrics(t, p)
    y, q = t.ravel(), p.ravel()
    assert s["iou"] == pytest.approx(jaccard_score(y, q))
    assert s["dice"] == pytest.approx(f1_score(y, q))
    assert s["precision"] == pytest.approx(precision_score(y, q))
    assert s["recall"] == pytest.approx(recall_score(y, q))
    assert s["accuracy"] == pytest.approx(accuracy_score(y, q))


def test_empty_image_policy():
    z = np.zeros((3, 3), int)
    assert foreground_metrics(z, z) == {
        "iou": 1.0,
        "dice": 1.0,
        "f1": 1.0,
        "precision": 1.0,
        "recall": 1.0,
        "accuracy": 1.0,
    }
    s = foreground_metrics(z, np.eye(3, dtype=int))
    assert s["iou"] == 0.0 and s["precision"] == 0.0 and s["recall"] == 1.0


def test_foreground_metrics_shape_error():
    with pytest.raises(
        ValueError, match=r"y_pred has shape \(2, 2\) but y_true has shape \(3, 3\)"
    ):
        foreground_metrics(np.zeros((3, 3)), np.zeros((2, 2)))
