"""Layer helpers of the widgets: update-or-add a layer, the region on screen, a layer picker.

* :func:`show_layer`: update the layer of that name in place (keeping the user's
  colormap and contrast) or add a new one.
* :func:`visible_region`: the part of a layer on screen (current slice of the
  non-displayed axes, the canvas's visible extent of the displayed ones).
* :class:`LayerPicker`: a combo box of the viewer's layers of some kinds.

Qt is imported with the module: import this file only from widget code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qtpy.QtWidgets import QComboBox

from biakit.errors import ParameterError

__all__ = ["LayerPicker", "show_layer", "visible_region"]


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
