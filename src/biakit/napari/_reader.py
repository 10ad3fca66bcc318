"""napari reader: every format :mod:`biakit.io` reads, with axes and spacing as layer scale.

* TIFF / OME-TIFF / ImageJ, PNG / JPEG, NPY, HDF5 (each dataset of a file with
  several), Zarr and OME-Zarr (lazily, all resolution levels, its label images as
  Labels layers), and folders of per-frame files (a time-lapse, CTC style).
* ``C`` axes become ``channel_axis`` (one layer per channel; RGB stays RGB),
  spacing becomes ``scale``, and ``metadata["axes"]`` / ``["unit"]`` keep the rest.
* Integer images named like label images (``*_labels``, ``*_mask``, ``*_seg``,
  CTC ``man_seg*`` / ``mask*``) and OME-Zarr ``labels/<name>`` open as Labels layers.

No Qt is imported here: :func:`layer_kwargs` is also used by the sample data.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import ParameterError
from biakit.io import ImageMeta

__all__ = ["get_reader", "layer_kwargs", "layer_to_array", "read_layers"]

LayerData = tuple[Any, dict[str, Any], str]
_LABEL_NAME = re.compile(r"(?:^|[_\-. ])(labels?|masks?|seg|segmentation|man_seg\d*)$|^mask\d*$",
                         re.IGNORECASE)  # fmt: skip


def layer_kwargs(meta: ImageMeta, *, name: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``viewer.add_image`` / ``add_labels`` / a layer tuple from metadata.

    A ``C`` axis becomes ``channel_axis`` (one layer per channel) unless it is the
    last axis, of size 3 or 4, of an RGB image (``meta.extra["rgb"]``); ``scale`` is
    the spacing of the other axes; ``metadata`` keeps ``axes`` (without ``C``) and
    ``unit`` so that :func:`~biakit.napari._widgets_common.layer_to_array` gets them back.

    Examples
    --------
    >>> kw = layer_kwargs(ImageMeta("CZYX", (1.0, 2.0, 0.5, 0.5)), name="cells")
    >>> kw["channel_axis"], kw["scale"], kw["metadata"]["axes"]
    (0, (2.0, 0.5, 0.5), 'ZYX')
    """
    axes, spacing = meta.axes, tuple(float(s) for s in meta.spacing)
    kwargs: dict[str, Any] = {}
    if name is not None:
        kwargs["name"] = name
    if "C" in axes:
        c = axes.index("C")
        if meta.extra.get("rgb") and c == len(axes) - 1:
            kwargs["rgb"] = True
        else:
            kwargs["channel_axis"] = c
            if meta.channel_names:
                kwargs["name"] = [f"{name} {ch}" if name else ch for ch in meta.channel_names]
        axes = axes[:c] + axes[c + 1 :]
        spacing = spacing[:c] + spacing[c + 1 :]
    kwargs["scale"] = spacing
    kwargs["metadata"] = {"axes": axes, "unit": meta.unit}
    return kwargs


_GUESS = {2: "YX", 3: "ZYX", 4: "TZYX"}


def _layer_axes(layer: Any) -> str:
    """Axes of a layer's data: ``metadata["axes"]`` set by biakit, else a guess by ndim."""
    ndim = np.ndim(layer.data[0] if getattr(layer, "multiscale", False) else layer.data)
    axes = str(layer.metadata.get("axes", "")) if hasattr(layer, "metadata") else ""
    if len(axes) == ndim:
        return axes
    if getattr(layer, "rgb", False):
        return "ZYXC"[-ndim:] if ndim in (3, 4) else "YXC"
    if ndim not in _GUESS:
        raise ParameterError(
            f"layer {layer.name!r}: cannot guess the axes of {ndim}-D data; expected 2 to 4 "
            f"dimensions or metadata['axes'] (e.g. 'TZYX')"
        )
    return _GUESS[ndim]


def layer_to_array(layer: Any, *, level: int = 0) -> tuple[Any, ImageMeta]:
    """Return a layer's data and its :class:`~biakit.io.ImageMeta` (axes, spacing from ``scale``).

    Parameters
    ----------
    layer : napari.layers.Layer
        An Image or Labels layer (multiscale: ``level`` is taken).
    level : int
        Resolution level of a multiscale layer.

    Returns
    -------
    data : array_like
        The layer's data as stored (NumPy or Dask), not copied.
    meta : ImageMeta
        Axes (``layer.metadata["axes"]`` or a guess: ``YX``, ``ZYX``, ``TZYX``, RGB
        ``YXC``), spacing from ``layer.scale`` (1.0 for the RGB channel axis), unit
        from ``layer.metadata["unit"]`` (default ``"pixel"``).

    Examples
    --------
    >>> from napari.layers import Image
    >>> data, meta = layer_to_array(Image(np.zeros((3, 8, 8)), scale=(2.0, 0.5, 0.5)))
    >>> meta.axes, meta.spacing
    ('ZYX', (2.0, 0.5, 0.5))
    """
    data = layer.data[level] if getattr(layer, "multiscale", False) else layer.data
    axes = _layer_axes(layer)
    scale = [float(s) for s in layer.scale]
    spacing = tuple(scale[: len(axes)]) if len(scale) >= len(axes) else (*scale, 1.0)
    unit = str(layer.metadata.get("unit", "pixel"))
    return data, ImageMeta(axes, spacing, unit=unit)


