"""Detection workflow: F1 on synthetic spots, tuning, 3D, save / load, CSV tables, errors."""

import json

import numpy as np
import pytest
import torch

from biakit.data import synthetic_spots
from biakit.errors import ModelFileError
from biakit.io import ImageMeta, write_image
from biakit.nn.targets import point_heatmap
from biakit.workflows.detection import (
    DetectionConfig,
    Detector,
    heatmap_loss,
    load_point_pairs,
    read_points_csv,
    write_points_csv,
)

TINY = {"model": {"depth": 2, "base_filters": 4}, "samples_per_epoch": 8}
FAST = {"epochs": 1, "batch_size": 4, "device": "cpu", "plot_every": 0}


# One torch thread: oversubscribed CPUs make multi-threaded convolutions crawl.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def spots(n, shape=(128, 128), seed=0, **kwargs):
    return [synthetic_spots(shape, n_spots=30, seed=seed + s, **kwargs) for s in range(n)]


@pytest.mark.slow
def test_detector_reaches_f1_095_on_held_out_spots(tmp_path):
    train, test = spots(4), spots(4, seed=100)
    config = DetectionConfig(
        patch_shape=(64, 64), samples_per_epoch=64, model={"depth": 2, "base_filters": 8},
        val_fraction=0.25, train={"epochs": 8, "batch_size": 8, "lr": 3e-3, "device": "cpu"},
    )  # fmt: skip
    det = Detector(config)
    history = det.train([d.image for d in train], [d.points for d in train], output_dir=tmp_path)
    assert len(history) == 8 and history["val_loss"].iloc[-1] < history["val_loss"].iloc[0]
    result = det.evaluate([d.image for d in test], [d.points for d in test], tolerance=3)
    assert result.metrics.f1 >= 0.95, result.summary
    assert result.metrics.n_true == sum(len(d.points) for d in test)
    assert result.per_image["tp"].sum() == result.metrics.tp
    # localisation is sub-pixel on average
    pts, _, _ = det.predict(test[0].image)
    from biakit.metrics import match_points

    assert match_points(test[0].points, pts, tolerance=3).mean_distance < 0.5
    # the tuned decoding is stored with the model and used after loading
    manifest = json.loads((tmp_path / "model.json").read_text())
    assert manifest["format"] == "biakit.model" and manifest["task"] == "detection"
    tuned = json.loads((tmp_path / "thresholds.json").read_text())
    assert tuned == det.thresholds and set(tuned) == {"threshold", "min_distance"}
    # tuning does not rewrite the config the user gave
    assert json.loads((tmp_path / "config.json").read_text()) == config.model_dump(mode="json")
    assert (tmp_path / "tuning.csv").exists() and (tmp_path / "weights.pt").exists()
    assert det.tuning["f1"].max() >= 0.95
    loaded = Detector.load(tmp_path)
    for a, b in zip(det.predict(test[1].image), loaded.predict(test[1].image)):
        np.testing.assert_array_equal(a, b)


def test_tuning_picks_the_best_grid_point(monkeypatch):
    data = spots(2, shape=(48, 48))
    det = Detector(DetectionConfig(patch_shape=(32, 32), min_distance_grid=(1.0, 3.0), **TINY))
    det.model = object()  # predict_maps is replaced below

    def perfect(image, **kwargs):  # the exact target of the image that is asked for
        k = next(i for i, d in enumerate(data) if np.shares_memory(d.image, image))
        return point_heatmap(data[k].points, (48, 48), sigma=2.0, subpixel=True) * 0.8

    monkeypatch.setattr(det, "predict_maps", perfect)
    table = det.tune([d.image for d in data], [d.points for d in data])
    assert len(table) == 2 * 19
    ok = table[table["threshold"] <= 0.7]
    assert (ok["f1"] == 1.0).all()  # every peak is >= 0.8 * exp(-0.25) = 0.62 .. 0.8
    assert (table[table["threshold"] > 0.8]["f1"] == 0.0).all()
    # ties at F1 = 1: threshold nearest 0.5, then the smaller min_distance
    assert det.thresholds == {"threshold": 0.5, "min_distance": 1.0}
    assert det.config.min_distance == 2.0  # the config is left as given


