"""Object classification widget: a class per object of a labels layer, a class map and a table.

Two kinds of model folder are accepted:

* an :class:`~biakit.workflows.ImageClassifier` folder (deep learning on a crop
  around each object): :func:`biakit.workflows.classify_objects` then
  :func:`~biakit.workflows.class_map`;
* an :class:`~biakit.pixel.ObjectClassifier` folder (a forest on each object's
  size, shape and intensity), which can also be trained here from a few objects
  painted with their class in an ``annotations`` layer (ilastik's object
  classification).

The class map is a Labels layer ``<labels> classes`` (class ``k`` painted as
``k``; for an ImageClassifier ``class_id + 1``); the per-object table is shown,
set as the labels layer's ``features`` and saved as CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from biakit.errors import ModelFileError, ParameterError
from biakit.napari._layers import LayerPicker, show_layer
from biakit.napari._panels import ModelRow, TableView
from biakit.napari._progress import ProgressRow
from biakit.napari._reader import layer_to_array

__all__ = ["ObjectClassifierWidget", "annotated_classes", "classify_layer_objects", "load_model"]


def load_model(path: str | Path) -> Any:
    """Open an ObjectClassifier or an ImageClassifier model folder.

    Raises
    ------
    ModelFileError
        The folder is neither (the message names it).
    """
    import json

    path = Path(path)
    config = path / "config.json"
    if config.is_file() and not (path / "model.json").exists():
        try:
            kind = json.loads(config.read_text()).get("format")
        except (OSError, ValueError, AttributeError):
            kind = None
        if kind == "biakit.ObjectClassifier":
            from biakit.pixel import ObjectClassifier

            return ObjectClassifier.load(path)
    from biakit.workflows import ImageClassifier, load_model

    model = load_model(path)
    if not isinstance(model, ImageClassifier):
        raise ModelFileError(
            f"{path}: a {type(model).__name__} model; expected an object classifier "
            "(biakit.ObjectClassifier) or an image classifier (task 'classification') folder"
        )
    return model


def annotated_classes(labels: np.ndarray, annotations: np.ndarray) -> dict[int, int]:
    """Class of each annotated object: the most painted class value inside it.

    Examples
    --------
    >>> labels = np.array([[1, 1, 2, 2, 0, 3]])
    >>> annotated_classes(labels, np.array([[0, 2, 1, 1, 1, 0]]))
    {1: 2, 2: 1}
    """
    painted = (annotations > 0) & (labels > 0)
    pairs = np.stack([labels[painted], annotations[painted]], axis=1).astype(np.int64)
    if not len(pairs):
        return {}
    unique, counts = np.unique(pairs, axis=0, return_counts=True)
    best: dict[int, tuple[int, int]] = {}
    for (obj, cls), n in zip(unique.tolist(), counts.tolist()):
        if obj not in best or n > best[obj][1]:
            best[obj] = (cls, n)
    return {obj: cls for obj, (cls, _) in sorted(best.items())}


def classify_layer_objects(model: Any, image: Any, labels: Any, spacing: Any) -> tuple:
    """Classify every object; return ``(class_map, table)`` (what the widget shows).

    ``model`` is an :class:`~biakit.pixel.ObjectClassifier` or an
    :class:`~biakit.workflows.ImageClassifier`; ``table`` has one row per object
    with ``label``, ``class`` and the class probabilities.
    """
    from biakit.pixel import ObjectClassifier

    labels = np.asarray(labels)
    image = np.asarray(image)
    if isinstance(model, ObjectClassifier):
        proba = model.predict_proba(labels, image, spacing=spacing)
        table = proba.copy()
        table.columns = [f"p_{c}" for c in proba.columns]
        table.insert(0, "class", model.classes_[np.argmax(proba.to_numpy(), axis=1)])
        table = table.rename_axis("label").reset_index()
        return model.class_map(labels, image, spacing=spacing), table
    from biakit.workflows import class_map, classify_objects

    table = classify_objects(model, image, labels, spacing=spacing, measure=True)
    return class_map(labels, table), table


class ObjectClassifierWidget(QWidget):
    """Classify the objects of a labels layer with a model folder (or train one here).

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (napari passes it when the widget opens).
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.image = LayerPicker(napari_viewer, ("image",))
        self.labels = LayerPicker(napari_viewer, ("labels",))
        self.model: Any = None
        self.model_row = ModelRow(load=self.load_model, save=self.save_model,
                                  default_name="object_model", status="no model",
                                  on_error=self._error)  # fmt: skip
        self.model_label = self.model_row.status
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.progress = ProgressRow()
        self.table = TableView()
        self.buttons = {}
        for key, text, slot in [
            ("annotate", "Annotate objects", self.annotate),
            ("train", "Train from annotations", self.train),
            ("classify", "Classify objects", self.classify),
            ("csv", "Save CSV...", self._csv_dialog),
        ]:
            self.buttons[key] = QPushButton(text)
            self.buttons[key].clicked.connect(slot)
        form = QFormLayout()
        form.addRow("image", self.image)
        form.addRow("labels", self.labels)
        form.addRow("model", self.model_row)
        grid = QGridLayout()
        for i, key in enumerate(self.buttons):
            grid.addWidget(self.buttons[key], i // 2, i % 2)
        self.buttons["load"] = self.model_row.load_button
        self.buttons["save"] = self.model_row.save_button
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(grid)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.table)

    def _inputs(self) -> tuple[Any, Any, Any, Any]:
        image, labels = self.image.layer(), self.labels.layer()
        if image is None or labels is None:
            what = "image" if image is None else "labels"
            raise ParameterError(f"{what}: choose an {what} layer first (none is open)")
        data, meta = layer_to_array(image)
        if "C" in meta.axes:
            data = np.moveaxis(np.asarray(data), meta.axes.index("C"), -1)
        return image, labels, data, meta

    def _report(self, func: Any) -> Any:
        try:
            return func()
        except (ValueError, TypeError, OSError) as err:
            self._error(err)
            return None

    def _error(self, err: BaseException) -> None:
        self.message.setText(f"error: {err}")

    def load_model(self, path: str | Path) -> Any:
        """Use the model folder at ``path`` (ObjectClassifier or ImageClassifier)."""
        self.model = load_model(path)
        self.model_label.setText(f"{type(self.model).__name__}: {Path(path).name}")
        return self.model

    def annotate(self) -> Any:
        """Add the ``<labels> annotations`` layer: paint class k (1, 2, ...) on a few objects."""
        labels = self.labels.layer()
        if labels is None:
            self.message.setText("error: labels: choose a labels layer first (none is open)")
            return None
        name = f"{labels.name} annotations"
        if name not in self.viewer.layers:
            self.viewer.add_labels(np.zeros(labels.data.shape, np.uint8), name=name,
                                   scale=labels.scale, translate=labels.translate)  # fmt: skip
        layer = self.viewer.layers[name]
        layer.mode, layer.selected_label = "paint", 1
        self.message.setText("paint class 1, 2, ... on some objects, then 'Train from annotations'")
        return layer

    def train(self) -> None:
        """Fit an ObjectClassifier on the annotated objects, then classify every object."""
        self._report(self._train)

    def _train(self) -> None:
        from biakit.pixel import ObjectClassifier

        _, labels, data, meta = self._inputs()
        name = f"{labels.name} annotations"
        if name not in self.viewer.layers:
            raise ParameterError(f"annotations: no layer {name!r}; press 'Annotate objects' first")
        lab = np.asarray(labels.data)
        classes = annotated_classes(lab, np.asarray(self.viewer.layers[name].data))
        if len(set(classes.values())) < 2:
            raise ParameterError(
                f"annotations: objects of at least two classes must be painted, got {classes}"
            )
        spacing = meta.spatial_spacing
        self.model = ObjectClassifier(n_estimators=50, seed=0).fit(lab, data, classes,
                                                                   spacing=spacing)  # fmt: skip
        self.model_label.setText(f"ObjectClassifier trained on {len(classes)} objects")
        self._classify()

    def classify(self) -> None:
        """Classify every object in a worker; class map layer, features and table out."""
        self._report(self._classify)

    def _classify(self) -> None:
        _, labels, data, meta = self._inputs()
        if self.model is None:
            raise ParameterError("model: load a model folder or train from annotations first")

        def done(result: tuple) -> None:
            classes, table = result
            show_layer(self.viewer, f"{labels.name} classes", classes, "labels",
                       scale=labels.scale, translate=labels.translate)  # fmt: skip
            labels.features = table.assign(index=table["label"])
            self.table.set_table(table)
            counts = table["class"].value_counts().sort_index()
            self.message.setText(", ".join(f"{k}: {v}" for k, v in counts.items()))

        self.progress.run(classify_layer_objects, self.model, data, labels.data,
                          meta.spatial_spacing, on_done=done, text="classifying")  # fmt: skip

    def save_model(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Save the current model as a folder."""
        if self.model is None:
            raise ParameterError("model: nothing to save; train from annotations first")
        return Path(self.model.save(path, overwrite=overwrite))

    def _csv_dialog(self) -> None:
        path = QFileDialog.getSaveFileName(self, "Save table", "", "CSV (*.csv)")[0]
        if path:
            self._report(lambda: self.table.save_csv(path))
