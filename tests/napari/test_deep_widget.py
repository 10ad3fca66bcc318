"""Deep-learning widget: train with a live plot, cancel keeps the model, predict as layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from biakit.data import synthetic_nuclei
from biakit.errors import ConfigError, DataError, ParameterError

MODELS = Path(__file__).resolve().parents[1] / "data" / "models"
TINY = {"train.epochs": 2, "train.batch_size": 2, "patch_shape": "16, 16",
        "samples_per_epoch": 4, "model.depth": 1, "model.base_filters": 2}  # fmt: skip


@pytest.fixture
def viewer(make_napari_viewer, one_torch_thread):
    return make_napari_viewer()


@pytest.fixture
def widget(viewer):
    from biakit.napari._deep_widget import DeepWidget

    w = DeepWidget(viewer)
    viewer.window.add_dock_widget(w, name="biakit deep")
    return w


def _set(widget, values):
    for key, value in values.items():
        widget.form.set_value(key, value)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_train_plot_predict_save_load(viewer, widget, tmp_path, screenshot):
    data = synthetic_nuclei((32, 32), n_objects=3, seed=0)
    viewer.add_image(data.image, name="cells")
    viewer.add_labels(data.mask.astype(np.int32), name="mask")
    widget.set_task("semantic")
    widget.image.select("cells")
    widget.target.select("mask")
    _set(widget, {**TINY, "train.lr": 0.01})
    job = widget.train()
    assert job.done and not job.cancelled and job.error is None, job.error
    # the plot got every epoch's record, equal to the trained workflow's own history
    history = widget.workflow.history
    assert [r["epoch"] for r in widget.records] == [1, 2]
    assert [v for _, v in widget.plot.series["train_loss"]] == pytest.approx(
        history["train_loss"].tolist()
    )
    assert widget.plot.draws >= 2 and widget.records[0]["epochs"] == 2
    widget.predict_on.select("cells")
    job = widget.predict()
    assert job.done and job.error is None, job.error
    np.testing.assert_array_equal(
        viewer.layers["cells semantic"].data, widget.workflow.predict(data.image)
    )
    folder = widget.save_model(tmp_path / "model")
    before = _state(widget.workflow.model)
    widget.load_model(folder)
    for key, value in _state(widget.workflow.model).items():
        torch.testing.assert_close(value, before[key])
    screenshot(viewer, "deep")


def test_cancel_training_keeps_model_and_cancel_prediction(viewer, widget, monkeypatch):
    expected = np.load(MODELS / "semantic_v1" / "expected.npz")
    old = widget.load_model(MODELS / "semantic_v1")
    weights = _state(old.model)
    viewer.add_image(expected["image"], name="cells")
    viewer.add_labels((expected["image"] > 0.3).astype(np.int32), name="mask")
    widget.image.select("cells")
    widget.target.select("mask")
    _set(widget, {**TINY, "train.epochs": 500, "train.max_time": 30})

    def cancel_after_first_epoch(done, total):
        if widget.records:
            widget.cancel()  # what the cancel button does, from a progress callback

    widget.progress.progressed.connect(cancel_after_first_epoch)
    job = widget.train()
    assert job.cancelled and job.error is None
    assert 1 <= len(widget.records) < 500
    assert widget.workflow is old
    for key, value in _state(widget.workflow.model).items():
        torch.testing.assert_close(value, weights[key])
    np.testing.assert_array_equal(widget.workflow.predict(expected["image"]), expected["result"])
    assert "cancelled" in widget.progress.status.text()
    # cancel of a prediction: stops at the next tile batch, adds no layer
    image = viewer.add_image(np.random.default_rng(0).random((64, 64), np.float32), name="big")
    from biakit.nn.infer import _predict

    read_tile = _predict.read_tile  # prediction runs a folded copy of the network: patch
    calls = []  # the tile reader, called once per tile (one tile per batch here)

    def first_tile_batch_then_cancel(*args, **kwargs):
        calls.append(1)
        widget._cancel.set()  # the cancel button pressed while the first tile batch runs
        return read_tile(*args, **kwargs)

    monkeypatch.setattr(_predict, "read_tile", first_tile_batch_then_cancel)
    job = widget.predict(image, tile_shape=(32, 32), batch_size=1)
    assert job.cancelled and len(calls) == 1
    assert "big semantic" not in viewer.layers


def test_predict_frozen_models_and_frame_prediction(viewer, widget):
    for task in ("detection", "denoise", "super_resolution", "classification"):
        _check_frozen(viewer, widget, task)
    _check_frame_prediction(viewer, widget)


def _check_frozen(viewer, widget, task):
    expected = np.load(MODELS / f"{task}_v1" / "expected.npz")
    workflow = widget.load_model(MODELS / f"{task}_v1")
    assert widget.task.currentText() == task
    image = viewer.add_image(expected["image"], name=f"img {task}", scale=(0.5, 0.5))
    kwargs = {"threshold": 0.3} if task == "detection" else {}
    job = widget.predict(image, **kwargs)
    assert job.done and job.error is None, job.error
    if task == "detection":
        points = viewer.layers[f"img {task} detection"]
        truth = workflow.predict(expected["image"], threshold=0.3)[0]
        assert len(truth) > 0
        np.testing.assert_allclose(points.data, truth)
        np.testing.assert_allclose(points.scale, (0.5, 0.5))
    elif task == "classification":
        table = widget.table.frame
        assert table["class_id"].tolist() == [int(expected["result"])]
        assert table["class"][0] in viewer.canvas.overlays.text.text
        assert np.isclose(table.filter(like="p_").to_numpy().sum(), 1.0, atol=1e-5)
    else:
        layer = viewer.layers[f"img {task} {task}"]  # what the workflow gives, same scale
        truth = workflow.predict(expected["image"])
        assert truth.shape == expected["result"].shape
        np.testing.assert_allclose(layer.data, truth, rtol=1e-5, atol=1e-6)
        factor = expected["result"].shape[-1] / expected["image"].shape[-1]
        np.testing.assert_allclose(layer.scale, (0.5 / factor, 0.5 / factor))


def _check_frame_prediction(viewer, widget):
    from biakit.data import moving_digits

    movie = moving_digits(1, 8, canvas=16, digit_scale=1, seed=0)[0].astype(np.float32)
    viewer.add_image(movie, name="movie")
    widget.set_task("frame_prediction")
    widget.image.select("movie")
    _set(widget, {"train.epochs": 1, "train.batch_size": 2, "patch_shape": "16, 16",
                  "samples_per_epoch": 2, "model.hid_s": 4, "model.hid_t": 8, "model.n_t": 1,
                  "model.groups": 2})  # fmt: skip
    assert widget.train().done
    widget.predict(viewer.layers["movie"])
    forecast = viewer.layers["movie forecast"]
    n_out = widget.workflow.config.n_output
    assert forecast.data.shape == (n_out, 16, 16)
    assert forecast.translate[0] == len(movie)  # continues the movie in time
    np.testing.assert_allclose(forecast.data, widget.workflow.predict(movie), atol=1e-6)


def test_config_yaml_and_errors(viewer, widget, tmp_path):
    (tmp_path / "train.yaml").write_text(
        "task: instance\npatch_shape: [32, 32]\ntrain: {epochs: 7, max_time: 5}\n"
        "data: {images: imgs, masks: masks}\n"
    )
    cfg = widget.load_config(tmp_path / "train.yaml")
    assert widget.task.currentText() == "instance" and widget.source.currentText() == "folders"
    assert widget.folders[0].text() == str(tmp_path / "imgs")
    assert widget.config().train.epochs == 7 == cfg.train.epochs
    widget.form.set_value("train.epochs", "many")
    with pytest.raises(ConfigError, match=r"train\.epochs"):
        widget.config()
    with pytest.raises(ConfigError, match="not an option"):
        widget.form.set_value("train.epochz", 3)
    widget.source.setCurrentText("layers")
    widget.set_task("semantic")
    with pytest.raises(ParameterError, match="image: choose the image layer"):
        widget.train()
    viewer.add_image(np.zeros((16, 16), np.float32), name="x")
    widget.image.select("x")
    with pytest.raises(ParameterError, match="needs a labels layer"):
        widget.train()
    with pytest.raises(ParameterError, match="train a model or load"):
        widget.predict()
    with pytest.raises(ParameterError, match="nothing to save"):
        widget.save_model(tmp_path / "m")
    with pytest.raises(ParameterError, match="task: expected one of"):
        widget.set_task("painting")
    viewer.add_labels(np.zeros((8, 8), np.int32), name="small")
    widget.target.select("small")
    with pytest.raises(DataError, match="does not fit"):
        widget.train()


def test_asynchronous_training_cancel_keeps_model(viewer, widget, qtbot, asynchronous):
    expected = np.load(MODELS / "semantic_v1" / "expected.npz")
    old = widget.load_model(MODELS / "semantic_v1")
    weights = _state(old.model)
    viewer.add_image(expected["image"], name="cells")
    viewer.add_labels((expected["image"] > 0.3).astype(np.int32), name="mask")
    widget.image.select("cells")
    widget.target.select("mask")
    _set(widget, {**TINY, "train.epochs": 500, "train.max_time": 30})
    job = widget.train()  # a real napari thread worker
    qtbot.waitUntil(lambda: len(widget.records) >= 1, timeout=20000)
    widget.progress.cancel_button.click()
    qtbot.waitUntil(lambda: not widget.progress.busy, timeout=20000)
    assert job.cancelled and widget.progress.status.text() == "cancelled"
    assert widget.workflow is old and len(widget.records) < 500
    for key, value in _state(widget.workflow.model).items():
        torch.testing.assert_close(value, weights[key])


def test_n2v_on_striped_noise_shows_the_structn2v_advice(viewer, widget, monkeypatch):
    from scipy import ndimage as ndi

    shown = []
    monkeypatch.setattr("biakit.napari._deep_widget.notify_warning", shown.append)
    noise = np.random.default_rng(0).normal(size=(64, 64))
    viewer.add_image(ndi.uniform_filter1d(noise, 3, axis=-1).astype("f4"), name="striped")
    widget.set_task("denoise")
    widget.image.select("striped")
    _set(widget, TINY)
    job = widget.train()
    assert job.done and job.error is None, job.error
    assert len(shown) == 1 and "correlated along X" in shown[0]
    assert "struct_axis: -1, struct_length: 5" in shown[0]
    assert widget.model_label.text().endswith("see the warning")
