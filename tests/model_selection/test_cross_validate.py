from dataclasses import dataclass

import numpy as np
import pytest
from scipy import ndimage as ndi
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from biakit.model_selection import (
    CrossValidationResult,
    FoldResult,
    Learner,
    SklearnLearner,
    cross_validate,
    iter_cross_validate,
    kfold_indices,
)


class ThresholdLearner:
    """Learns the mean intensity of the training images and thresholds above it."""

    n_fits = 0

    def fit(self, images, targets, scale=1.0):
        ThresholdLearner.n_fits += 1
        self.threshold = scale * float(np.mean([im.mean() for im in images]))
        return self

    def predict(self, image):
        return (image > self.threshold).astype(np.uint8)


def _ramps(offsets):
    """1 x 10 ramps 0..9 plus an offset; the target is v >= 5 whatever the offset."""
    ramp = np.arange(10, dtype=float)[None, :]
    images = [ramp + o for o in offsets]
    targets = [(ramp >= 5).astype(np.uint8) for _ in offsets]
    return images, targets


def test_loo_threshold_learner_hand_checked():
    images, targets = _ramps([0, 0, 3])
    res = cross_validate(ThresholdLearner, images, targets, k="loo", seed=0)
    # Test image 2 (offset 3): threshold 4.5 -> v > 1.5 -> 8 predicted, 5 true positives.
    # Test images 0, 1: threshold (4.5 + 7.5) / 2 = 6 -> v > 6 -> 3 predicted, all true.
    expected = {
        0: {"iou": 3 / 5, "dice": 6 / 8, "accuracy": 8 / 10},
        1: {"iou": 3 / 5, "dice": 6 / 8, "accuracy": 8 / 10},
        2: {"iou": 5 / 8, "dice": 10 / 13, "accuracy": 7 / 10},
    }
    assert len(res.folds) == 3 and res.metric_names == ("iou", "dice", "accuracy")
    for row in res.image_scores:
        for m, v in expected[row["index"]].items():
            assert row[m] == pytest.approx(v)
    for m in res.metric_names:
        values = [expected[i][m] for i in range(3)]
        assert res.mean[m] == pytest.approx(np.mean(values))
        assert res.std[m] == pytest.approx(np.std(values, ddof=1))


def test_kfold_scores_are_means_over_test_images():
    images, targets = _ramps([0, 1, -1, 2, 0, 3])
    res = cross_validate(ThresholdLearner, images, targets, k=3, seed=4, metric="accuracy")
    folds = kfold_indices(6, 3, seed=4)
    for fold, (train, test) in zip(res.folds, folds):
        assert np.array_equal(fold.train, train) and np.array_equal(fold.test, test)
        t = np.mean([images[i].mean() for i in train])
        accs = [np.mean((images[i] > t) == (targets[i] == 1)) for i in test]
        assert fold.scores["accuracy"] == pytest.approx(np.mean(accs))
    per_fold = [f.scores["accuracy"] for f in res.folds]
    assert res.mean["accuracy"] == pytest.approx(np.mean(per_fold))
    assert res.std["accuracy"] == pytest.approx(np.std(per_fold, ddof=1))


def test_results_table_and_dataframe():
    images, targets = _ramps([0, 1, -1, 2, 0])
    res = cross_validate(ThresholdLearner, images, targets, k=2, seed=1)
    assert isinstance(res, CrossValidationResult)
    df = res.to_dataframe()
    assert list(df.columns) == ["fold", "n_train", "n_test", "iou", "dice", "accuracy"]
    assert df["n_test"].tolist() == [3, 2] and df["n_train"].tolist() == [2, 3]
    assert res.fold_scores[0]["fold"] == 0
    for m in res.metric_names:
        assert res.mean[m] == pytest.approx(df[m].mean())
        assert res.std[m] == pytest.approx(df[m].std(ddof=1))
    per_image = res.to_dataframe(per_image=True)
    assert sorted(per_image["index"]) == list(range(5))


def test_deterministic_with_seed():
    images, targets = _ramps([0, 1, -1, 2, 0, 3, 1])
    a = cross_validate(ThresholdLearner, images, targets, k=3, seed=5)
    b = cross_validate(ThresholdLearner, images, targets, k=3, seed=5)
    c = cross_validate(ThresholdLearner, images, targets, k=3, seed=6)
    assert a.fold_scores == b.fold_scores
    assert [f.test.tolist() for f in a.folds] != [f.test.tolist() for f in c.folds]