def _is_labels_name(path: Path) -> bool:
    from biakit.io import file_key

    return bool(_LABEL_NAME.search(file_key(path)))


def _layer(data: Any, meta: ImageMeta, name: str, labels: bool) -> LayerData:
    if labels:
        kwargs = layer_kwargs(meta.with_(extra={}), name=name)
        kwargs.pop("channel_axis", None)
        return data, kwargs, "labels"
    rgb = meta.axes.endswith("C") and data.shape[-1] in (3, 4) and data.dtype == np.uint8
    return data, layer_kwargs(meta.with_(extra={"rgb": rgb}), name=name), "image"


def _integer(data: Any) -> bool:
    return np.issubdtype(np.dtype(data.dtype), np.integer) or np.dtype(data.dtype).kind == "b"


def _read_ome_zarr(path: Path, name: str) -> list[LayerData]:
    from biakit.io import read_image

    data, meta = read_image(path)
    levels = meta.extra.get("levels") or [None]
    if len(levels) > 1:
        data = [data] + [read_image(path, level=k)[0] for k in range(1, len(levels))]
    is_labels = "image-label" in meta.extra or path.parent.name == "labels"
    out = [_layer(data, meta, name, is_labels and _integer(_first(data)))]
    if len(levels) > 1:
        out[0][1]["multiscale"] = True
    for label_name in meta.extra.get("labels") or []:
        out.extend(_read_ome_zarr(path / "labels" / label_name, label_name))
    return out


def _first(data: Any) -> Any:
    return data[0] if isinstance(data, list) else data


def _read_hdf5(path: Path) -> list[LayerData]:
    import h5py

    from biakit.io import read_image

    names: list[str] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda key, obj: names.append(key) if isinstance(obj, h5py.Dataset) else None)
    out = []
    for key in names:
        data, meta = read_image(f"{path}:/{key}")
        out.append(_layer(data, meta, f"{path.stem}:{key}", _integer(data) and _is_labels_name(
            Path(key))))  # fmt: skip
    return out


def read_layers(path: str | os.PathLike[str]) -> list[LayerData]:
    """Read one path into napari layer-data tuples (what napari's reader contract returns).

    Examples
    --------
    >>> import tempfile
    >>> from biakit.io import write_image
    >>> p = Path(tempfile.mkdtemp()) / "cells_labels.tif"
    >>> write_image(p, np.eye(8, dtype=np.uint16), ImageMeta("YX", (0.5, 0.5)))
    >>> [(kw["name"], kw["scale"], kind) for _, kw, kind in read_layers(p)]
    [('cells_labels', (0.5, 0.5), 'labels')]
    """
    from biakit.io import file_key, read_image, read_timelapse

    p = Path(path)
    name = file_key(p)
    low = p.name.lower()
    if low.endswith(".ome.zarr") or (p.parent.name == "labels" and ".zarr" in str(p).lower()):
        return _read_ome_zarr(p, name)
    if low.endswith((".h5", ".hdf5", ".he5", ".hdf")):
        return _read_hdf5(p)
    if p.is_dir() and not low.endswith(".zarr"):
        data, meta = read_timelapse(p)
        return [_layer(data, meta, name, _integer(data) and _is_labels_name(p))]
    data, meta = read_image(p)
    return [_layer(data, meta, name, _integer(data) and _is_labels_name(p))]


def _readable(path: str) -> bool:
    from biakit.io import supported_formats

    p = Path(path)
    if p.is_dir() and not p.name.lower().endswith(".zarr"):
        return any(_readable(str(c)) for c in sorted(p.iterdir())[:50] if c.is_file())
    return p.name.lower().endswith(supported_formats())


def get_reader(path: str | Sequence[str]) -> Callable[[Any], list[LayerData]] | None:
    """npe2 reader contribution: a function reading ``path`` (one or several), or None.

    Examples
    --------
    >>> get_reader("notes.txt") is None, callable(get_reader("cells.ome.zarr"))
    (True, True)
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths or not all(_readable(str(p)) for p in paths):
        return None

    def reader(given: Any) -> list[LayerData]:
        items = [given] if isinstance(given, (str, os.PathLike)) else list(given)
        return [layer for item in items for layer in read_layers(item)]

    return reader
