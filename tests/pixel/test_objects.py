"""Tests of biakit.pixel._objects (ObjectClassifier): synthetic scenes with known classes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from skimage.draw import ellipse, ellipsoid
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.exceptions import NotFittedError

from biakit.measure import measure_objects
from biakit.pixel._objects import ObjectClassifier
from biakit.pixel._objects_data import DEFAULT_FEATURES_2D, DEFAULT_FEATURES_3D
from biakit.pixel._objects_trees import TreeEnsemble

KINDS = ["random_forest", "extra_trees", "gradient_boosting"]


def scene_2d(seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """6x6 grid: small round bright discs (class 1) and large elongated dim ellipses (class 2)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((192, 192), dtype=np.uint16)
    image = rng.normal(10, 2, labels.shape)
    truth = {}
    for k in range(36):
        cy, cx = 16 + 32 * (k // 6), 16 + 32 * (k % 6)
        obj = 3 * k + 5  # non-consecutive ids
        if rng.random() < 0.5:
            rr, cc = ellipse(cy, cx, 3 + rng.random(), 3 + rng.random(), shape=labels.shape)
            truth[obj], level = 1, 200
        else:
            r_major, r_minor = 11 + 2 * rng.random(), 4 + rng.random()
            rot = rng.uniform(0, np.pi)
            rr, cc = ellipse(cy, cx, r_major, r_minor, shape=labels.shape, rotation=rot)
            truth[obj], level = 2, 60
        labels[rr, cc] = obj
        image[rr, cc] += level + rng.normal(0, 5, rr.size)
    return labels, image, truth


def scene_3d(seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """2x3x3 grid of small bright balls (class 1) and long dim ellipsoids (class 2)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((40, 60, 60), dtype=np.int32)
    image = rng.normal(10, 2, labels.shape)
    truth = {}
    for k in range(18):
        cz, cy, cx = 10 + 20 * (k // 9), 10 + 20 * ((k // 3) % 3), 10 + 20 * (k % 3)
        cls = 1 if k % 2 == 0 else 2
        long_axis = (3, 8, 3) if k % 4 else (3, 3, 8)  # elongated along Y or X
        blob = ellipsoid(2.5, 2.5, 2.5) if cls == 1 else ellipsoid(*long_axis)
        sz, sy, sx = blob.shape
        sl = (
            slice(cz - sz // 2, cz - sz // 2 + sz),
            slice(cy - sy // 2, cy - sy // 2 + sy),
            slice(cx - sx // 2, cx - sx // 2 + sx),
        )
        labels[sl][blob] = k + 1
        image[sl][blob] += 200 if cls == 1 else 60
        truth[k + 1] = cls
    return labels, image, truth


def pick(truth: dict[int, int], n: int = 3) -> dict[int, int]:
    out: dict[int, int] = {}
    for cls in sorted(set(truth.values())):
        out |= {k: cls for k in sorted(k for k, c in truth.items() if c == cls)[:n]}
    return out


@pytest.fixture(scope="module")
def data2d():
    return scene_2d()


@pytest.fixture(scope="module")
def fitted(data2d):
    labels, image, truth = data2d
    return ObjectClassifier(n_estimators=30).fit(labels, image, pick(truth))


@pytest.mark.parametrize("kind", KINDS)
def test_separable_2d_all_objects_right(data2d, kind):
    labels, image, truth = data2d
    assert set(truth.values()) == {1, 2}
    clf = ObjectClassifier(classifier=kind, n_estimators=30).fit(labels, image, pick(truth))
    assert clf.predict(labels, image) == truth
    assert clf.features_ == list(DEFAULT_FEATURES_2D)
    assert clf.training_summary_ == {
        "n_images": 1, "n_objects": 6, "n_objects_per_class": {"1": 3, "2": 3},
    }  # fmt: skip


def test_separable_3d_all_objects_right():
    labels, image, truth = scene_3d()
    clf = ObjectClassifier(n_estimators=30).fit(labels, image, pick(truth), spacing=(1, 1, 1))
    assert clf.features_ == list(DEFAULT_FEATURES_3D)
    assert clf.predict(labels, image, spacing=(1, 1, 1)) == truth
    proba = clf.predict_proba(labels, image)
    assert list(proba.columns) == [1, 2] and list(proba.index) == sorted(truth)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_identical(data2d, kind, tmp_path):
    labels, image, truth = data2d
    clf = ObjectClassifier(classifier=kind, n_estimators=20, seed=3, class_weight="balanced")
    clf.fit(labels, image, pick(truth))
    out = clf.save(tmp_path / "clf")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.npz"]
    config = json.loads((out / "config.json").read_text())
    assert config["classes"] == [1, 2] and config["classifier"] == kind and config["seed"] == 3
    assert config["training"]["n_objects_per_class"] == {"1": 3, "2": 3}
    assert set(config["versions"]) == {"biakit", "scikit-learn", "numpy"}
    loaded = ObjectClassifier.load(out)
    pd.testing.assert_frame_equal(
        loaded.predict_proba(labels, image), clf.predict_proba(labels, image), check_exact=True
    )
    pd.testing.assert_series_equal(loaded.feature_importances_, clf.feature_importances_)
    with pytest.raises(FileExistsError, match="already exists"):
        clf.save(out)
    clf.save(out, overwrite=True)


@pytest.mark.parametrize("model_cls", [RandomForestClassifier, ExtraTreesClassifier])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_flattened_forest_bit_identical_to_sklearn(model_cls, n_classes):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4))
    y = 1 + np.digitize(X[:, 0] + 0.5 * X[:, 1] + rng.normal(0, 0.3, 200), [0, 1][: n_classes - 1])
    model = model_cls(n_estimators=15, random_state=0).fit(X, y)
    test = rng.normal(size=(500, 4))
    ensemble = TreeEnsemble.from_sklearn(model)
    np.testing.assert_array_equal(ensemble.predict_proba(test), model.predict_proba(test))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_flattened_boosting_matches_sklearn(n_classes):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 3))
    y = 1 + np.digitize(X[:, 0] + rng.normal(0, 0.3, 150), [0, 1][: n_classes - 1])
    model = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X, y)
    test = rng.normal(size=(300, 3))
    ensemble = TreeEnsemble.from_sklearn(model)
    np.testing.assert_allclose(ensemble.predict_proba(test), model.predict_proba(test), atol=1e-12)


def test_class_map_pixels(fitted, data2d):
    labels, image, truth = data2d
    painted = fitted.class_map(labels, image)
    assert painted.shape == labels.shape and painted.dtype == np.uint8
    expected = np.zeros(labels.max() + 1, dtype=np.uint8)
    expected[list(truth)] = list(truth.values())
    np.testing.assert_array_equal(painted, expected[labels])


def test_empty_label_image(fitted):
    labels = np.zeros((10, 10), dtype=np.uint8)
    assert fitted.predict(labels, labels * 1.0) == {}
    assert not fitted.class_map(labels, labels * 1.0).any()


def test_object_features_equal_measure_objects(fitted, data2d):
    labels, image, _ = data2d
    table = fitted.object_features(labels, image, spacing=(0.5, 0.25))
    ref = measure_objects(labels, image, spacing=(0.5, 0.25)).set_index("label")
    pd.testing.assert_frame_equal(table, ref[list(DEFAULT_FEATURES_2D)])


def test_feature_importances_series(fitted):
    imp = fitted.feature_importances_
    assert list(imp.index) == list(DEFAULT_FEATURES_2D)
    assert imp.sum() == pytest.approx(1.0) and (imp >= 0).all()


def test_deterministic_with_seed(data2d):
    labels, image, truth = data2d
    ann = {k: v for k, v in truth.items() if k % 2}  # many objects: trees differ by seed
    runs = [ObjectClassifier(classifier="extra_trees", n_estimators=10, seed=s)
            .fit(labels, image, ann).predict_proba(labels, image) for s in (7, 7, 8)]  # fmt: skip
    pd.testing.assert_frame_equal(runs[0], runs[1], check_exact=True)
    assert not runs[0].equals(runs[2])


def test_fit_from_several_images_with_spacing_each(data2d):
    labels, image, truth = data2d
    other_labels, other_image, other_truth = scene_2d(seed=5)
    ann = pick(truth, 2)
    first = {k: v for k, v in ann.items() if v == 1}
    second = {k: v for k, v in pick(other_truth, 2).items() if v == 2}
    clf = ObjectClassifier(features=["area", "mean_intensity"], n_estimators=10)
    clf.fit([labels, other_labels], [image, other_image], [first, second],
            spacing=[(1.0, 1.0), (1.0, 1.0)])  # fmt: skip
    assert clf.training_summary_["n_images"] == 2
    assert clf.training_summary_["n_objects_per_class"] == {"1": 2, "2": 2}
    assert clf.predict(labels, image) == truth


def test_shape_only_features_without_intensity(data2d):
    labels, _, truth = data2d
    clf = ObjectClassifier(features=["area", "eccentricity"], n_estimators=10)
    assert clf.fit(labels, None, pick(truth)).predict(labels, None) == truth


# ----------------------------------------------------------------------------- errors
def test_unknown_object_id_named(data2d):
    labels, image, truth = data2d
    with pytest.raises(ValueError, match=r"annotated object ids \[999\] are not in"):
        ObjectClassifier().fit(labels, image, pick(truth) | {999: 1})


def test_one_class_only(data2d):
    labels, image, truth = data2d
    only_one = {k: 1 for k, v in truth.items() if v == 1}
    with pytest.raises(ValueError, match="at least 2 classes, got \\[1\\]"):
        ObjectClassifier().fit(labels, image, only_one)


def test_shape_mismatch_names_the_image(data2d):
    labels, image, truth = data2d
    with pytest.raises(ValueError, match="image 1: intensity shape"):
        ObjectClassifier().fit([labels, labels], [image, image[:-1]], [pick(truth), {}])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"classifier": "svm"}, "classifier must be one of"),
        ({"n_estimators": 0}, "n_estimators must be >= 1"),
        ({"class_weight": "auto"}, "class_weight must be None"),
        ({"features": ["area", "colour"]}, "unknown \\['colour'\\]"),
        ({"features": ["area", "area"]}, "duplicates"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ObjectClassifier(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_estimators": 2.5}, "n_estimators must be an int"), ({"seed": "0"}, "seed must be"),
     ({"features": "area"}, "features must be a sequence")],
)  # fmt: skip
def test_bad_parameter_types(kwargs, match):
    with pytest.raises(TypeError, match=match):
        ObjectClassifier(**kwargs)


def test_bad_inputs(data2d, fitted):
    labels, image, truth = data2d
    clf = ObjectClassifier()
    with pytest.raises(ValueError, match=r"class 0 must be an integer >= 1"):
        clf.fit(labels, image, {5: 0, 8: 1})
    with pytest.raises(TypeError, match="annotations must be a dict"):
        clf.fit(labels, image, 5)
    with pytest.raises(TypeError, match=r"annotations\[1\]: annotations must be a dict"):
        clf.fit([labels, labels], [image, image], [{}, [5]])
    with pytest.raises(ValueError, match="labels must be a list of 2"):
        clf.fit(labels, image, [{}, {}])
    with pytest.raises(ValueError, match="intensity must be None or a list of 2"):
        clf.fit([labels, labels], image, [{}, {}])
    with pytest.raises(TypeError, match="labels must be an integer label image"):
        clf.fit(labels > 0, image, pick(truth))
    with pytest.raises(ValueError, match="labels must be 2D"):
        clf.fit(labels[0], image[0], pick(truth))
    with pytest.raises(ValueError, match="image 1 is 3D but image 0 is 2D"):
        clf.fit([labels, labels[None]], None, [pick(truth), {5: 1}])
    with pytest.raises(ValueError, match=r"features \['area'\] do not exist for a 3D"):
        ObjectClassifier(features=["area"]).object_features(labels[None], None)
    with pytest.raises(ValueError, match=r"features \['mean_intensity', .*\] are not in"):
        clf.object_features(labels, np.stack([image, image], axis=-1))
    with pytest.raises(ValueError, match="labels must be 2D like the training"):
        fitted.predict(labels[None], image[None])
    nan_image = image.copy()
    nan_image[labels == 5] = np.nan
    with pytest.raises(ValueError, match=r"not finite for objects \[5\]"):
        clf.fit(labels, nan_image, pick(truth))


def test_not_fitted(data2d, tmp_path):
    labels, image, _ = data2d
    clf = ObjectClassifier()
    for call in (lambda: clf.predict(labels, image), lambda: clf.feature_importances_,
                 lambda: clf.save(tmp_path / "x")):  # fmt: skip
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()


# ----------------------------------------------------------------------------- tampering
@pytest.fixture
def saved(fitted, tmp_path):
    return fitted.save(tmp_path / "clf")


def _rewrite(folder, **changes):
    with np.load(folder / "model.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays.update(changes)
    np.savez(folder / "model.npz", **arrays)
    return arrays


def _edit(arrays, key, fn):
    out = arrays[key].copy()
    fn(out)
    return {key: out}


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda a: _edit(a, "left", lambda x: x.__setitem__(0, 10**9)), "'left' has child"),
        (lambda a: _edit(a, "right", lambda x: x.__setitem__(0, 0)), "'right' has child"),
        (lambda a: _edit(a, "left", lambda x: x.__setitem__(0, -1)), "disagree on which"),
        (lambda a: _edit(a, "feature", lambda x: x.__setitem__(0, 99)), "'feature' has indices"),
        (lambda a: {"value": a["value"][:, :1]}, "'value' has shape"),
        (lambda a: {"threshold": a["threshold"][:-1]}, "'threshold' has shape"),
        (lambda a: {"threshold": a["threshold"].astype(str)}, "'threshold' must be floating"),
        (lambda a: {"offsets": a["offsets"][::-1].copy()}, "'offsets' must be 1D"),
        (lambda a: {"offsets": a["offsets"][:-1]}, "shape"),
        (lambda a: {"classes": np.array([1, 3])}, "'classes'"),
        (lambda a: {"feature_importances": a["feature_importances"][:2]}, "feature_importances"),
        (lambda a: {"value": np.full_like(a["value"], np.nan)}, "must be finite"),
        (lambda a: {"value": np.array([None], dtype=object)}, r"not a numeric \.npz"),
    ],
)
def test_tampered_model_refused(saved, edit, match):
    with np.load(saved / "model.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    _rewrite(saved, **edit(arrays))
    with pytest.raises(ValueError, match=match):
        ObjectClassifier.load(saved)


def test_missing_model_array_refused(saved):
    with np.load(saved / "model.npz") as npz:
        arrays = {k: npz[k] for k in npz.files if k != "feature"}
    np.savez(saved / "model.npz", **arrays)
    with pytest.raises(ValueError, match=r"model arrays \['feature'\] are missing"):
        ObjectClassifier.load(saved)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"format": "other"}, "'format' must be"),
        ({"format_version": 99}, "format_version 99 is not supported"),
        ({"classes": [2, 1]}, "'classes' must be"),
        ({"ndim": 4}, "'ndim' must be 2 or 3"),
        ({"classifier": "svm"}, "invalid parameters"),
        ({"n_estimators": 31}, "30 trees, expected 31"),
        ({"classifier": "gradient_boosting"}, "model arrays .* are missing"),
        ({"seed": "DELETE"}, "missing keys \\['seed'\\]"),
    ],
)
def test_tampered_config_refused(saved, change, match):
    config = json.loads((saved / "config.json").read_text())
    config.update(change)
    config = {k: v for k, v in config.items() if v != "DELETE"}
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=match):
        ObjectClassifier.load(saved)


def test_unreadable_files_refused(saved, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        ObjectClassifier.load(tmp_path / "nothing")
    (saved / "model.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"not a numeric \.npz"):
        ObjectClassifier.load(saved)
    (saved / "model.npz").unlink()
    with pytest.raises(FileNotFoundError, match="missing model file"):
        ObjectClassifier.load(saved)
    (saved / "config.json").write_text("{oops")
    with pytest.raises(ValueError, match="not valid JSON"):
        ObjectClassifier.load(saved)


def test_multichannel_intensity_channel_columns(data2d):
    labels, image, truth = data2d
    stack = np.stack([image, np.zeros_like(image)], axis=-1)  # channels last
    clf = ObjectClassifier(features=["area", "mean_intensity_c0", "mean_intensity_c1"])
    clf.n_estimators = 10
    assert clf.fit(labels, stack, pick(truth)).predict(labels, stack) == truth
    assert list(clf.object_features(labels, stack).columns) == clf.features_