def test_generator_yields_each_fold_lazily_and_progress_called():
    images, targets = _ramps([0, 1, 2, 3])
    ThresholdLearner.n_fits = 0
    gen = iter_cross_validate(ThresholdLearner, images, targets, k=4)
    first = next(gen)
    assert isinstance(first, FoldResult) and (first.fold, first.k) == (0, 4)
    assert ThresholdLearner.n_fits == 1  # later folds not trained yet
    assert [f.fold for f in gen] == [1, 2, 3]
    seen = []
    cross_validate(ThresholdLearner, images, targets, k=2, progress=lambda r: seen.append(r.fold))
    assert seen == [0, 1]


def test_fit_kwargs_are_passed():
    images, targets = _ramps([0, 0, 0, 0])
    base = cross_validate(ThresholdLearner, images, targets, k=2, metric="iou")
    assert base.mean["iou"] == 1.0
    # threshold 4.5 * 1.5 = 6.75 -> predicts 7, 8, 9 of the 5 foreground pixels
    low = cross_validate(
        ThresholdLearner, images, targets, k=2, metric="iou", fit_kwargs={"scale": 1.5}
    )
    assert low.mean["iou"] == pytest.approx(3 / 5) and low.std["iou"] == 0.0


@dataclass(frozen=True)
class _Scores:
    hits: float
    name: str = "x"


def test_metric_forms():
    images, targets = _ramps([0, 0, 3, 3])
    names = cross_validate(ThresholdLearner, images, targets, k=2, metric=["dice", "recall"])
    assert names.metric_names == ("dice", "recall")
    default = cross_validate(ThresholdLearner, images, targets, k=2)
    assert names.mean["dice"] == default.mean["dice"]
    assert 0 < names.mean["recall"] <= 1

    def agree(y_true, y_pred):
        return float(np.mean(y_true == y_pred))

    res = cross_validate(ThresholdLearner, images, targets, k=2, metric=agree)
    assert res.metric_names == ("agree",)
    ref = cross_validate(ThresholdLearner, images, targets, k=2, metric="accuracy")
    assert res.mean["agree"] == pytest.approx(ref.mean["accuracy"])

    res = cross_validate(
        ThresholdLearner, images, targets, k=2, metric=lambda t, p: _Scores(float(p.sum()))
    )
    assert res.metric_names == ("hits",)  # non-numeric dataclass fields are dropped
    res = cross_validate(
        ThresholdLearner, images, targets, k=2, metric=lambda t, p: {"n": int(p.sum())}
    )
    assert isinstance(res.mean["n"], float)


def _noisy_discs(n, seed=0):
    rng = np.random.default_rng(seed)
    images, targets = [], []
    yy, xx = np.mgrid[:24, :24]
    for _ in range(n):
        cy, cx = rng.integers(8, 16, size=2)
        lab = ((yy - cy) ** 2 + (xx - cx) ** 2 < 25).astype(np.int64)
        images.append(lab * 1.0 + rng.normal(0, 0.2, lab.shape))
        targets.append(lab)
    return images, targets


def test_sklearn_adapter_equals_direct_sklearn():
    images, targets = _noisy_discs(3)
    learner = SklearnLearner(LogisticRegression())
    assert isinstance(learner, Learner)
    learner.fit(images[:2], targets[:2])
    ref = LogisticRegression().fit(
        np.concatenate([im.reshape(-1, 1) for im in images[:2]]),
        np.concatenate([t.ravel() for t in targets[:2]]),
    )
    pred = learner.predict(images[2])
    assert pred.shape == (24, 24)
    assert np.array_equal(pred, ref.predict(images[2].reshape(-1, 1)).reshape(24, 24))
    assert learner.estimator is not learner.estimator_  # fitted a clone


def test_cross_validate_with_sklearn_estimator():
    images, targets = _noisy_discs(6, seed=1)
    res = cross_validate(
        lambda: SklearnLearner(DecisionTreeClassifier(max_depth=2, random_state=0)),
        images,
        targets,
        k=3,
        seed=0,
    )
    assert len(res.folds) == 3
    assert res.mean["accuracy"] > 0.95 and res.mean["iou"] > 0.8
    again = cross_validate(
        lambda: SklearnLearner(DecisionTreeClassifier(max_depth=2, random_state=0)),
        images,
        targets,
        k=3,
        seed=0,
    )
    assert again.mean == res.mean


