import io
import threading

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
)

from biakit.pixel._forest import FastForest
from biakit.pixel._forest_arrays import round_down_float32

MODELS = {"rf": RandomForestClassifier, "et": ExtraTreesClassifier}


def make_data(n=600, n_features=6, labels=(0, 1), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)).astype(np.float32)
    score = X[:, 0] + 0.5 * X[:, 1] * X[:, 2] + 0.3 * rng.normal(size=n)
    bins = np.quantile(score, np.linspace(0, 1, len(labels) + 1)[1:-1])
    y = np.asarray(labels)[np.digitize(score, bins)]
    return X, y


def fit(kind="rf", labels=(0, 1), seed=0, **params):
    X, y = make_data(labels=labels, seed=seed)
    params = {"n_estimators": 8, "random_state": seed} | params
    return MODELS[kind](**params).fit(X, y), X


def assert_same(ff, model, X):
    proba = ff.predict_proba(X)
    assert proba.dtype == np.float32
    assert proba.shape == (len(X), len(model.classes_))
    assert np.abs(proba - model.predict_proba(X)).max() < 1e-5
    np.testing.assert_array_equal(ff.predict(X), model.predict(X))


@pytest.mark.parametrize("kind", ["rf", "et"])
@pytest.mark.parametrize("labels", [(0, 1), (0, 1, 2, 3), (2, 5, 9)])
@pytest.mark.parametrize("max_depth", [None, 3])
@pytest.mark.parametrize("bootstrap", [True, False])
def test_equals_sklearn(kind, labels, max_depth, bootstrap):
    model, _ = fit(kind, labels, max_depth=max_depth, bootstrap=bootstrap)
    ff = FastForest.from_sklearn(model)
    assert (ff.n_trees, ff.n_features, ff.n_classes) == (8, 6, len(labels))
    np.testing.assert_array_equal(ff.classes_, labels)
    np.testing.assert_allclose(ff.feature_importances_, model.feature_importances_)
    X_new, _ = make_data(n=700, seed=1)  # > one block: parallel path
    assert_same(ff, model, X_new)
    assert_same(ff, model, X_new[:50])  # single block: serial path


def test_float64_input_rounds_like_sklearn():
    model, _ = fit("rf", (0, 1, 2), n_estimators=5)
    rng = np.random.default_rng(3)
    X64 = rng.normal(size=(500, 6))  # not representable in float32
    assert_same(FastForest.from_sklearn(model), model, X64)


def test_best_first_trees_are_reordered():
    model, X = fit("rf", (0, 1, 2), max_leaf_nodes=12)
    left = model.estimators_[0].tree_.children_left
    internal = np.flatnonzero(left != -1)
    assert not np.array_equal(left[internal], internal + 1)  # not pre-order in sklearn
    assert_same(FastForest.from_sklearn(model), model, X)


def adversarial_data(n=400, seed=0):
    """Features are runs of consecutive float32 numbers: split midpoints fall between them."""
    rng = np.random.default_rng(seed)
    base = np.float32(1.0) + np.float32(2**-23) * np.arange(n, dtype=np.float32)  # 1 ulp apart
    X = np.stack([rng.permutation(base) for _ in range(3)], axis=1).astype(np.float32)
    y = ((X[:, 0] > np.median(X[:, 0])) ^ (X[:, 1] > np.median(X[:, 1]))).astype(int)
    return X, y


@pytest.mark.parametrize("kind", ["rf", "et"])
def test_values_exactly_at_thresholds(kind):
    X, y = adversarial_data()
    model = MODELS[kind](n_estimators=10, random_state=0).fit(X, y)
    t64 = np.concatenate([e.tree_.threshold[e.tree_.feature >= 0] for e in model.estimators_])
    assert (t64.astype(np.float32) > t64).any()  # a naive cast would flip some comparisons
    ff = FastForest.from_sklearn(model)
    near = np.concatenate([t64.astype(np.float32), np.nextafter(t64.astype(np.float32), 0)])
    rng = np.random.default_rng(1)
    X_test = np.concatenate([X, rng.choice(near, size=(2000, 3)).astype(np.float32)])
    assert_same(ff, model, X_test)
    assert np.abs(ff.predict_proba(X) - model.predict_proba(X)).max() == pytest.approx(0, abs=1e-6)


def test_round_down_float32_keeps_comparisons():
    rng = np.random.default_rng(0)
    t64 = np.concatenate([rng.normal(size=2000), [0.1, -0.1, 1e39, -1e39, np.inf, -np.inf, 0.0]])
    t32 = round_down_float32(t64)
    assert t32.dtype == np.float32
    with np.errstate(over="ignore"):
        nearest = t64.astype(np.float32)
    for x in (nearest, np.nextafter(nearest, np.float32(np.inf)), np.nextafter(nearest, -np.inf)):
        np.testing.assert_array_equal(x <= t64, x <= t32)
    assert t32[-5] == np.finfo(np.float32).max and t32[-4] == -np.inf


