"""Train and predict with every deep workflow from the viewer (a thin view over the workflows).

Choose the task, the training data (an image layer with its labels / points /
target layer, a time-lapse for frame prediction, or the folders of a config's
``data`` section), the main options (generated from the task's config; "Load
config" reads a ``biakit train`` YAML), then Train: a worker trains a *new*
workflow object while the loss / metric plot grows epoch by epoch and the progress
bar counts batches. Cancel stops at the next batch and keeps the previous model
(the widget swaps models only when training finished). Predict runs the current
model on an image layer (tiled, cancellable per tile batch) and adds labels,
points or image layers; classification shows a table and a line of text. Models
are saved and loaded as biakit model folders.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from biakit.errors import ParameterError
from biakit.napari._deep_config import ConfigForm, nested_update
from biakit.napari._deep_run import iter_call, iter_train
from biakit.napari._deep_tasks import (
    TASK_INFO,
    folder_training_data,
    predict_layers,
    training_args,
)
from biakit.napari._layers import LayerPicker
from biakit.napari._panels import ModelRow, TableView
from biakit.napari._plot_widget import CurvePlot
from biakit.napari._progress import ProgressRow, notify_warning
from biakit.napari._reader import layer_to_array

__all__ = ["DeepWidget", "add_layers"]

_TARGET_KINDS = {"labels": ("labels",), "points": ("points",), "image": ("image",)}


def add_layers(viewer: Any, prediction: Any) -> list[Any]:
    """Add a :class:`~biakit.napari._deep_tasks.Prediction`'s layers to ``viewer``; return them."""
    added = []
    for data, kwargs, kind in prediction.layers:
        name = kwargs.get("name")
        if isinstance(name, str) and name in viewer.layers and "channel_axis" not in kwargs:
            viewer.layers.remove(name)  # a new prediction replaces the previous one
        result = getattr(viewer, f"add_{kind}")(data, **kwargs)
        added.extend(result if isinstance(result, list) else [result])
    if prediction.text:
        overlay = viewer.canvas.overlays.text
        overlay.text = prediction.text
        overlay.visible = True
    return added


