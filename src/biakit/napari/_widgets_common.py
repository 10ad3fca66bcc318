"""Small helpers shared by every biakit widget: layers <-> arrays, progress row, table.

* :func:`layer_to_array` / :func:`layer_kwargs`: a napari layer's data with its
  axes and physical spacing (``layer.scale``) as an :class:`~biakit.io.ImageMeta`,
  and the reverse (``add_image`` keyword arguments from metadata); both live in
  :mod:`biakit.napari._reader` (no Qt imports) and are re-exported here.
* :func:`show_layer`: update the layer of that name in place (keeping the user's
  colormap and contrast) or add a new one.
* :func:`visible_region`: the part of a layer on screen (current slice of the
  non-displayed axes, the canvas's visible extent of the displayed ones).
* :class:`LayerPicker`: a combo box of the viewer's layers of some kinds.
* :class:`ProgressRow`: progress bar + status text + cancel button running
  library work through :func:`biakit.napari._threading.start_work`.
* :class:`TableView`: a table of a :class:`pandas.DataFrame`, saved as CSV.
* :class:`ParamsForm` (from :mod:`biakit.napari._forms`): a form generated from a
  pydantic model's fields (values typed as YAML, checked by the model).

Qt is imported with the module: import this file only from widget code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from biakit.cancel import Cancelled
from biakit.errors import ParameterError
from biakit.napari._forms import ParamsForm
from biakit.napari._reader import layer_kwargs, layer_to_array
from biakit.napari._threading import Job, start_work

__all__ = [
    "LayerPicker",
    "ParamsForm",
    "ProgressRow",
    "TableView",
    "layer_kwargs",
    "layer_to_array",
    "show_layer",
    "visible_region",
]

log = logging.getLogger(__name__)


def show_layer(viewer: Any, name: str, data: Any, kind: str = "image", **kwargs: Any) -> Any:
    """Put ``data`` in the layer called ``name`` (same kind: updated in place) or add a layer.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer.
    name : str
        Layer name; an existing layer of another kind is replaced.
    data : array_like
        The new data.
    kind : {"image", "labels"}
        Layer type.
    **kwargs
        Passed to ``add_image`` / ``add_labels`` for a new layer; ``scale``,
        ``translate``, ``metadata`` and ``features`` are also set on an existing one.

    Returns
    -------
    napari.layers.Layer
    """
    if kind not in ("image", "labels"):
        raise ParameterError(f"kind: expected 'image' or 'labels', got {kind!r}")
    layer = viewer.layers[name] if name in viewer.layers else None
    if layer is not None and layer._type_string == kind and layer.data.ndim == np.ndim(data):
        layer.data = data
        for key in ("scale", "translate", "metadata", "features"):
            if key in kwargs:
                setattr(layer, key, kwargs[key])
        if kind == "image" and "contrast_limits" in kwargs:
            layer.contrast_limits = kwargs["contrast_limits"]
        return layer
    if layer is not None:
        viewer.layers.remove(layer)
    add = viewer.add_image if kind == "image" else viewer.add_labels
    return add(data, name=name, **kwargs)


def visible_region(viewer: Any, layer: Any) -> tuple[int | slice, ...]:
    """Index of the part of ``layer`` on screen, in the layer's data coordinates.

    Non-displayed axes get the current slice (an int), displayed axes the slice of
    the canvas's visible extent (the whole axis in 3D display), clipped to the data.

    Returns
    -------
    tuple of int or slice
        One entry per data axis (an RGB layer's channel axis excluded).
    """
    shape = tuple(int(n) for n in layer.level_shapes[0][: layer.ndim])
    offset = viewer.dims.ndim - layer.ndim
    displayed = [d - offset for d in viewer.dims.displayed if d >= offset]
    point = np.asarray(layer.world_to_data(viewer.dims.point), dtype=float)
    corners = _canvas_corners(viewer)
    ends = []
    for corner in corners or []:
        world = np.asarray(viewer.dims.point, dtype=float)
        world[list(viewer.dims.displayed)] = corner
        ends.append(np.asarray(layer.world_to_data(world), dtype=float))
    index: list[int | slice] = []
    for axis, size in enumerate(shape):
        if axis not in displayed:
            index.append(int(np.clip(np.round(point[axis]), 0, size - 1)))
        elif not ends:
            index.append(slice(0, size))
        else:
            lo = int(np.clip(np.floor(min(e[axis] for e in ends)), 0, size - 1))
            hi = int(np.clip(np.ceil(max(e[axis] for e in ends)) + 1, lo + 1, size))
            index.append(slice(lo, hi))
    return tuple(index)


def _canvas_corners(viewer: Any) -> list[np.ndarray] | None:
    """World coordinates (displayed axes) of the canvas's top-left and bottom-right corners."""
    if viewer.dims.ndisplay != 2:
        return None
    canvas = getattr(viewer, "canvas", None)
    size = np.asarray(getattr(canvas, "size", None) or getattr(viewer, "_canvas_size", (0, 0)))
    size = size.astype(float)
    zoom = float(viewer.scene.camera.zoom)
    if size.min() <= 1 or zoom <= 0:
        return None
    center = np.asarray(viewer.scene.camera.center, dtype=float)[-2:]
    half = size / 2.0 / zoom
    return [center - half, center + half]


class LayerPicker(QComboBox):
    """A combo box listing the viewer's layers of the given kinds, kept up to date.

    Parameters
    ----------
    viewer : napari.Viewer
    kinds : sequence of str
        Layer type strings (``"image"``, ``"labels"``, ``"points"``, ...).
    optional : bool
        Offer an empty first entry (no layer).
    """

    def __init__(self, viewer: Any, kinds: Sequence[str] = ("image",), *, optional: bool = False):
        super().__init__()
        self.viewer, self.kinds, self.optional = viewer, tuple(kinds), optional
        events = viewer.layers.events
        for event in (events.inserted, events.removed, events.reordered):
            event.connect(self.refresh)
        self.refresh()

    def refresh(self, *_: Any) -> None:
        """Re-list the layers, keeping the current choice when it still exists."""
        current = self.currentText()
        self.blockSignals(True)
        self.clear()
        if self.optional:
            self.addItem("")
        for layer in self.viewer.layers:
            if layer._type_string in self.kinds:
                self.addItem(layer.name)
        if current and self.findText(current) >= 0:
            self.setCurrentIndex(self.findText(current))
        self.blockSignals(False)

    def layer(self) -> Any:
        """Return the chosen layer, or None."""
        name = self.currentText()
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    def select(self, name: str) -> None:
        """Choose the layer called ``name`` (refreshing the list first)."""
        self.refresh()
        index = self.findText(name)
        if index < 0:
            raise ParameterError(f"layer {name!r} is not one of {self.kinds} layers of the viewer")
        self.setCurrentIndex(index)


class ProgressRow(QWidget):
    """Progress bar, status text and cancel button; :meth:`run` starts work with them.

    Signals
    -------
    progressed(done, total)
        Emitted after each progress record (tests connect to it to cancel mid-way).
    """

    progressed = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar, self.status = QProgressBar(), QLabel("")
        self.cancel_button = QPushButton("Cancel")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.bar, self.status, self.cancel_button):
            row.addWidget(widget)
        self.job: Job | None = None
        self._cancel_asked = False
        self.last_error: BaseException | None = None

    @property
    def busy(self) -> bool:
        """True while work started by :meth:`run` is running."""
        return self.cancel_button.isEnabled()

    def run(
        self,
        func: Callable[..., Any],
        *args: Any,
        on_yield: Callable[[Any], None] | None = None,
        on_done: Callable[[Any], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_finish: Callable[[], None] | None = None,
        text: str = "working",
        **kwargs: Any,
    ) -> Job:
        """Run ``func(*args, **kwargs)`` through ``start_work`` with this row's progress and cancel.

        Each yielded record goes to :meth:`report` then ``on_yield``. Errors are shown
        in the status text and as a napari notification unless ``on_error`` is given.
        ``on_finish`` runs last, whatever the outcome.

        Raises
        ------
        ParameterError
            While earlier work of this row is still running (one job per row).
        """
        if self.busy:
            raise ParameterError(
                f"busy: {self.status.text() or 'earlier work'} is running; wait or press Cancel"
            )
        self._cancel_asked, self.last_error = False, None
        self.cancel_button.setEnabled(True)
        self.status.setText(text)
        self.bar.setRange(0, 0)  # busy until the first record

        def yielded(record: Any) -> None:
            self.report(record)
            if on_yield is not None:
                on_yield(record)
            if self._cancel_asked and self.job is None:
                raise Cancelled()  # synchronous mode: stop the work from its callback

        def cancelled() -> None:
            self.status.setText("cancelled")
            if on_cancel is not None:
                on_cancel()

        def errored(exc: BaseException) -> None:
            self.last_error = exc
            self.status.setText(f"error: {exc}")
            if on_error is not None:
                on_error(exc)
            else:
                _notify_error(exc)

        def finished() -> None:
            self.cancel_button.setEnabled(False)
            self.bar.setRange(0, 1)
            self.bar.setValue(1 if not self._cancel_asked else 0)
            self.job = None
            if on_finish is not None:
                on_finish()

        job = start_work(func, *args, on_yield=yielded, on_done=on_done, on_error=errored,
                         on_cancel=cancelled, on_finish=finished, **kwargs)  # fmt: skip
        self.job = None if job.done else job
        return job

    def report(self, record: Any) -> None:
        """Show a progress record: ``(done, total, ...)``, a dict (``epoch``, ``done``), text."""
        done, total, text = _parse_record(record)
        if total:
            self.bar.setRange(0, int(total))
            self.bar.setValue(int(done))
        if text:
            self.status.setText(text)
        self.progressed.emit(int(done or 0), int(total or 0))

    def cancel(self) -> None:
        """Ask the running work to stop at its next check (batch, tile or block)."""
        self._cancel_asked = True
        self.status.setText("cancelling")
        if self.job is not None:
            self.job.cancel()


def _parse_record(record: Any) -> tuple[int | None, int | None, str]:
    """``(done, total, text)`` from the progress records biakit's generators yield."""
    if (
        isinstance(record, tuple)
        and len(record) >= 2
        and all(isinstance(v, (int, np.integer)) for v in record[:2])
    ):
        return int(record[0]), int(record[1]), f"{int(record[0])}/{int(record[1])}"
    if isinstance(record, dict):
        if "epoch" in record:
            loss = record.get("train_loss")
            text = f"epoch {record['epoch']}" + (f", loss {loss:.4g}" if loss is not None else "")
            return int(record["epoch"]), record.get("epochs"), text
        if "done" in record:
            return int(record["done"]), record.get("total"), str(record.get("text", ""))
    if isinstance(record, str):
        return None, None, record
    return None, None, ""


def _notify_error(exc: BaseException) -> None:
    """Show an error as a napari notification (logged when napari cannot show it)."""
    try:
        from napari.utils.notifications import show_error

        show_error(str(exc))
    except Exception:  # pragma: no cover - no napari notification manager
        log.error("%s", exc)


class TableView(QTableWidget):
    """A read-only table of a :class:`pandas.DataFrame`; :meth:`save_csv` writes it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame: Any = None
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

    def set_table(self, frame: Any, *, max_rows: int = 2000) -> None:
        """Show ``frame`` (first ``max_rows`` rows; floats with 4 significant digits)."""
        self.frame = frame
        shown = frame.head(max_rows)
        self.clear()
        self.setRowCount(len(shown))
        self.setColumnCount(len(shown.columns))
        self.setHorizontalHeaderLabels([str(c) for c in shown.columns])
        for j, column in enumerate(shown.columns):
            for i, value in enumerate(shown[column].tolist()):
                text = f"{value:.4g}" if isinstance(value, float) else str(value)
                self.setItem(i, j, QTableWidgetItem(text))

    def save_csv(self, path: str | Path) -> Path:
        """Write the whole table (not only the rows shown) to ``path`` as CSV."""
        if self.frame is None:
            raise ParameterError("the table is empty: run the analysis before saving a CSV")
        path = Path(path)
        self.frame.to_csv(path, index=False)
        return path
