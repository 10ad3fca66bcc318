"""Live pixel classifier widget: paint classes, the prediction follows every stroke.

A view over :class:`biakit.pixel.LiveClassifier` (features computed once per
image, a fresh forest fitted on all painted pixels after each stroke, only the
visible region predicted) and :class:`biakit.PixelClassifier` (whole-image
prediction, model folders). Layers: ``<image> scribbles`` (painted by the user),
``<image> prediction`` (classes) and ``<image> uncertainty`` (``1 - (p1 - p2)``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from biakit.errors import ParameterError
from biakit.napari._layers import LayerPicker, visible_region
from biakit.napari._panels import ModelRow
from biakit.napari._pixel_run import _live_update, _spacing, iter_predict_image
from biakit.napari._progress import ProgressRow
from biakit.napari._reader import layer_to_array

__all__ = ["PixelClassifierWidget", "iter_predict_image"]


class PixelClassifierWidget(QWidget):
    """Paint classes in a scribbles layer; retrain and repaint the visible region after each stroke.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (napari passes it when the widget opens).
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        from biakit.features import PRESETS
        from biakit.pixel import CLASSIFIERS

        self.viewer = napari_viewer
        self.image = LayerPicker(napari_viewer, ("image",))
        self.preset, self.classifier_choice = QComboBox(), QComboBox()
        self.preset.addItems(["fast", *[p for p in PRESETS if p != "fast"]])
        self.classifier_choice.addItems(list(CLASSIFIERS))
        self.n_estimators = QSpinBox()
        self.n_estimators.setRange(1, 500)
        self.n_estimators.setValue(24)
        self.classes = QListWidget()
        for name in ("background", "foreground"):
            self._add_class_item(name)
        self.live_box = QCheckBox("retrain after every stroke")
        self.live_box.setChecked(True)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.progress = ProgressRow()
        self.debounce_ms = 150
        self.chunk = 256  # rows (2D) per step of the whole-image prediction
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.retrain)
        self.live: Any = None
        self.model: Any = None  # classifier loaded from a folder (no scribbles)
        self.scribbles_layer: Any = None
        self.last_seconds: float | None = None
        self._busy, self._pending = False, False
        self._build_layout()
        self.preset.currentTextChanged.connect(self._reset_features)
        self.classifier_choice.currentTextChanged.connect(self._reset_model)
        self.n_estimators.valueChanged.connect(self._reset_model)
        self.classes.currentRowChanged.connect(self._select_class)
        self.classes.itemChanged.connect(self._names_changed)

    def _build_layout(self) -> None:
        self.buttons, grid = {}, QGridLayout()
        for i, (key, text, slot) in enumerate([
            ("start", "Start painting", self.start),
            ("add", "Add class", self.add_class),
            ("retrain", "Retrain view", self.retrain),
            ("full", "Predict image", self.predict_image),
        ]):  # fmt: skip
            self.buttons[key] = QPushButton(text)
            self.buttons[key].clicked.connect(slot)
            grid.addWidget(self.buttons[key], i // 2, i % 2)
        self.model_row = ModelRow(load=self.load_model, save=self.save_model,
                                  default_name="pixel_model", on_error=self._error)  # fmt: skip
        self.model_label = self.model_row.status
        self.buttons["save"] = self.model_row.save_button
        self.buttons["load"] = self.model_row.load_button
        form = QFormLayout()
        form.addRow("image", self.image)
        form.addRow("features", self.preset)
        form.addRow("classifier", self.classifier_choice)
        form.addRow("trees / iterations", self.n_estimators)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("classes (double-click to rename; the selected one is painted)"))
        layout.addWidget(self.classes)
        layout.addWidget(self.live_box)
        layout.addLayout(grid)
        layout.addWidget(self.model_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)

    # ---------------------------------------------------------------- classes
    def _add_class_item(self, name: str) -> None:
        item = QListWidgetItem(name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.classes.addItem(item)

    @property
    def class_names(self) -> list[str]:
        """Names of classes 1..K (class ``k`` is painted with label value ``k``)."""
        return [self.classes.item(i).text() for i in range(self.classes.count())]

    def add_class(self) -> None:
        """Add a class (painted with the next label value) and select it."""
        self._add_class_item(f"class {self.classes.count() + 1}")
        self.classes.setCurrentRow(self.classes.count() - 1)

    def _select_class(self, row: int) -> None:
        if self.scribbles_layer is not None and row >= 0:
            self.scribbles_layer.selected_label = row + 1

    def _names_changed(self, *_: Any) -> None:
        import pandas as pd

        table = pd.DataFrame({"index": range(self.classes.count() + 1),
                              "class": ["", *self.class_names]})  # fmt: skip
        for name in ("scribbles", "prediction"):
            layer = self._layer(name)
            if layer is not None:
                layer.features = table

    # ------------------------------------------------------------------ state
    def _layer(self, suffix: str) -> Any:
        image = self.image.layer()
        name = f"{image.name} {suffix}" if image is not None else None
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    def _input(self) -> tuple[Any, Any, Any]:
        layer = self.image.layer()
        if layer is None:
            raise ParameterError("image: choose an image layer first (none is open)")
        data, meta = layer_to_array(layer)
        if "T" in meta.axes:
            raise ParameterError(
                f"image {layer.name!r} has axes {meta.axes!r}: the live classifier works on 2D or "
                "3D images; open one frame (e.g. a slice of the time-lapse) as its own layer"
            )
        return layer, data, meta

    def _reset_features(self, *_: Any) -> None:
        self.live = None

    def _reset_model(self, *_: Any) -> None:
        if self.live is not None:
            self.live.classifier = self._classifier()

    def _classifier(self) -> Any:
        from biakit.pixel import PixelClassifier

        return PixelClassifier(self.preset.currentText(), seed=0,
                               classifier=self.classifier_choice.currentText(),
                               n_estimators=self.n_estimators.value())  # fmt: skip

    def start(self) -> Any:
        """Create (or reuse) the scribbles layer over the chosen image; return it."""
        try:
            layer, data, meta = self._input()
        except ParameterError as err:
            self.message.setText(f"error: {err}")
            return None
        self.live = None
        scribbles = self._layer("scribbles")
        if scribbles is None:
            shape = tuple(n for n, a in zip(data.shape, meta.axes) if a != "C")
            scribbles = self.viewer.add_labels(
                np.zeros(shape, np.uint8), name=f"{layer.name} scribbles",
                scale=layer.scale, translate=layer.translate,
            )  # fmt: skip
        self.scribbles_layer = scribbles
        scribbles.events.paint.connect(self._stroke)
        scribbles.events.data.connect(self._stroke)
        scribbles.mode = "paint"
        scribbles.brush_size = 5
        scribbles.selected_label = max(self.classes.currentRow(), 0) + 1
        self._names_changed()
        self.viewer.layers.selection.active = scribbles
        self.message.setText("paint at least two classes")
        return scribbles

    def _stroke(self, *_: Any) -> None:
        # napari emits ``paint`` before writing a lone paint call's pixels: always defer
        if self.live_box.isChecked():
            self._timer.start(max(int(self.debounce_ms), 0))

    def flush(self) -> None:
        """Run a retrain scheduled by a stroke now instead of after the debounce delay."""
        if self._timer.isActive():
            self._timer.stop()
            self.retrain()

    # ---------------------------------------------------------------- running
    def retrain(self) -> None:
        """Refit on all scribbles and repaint the visible region (current slice, canvas extent)."""
        if self._busy or self.progress.busy:
            self._pending = True
            return
        try:
            self._retrain()
        except (ValueError, TypeError) as err:
            self.message.setText(f"error: {err}")

    def _retrain(self) -> None:
        from biakit.pixel import LiveClassifier

        _, data, meta = self._input()
        scribbles = self.scribbles_layer if self.scribbles_layer is not None else self.start()
        painted = np.asarray(scribbles.data)
        if np.unique(painted[painted > 0]).size < 2:
            self.message.setText("paint at least two classes")
            return
        region = visible_region(self.viewer, scribbles)
        view = tuple(r if isinstance(r, slice) else slice(r, r + 1) for r in region)
        c_axis = meta.axes.index("C") if "C" in meta.axes else None

        def factory() -> Any:
            image = np.asarray(data, dtype=np.float32)
            live = LiveClassifier(image, self.preset.currentText(), spacing=_spacing(meta),
                                  channel_axis=c_axis, seed=0)  # fmt: skip
            live.classifier = self._classifier()
            return live

        started = time.perf_counter()
        self._busy, self._pending = True, False

        def done(result: tuple) -> None:
            self.live, prediction = result
            self._paint(prediction)
            self.model_label.setText("model: trained on the scribbles")
            self.last_seconds = time.perf_counter() - started
            self.message.setText(
                f"view {'x'.join(str(s.stop - s.start) for s in prediction.view)} retrained in "
                f"{prediction.fit_seconds:.2f} s, predicted in {prediction.predict_seconds:.2f} s "
                f"({self.last_seconds:.2f} s with repaint)"
            )

        def finished() -> None:
            self._busy = False
            if self._pending:
                self._stroke()

        self.progress.run(_live_update, self.live, factory, painted.copy(), view,
                          on_done=done, on_finish=finished, text="training")  # fmt: skip

    def _paint(self, prediction: Any) -> None:
        """Write a view's prediction into the prediction and uncertainty layers."""
        shape = self.live.shape
        labels, uncertainty = self._ensure_outputs(shape)
        labels.data[prediction.view] = prediction.labels
        uncertainty.data[prediction.view] = prediction.uncertainty
        labels.refresh()
        uncertainty.refresh()

    def _ensure_outputs(self, shape: tuple[int, ...]) -> tuple[Any, Any]:
        image = self.image.layer()
        pred, unc = self._layer("prediction"), self._layer("uncertainty")
        kw = {"scale": image.scale, "translate": image.translate}
        if pred is None or pred.data.shape != shape:
            if pred is not None:
                self.viewer.layers.remove(pred)
            pred = self.viewer.add_labels(
                np.zeros(shape, np.uint16), name=f"{image.name} prediction", opacity=0.5, **kw
            )
            if self.scribbles_layer is not None:
                pred.colormap = self.scribbles_layer.colormap
            self._names_changed()
        if unc is None or unc.data.shape != shape:
            if unc is not None:
                self.viewer.layers.remove(unc)
            unc = self.viewer.add_image(
                np.zeros(shape, np.float32), name=f"{image.name} uncertainty", colormap="magma",
                contrast_limits=(0, 1), blending="additive", visible=False, **kw,
            )  # fmt: skip
        if self.scribbles_layer is not None:
            self.viewer.layers.selection.active = self.scribbles_layer
        return pred, unc

    def predict_image(self) -> None:
        """Predict the whole image in a worker (cancellable); the layers change only at the end."""
        try:
            _, data, meta = self._input()
        except ParameterError as err:
            self.message.setText(f"error: {err}")
            return
        source = self.live if self.live is not None else self.model
        if source is None:
            self.message.setText("error: train (paint two classes) or load a model first")
            return

        def done(result: tuple) -> None:
            labels, uncertainty = result
            pred, unc = self._ensure_outputs(labels.shape)
            pred.data, unc.data = labels, uncertainty
            self.message.setText(f"predicted the whole image ({'x'.join(map(str, labels.shape))})")

        def finished() -> None:
            if self._pending:
                self._stroke()

        try:
            self.progress.run(iter_predict_image, source, data, meta, chunk=self.chunk,
                              on_done=done, on_finish=finished, text="predicting")  # fmt: skip
        except ParameterError as err:
            self.message.setText(f"error: {err}")

    # ------------------------------------------------------------------ files
    def save_model(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Save the trained classifier as a model folder (:meth:`PixelClassifier.save`)."""
        clf = self.live.classifier if self.live is not None else self.model
        if clf is None or clf.classes_ is None:
            raise ParameterError("model: nothing to save yet; paint two classes to train first")
        return clf.save(path, overwrite=overwrite)

    def load_model(self, path: str | Path) -> Any:
        """Load a model folder; :meth:`predict_image` then uses it until the next stroke."""
        from biakit.pixel import PixelClassifier

        self.model, self.live = PixelClassifier.load(path), None
        self.message.setText(f"loaded {Path(path).name}: classes {self.model.classes_.tolist()}")
        self.model_label.setText(f"model: loaded from {Path(path).name}")
        return self.model

    def _error(self, err: BaseException) -> None:
        self.message.setText(f"error: {err}")