def test_missing_values_follow_sklearn():
    X, y = make_data(labels=(0, 1, 2))
    X_nan = X.copy()
    X_nan[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    for train in (X, X_nan):  # trained without / with missing values
        model = RandomForestClassifier(n_estimators=6, random_state=0).fit(train, y)
        assert_same(FastForest.from_sklearn(model), model, X_nan)


def test_round_trip_through_npz():
    model, X = fit("et", (2, 5, 9))
    ff = FastForest.from_sklearn(model)
    buffer = io.BytesIO()
    np.savez(buffer, **ff.to_arrays(), allow_pickle=False)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        loaded = FastForest.from_arrays(dict(data))
    np.testing.assert_array_equal(loaded.predict_proba(X), ff.predict_proba(X))
    np.testing.assert_array_equal(loaded.classes_, ff.classes_)
    np.testing.assert_array_equal(loaded.feature_importances_, ff.feature_importances_)
    assert repr(loaded) == repr(ff)


def test_float64_thresholds_on_load_are_rounded_down():
    X, y = adversarial_data()
    ff = FastForest.from_sklearn(RandomForestClassifier(n_estimators=4, random_state=0).fit(X, y))
    arrays = ff.to_arrays()
    arrays["threshold"] = arrays["threshold"].astype(np.float64) + 1e-12  # above the float32
    np.testing.assert_array_equal(FastForest.from_arrays(arrays).predict_proba(X),
                                  ff.predict_proba(X))  # fmt: skip


def corrupt(name):
    model, _ = fit("rf", (0, 1, 2), n_estimators=3)
    arrays = FastForest.from_sklearn(model).to_arrays()
    internal = np.flatnonzero(arrays["feature"] >= 0)
    i = int(internal[0])
    if name == "missing":
        del arrays["right"]
    elif name == "version":
        arrays["format_version"] = np.asarray(99)
    elif name == "feature_range":
        arrays["feature"][i] = 6
    elif name == "leaf_range":
        arrays["feature"][np.flatnonzero(arrays["feature"] < 0)[0]] = -(10**6)
    elif name == "cycle":
        arrays["right"][int(internal[1])] = i
    elif name == "beyond_tree":
        arrays["right"][i] = arrays["tree_offsets"][1]
    elif name == "offsets":
        arrays["tree_offsets"][-1] += 1
    elif name == "length":
        arrays["threshold"] = arrays["threshold"][:-1]
    elif name == "columns":
        arrays["leaf_values"] = arrays["leaf_values"][:, :2]
    elif name == "nan_values":
        arrays["leaf_values"][0, 0] = np.nan
    elif name == "dtype":
        arrays["feature"] = arrays["feature"].astype(np.float32)
    elif name == "classes":
        arrays["classes"] = np.array([1, 1, 2])
    elif name == "importances":
        arrays["feature_importances"] = np.zeros(3)
    elif name == "nan_threshold":
        arrays["threshold"][i] = np.nan
    elif name == "int32":
        arrays["feature"] = arrays["feature"].astype(np.int64)
        arrays["feature"][-1] = -(2**40)
    return arrays


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("missing", "missing key"),
        ("version", "unsupported format_version 99"),
        ("feature_range", "n_features=6"),
        ("leaf_range", "leaf rows beyond"),
        ("cycle", "pre-ordered"),
        ("beyond_tree", "pre-ordered"),
        ("offsets", "tree_offsets"),
        ("length", "'threshold' has"),
        ("columns", "leaf_values"),
        ("nan_values", "leaf_values"),
        ("dtype", "'feature' must be a 1-D integer"),
        ("classes", "distinct classes"),
        ("importances", "feature_importances"),
        ("nan_threshold", "NaN"),
        ("int32", "int32 range"),
    ],
)
def test_corrupt_arrays_rejected(name, match):
    with pytest.raises(ValueError, match=match):
        FastForest.from_arrays(corrupt(name))


def test_from_arrays_needs_mapping():
    with pytest.raises(ValueError, match="mapping"):
        FastForest.from_arrays([1, 2, 3])


def test_bad_estimators_rejected():
    X, y = make_data()
    with pytest.raises(TypeError, match="RandomForestClassifier"):
        FastForest.from_sklearn(GradientBoostingClassifier(n_estimators=2).fit(X, y))
    with pytest.raises(ValueError, match="not fitted"):
        FastForest.from_sklearn(RandomForestClassifier())
    with pytest.raises(ValueError, match="integers"):
        FastForest.from_sklearn(RandomForestClassifier(2).fit(X, np.where(y, "a", "b")))
    with pytest.raises(ValueError, match="multi-output"):
        FastForest.from_sklearn(RandomForestClassifier(2).fit(X, np.stack([y, y], 1)))


def test_bad_inputs_rejected():
    model, X = fit("rf")
    ff = FastForest.from_sklearn(model)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 6\)"):
        ff.predict_proba(X[:, :5])
    with pytest.raises(ValueError, match=r"shape \(n_samples, 6\)"):
        ff.predict(X[0])
    with pytest.raises(TypeError, match="real numbers"):
        ff.predict_proba(X.astype(np.complex64))
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        ff.predict_proba(X, n_threads=0)
    with pytest.raises(TypeError, match="n_threads must be an int"):
        ff.predict_proba(X, n_threads="2")


def test_empty_input_and_threads():
    model, X = fit("rf", (2, 5, 9))
    ff = FastForest.from_sklearn(model)
    empty = ff.predict_proba(np.zeros((0, 6), np.float32))
    assert empty.shape == (0, 3) and empty.dtype == np.float32
    assert ff.predict(np.zeros((0, 6))).shape == (0,)
    X_big = np.tile(X, (3, 1))
    expected = ff.predict_proba(X_big)
    np.testing.assert_array_equal(ff.predict_proba(X_big, n_threads=1), expected)
    np.testing.assert_array_equal(ff.predict_proba(X_big, n_threads=10**6), expected)
    results = [None] * 4

    def work(k):
        results[k] = ff.predict_proba(X_big)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_single_class_forest():
    X, _ = make_data()
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, np.full(len(X), 4))
    ff = FastForest.from_sklearn(model)
    assert_same(ff, model, X)
    np.testing.assert_array_equal(ff.predict_proba(X), 1.0)