def test_sklearn_adapter_features_channels_and_ignore_label():
    images, targets = _noisy_discs(2, seed=2)

    def feats(im):
        return np.stack([im, ndi.gaussian_filter(im, 1.0)], axis=-1)

    learner = SklearnLearner(LogisticRegression(), features=feats).fit(images, targets)
    assert learner.estimator_.n_features_in_ == 2
    assert learner.predict(images[0]).shape == (24, 24)

    chans = [np.stack([im, -im]) for im in images]  # channels first
    learner = SklearnLearner(LogisticRegression(), channel_axis=0).fit(chans, targets)
    assert learner.estimator_.n_features_in_ == 2 and learner.predict(chans[1]).shape == (24, 24)

    sparse = []
    for t in targets:  # 0 = unannotated, 1 = background scribble, 2 = foreground
        s = np.zeros_like(t)
        s[0, :] = 1
        s[t.astype(bool) & (np.arange(24)[:, None] % 3 == 0)] = 2
        sparse.append(s)
    learner = SklearnLearner(LogisticRegression(), ignore_label=0).fit(images, sparse)
    assert learner.estimator_.classes_.tolist() == [1, 2]
    assert set(np.unique(learner.predict(images[0])).tolist()) <= {1, 2}


class _NoPredict:
    def fit(self, images, targets):
        return self


def test_cross_validate_errors():
    images, targets = _ramps([0, 1, 2])
    with pytest.raises(ValueError, match=r"k=5 folds need at least 5 items, got n=3"):
        cross_validate(ThresholdLearner, images, targets, k=5)
    with pytest.raises(ValueError, match=r"images has 3 items but targets has 2"):
        cross_validate(ThresholdLearner, images, targets[:2], k=2)
    with pytest.raises(TypeError, match=r"pass a factory such as `lambda: learner`"):
        cross_validate(ThresholdLearner(), images, targets, k=2)
    with pytest.raises(TypeError, match=r"returned a _NoPredict without predict"):
        cross_validate(_NoPredict, images, targets, k=2)
    with pytest.raises(TypeError, match=r"returned a object without fit and predict"):
        cross_validate(object, images, targets, k=2)
    with pytest.raises(TypeError, match=r"scikit-learn estimator LogisticRegression, which fits"):
        cross_validate(LogisticRegression, images, targets, k=2)
    with pytest.raises(TypeError, match=r"images and targets must be sequences"):
        cross_validate(ThresholdLearner, 5, targets, k=2)
    with pytest.raises(ValueError, match=r"metric has unknown name\(s\) \['jaccard'\]"):
        cross_validate(ThresholdLearner, images, targets, k=2, metric="jaccard")
    with pytest.raises(TypeError, match=r"metric must be a callable, a metric name"):
        cross_validate(ThresholdLearner, images, targets, k=2, metric=3)
    with pytest.raises(
        TypeError, match=r"metric '<lambda>' returned str; expected a dict of floats"
    ):
        cross_validate(ThresholdLearner, images, targets, k=2, metric=lambda t, p: "bad")

    calls = iter(range(10))

    def shifting(t, p):
        return {f"m{next(calls)}": 1.0}

    with pytest.raises(ValueError, match=r"metric returned keys \('m1',\) for image"):
        cross_validate(ThresholdLearner, images, targets, k=2, metric=shifting)


def test_sklearn_adapter_errors():
    with pytest.raises(TypeError, match=r"estimator must have fit\(X, y\) and predict\(X\)"):
        SklearnLearner(object())
    with pytest.raises(NotFittedError, match="not fitted yet"):
        SklearnLearner(LogisticRegression()).predict(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"target 0 has shape \(3, 3\) but image 0 has pixels"):
        SklearnLearner(LogisticRegression()).fit([np.zeros((2, 2))], [np.zeros((3, 3))])
    with pytest.raises(ValueError, match=r"need as many targets as images"):
        SklearnLearner(LogisticRegression()).fit([], [])
