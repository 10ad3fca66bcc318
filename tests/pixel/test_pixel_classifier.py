import json

import numpy as np
import pytest

from biakit.data import corrective_scribbles, synthetic_nuclei, synthetic_scribbles
from biakit.metrics import confusion_metrics
from biakit.pixel import PixelClassifier, uncertainty_from_proba


def _foreground_iou(clf, sample, **kwargs):
    pred = clf.predict(sample.image, **kwargs) == 2
    return confusion_metrics(sample.mask, pred).iou


def _train_interactively(image, mask, *, spacing=None, seed=0, trees=40):
    """Two rounds as a user works: scribble, look, correct mistakes (about 1% painted)."""
    scribbles = synthetic_scribbles(mask, fraction=0.006, seed=seed)
    clf = PixelClassifier("fast", n_estimators=trees, seed=0).fit(image, scribbles, spacing=spacing)
    first = clf.predict(image)
    scribbles = corrective_scribbles(mask, first, scribbles, fraction=0.004, seed=seed)
    clf = PixelClassifier("fast", n_estimators=trees, seed=0).fit(image, scribbles, spacing=spacing)
    return clf, scribbles


@pytest.fixture(scope="module")
def trained_2d():
    train = synthetic_nuclei((192, 192), n_objects=24, touching=0.3, seed=12)
    clf, scribbles = _train_interactively(train.image, train.mask, seed=2)
    return clf, train, scribbles


def test_quality_2d_one_percent_scribbles(trained_2d):
    clf, _, scribbles = trained_2d
    assert (scribbles > 0).mean() <= 0.011
    for seed in (22, 23):
        test = synthetic_nuclei((192, 192), n_objects=24, touching=0.3, seed=seed)
        assert _foreground_iou(clf, test) >= 0.9


def test_quality_3d_anisotropic_one_percent_scribbles():
    spacing = (2.0, 1.0, 1.0)
    train = synthetic_nuclei((32, 96, 96), n_objects=16, spacing=spacing, seed=40)
    scribbles = synthetic_scribbles(train.mask, fraction=0.01, seed=0)
    assert (scribbles > 0).mean() <= 0.011
    clf = PixelClassifier("fast", n_estimators=60, seed=0)
    clf.fit(train.image, scribbles, spacing=spacing)
    test = synthetic_nuclei((32, 96, 96), n_objects=16, spacing=spacing, seed=60)
    assert _foreground_iou(clf, test) >= 0.9


def test_deterministic_and_blockwise_equals_whole(trained_2d):
    clf, train, scribbles = trained_2d
    again = PixelClassifier("fast", n_estimators=40, seed=0).fit(train.image, scribbles)
    whole = clf.predict_proba(train.image)
    np.testing.assert_array_equal(whole, again.predict_proba(train.image))
    blocks = clf.predict_proba(train.image, block_shape=(48, 40))
    np.testing.assert_allclose(blocks, whole, atol=1e-5)
    assert whole.dtype == np.float32 and whole.shape == (192, 192, 2)
    np.testing.assert_allclose(whole.sum(axis=-1), 1.0, atol=1e-5)


def test_dask_and_zarr_inputs_and_zarr_output(trained_2d, tmp_path):
    import dask.array as da
    import zarr

    clf, train, _ = trained_2d
    whole = clf.predict_proba(train.image)
    lazy = da.from_array(train.image, chunks=64)
    np.testing.assert_allclose(clf.predict_proba(lazy, block_shape=(64, 64)), whole, atol=1e-5)
    src = zarr.open_array(tmp_path / "in.zarr", mode="w", shape=train.image.shape, dtype="f4")
    src[:] = train.image
    out = zarr.open_array(tmp_path / "out.zarr", mode="w", shape=(192, 192, 2), dtype="f4")
    clf.predict_proba(src, block_shape=(80, 80), out=out)
    np.testing.assert_allclose(out[:], whole, atol=1e-5)


def test_save_load_identical_without_pickle(trained_2d, tmp_path):
    clf, train, _ = trained_2d
    path = clf.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    assert config["classes"] == [1, 2] and config["params"]["seed"] == 0
    assert config["training"]["pixels_per_class"]
    with np.load(path / "model.npz", allow_pickle=False) as data:
        assert len(data.files) > 0
    loaded = PixelClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(train.image), clf.predict_proba(train.image))
    with pytest.raises(FileExistsError):
        clf.save(tmp_path / "model")


def test_other_classifiers_save_and_load(tmp_path):
    train = synthetic_nuclei((64, 64), n_objects=5, seed=3)
    scribbles = synthetic_scribbles(train.mask, fraction=0.03, seed=2)
    for kind in ("mlp", "gradient_boosting", "extra_trees"):
        clf = PixelClassifier("fast", classifier=kind, n_estimators=20, seed=0)
        clf.fit(train.image, scribbles)
        loaded = PixelClassifier.load(clf.save(tmp_path / kind))
        np.testing.assert_allclose(
            loaded.predict_proba(train.image), clf.predict_proba(train.image), atol=1e-6
        )
        assert _foreground_iou(clf, train) > 0.7, kind


def test_uncertainty_margin():
    proba = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]], np.float32)
    np.testing.assert_allclose(uncertainty_from_proba(proba), [0.5, 0.95], atol=1e-6)