def test_3d_and_multiclass_end_to_end(tmp_path):
    s3 = synthetic_spots((16, 32, 32), n_spots=6, seed=0)
    cfg3 = DetectionConfig(
        patch_shape=(8, 16, 16), spacing=(2.0, 1.0, 1.0), sigma=2.0,
        threshold_grid=(0.3, 0.5), train=FAST, **TINY,
    )  # fmt: skip
    det = Detector(cfg3)
    det.train([s3.image, s3.image], [s3.points, s3.points], output_dir=tmp_path / "m3d")
    heat = Detector.load(tmp_path / "m3d").predict_heatmap(s3.image)
    assert heat.shape == (1, 16, 32, 32) and 0 <= heat.min() and heat.max() <= 1
    pts, cls, scores = det.predict(s3.image, threshold=0.0)
    assert pts.shape[1] == 3 and len(pts) == len(cls) == len(scores) > 0
    # two classes, two-channel images, explicit validation data, MSE loss
    s2 = synthetic_spots((32, 32), n_spots=6, n_classes=2, seed=1)
    image = np.stack([s2.image, s2.image**2])
    cfg2 = DetectionConfig(patch_shape=(32, 32), n_classes=2, loss="mse", train=FAST, **TINY)
    det2 = Detector(cfg2)
    det2.train(
        [image], [s2.points], [s2.classes], output_dir=None,
        val_images=[image], val_points=[s2.points], val_classes=[s2.classes],
    )  # fmt: skip
    pts, cls, _ = det2.predict(image, threshold=0.0)
    assert set(cls.tolist()) <= {0, 1} and det2.predict_heatmap(image).shape == (2, 32, 32)
    result = det2.evaluate([image], [s2.points], [s2.classes])
    assert {"precision", "recall", "f1", "tp"} <= set(result.summary.columns)
    assert result.summary["tolerance"].iloc[0] == 3.0 == result.metrics.tolerance


def test_heatmap_loss_values():
    logits = torch.tensor([[[[0.0, 2.0]]]])
    target = torch.tensor([[[[1.0, 0.0]]]])
    p = torch.sigmoid(logits)
    mse = heatmap_loss("mse", foreground_weight=3.0)(logits, target)
    expected = (4 * (p[..., 0] - 1) ** 2 + 1 * p[..., 1] ** 2) / 5  # weights 1 + 3 t
    assert float(mse) == pytest.approx(float(expected.sum()))
    bce = heatmap_loss("bce")(logits, target)
    manual = -(torch.log(p[..., 0]) + torch.log(1 - p[..., 1])) / 2
    assert float(bce) == pytest.approx(float(manual.sum()), rel=1e-6)


def test_points_csv_round_trip_and_folder_pairs(tmp_path):
    pts = np.array([[1.25, 2.5], [3.0, 4.0]])
    path = write_points_csv(tmp_path / "a.csv", pts, classes=[0, 1], scores=[0.5, 0.25])
    assert path.read_text().splitlines() == ["y,x,class,score", "1.25,2.5,0,0.5", "3.0,4.0,1,0.25"]
    back, cls = read_points_csv(path)
    np.testing.assert_array_equal(back, pts)
    assert cls.tolist() == [0, 1]
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]  # no temporary left behind
    p3 = write_points_csv(tmp_path / "b.csv", [[1, 2, 3]], axes="ZYX")
    assert read_points_csv(p3)[0].tolist() == [[1.0, 2.0, 3.0]] and read_points_csv(p3)[1] is None
    assert read_points_csv(write_points_csv(tmp_path / "e.csv", [], axes="YX"))[0].shape == (0, 2)
    (tmp_path / "im").mkdir()
    (tmp_path / "pts").mkdir()
    for name in ("x1", "x2"):
        write_image(tmp_path / "im" / f"{name}.tif", np.zeros((10, 12), np.uint8), ImageMeta("YX"))
        write_points_csv(tmp_path / "pts" / f"{name}_points.csv", [[4.0, 5.0]], axes="YX")
    images, points, classes, paths = load_point_pairs(tmp_path / "im", tmp_path / "pts")
    assert [im.shape for im in images] == [(1, 10, 12)] * 2
    assert [p.tolist() for p in points] == [[[4.0, 5.0]]] * 2 and classes == [None, None]
    assert [p.name for p in paths] == ["x1.tif", "x2.tif"]