class DeepWidget(QWidget):
    """Train / predict / save / load any deep workflow of biakit.

    Attributes
    ----------
    workflow : Workflow or None
        The current model (replaced only when training finishes or a model is loaded).
    records : list of dict
        Epoch records of the last training (what the plot shows).

    Examples
    --------
    >>> widget = DeepWidget(viewer)  # doctest: +SKIP
    >>> widget.set_task("semantic"); widget.image.select("cells")  # doctest: +SKIP
    >>> widget.target.select("cells labels"); widget.train()  # doctest: +SKIP
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.workflow: Any = None
        self.records: list[dict[str, Any]] = []
        self._cancel = threading.Event()
        self.task = QComboBox()
        from biakit.workflows import WORKFLOWS

        self.task.addItems([t for t in TASK_INFO if t in WORKFLOWS])
        self.source = QComboBox()
        self.source.addItems(["layers", "folders"])
        self.image = LayerPicker(napari_viewer, ("image",))
        self.target = LayerPicker(napari_viewer, ("labels",), optional=True)
        self.folders = (QLineEdit(), QLineEdit())
        self.form = ConfigForm()
        self.predict_on = LayerPicker(napari_viewer, ("image",))
        self.progress = ProgressRow()
        self.progress.cancel_button.clicked.connect(self._cancel.set)
        self.plot = CurvePlot(title="training curves")
        self.table = TableView()
        self.model_row = ModelRow(load=self.load_model, save=self.save_model)
        self.model_label = self.model_row.status
        self._layout()
        self.task.currentTextChanged.connect(self.set_task)
        self.source.currentTextChanged.connect(self._source_changed)
        self.set_task(self.task.currentText())

    def _layout(self) -> None:
        buttons = {
            "Load config…": self._ask_config,
            "Train": self.train,
            "Predict": self.predict,
        }
        self.buttons = {}
        for text, slot in buttons.items():
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, s=slot: s())
            self.buttons[text] = button
        self.buttons["Save model…"] = self.model_row.save_button
        self.buttons["Load model…"] = self.model_row.load_button
        form = QFormLayout()
        form.addRow("task", self.task)
        form.addRow("", self.buttons["Load config…"])
        form.addRow("training data", self.source)
        form.addRow("image", self.image)
        form.addRow("target", self.target)
        self.folder_rows = []
        for edit in self.folders:
            form.addRow(QLabel(""), edit)
            self.folder_rows.append(edit)
        form.addRow("predict on", self.predict_on)
        row = QHBoxLayout()
        for text in ("Train", "Predict"):
            row.addWidget(self.buttons[text])
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.form)
        layout.addLayout(row)
        layout.addWidget(self.model_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.plot)
        layout.addWidget(self.table)
        self.table.setVisible(False)
        self._source_changed(self.source.currentText())

    # ------------------------------------------------------------------ settings
    def set_task(self, task: str, base: dict[str, Any] | None = None) -> None:
        """Choose the task: its options, target layer kind and folder fields."""
        if task not in TASK_INFO:
            raise ParameterError(f"task: expected one of {', '.join(TASK_INFO)}, got {task!r}")
        if self.task.currentText() != task:
            self.task.blockSignals(True)
            self.task.setCurrentText(task)
            self.task.blockSignals(False)
        info = TASK_INFO[task]
        self.target.kinds = _TARGET_KINDS.get(info.target or "", ())
        self.target.refresh()
        self.target.setEnabled(info.target is not None)
        for edit, key in zip(self.folders, (*info.folders, "")):
            edit.setPlaceholderText(f"{key} folder" if key else "")
            edit.setEnabled(bool(key))
        if base is None:
            base = {"task": task}
        self.form.set_task(task, base)

    def _source_changed(self, source: str) -> None:
        for edit in self.folders:
            edit.setVisible(source == "folders")
        self.image.setEnabled(source == "layers")

    def load_config(self, path: str | Path) -> Any:
        """Read a ``biakit train`` YAML: its task, options and data folders."""
        from biakit.workflows import load_workflow_config

        cfg = load_workflow_config(path)
        self.set_task(cfg.task)
        self.form.set_task(cfg.task, cfg.model_dump(mode="json", exclude_none=True),
                           source=str(path))  # fmt: skip
        if cfg.data is not None:
            keys = TASK_INFO[cfg.task].folders
            for edit, key in zip(self.folders, keys):
                edit.setText(str(getattr(cfg.data, key, "") or ""))
            self.source.setCurrentText("folders")
        return cfg

    def config(self) -> Any:
        """Return the validated config of the form (plus the folders in folder mode)."""
        if self.source.currentText() == "folders":
            keys = TASK_INFO[self.task.currentText()].folders
            data = {k: e.text().strip() for k, e in zip(keys, self.folders) if e.text().strip()}
            if keys[0] not in data:
                raise ParameterError(f"{keys[0]}: give the folder of the training images")
            self.form.base = nested_update(
                self.form.base, {f"data.{k}": v for k, v in data.items()}
            )
        return self.form.config()

    # ------------------------------------------------------------------ training
    def _training_data(self, cfg: Any) -> tuple:
        from biakit.workflows import workflow_for

        ndim = workflow_for(cfg).input_ndim
        if self.source.currentText() == "folders":
            return folder_training_data(cfg, ndim)
        layer = self.image.layer()
        if layer is None:
            raise ParameterError("image: choose the image layer to train on")
        target_layer = self.target.layer() if self.target.isEnabled() else None
        target = None
        if target_layer is not None:
            target = (_points_in(target_layer, layer) if target_layer._type_string == "points"
                      else target_layer.data)  # fmt: skip
        return training_args(cfg.task, ndim, layer_to_array(layer), target)

    def train(self) -> Any:
        """Train a new model in a worker; the current one stays until training finishes."""
        from biakit.workflows import workflow_for

        cfg = self.config()
        args = self._training_data(cfg)
        self._cancel.clear()
        self.records = []
        self.plot.clear()
        return self.progress.run(
            iter_train, lambda: workflow_for(cfg), args, cancel=self._cancel,
            on_yield=self._on_record, on_done=self._trained, text="training",
        )  # fmt: skip

    def _on_record(self, record: dict[str, Any]) -> None:
        if "epoch" in record:
            self.records.append(record)
            self.plot.add_record(record)

    def _trained(self, workflow: Any) -> None:
        self.workflow = workflow
        summary = workflow.training.get("summary", {}) or {}
        text = summary.get("message") or f"{len(self.records)} epoch(s)"
        advice = (workflow.training.get("noise_structure") or {}).get("advice")
        seen = "; see the warning" if advice else ""
        self.model_label.setText(f"model: {workflow.task}, trained: {text}{seen}")
        if advice:  # e.g. N2V on noise correlated along one axis: structN2V's settings
            notify_warning(advice)

    def cancel(self) -> None:
        """Stop the running training or prediction at its next batch (thread-safe flag too)."""
        self._cancel.set()
        self.progress.cancel()

    # ---------------------------------------------------------------- prediction
    def predict(self, layer: Any = None, **kwargs: Any) -> Any:
        """Predict ``layer`` (default: the "predict on" layer) with the current model.

        ``kwargs`` go to the workflow's ``predict`` (``tile_shape``, ``batch_size``, ...).
        """
        if self.workflow is None:
            raise ParameterError("model: train a model or load a model folder first")
        layer = layer if layer is not None else self.predict_on.layer()
        if layer is None:
            raise ParameterError("predict on: choose an image layer")
        data, meta = layer_to_array(layer)
        self._cancel.clear()
        return self.progress.run(
            iter_call, predict_layers, self.workflow, data, meta, name=layer.name,
            what="tile batch", cancel=self._cancel, on_done=self._show, text="predicting",
            **kwargs,
        )  # fmt: skip

    def _show(self, prediction: Any) -> None:
        add_layers(self.viewer, prediction)
        if prediction.table is not None:
            self.table.set_table(prediction.table)
            self.table.setVisible(True)
        self.progress.status.setText(prediction.text or "done")

    # --------------------------------------------------------------- persistence
    def save_model(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the current model as a biakit model folder."""
        if self.workflow is None:
            raise ParameterError("model: nothing to save; train or load a model first")
        return self.workflow.save(path, overwrite=overwrite)

    def load_model(self, path: str | Path) -> Any:
        """Open a model folder (or bioimage.io package) as the current model."""
        from biakit.workflows import load_model

        workflow = load_model(path)
        self.workflow = workflow
        if workflow.task in TASK_INFO:
            self.set_task(workflow.task, workflow.config.model_dump(mode="json", exclude_none=True))
        self.model_label.setText(f"model: {workflow.task}, loaded from {Path(path).name}")
        return workflow

    def _ask_config(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Training config", "", "YAML (*.yaml *.yml)")
        if path:
            self.load_config(path)


def _points_in(points: Any, image: Any) -> Any:
    """Return a points layer's coordinates in an image layer's data coordinates."""
    import numpy as np

    pts = np.asarray(points.data, dtype=np.float64)
    n = min(pts.shape[1] if pts.ndim == 2 else image.ndim, image.ndim)
    world = pts[:, -n:] * np.asarray(points.scale)[-n:] + np.asarray(points.translate)[-n:]
    return (world - np.asarray(image.translate)[-n:]) / np.asarray(image.scale)[-n:]
