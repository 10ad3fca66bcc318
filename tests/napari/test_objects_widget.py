"""Object classification widget: train from painted objects, model folders, class map, table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biakit.errors import ModelFileError, ParameterError

MODELS = Path(__file__).resolve().parents[1] / "data" / "models"


def _objects():
    """Four small squares (ids 1-4) and four large bars (ids 5-8); bars are bright."""
    labels = np.zeros((40, 40), np.uint16)
    for i in range(4):
        labels[2 + 9 * i : 5 + 9 * i, 2:5] = i + 1
        labels[2 + 9 * i : 8 + 9 * i, 20:35] = i + 5
    image = np.where(labels > 4, 1.0, 0.2) * (labels > 0) + 0.05
    return labels, image.astype(np.float32)


def _widget(make_napari_viewer):
    from biakit.napari._objects_widget import ObjectClassifierWidget

    labels, image = _objects()
    viewer = make_napari_viewer()
    viewer.add_image(image, name="img", scale=(0.5, 0.5))
    viewer.add_labels(labels, name="cells", scale=(0.5, 0.5))
    widget = ObjectClassifierWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Object classification")
    return viewer, widget, labels


def test_train_from_annotations_and_save(make_napari_viewer, tmp_path, screenshot):
    viewer, widget, labels = _widget(make_napari_viewer)
    widget.train()
    assert "no layer 'cells annotations'" in widget.message.text()
    annotations = widget.annotate()
    annotations.data[3, 3] = 1  # object 1 (square) -> class 1
    annotations.data[12, 3] = 1  # object 2
    widget.train()
    assert "at least two classes" in widget.message.text()
    annotations.data[4, 25] = 2  # object 5 (bar) -> class 2
    annotations.data[13, 25] = 2  # object 6
    widget.train()
    classes = viewer.layers["cells classes"].data
    expected = np.where(labels > 4, 2, 1) * (labels > 0)  # squares 1, bars 2: by construction
    np.testing.assert_array_equal(classes, expected)
    table = widget.table.frame
    assert table["label"].tolist() == list(range(1, 9))
    assert table["class"].tolist() == [1] * 4 + [2] * 4
    assert viewer.layers["cells"].features["class"].tolist() == [1] * 4 + [2] * 4
    np.testing.assert_allclose(table[["p_1", "p_2"]].sum(axis=1), 1.0)
    assert widget.message.text() == "1: 4, 2: 4"
    folder = widget.save_model(tmp_path / "objects")
    widget.model = None
    viewer.layers.remove("cells classes")
    widget.load_model(folder)
    assert widget.model_label.text().startswith("ObjectClassifier")
    widget.classify()
    np.testing.assert_array_equal(viewer.layers["cells classes"].data, expected)
    csv = widget.table.save_csv(tmp_path / "t.csv")
    assert pd.read_csv(csv)["class"].tolist() == [1] * 4 + [2] * 4
    viewer.window.resize(1400, 820)
    viewer.reset_view()
    screenshot(viewer, "objects")


def test_image_classifier_folder_and_errors(make_napari_viewer, tmp_path):
    from biakit.napari._objects_widget import annotated_classes, load_model
    from biakit.workflows import classify_objects

    viewer, widget, labels = _widget(make_napari_viewer)
    widget.classify()
    assert "model: load a model folder or train from annotations first" in widget.message.text()
    with pytest.raises(ModelFileError, match="expected an object classifier"):
        widget.load_model(MODELS / "semantic_v1")
    with pytest.raises(ModelFileError, match="no such folder"):
        load_model(tmp_path / "missing")
    with pytest.raises(ParameterError, match="nothing to save"):
        widget.save_model(tmp_path / "m")
    assert annotated_classes(np.ones((2, 2), int), np.zeros((2, 2), int)) == {}
    widget.load_model(MODELS / "classification_v1")
    assert widget.model_label.text() == "ImageClassifier: classification_v1"
    widget.classify()
    table = widget.table.frame
    names = list(widget.model.class_names)
    assert table["label"].tolist() == list(range(1, 9))
    assert set(table["class"]) <= set(names)
    direct = classify_objects(widget.model, _objects()[1], labels, spacing=(0.5, 0.5))
    np.testing.assert_allclose(table[[f"p_{n}" for n in names]], direct[[f"p_{n}" for n in names]])
    classes = viewer.layers["cells classes"].data
    for label, class_id in zip(table["label"], table["class_id"]):  # class map = class_id + 1
        assert np.all(classes[labels == label] == class_id + 1)
    assert classes[labels == 0].max() == 0
    assert "area" in table  # measurements joined to the classes
    viewer.layers.clear()
    widget.classify()
    assert widget.message.text() == "error: image: choose an image layer first (none is open)"
