"""Label images inside an OME-Zarr image: ``x.ome.zarr/labels/<name>``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from biakit.io._api import _canonical, read_image
from biakit.io._common import (
    ImageReadError,
    ImageWriteError,
    atomic_target,
    check_write_input,
)
from biakit.io._meta import ImageMeta
from biakit.io._ngff import Multiscale, labels_group_attrs, ome_attrs, parse_multiscale
from biakit.io._zarr import list_labels, matched_pyramid, open_node, write_ngff

PathLike = str | os.PathLike[str]


def _image_group(path: Path, err: type[ValueError]) -> tuple[zarr.Group, Multiscale]:
    try:
        node = open_node(path)
    except ImageReadError as e:
        raise err(str(e)) from e
    if not isinstance(node, zarr.Group) or "multiscales" not in ome_attrs(node):
        raise err(f"{str(path)!r} is not an OME-Zarr image (no 'multiscales' metadata)")
    return node, parse_multiscale(path, node)


def read_labels(
    path: PathLike, name: str | None = None, *, level: int = 0, lazy: bool | None = None
) -> tuple[Any, ImageMeta]:
    """Read a label image stored in an OME-Zarr image.

    Parameters
    ----------
    path : str or path
        The OME-Zarr image (``x.ome.zarr``).
    name : str, optional
        Which label image; may be omitted when there is exactly one.
    level, lazy
        As in :func:`read_image`.

    Returns
    -------
    labels : dask.array.Array or numpy.ndarray
    meta : ImageMeta

    Examples
    --------
    >>> import tempfile
    >>> from biakit.io import write_image, write_labels
    >>> p = Path(tempfile.mkdtemp()) / "a.ome.zarr"
    >>> write_image(p, np.zeros((8, 8), np.uint8))
    >>> write_labels(p, "cells", np.eye(8, dtype=np.uint16))
    >>> labels, meta = read_labels(p, lazy=False)
    >>> int(labels.sum()), meta.axes
    (8, 'YX')
    """
    p = Path(path)
    _image_group(p, ImageReadError)
    names = list_labels(p)
    if name is None and len(names) == 1:
        name = names[0]
    if name is None or name not in names:
        what = "no label name given" if name is None else f"no label image {name!r}"
        raise ImageReadError(
            f"cannot read labels of {str(p)!r}: {what}; label images present: "
            f"{', '.join(names) or '(none)'}"
        )
    return read_image(p / "labels" / name, level=level, lazy=lazy)


def write_labels(
    path: PathLike,
    name: str,
    labels: Any,
    meta: ImageMeta | None = None,
    *,
    overwrite: bool = False,
    compression: str | None = "default",
    chunks: tuple[int, ...] | None = None,
    levels: int | None = None,
) -> None:
    """Add a label image to an existing OME-Zarr image, as ``labels/<name>``.

    The labels are written with the image's NGFF version; by default they take the
    image's axes and spacing without the channel axis, and must match its shape there.
    The new group is written beside the others and renamed into place; the image
    itself is not touched.

    Parameters
    ----------
    path : str or path
        The OME-Zarr image.
    name : str
        Label image name (a folder name: no ``/``, not starting with ``.``).
    labels : array_like or dask.array.Array
        Integer (or bool) labels, 0 = background.
    meta : ImageMeta, optional
        Axes and spacing of ``labels``; default: the image's, without ``C``.
    overwrite : bool
        Replace an existing label image of that name.
    compression, chunks
        As in :func:`write_image`.
    levels : int, optional
        Number of resolution levels (each halving Y and X). Default: the image's
        levels, with the same shapes and scales, when the labels match the image's
        shape; one level otherwise.

    Examples
    --------
    >>> import tempfile
    >>> from biakit.io import write_image, write_labels
    >>> p = Path(tempfile.mkdtemp()) / "a.ome.zarr"
    >>> write_image(p, np.zeros((2, 8, 8), np.uint8), ImageMeta("CYX"))
    >>> write_labels(p, "nuclei", np.ones((8, 8), np.int32))
    >>> from biakit.io import read_image
    >>> read_image(p)[1].extra["labels"]
    ['nuclei']
    """
    p = Path(path)
    group, ms = _image_group(p, ImageWriteError)
    if not name or not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
        raise ImageWriteError(
            f"cannot write labels into {str(p)!r}: name must be a folder name, got {name!r}"
        )
    dtype = np.dtype(getattr(labels, "dtype", np.asarray(labels).dtype))
    if not (np.issubdtype(dtype, np.integer) or dtype.kind == "b"):
        raise ImageWriteError(
            f"cannot write labels {name!r} into {str(p)!r}: labels must be integers "
            f"(0 = background), got dtype {dtype}"
        )
    if dtype.kind == "b":
        labels = labels.astype(np.uint8)
    meta = _labels_meta(p, name, group, ms, labels, meta)
    data, meta = _canonical(labels, meta)
    root = p / "labels"
    if not root.exists():
        zarr.open_group(str(root), mode="w", zarr_format=ms.zarr_format)
    pyramid: int | list[Any] = 1 if levels is None else levels
    keep = [i for i, a in enumerate(ms.axes) if a != "C"]
    if levels is None and meta.axes == "".join(ms.axes[i] for i in keep):
        shapes = [tuple(group[p_].shape[i] for i in keep) for p_ in ms.paths]
        if tuple(np.shape(data)) == shapes[0]:
            pyramid = matched_pyramid(
                data, shapes, [tuple(sc[i] for i in keep) for sc in ms.scales]
            )
    with atomic_target(root / name, overwrite=overwrite, directory=True) as tmp:
        write_ngff(
            tmp, root / name, data, meta, version=ms.version, compression=compression,
            chunks=chunks, levels=pyramid, label_source="../../",
        )  # fmt: skip
    names = list_labels(p)
    names += [] if name in names else [name]
    zarr.open_group(str(root), mode="r+").attrs.update(labels_group_attrs(names, ms.version))


def _labels_meta(
    p: Path, name: str, group: zarr.Group, ms: Multiscale, labels: Any, meta: ImageMeta | None
) -> ImageMeta:
    where = p / "labels" / name
    if meta is not None:
        return check_write_input(where, labels, meta)
    keep = [i for i, a in enumerate(ms.axes) if a != "C"]
    axes = "".join(ms.axes[i] for i in keep)
    shape = tuple(group[ms.paths[0]].shape[i] for i in keep)
    if tuple(np.shape(labels)) != shape:
        raise ImageWriteError(
            f"cannot write labels {name!r} into {str(p)!r}: labels shape {np.shape(labels)} "
            f"does not match the image shape {shape} (axes {axes!r}); pass meta to override"
        )
    spacing = tuple(ms.scales[0][i] for i in keep)
    return ImageMeta(axes, spacing, unit=ms.unit)