def test_config_errors():
    with pytest.raises(ValueError, match=r"train.loss='ce' is not used by detection"):
        DetectionConfig(patch_shape=(32, 32), train={"loss": "ce"}, **TINY)
    with pytest.raises(ValueError, match=r"spacing has 3 value\(s\)"):
        DetectionConfig(patch_shape=(32, 32), spacing=(1.0, 1.0, 1.0), **TINY)
    with pytest.raises(ValueError, match="a tuning grid needs at least one value"):
        DetectionConfig(patch_shape=(32, 32), threshold_grid=(), **TINY)
    with pytest.raises(ValueError, match="give both test_images and test_points"):
        DetectionConfig(data={"images": "a", "points": "b", "test_images": "c"})
    with pytest.raises(ValueError, match="loss must be 'bce' or 'mse'"):
        heatmap_loss("l1")


def test_training_and_prediction_errors(tmp_path):
    det = Detector(DetectionConfig(patch_shape=(32, 32), train=FAST, **TINY))
    im = np.zeros((32, 32), np.float32)
    with pytest.raises(RuntimeError, match="not trained; call train"):
        det.predict(im)
    with pytest.raises(RuntimeError, match="not trained; call train"):
        det.save(tmp_path / "x")
    cases = [
        (([im, im], [[[1, 1]]]), {}, "got 2 image.* and 1 point array"),
        (([im], [[[1, 1, 1]]]), {}, r"points\[0\] has shape \(1, 3\); expected \(N, 2\)"),
        (([im], [[[1, 40]]]), {}, "outside the image of spatial shape"),
        (([im], [[[1, 1]]], [[2]]), {}, r"classes\[0\] must hold one class in 0\.\.0"),
        (([im], [[[1, 1]]], [[0], [0]]), {}, "got 2 class arrays for 1 images"),
        (([im], [[[1, 1]]]), {"val_points": [[[1, 1]]]}, "val_points / val_classes were given"),
        (([im], [[[1, 1]]]), {"val_images": [im]}, "val_images were given without val_points"),
    ]
    for args, kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            det.train(*args, output_dir=None, **kwargs)
    with pytest.raises(FileNotFoundError, match="point table not found"):
        read_points_csv(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"missing column.*y, x"):
        read_points_csv(tmp_path / "bad.csv")
    (tmp_path / "bad2.csv").write_text("y,x\n1,abc\n")
    with pytest.raises(ValueError, match="cannot read the table"):
        read_points_csv(tmp_path / "bad2.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty file"):
        read_points_csv(tmp_path / "empty.csv")
    with pytest.raises(ValueError, match="axes='ZYX' has 3 letters but points have 2"):
        write_points_csv(tmp_path / "c.csv", [[1, 2]], axes="ZYX")
    with pytest.raises(ValueError, match="axes must be 'YX' or 'ZYX'"):
        write_points_csv(tmp_path / "c.csv", [[1, 2]], axes="XY")
    with pytest.raises(ValueError, match="score values: got 2 for 1 points"):
        write_points_csv(tmp_path / "c.csv", [[1, 2]], scores=[1, 2])
    with pytest.raises(ValueError, match=r"no .csv point tables"):
        load_point_pairs(tmp_path, tmp_path / "nothing")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ModelFileError, match=r"not a biakit model folder \(format 'other'\)"):
        Detector.load(tmp_path / "model")
