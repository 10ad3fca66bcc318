import json

import numpy as np
import pytest

from biakit.data import synthetic_nuclei
from biakit.errors import DataError
from biakit.metrics import confusion_metrics
from biakit.pipeline import ConfigError
from biakit.workflows import SemanticConfig, SemanticSegmenter, load_workflow_config

torch = pytest.importorskip("torch")


def _data(seeds, shape=(96, 96)):
    samples = [synthetic_nuclei(shape, n_objects=8, touching=0.3, seed=s) for s in seeds]
    return [s.image for s in samples], [s.mask.astype(np.uint8) for s in samples]


SMALL = {
    "patch_shape": (64, 64),
    "samples_per_epoch": 32,
    "model": {"depth": 2, "base_filters": 8},
    "train": {"epochs": 8, "batch_size": 8, "lr": 3e-3, "schedule": "none"},
}


@pytest.mark.slow
def test_tiny_unet_reaches_iou_08_on_held_out_images(tmp_path):
    images, masks = _data(range(6))
    seg = SemanticSegmenter(SemanticConfig(**SMALL))
    history = seg.train(images, masks, output_dir=tmp_path / "model")
    assert len(history) == 8
    test_images, test_masks = _data(range(100, 103))
    scores = seg.evaluate(test_images, test_masks)
    assert scores.metrics.iou >= 0.8, scores.summary
    assert list(scores.per_image["image"]) == [0, 1, 2]
    assert (scores.per_image["iou"] >= 0.75).all()
    for image, mask in zip(test_images, test_masks):
        assert confusion_metrics(mask, seg.predict(image)).iou >= 0.75
    # the saved folder reloads without retraining and predicts the same
    loaded = SemanticSegmenter.load(tmp_path / "model")
    np.testing.assert_allclose(
        loaded.predict_proba(test_images[0]), seg.predict_proba(test_images[0]), atol=1e-5
    )
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    manifest = json.loads((tmp_path / "model" / "model.json").read_text())
    assert config["patch_shape"] == [64, 64] and "torch" in manifest["versions"]
    assert manifest["architecture"] == {"id": "unet", "version": 1}
    assert manifest["format_version"] == 1 and manifest["task"] == "semantic"
    assert (tmp_path / "model" / "training" / "metrics.csv").exists()


def test_patch_not_divisible_is_rejected_before_training():
    with pytest.raises(ValueError, match=r"not a multiple of 8"):
        SemanticConfig(patch_shape=(60, 64), model={"depth": 3})


def test_yaml_config_errors_name_file_and_field(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("task: semantic\npatch_shape: [64, 64]\nmodel: {depht: 2}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: model\.depht: unknown key \(did you mean"):
        load_workflow_config(path)
    path.write_text("task: panoptic\n")
    with pytest.raises(ConfigError, match=r"unknown task 'panoptic'"):
        load_workflow_config(path)
    path.write_text("task: semantic\ntrain: {epochs: -1}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: train\.epochs: Input should be greater"):
        load_workflow_config(path)
    path.write_text("patch_shape: [64, 64]\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: task: missing; one of semantic"):
        load_workflow_config(path)


def test_input_errors():
    seg = SemanticSegmenter(SemanticConfig(**SMALL))
    with pytest.raises(RuntimeError, match=r"not trained"):
        seg.predict(np.zeros((8, 8)))
    images, masks = _data([0])
    with pytest.raises(DataError, match=r"masks\[0\] has values 0\.\.5; expected 0\.\.1"):
        seg.train(images, [masks[0] * 5], output_dir=None)
    with pytest.raises(
        DataError, match=r"image 0 has spatial shape \(96, 96\) but mask \(10, 10\)"
    ):
        seg.train(images, [np.zeros((10, 10), np.uint8)], output_dir=None)
    with pytest.raises(DataError, match=r"masks\[0\] have negative values"):
        seg.train(images, [masks[0].astype(np.int8) - 1], output_dir=None)
    with pytest.raises(DataError, match=r"masks\[0\] hold non-integer values"):
        seg.train(images, [masks[0] * 0.5], output_dir=None)
    bad = images[0].astype(np.float32)
    bad[3, 3] = np.nan
    with pytest.raises(DataError, match=r"images\[0\] has 1 NaN"):
        seg.train([bad], masks, output_dir=None)


def test_3d_and_multiclass_end_to_end(tmp_path):
    s = synthetic_nuclei((16, 48, 48), n_objects=5, spacing=(2.0, 1.0, 1.0), seed=1)
    classes = s.mask.astype(np.uint8)
    classes[s.labels % 2 == 0] *= 2  # two foreground classes
    cfg = SemanticConfig(
        n_classes=3,
        patch_shape=(16, 32, 32),
        samples_per_epoch=4,
        model={"depth": 2, "base_filters": 4, "z_pool": (False, True)},
        train={"epochs": 1, "batch_size": 2},
    )
    seg = SemanticSegmenter(cfg)
    seg.train([s.image, s.image], [classes, classes], output_dir=tmp_path / "m3d")
    proba = SemanticSegmenter.load(tmp_path / "m3d").predict_proba(s.image)
    assert proba.shape == (3, 16, 48, 48)
    np.testing.assert_allclose(proba.sum(axis=0), 1.0, atol=1e-4)
    scores = seg.evaluate([s.image], [classes])
    assert {"iou", "f1", "accuracy"} <= set(scores.summary.columns)
    assert scores.metrics.iou == pytest.approx(scores.summary["iou"].iloc[0])
