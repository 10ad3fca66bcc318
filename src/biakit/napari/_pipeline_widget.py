"""Classical pipeline widget: steps and parameters, preview, whole-image run, measurements.

The step list and every parameter form come from :mod:`biakit.pipeline`'s step
registry (:data:`~biakit.pipeline.STEPS`, :func:`~biakit.pipeline.params_model`):
a step added to the registry appears here without any change. The pipeline
itself (:class:`~biakit.pipeline.Pipeline`) and the measurements
(:func:`~biakit.measure.measure_objects`) run in a worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from biakit.cancel import check_cancelled
from biakit.napari._widgets_common import (
    LayerPicker,
    ParamsForm,
    ProgressRow,
    TableView,
    layer_to_array,
    show_layer,
    visible_region,
)

__all__ = ["PipelineWidget", "iter_run_pipeline"]


def iter_run_pipeline(pipeline: Any, image: Any, axes: str, spacing: Any, *, measure: bool = True):
    """Run ``pipeline`` on an image (frame by frame for time-lapses) and measure the objects.

    Yields ``(done, total)`` after each frame and returns ``(labels, table)``;
    ``table`` (a :class:`pandas.DataFrame`, or None without ``measure``) has one row
    per object (per frame, column ``frame``, for time-lapses).

    Examples
    --------
    >>> from biakit.pipeline import Pipeline
    >>> from biakit.napari._threading import start_work, synchronous
    >>> image = np.zeros((32, 32), np.float32); image[4:12, 4:12] = 1
    >>> otsu = Pipeline([{"step": "threshold", "method": "otsu"}])
    >>> with synchronous():
    ...     job = start_work(iter_run_pipeline, otsu, image, "YX", (1.0, 1.0))
    >>> labels, table = job.result
    >>> int(labels.max()), table["area"].tolist()
    (1, [64.0])
    """
    import pandas as pd

    from biakit.measure import measure_objects

    image = np.asarray(image)
    frames = [None] if "T" not in axes else range(image.shape[axes.index("T")])
    frame_axes = axes.replace("T", "")
    labels, tables = [], []
    for done, t in enumerate(frames, start=1):
        check_cancelled()
        frame = image if t is None else np.take(image, t, axis=axes.index("T"))
        result = pipeline.run(frame, axes=frame_axes, spacing=spacing)
        labels.append(result.labels)
        if measure:
            table = measure_objects(result.labels, result.raw, spacing=result.spacing)
            if t is not None:
                table.insert(0, "frame", t)
            tables.append(table)
        yield done, len(frames)
    out = labels[0] if frames == [None] else np.stack(labels)
    table = None
    if measure:
        table = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
    return out, table


class PipelineWidget(QWidget):
    """Build a classical pipeline from registered steps, preview it, run it, measure.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (napari passes it when the widget opens).
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        from biakit.pipeline import DEFAULT_STEPS, STEPS, step_names

        self.viewer = napari_viewer
        self.steps: list[dict[str, Any]] = [dict(s) for s in DEFAULT_STEPS]
        self.image = LayerPicker(napari_viewer, ("image",))
        self.step_list = QListWidget()
        self.step_choice = QComboBox()
        for name in step_names():
            self.step_choice.addItem(name)
            self.step_choice.setItemData(self.step_choice.count() - 1, STEPS[name].summary, 3)
        self.form = ParamsForm()
        self.form.changed.connect(self._params_changed)
        self.measure = QCheckBox("measure objects")
        self.measure.setChecked(True)
        self.auto_preview = QCheckBox("preview on every change")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.progress = ProgressRow()
        self.table = TableView()
        self.labels_layer: Any = None
        self._build_layout()
        self.step_list.currentRowChanged.connect(self._show_step)
        self._refresh_steps(select=0)

    # ------------------------------------------------------------------ layout
    def _build_layout(self) -> None:
        buttons = {
            "add": ("Add step", self.add_step),
            "remove": ("Remove", self.remove_step),
            "up": ("Up", lambda: self.move_step(-1)),
            "down": ("Down", lambda: self.move_step(1)),
            "preview": ("Preview view", self.preview),
            "run": ("Run on image", self.run),
            "load": ("Load YAML...", self._load_dialog),
            "save": ("Save YAML...", self._save_dialog),
            "csv": ("Save CSV...", self._csv_dialog),
        }
        self.buttons = {}
        for key, (text, slot) in buttons.items():
            self.buttons[key] = QPushButton(text)
            self.buttons[key].clicked.connect(slot)
        top = QFormLayout()
        top.addRow("image", self.image)
        edit = QGridLayout()
        edit.addWidget(self.step_choice, 0, 0, 1, 2)
        for i, key in enumerate(("add", "remove", "up", "down")):
            edit.addWidget(self.buttons[key], 1 + i // 2, i % 2)
        actions = QGridLayout()
        for i, key in enumerate(("preview", "run", "load", "save", "csv")):
            actions.addWidget(self.buttons[key], i // 2, i % 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(QLabel("steps"))
        layout.addWidget(self.step_list)
        layout.addLayout(edit)
        layout.addWidget(QLabel("parameters of the selected step"))
        layout.addWidget(self.form)
        layout.addWidget(self.measure)
        layout.addWidget(self.auto_preview)
        layout.addLayout(actions)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.table)

    # ------------------------------------------------------------------- steps
    def _refresh_steps(self, select: int | None = None) -> None:
        row = self.step_list.currentRow() if select is None else select
        self.step_list.blockSignals(True)
        self.step_list.clear()
        for i, step in enumerate(self.steps, start=1):
            params = ", ".join(f"{k}={v}" for k, v in step.items() if k != "step")
            self.step_list.addItem(f"{i}. {step['step']}" + (f" ({params})" if params else ""))
        self.step_list.blockSignals(False)
        if self.steps:
            self.step_list.setCurrentRow(min(max(row, 0), len(self.steps) - 1))
            self._show_step(self.step_list.currentRow())
        else:
            self.form.set_model(None, {})

    def _show_step(self, row: int) -> None:
        from biakit.pipeline import params_model

        if 0 <= row < len(self.steps):
            step = self.steps[row]
            values = {k: v for k, v in step.items() if k != "step"}
            self.form.set_model(params_model(step["step"]), values)

    def add_step(self, name: str | None = None) -> None:
        """Append a step (``name`` or the one chosen in the combo box) after the selected one."""
        name = name or self.step_choice.currentText()
        row = self.step_list.currentRow() + 1 if self.steps else 0
        self.steps.insert(row, {"step": name})
        self._refresh_steps(select=row)

    def remove_step(self) -> None:
        """Remove the selected step."""
        row = self.step_list.currentRow()
        if 0 <= row < len(self.steps):
            del self.steps[row]
            self._refresh_steps(select=row - 1)

    def move_step(self, offset: int) -> None:
        """Move the selected step up (-1) or down (+1)."""
        row = self.step_list.currentRow()
        new = row + offset
        if 0 <= row < len(self.steps) and 0 <= new < len(self.steps):
            self.steps[row], self.steps[new] = self.steps[new], self.steps[row]
            self._refresh_steps(select=new)

    def _params_changed(self, values: dict[str, Any]) -> None:
        row = self.step_list.currentRow()
        if not 0 <= row < len(self.steps):
            return
        self.steps[row] = {"step": self.steps[row]["step"], **values}
        self._refresh_steps(select=row)
        if self.auto_preview.isChecked():
            self.preview()

    def pipeline(self) -> Any:
        """Return the :class:`~biakit.pipeline.Pipeline` of the current steps (validated)."""
        from biakit.pipeline import Pipeline

        return Pipeline(self.steps, name="napari")

    # ---------------------------------------------------------------- running
    def _input(self) -> tuple[Any, Any, Any]:
        from biakit.errors import ParameterError

        layer = self.image.layer()
        if layer is None:
            raise ParameterError("image: choose an image layer first (none is open)")
        data, meta = layer_to_array(layer)
        return layer, data, meta

    def _guard(self, func: Any) -> Any:
        try:
            return func()
        except (ValueError, TypeError) as err:
            self.message.setText(f"error: {err}")
            return None

    def preview(self) -> None:
        """Run the pipeline on the visible part of the image (current slice, canvas extent)."""
        self._guard(self._preview)

    def _preview(self) -> None:
        pipeline = self.pipeline()
        layer, data, meta = self._input()
        region = visible_region(self.viewer, layer)
        spatial = [i for i, a in enumerate(meta.axes) if a in "ZYX" and i < len(region)]
        kept = [i for i in spatial if isinstance(region[i], slice)]
        crop = np.asarray(data[region])
        axes = "".join(meta.axes[i] for i in kept) + ("C" if "C" in meta.axes else "")
        spacing = tuple(meta.spacing[i] for i in kept)
        offset = [r.start if isinstance(r, slice) else r for r in region]
        translate = np.asarray(layer.translate) + np.asarray(offset) * np.asarray(layer.scale)
        full = [slice(None) if isinstance(r, slice) else None for r in region]

        def done(result: Any) -> None:
            labels = result[0][tuple(full)]
            show_layer(self.viewer, f"{layer.name} preview", labels, "labels",
                       scale=layer.scale, translate=translate, opacity=0.6)  # fmt: skip
            self.message.setText(f"preview: {int(labels.max())} objects in the view")

        self.progress.run(iter_run_pipeline, pipeline, crop, axes, spacing,
                          measure=False, on_done=done, text="preview")  # fmt: skip

    def run(self) -> None:
        """Run the pipeline on the whole image in a worker; labels layer and table out."""
        self._guard(self._run)

    def _run(self) -> None:
        pipeline = self.pipeline()
        layer, data, meta = self._input()
        spacing = meta.spatial_spacing

        def done(result: Any) -> None:
            labels, table = result
            kwargs: dict[str, Any] = {"scale": layer.scale, "translate": layer.translate,
                                      "metadata": {"axes": meta.axes.replace("C", "")}}  # fmt: skip
            if table is not None and "frame" not in table:
                kwargs["features"] = table.assign(index=table["label"])
            self.labels_layer = show_layer(
                self.viewer, f"{layer.name} labels", labels, "labels", **kwargs
            )
            if table is not None:
                self.table.set_table(table)
            self.message.setText(f"{int(np.unique(labels[labels > 0]).size)} objects")

        self.progress.run(iter_run_pipeline, pipeline, data, meta.axes, spacing,
                          measure=self.measure.isChecked(), on_done=done,
                          text="running")  # fmt: skip

    # ------------------------------------------------------------------ files
    def load_yaml(self, path: str | Path) -> None:
        """Replace the steps with those of a pipeline YAML file."""
        from biakit.pipeline import load_config

        config = load_config(path)
        self.steps = [{"step": s.step, **s.params} for s in config.steps]
        self._refresh_steps(select=0)
        self.message.setText(f"loaded {Path(path).name}")

    def save_yaml(self, path: str | Path) -> Path:
        """Write the steps as a pipeline YAML file (``biakit pipeline run`` reads it)."""
        import yaml

        from biakit._atomic import atomic_write_text

        config = self.pipeline().config
        data = {"name": config.name, "steps": [{"step": s.step, **s.params} for s in config.steps]}
        return atomic_write_text(path, yaml.safe_dump(data, sort_keys=False), overwrite=True)

    def save_csv(self, path: str | Path) -> Path:
        """Write the measurement table of the last run as CSV."""
        return self.table.save_csv(path)

    def _dialog(self, save: bool, caption: str, filt: str) -> str:
        pick = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        return pick(self, caption, "", filt)[0]

    def _load_dialog(self) -> None:
        path = self._dialog(False, "Load pipeline", "YAML (*.yaml *.yml)")
        if path:
            self._guard(lambda: self.load_yaml(path))

    def _save_dialog(self) -> None:
        path = self._dialog(True, "Save pipeline", "YAML (*.yaml *.yml)")
        if path:
            self._guard(lambda: self.save_yaml(path))

    def _csv_dialog(self) -> None:
        path = self._dialog(True, "Save measurements", "CSV (*.csv)")
        if path:
            self._guard(lambda: self.save_csv(path))
