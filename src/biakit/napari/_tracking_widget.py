"""Tracking from the viewer: a time-lapse of labels (or points) in, tracks and lineages out.

A thin view over :class:`biakit.workflows.Tracker`: the linker's options are
generated from :class:`biakit.track.LinkConfig`; the result becomes a napari
Tracks layer with the division graph (:func:`biakit.track.napari_tracks`), the
masks relabelled with the track ids (:attr:`TrackingResult.masks`) and the
per-track table (:func:`biakit.track.track_table`), which can be saved as CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from biakit.errors import ConfigError, ParameterError
from biakit.napari._widgets_common import LayerPicker, ProgressRow, TableView, layer_to_array

__all__ = ["TrackingWidget", "track_layers"]


def track_layers(result: Any, *, name: str, scale: tuple[float, ...], spacing: tuple,
                 frame_interval: float = 1.0, image: Any = None) -> tuple[list, Any]:  # fmt: skip
    """Layer-data tuples (tracks, relabelled masks) and the track table of a tracking result.

    Parameters
    ----------
    result : TrackingResult
        What :meth:`biakit.workflows.Tracker.predict` returned.
    name : str
        Name of the input layer (prefix of the new layers).
    scale : tuple of float
        Layer scale of the input, ``T(Z)YX``.
    spacing : tuple of float
        Physical pixel size, ``(Z)YX``, for the table.
    frame_interval : float
        Time between frames, for the table.
    image : ndarray, optional
        Intensity movie for the table's mean intensities.

    Examples
    --------
    >>> from biakit.workflows import Tracker
    >>> m = np.zeros((3, 20, 20), np.uint8)
    >>> m[0, 2:5, 2:5] = 1; m[1, 3:6, 3:6] = 1; m[2, 4:7, 4:7] = 4
    >>> layers, table = track_layers(Tracker().predict(m), name="m", scale=(1, 1, 1),
    ...                              spacing=(1.0, 1.0))
    >>> [kind for _, _, kind in layers], len(table)
    (['tracks', 'labels'], 1)
    """
    from biakit.track import napari_tracks, track_table

    data, parents = napari_tracks(result.graph, result.node_track, result.table)
    layers = [(data, {"name": f"{name} tracks", "graph": parents, "scale": scale,
                      "tail_length": 10}, "tracks")]  # fmt: skip
    if result.masks is not None:
        layers.append((result.masks, {"name": f"{name} tracked", "scale": scale}, "labels"))
    shape = result.masks.shape if result.masks is not None else None
    table = track_table(result.graph, result.node_track, result.table, image=image, shape=shape,
                        spacing=spacing, frame_interval=frame_interval)  # fmt: skip
    return layers, table


def _link_fields() -> dict[str, tuple[Any, Any]]:
    """``{name: (annotation, default)}`` of the linker's options."""
    from biakit.track import LinkConfig

    return {k: (f.annotation, f.default) for k, f in LinkConfig.model_fields.items()}


