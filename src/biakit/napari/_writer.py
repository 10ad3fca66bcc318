"""napari writers: layers to TIFF or OME-Zarr through :func:`biakit.io.write_image`.

The layer's ``metadata["axes"]`` (or a guess from its dimensionality) and its
``scale`` become the file's axes and spacing, so a file written here and read by
:mod:`biakit.napari._reader` opens with the same scale. Writing into an existing
OME-Zarr image adds a Labels layer as ``labels/<layer name>``; several layers saved
together to one ``.ome.zarr`` become the image (the first image layer) with its
label images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import ImageWriteError
from biakit.io import ImageMeta

__all__ = ["write_image", "write_labels", "write_layers"]

_GUESS = {2: "YX", 3: "ZYX", 4: "TZYX", 5: "TCZYX"}


def _meta(data: Any, attributes: dict[str, Any], path: str) -> ImageMeta:
    """Axes and spacing of a layer from its napari attributes (``scale``, ``metadata``)."""
    ndim = np.ndim(data)
    metadata = attributes.get("metadata") or {}
    axes = str(metadata.get("axes", ""))
    if attributes.get("rgb"):
        axes = axes + "C" if len(axes) == ndim - 1 else "ZYXC"[-ndim:]
    if len(axes) != ndim:
        if ndim not in _GUESS:
            raise ImageWriteError(
                f"cannot write {path!r}: a {ndim}-D layer needs metadata['axes'] (e.g. 'TZYX')"
            )
        axes = _GUESS[ndim]
    scale = [float(s) for s in attributes.get("scale") or [1.0] * ndim]
    spacing = tuple(scale[: len(axes)]) if len(scale) >= ndim else (*scale, 1.0)
    return ImageMeta(axes, spacing, unit=str(metadata.get("unit", "micrometer")))


def _check_extension(path: str) -> None:
    if not path.lower().endswith((".tif", ".tiff", ".ome.zarr")):
        raise ImageWriteError(
            f"cannot write {path!r}: biakit's napari writer saves '.tif' or '.ome.zarr' files"
        )


def write_image(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write one Image layer (npe2 single-layer writer); return the written path.

    Examples
    --------
    >>> import tempfile
    >>> p = str(Path(tempfile.mkdtemp()) / "a.tif")
    >>> write_image(p, np.zeros((3, 8, 8), np.uint16), {"scale": (2.0, 0.5, 0.5)}) == [p]
    True
    """
    from biakit.io import write_image as io_write

    _check_extension(path)
    if isinstance(data, list):  # multiscale layer: full resolution
        data = data[0]
    io_write(path, data, _meta(data, attributes, path), overwrite=True)
    return [path]


def write_labels(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write one Labels layer: a TIFF, a new OME-Zarr, or ``labels/<name>`` of an existing one.

    Examples
    --------
    >>> import tempfile
    >>> p = str(Path(tempfile.mkdtemp()) / "a_labels.tif")
    >>> write_labels(p, np.eye(8, dtype=np.int32), {"scale": (0.5, 0.5)}) == [p]
    True
    """
    from biakit.io import write_image as io_write
    from biakit.io import write_labels as io_labels

    _check_extension(path)
    if isinstance(data, list):
        data = data[0]
    meta = _meta(data, attributes, path)
    target = Path(path)
    if path.lower().endswith(".ome.zarr") and target.is_dir():
        name = str(attributes.get("name") or "labels")
        io_labels(target, name, data, meta, overwrite=True)
        return [str(target / "labels" / name)]
    io_write(path, data, meta, overwrite=True)
    if path.lower().endswith(".ome.zarr"):
        io_labels(target, str(attributes.get("name") or "labels"), data, meta, overwrite=True)
    return [path]


def write_layers(path: str, layers: list[tuple[Any, dict[str, Any], str]]) -> list[str]:
    """Write an image and its label layers into one OME-Zarr (npe2 multi-layer writer).

    The first Image layer is the OME-Zarr image; every Labels layer is added as
    ``labels/<layer name>``. Saving only Labels layers writes the first as the image.

    Examples
    --------
    >>> import tempfile
    >>> p = str(Path(tempfile.mkdtemp()) / "a.ome.zarr")
    >>> layers = [(np.zeros((8, 8), np.uint16), {"name": "raw"}, "image"),
    ...           (np.eye(8, dtype=np.int32), {"name": "cells"}, "labels")]
    >>> from biakit.io import read_image
    >>> _ = write_layers(p, layers); read_image(p)[1].extra["labels"]
    ['cells']
    """
    from biakit.io import write_image as io_write
    from biakit.io import write_labels as io_labels

    if not path.lower().endswith(".ome.zarr"):
        raise ImageWriteError(
            f"cannot write {path!r}: several layers are saved together to a '.ome.zarr' image"
        )
    images = [layer for layer in layers if layer[2] == "image"]
    labels = [layer for layer in layers if layer[2] == "labels"]
    if len(images) > 1 or not (images or labels):
        raise ImageWriteError(
            f"cannot write {path!r}: expected one image layer and any number of labels "
            f"layers, got {[kind for _, _, kind in layers]}"
        )
    first = images[0] if images else labels[0]
    data = first[0][0] if isinstance(first[0], list) else first[0]
    io_write(path, data, _meta(data, first[1], path), overwrite=True)
    written = [path]
    for data, attributes, _ in labels:
        data = data[0] if isinstance(data, list) else data
        name = str(attributes.get("name") or "labels")
        io_labels(Path(path), name, data, _meta(data, attributes, path), overwrite=True)
        written.append(str(Path(path) / "labels" / name))
    return written
