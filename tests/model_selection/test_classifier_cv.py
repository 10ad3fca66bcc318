"""Stratified (group) k-fold folds against scikit-learn, and the classifier cross-validation."""

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.model_selection import StratifiedGroupKFold

from biakit.data import phenotype_crops
from biakit.model_selection import (
    ClassifierCVResult,
    FoldResult,
    cross_validate_classifier,
    stratified_kfold_indices,
)
from biakit.model_selection._classifier_cv import _mean_sd
from biakit.workflows import ClassificationConfig

TINY = {
    "input_shape": (16, 16),
    "model": {"base_filters": 2, "stages": (1,)},
    "val_fraction": 0.0,
    "train": {"epochs": 1, "batch_size": 8, "device": "cpu", "amp": "none", "plot_every": 0},
}


def _check_partition(folds, n):
    tests = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tests), np.arange(n))
    for train, test in folds:
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_sklearn_stratified_group_kfold(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 60)
    groups = rng.integers(0, 15, 60)
    ours = stratified_kfold_indices(y, 4, groups=groups, shuffle=False)
    theirs = StratifiedGroupKFold(n_splits=4, shuffle=False).split(np.zeros(60), y, groups)
    for (train, test), (s_train, s_test) in zip(ours, theirs):
        assert test.tolist() == sorted(s_test.tolist())
        assert train.tolist() == sorted(s_train.tolist())


def test_stratified_without_groups_is_balanced():
    y = np.array([0] * 13 + [1] * 7 + [2] * 5)
    folds = stratified_kfold_indices(y, 5, seed=3)
    _check_partition(folds, y.size)
    assert [t.tolist() for _, t in stratified_kfold_indices([0, 1, 0, 1, 0], 2, shuffle=False)] == [
        [0, 3, 4],
        [1, 2],
    ]  # dealt: class 0 items 0, 2, 4 then class 1 items 1, 3
    per_fold = np.array([np.bincount(y[test], minlength=3) for _, test in folds])
    assert np.ptp(per_fold, axis=0).max() <= 1  # each class spread as evenly as possible
    assert np.ptp(per_fold.sum(axis=1)) <= 1
    again = stratified_kfold_indices(y, 5, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    other = stratified_kfold_indices(y, 5, seed=4)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other))


def test_groups_never_split():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 5)
    y = rng.integers(0, 2, groups.size)
    folds = stratified_kfold_indices(y, 3, groups=groups, seed=1)
    _check_partition(folds, y.size)
    owners = [set(groups[test].tolist()) for _, test in folds]
    assert sum(len(o) for o in owners) == 12 and len(set.union(*owners)) == 12


def test_fold_errors():
    with pytest.raises(ValueError, match="k must be an int >= 2"):
        stratified_kfold_indices([0, 1, 0, 1], 1)
    with pytest.raises(ValueError, match="k must be an int >= 2"):
        stratified_kfold_indices([0, 1, 0, 1], True)
    with pytest.raises(ValueError, match="k=3 folds need at least 3 groups, got 2"):
        stratified_kfold_indices([0, 1, 0, 1], 3, groups=[0, 0, 1, 1])
    with pytest.raises(ValueError, match="groups must have one id per item"):
        stratified_kfold_indices([0, 1, 0, 1], 2, groups=[0, 1])
    with pytest.raises(ValueError, match="labels must be a non-empty 1D"):
        stratified_kfold_indices(np.zeros((2, 2)), 2)


@pytest.fixture(scope="module")
def crops():
    return phenotype_crops(6, (16, 16), seed=0)


@pytest.mark.usefixtures("one_torch_thread")
def test_cross_validate_classifier(crops):
    groups = np.arange(len(crops.labels)) // 2  # pairs of crops from one "image"
    seen = []
    res = cross_validate_classifier(ClassificationConfig(**TINY), crops.images, crops.labels,
                                    k=3, seed=0, groups=groups, progress=seen.append,
                                    class_names=crops.class_names)  # fmt: skip
    assert isinstance(res, ClassifierCVResult) and len(res.folds) == 3 and len(seen) == 3
    _check_partition([(f.train, f.test) for f in res.folds], len(crops.labels))
    for f in res.folds:
        assert not set(groups[f.test]) & set(groups[f.train])
        y_true, y_pred = crops.labels[f.test], f.probabilities.argmax(axis=1)
        f1 = skm.f1_score(y_true, y_pred, average="macro", labels=np.unique([*y_true, *y_pred]))
        assert f.scores["f1"] == pytest.approx(f1)
        assert f.scores["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
        assert [r["index"] for r in f.per_image] == f.test.tolist()
        np.testing.assert_allclose(res.probabilities[f.test], f.probabilities)
    fold_f1 = [f.scores["f1"] for f in res.folds]
    assert res.mean["f1"] == pytest.approx(np.mean(fold_f1))
    assert res.std["f1"] == pytest.approx(np.std(fold_f1, ddof=1))
    assert "n_images" not in res.mean and res.class_names == crops.class_names
    assert res.describe("f1").endswith("over 3 folds") and "+-" in res.describe()
    pooled = res.pooled()
    oof = res.probabilities.argmax(axis=1)
    assert pooled.macro_f1 == pytest.approx(skm.f1_score(crops.labels, oof, average="macro"))
    table = res.to_dataframe()
    assert table["n_test"].sum() == len(crops.labels)
    # class names as labels, a dict config: the same folds and ids
    names = [crops.class_names[i] for i in crops.labels]
    by_name = cross_validate_classifier(dict(TINY), crops.images, names, k=3, seed=0,
                                        groups=groups, class_names=crops.class_names)  # fmt: skip
    assert [f.test.tolist() for f in by_name.folds] == [f.test.tolist() for f in res.folds]


def test_mean_sd_leaves_out_undefined_scores():
    folds = [FoldResult(i, 3, np.zeros(0), np.zeros(0), {"f1": f, "roc_auc": a})
             for i, (f, a) in enumerate([(0.5, np.nan), (0.7, 0.8), (0.9, 1.0)])]  # fmt: skip
    mean, std = _mean_sd(folds)
    assert mean["f1"] == pytest.approx(0.7) and std["f1"] == pytest.approx(0.2)
    assert mean["roc_auc"] == pytest.approx(0.9) and std["roc_auc"] == pytest.approx(np.sqrt(0.02))
    single = [FoldResult(0, 2, np.zeros(0), np.zeros(0), {"roc_auc": np.nan})] * 2
    mean, std = _mean_sd(single)
    assert np.isnan(mean["roc_auc"]) and np.isnan(std["roc_auc"])


def test_cv_errors(crops):
    cfg = ClassificationConfig(**TINY)
    with pytest.raises(TypeError, match="config must be a ClassificationConfig"):
        cross_validate_classifier("cfg.yaml", crops.images, crops.labels)
    with pytest.raises(TypeError, match="images must be a list"):
        cross_validate_classifier(cfg, np.stack(crops.images), crops.labels)
    with pytest.raises(ValueError, match="images has 17 items but labels has 18"):
        cross_validate_classifier(cfg, crops.images[:17], crops.labels)
    with pytest.raises(ValueError, match="k=40 folds need at least 40 items"):
        cross_validate_classifier(cfg, crops.images, crops.labels, k=40)
    with pytest.raises(ValueError, match="metric must be one of"):
        ClassifierCVResult((), {"f1": 1.0}, {"f1": 0.0}).describe("auc")