class TrackingWidget(QWidget):
    """Track a labels (or points) time-lapse; show tracks, relabelled masks, track table.

    Examples
    --------
    >>> widget = TrackingWidget(viewer)  # doctest: +SKIP
    >>> widget.source.select("masks"); widget.run()  # doctest: +SKIP
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.source = LayerPicker(napari_viewer, ("labels", "points"))
        self.intensity = LayerPicker(napari_viewer, ("image",), optional=True)
        self.fields: dict[str, QWidget] = {}
        self.result: Any = None
        form = QFormLayout()
        form.addRow("time-lapse", self.source)
        form.addRow("intensities", self.intensity)
        for name, (annotation, default) in _link_fields().items():
            if annotation is bool:
                widget: QWidget = QCheckBox()
                widget.setChecked(bool(default))
            else:
                widget = QLineEdit("" if default is None else str(default))
                widget.setPlaceholderText("from the data")
            self.fields[name] = widget
            form.addRow(name, widget)
        self.min_length = QLineEdit("1")
        self.fill = QCheckBox()
        self.fill.setChecked(True)
        form.addRow("min_length", self.min_length)
        form.addRow("fill_gaps", self.fill)
        self.run_button, self.save_button = QPushButton("Track"), QPushButton("Save table…")
        self.run_button.clicked.connect(lambda: self.run())
        self.save_button.clicked.connect(self._ask_save)
        self.progress = ProgressRow()
        self.table = TableView()
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for widget in (self.run_button, self.progress, self.table, self.save_button):
            layout.addWidget(widget)

    def set_option(self, name: str, value: Any) -> None:
        """Set a linker option (``max_gap``, ``divisions``, ...) in the form."""
        if name not in self.fields:
            raise ParameterError(f"{name}: not a linker option; one of {', '.join(self.fields)}")
        widget = self.fields[name]
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        else:
            widget.setText("" if value is None else str(value))

    def config(self) -> Any:
        """Return the form's validated :class:`~biakit.workflows.TrackingConfig`."""
        from biakit.workflows import parse_workflow_config

        linking = {}
        for name, widget in self.fields.items():
            if isinstance(widget, QCheckBox):
                linking[name] = widget.isChecked()
            elif widget.text().strip():
                linking[name] = widget.text().strip()
        data = {"task": "tracking", "linking": linking, "fill_gaps": self.fill.isChecked(),
                "min_length": self.min_length.text().strip() or 1}  # fmt: skip
        layer = self.source.layer()
        if layer is not None:
            data["ndim"] = _spatial_ndim(layer)
        return parse_workflow_config(data, source="tracking widget")

    def run(self) -> Any:
        """Track the chosen layer in a worker; add the tracks, masks and table when done."""
        from biakit.workflows import Tracker

        layer = self.source.layer()
        if layer is None:
            raise ParameterError("time-lapse: choose a labels or points layer")
        cfg = self.config()
        scale = tuple(float(s) for s in layer.scale)
        spacing = scale[1:]
        kwargs: dict[str, Any] = {"spacing": spacing, "frame_interval": scale[0]}
        image_layer = self.intensity.layer()
        image = None if image_layer is None else np.asarray(image_layer.data)
        if layer._type_string == "points":
            kwargs["points"] = np.asarray(layer.data, dtype=np.float64)
        else:
            masks, _ = layer_to_array(layer)
            kwargs["masks"], kwargs["image"] = np.asarray(masks), image
        if image is not None and "masks" in kwargs and image.shape != kwargs["masks"].shape:
            raise ParameterError(
                f"intensities: shape {image.shape}, expected the masks' {kwargs['masks'].shape}"
            )

        def done(result: Any) -> None:
            self.result = result
            layers, table = track_layers(result, name=layer.name, scale=scale, spacing=spacing,
                                         frame_interval=scale[0], image=image)  # fmt: skip
            for data, kw, kind in layers:
                if kw["name"] in self.viewer.layers:
                    self.viewer.layers.remove(kw["name"])
                getattr(self.viewer, f"add_{kind}")(data, **kw)
            self.table.set_table(table)
            self.progress.status.setText(
                f"{result.n_tracks} track(s), {result.n_divisions} division(s)"
            )

        return self.progress.run(Tracker(cfg).predict, on_done=done, text="tracking", **kwargs)

    def save_table(self, path: str | Path) -> Path:
        """Write the track table as CSV."""
        return self.table.save_csv(path)

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Track table", "tracks.csv", "CSV (*.csv)")
        if path:
            self.save_table(path)


def _spatial_ndim(layer: Any) -> int:
    """Spatial dimensions of a time-lapse layer (its axes minus time)."""
    ndim = int(layer.data.shape[1] - 1) if layer._type_string == "points" else layer.ndim - 1
    if ndim not in (2, 3):
        raise ConfigError(
            f"time-lapse: layer {layer.name!r} has {ndim} spatial axes; expected 2 or 3 "
            "(T, (Z,) Y, X)"
        )
    return ndim