def test_oob_cross_validation_importances(trained_2d):
    clf, train, scribbles = trained_2d
    assert 0.8 <= clf.training_["oob"]["accuracy"] <= 1.0
    folds = clf.cross_validate(3)
    assert len(folds) == 3 and all(0 <= f["f1"] <= 1 for f in folds)
    importances = clf.feature_importances_
    assert importances.sum() == pytest.approx(1.0) and len(importances) == len(clf.feature_names_)
    top = clf.select_features(4)
    small = PixelClassifier("fast", n_estimators=20, feature_subset=top).fit(train.image, scribbles)
    assert small.predict_proba(train.image).shape == (192, 192, 2)
    assert list(small.feature_importances_.index.sort_values()) == sorted(top)


def test_errors(tmp_path, trained_2d):
    clf, train, scribbles = trained_2d
    with pytest.raises(ValueError, match=r"unknown classifier 'tree'; valid"):
        PixelClassifier(classifier="tree")
    with pytest.raises(RuntimeError, match=r"not trained yet"):
        PixelClassifier().predict(train.image)
    with pytest.raises(ValueError, match=r"scribbles 0 have shape \(10, 10\)"):
        PixelClassifier().fit(train.image, np.zeros((10, 10), np.uint8))
    only_one = np.where(scribbles == 1, 1, 0).astype(np.uint8)
    with pytest.raises(ValueError, match=r"only class 1 is painted"):
        PixelClassifier().fit(train.image, only_one)
    with pytest.raises(ValueError, match=r"scribbles are all 0"):
        PixelClassifier().fit(train.image, np.zeros_like(scribbles))
    with pytest.raises(ValueError, match=r"trained on 2-D images but got a 3-D image"):
        clf.predict(np.zeros((4, 16, 16), np.float32))
    with pytest.raises(ValueError, match=r"got 1 image\(s\) but 2 scribble"):
        PixelClassifier().fit([train.image], [scribbles, scribbles])
    with pytest.raises(FileNotFoundError, match=r"model folder not found"):
        PixelClassifier.load(tmp_path / "nothing")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text('{"format": "something"}')
    with pytest.raises(ValueError, match=r"not a biakit pixel classifier"):
        PixelClassifier.load(bad)
    good = clf.save(tmp_path / "good")
    (good / "model.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"model\.npz: not a valid biakit forest"):
        PixelClassifier.load(good)


def test_pipeline_step_uses_saved_model(trained_2d, tmp_path):
    from biakit.metrics import match_instances
    from biakit.pipeline import Pipeline

    clf, _, _ = trained_2d
    model = clf.save(tmp_path / "m")
    pipe = Pipeline(
        [
            {"step": "pixel_classifier", "model": str(model), "foreground": 2},
            "fill_holes",
            "split_touching",
            {"step": "remove_small_objects", "min_size": 20},
        ]
    )
    test = synthetic_nuclei((192, 192), n_objects=20, touching=0.0, seed=14)
    result = pipe.run(test.image)
    assert match_instances(test.labels, result.labels).recall >= 0.9


@pytest.fixture()
def small():
    s = synthetic_nuclei((64, 48), n_objects=4, radius=(5, 8), seed=7)
    return s, synthetic_scribbles(s.mask, fraction=0.03, seed=0)


def test_nan_or_inf_images_are_refused(small):
    from biakit.errors import DataError

    s, scribbles = small
    bad = s.image.copy()
    bad[5, 5], bad[6, 6] = np.nan, np.inf
    with pytest.raises(DataError, match=r"^images contains 2 NaN or infinite value\(s\)"):
        PixelClassifier(n_estimators=2).fit(bad, scribbles)
    with pytest.raises(DataError, match=r"^images\[1\] contains 2 NaN"):
        PixelClassifier(n_estimators=2).fit([s.image, bad], [scribbles, scribbles])
    clf = PixelClassifier(n_estimators=2).fit(s.image, scribbles)
    with pytest.raises(DataError, match=r"^image contains 2 NaN or infinite value\(s\)"):
        clf.predict_proba(bad)
    with pytest.raises(DataError, match=r"^image contains 2 NaN"):
        clf.predict(bad, block_shape=(32, 32))


def test_fit_keeps_features_for_predicting_the_same_image(small):
    s, scribbles = small
    clf = PixelClassifier(n_estimators=4).fit(s.image, scribbles)
    assert clf._cache is not None
    fresh = clf.predict_proba(s.image, block_shape=(64, 48 - 1))  # not the cached path
    np.testing.assert_array_equal(clf.predict_proba(s.image), fresh)
    # the stack of the fitted image is used only while its pixels are unchanged
    image = s.image.copy()
    clf = PixelClassifier(n_estimators=4).fit(image, scribbles)
    image[:, :24] = image[:, :24][::-1]
    changed = PixelClassifier(n_estimators=4).fit(s.image, scribbles)
    np.testing.assert_array_equal(
        clf.predict_proba(image), changed.predict_proba(image, block_shape=(60, 40))
    )
    several = PixelClassifier(n_estimators=4).fit([s.image, s.image], [scribbles, scribbles])
    assert several._cache is None


def test_default_trains_on_all_cores_with_the_same_trees(small):
    s, scribbles = small
    default = PixelClassifier().fit(s.image, scribbles)
    assert default.n_estimators == 24 and default.estimator_.n_jobs == -1
    one = PixelClassifier(n_jobs=1).fit(s.image, scribbles)
    np.testing.assert_array_equal(default.predict_proba(s.image), one.predict_proba(s.image))


def test_saved_folder_respects_umask(small, tmp_path):
    import os

    s, scribbles = small
    clf = PixelClassifier(n_estimators=2).fit(s.image, scribbles)
    old = os.umask(0o027)
    try:
        path = clf.save(tmp_path / "model")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o777 & ~0o027
    path = clf.save(tmp_path / "model", overwrite=True)
    assert path.stat().st_mode & 0o777 == 0o777 & ~old
