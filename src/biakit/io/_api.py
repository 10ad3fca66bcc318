"""``read_image`` / ``write_image``: one entry point for every supported format."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from biakit.axes import to_canonical
from biakit.io._basic import check_picture, read_npy, read_picture, write_npy, write_picture
from biakit.io._common import (
    ImageReadError,
    ImageWriteError,
    atomic_target,
    check_write_input,
)
from biakit.io._hdf5 import read_hdf5, write_hdf5
from biakit.io._meta import ImageMeta
from biakit.io._paths import parse_target
from biakit.io._tiff import read_tiff, write_tiff
from biakit.io._zarr import read_zarr, write_ngff, write_plain_zarr

PathLike = str | os.PathLike[str]


def read_image(
    path: PathLike, *, lazy: bool | None = None, level: int = 0, axes: str | None = None
) -> tuple[Any, ImageMeta]:
    """Read an image and its metadata (axes, spacing, unit, channel names).

    Parameters
    ----------
    path : str or path
        A ``.tif``/``.tiff`` (plain, ImageJ hyperstack), ``.ome.tif``, ``.png``,
        ``.jpg``, ``.npy``, ``file.h5:/group/data`` (HDF5 dataset), ``.zarr``
        (array) or ``.ome.zarr`` file; an OME-Zarr labels image is read as
        ``x.ome.zarr/labels/<name>`` (or with :func:`read_labels`).
    lazy : bool, optional
        Return a Dask array. Default: lazy for Zarr / OME-Zarr, in memory otherwise.
        ``lazy=True`` memory-maps NPY and reads HDF5 chunk-wise; TIFF/PNG/JPEG are read
        into memory and wrapped.
    level : int
        Resolution level of an OME-Zarr image (0 = full resolution).
    axes : str, optional
        The axes of the stored array, in file order (e.g. ``"TZYX"``), replacing
        what the file says. Needed for 4-D and 5-D files without axes metadata
        (NPY, plain TIFF / HDF5 / Zarr): biakit reads 2-D as ``YX`` and 3-D as
        ``ZYX`` but does not guess more. Spacing from the file is kept for the
        letters it names; an ImageJ hyperstack read with ``axes`` is not reordered.

    Returns
    -------
    array : numpy.ndarray or dask.array.Array
        The pixels in the file's axis order, except ImageJ hyperstacks (stored
        ``TZCYX``), returned in canonical ``TCZYX`` order. Singleton ``T``/``C``/``Z``
        axes of ImageJ and OME-TIFF files are dropped.
    meta : ImageMeta
        Axes, spacing (``unit="pixel"`` and 1.0 when the file has none) and extras
        (``meta.extra["format"]``, HDF5 ``"dataset"``, OME-Zarr ``"levels"``, ...).

    Raises
    ------
    ImageReadError
        For a missing file, an unknown extension, a corrupt or truncated file, an
        unsupported dimensionality (not 2 to 5), a missing HDF5 dataset, a bad Zarr,
        4 or more dimensions without axes metadata and no ``axes``, ``axes`` that do
        not fit the array, or a zero, negative or NaN spacing in the file's metadata.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.tif"
    >>> write_image(p, np.zeros((4, 8, 8), np.uint16), ImageMeta("ZYX", (2.5, 0.325, 0.325)))
    >>> image, meta = read_image(p)
    >>> image.shape, meta.axes, meta.spacing, meta.unit
    ((4, 8, 8), 'ZYX', (2.5, 0.325, 0.325), 'micrometer')
    >>> np.save(p.with_suffix(".npy"), np.zeros((2, 3, 8, 8), np.uint8))  # no axes in NPY
    >>> read_image(p.with_suffix(".npy"), axes="TZYX")[1].axes
    'TZYX'
    """
    target = parse_target(path)
    p = target.path
    if axes is not None and not isinstance(axes, str):
        raise ImageReadError(
            f"cannot read {str(p)!r}: axes must be a string such as 'TZYX', got {axes!r}"
        )
    if target.format in ("zarr", "ome-zarr"):
        return read_zarr(p, lazy=True if lazy is None else bool(lazy), level=level, axes=axes)
    if level != 0:
        raise ImageReadError(f"cannot read {str(p)!r}: level={level} applies only to OME-Zarr")
    if not p.exists():
        raise ImageReadError(f"cannot read {str(p)!r}: no such file")
    if p.is_dir():
        raise ImageReadError(f"cannot read {str(p)!r}: it is a folder, not a {target.format} file")
    if target.format == "hdf5":
        data, meta = read_hdf5(p, target.dataset, lazy=bool(lazy), axes=axes)
    elif target.format == "npy":
        data, meta = read_npy(p, lazy=bool(lazy), axes=axes)
    elif target.format in ("png", "jpeg"):
        data, meta = read_picture(p, axes)
    else:
        data, meta = read_tiff(p, axes)
    meta.extra.setdefault("source", str(path))
    if lazy and not hasattr(data, "dask"):
        import dask.array as da

        data = da.from_array(data, chunks="auto")
    return data, meta


def _canonical(array: Any, meta: ImageMeta) -> tuple[Any, ImageMeta]:
    data, axes = to_canonical(array, meta.axes)
    assert meta.spacing is not None
    spacing = tuple(meta.spacing[meta.axes.index(a)] for a in axes)
    return data, meta.with_(axes=axes, spacing=spacing)


def write_image(
    path: PathLike,
    array: Any,
    meta: ImageMeta | None = None,
    *,
    overwrite: bool = False,
    compression: str | None = "default",
    ngff_version: Literal["0.4", "0.5"] = "0.4",
    chunks: tuple[int, ...] | None = None,
    levels: int = 1,
) -> None:
    """Write an image with its metadata, atomically.

    The data go to a temporary file (or folder) beside ``path`` that is renamed into
    place once complete, so ``path`` is never left half-written.

    Parameters
    ----------
    path : str or path
        Target; the extension picks the format (see :func:`supported_formats`).
        ``.tif``: ImageJ hyperstack for uint8/uint16/float32 (axes stored ``TZCYX``,
        read back in ``TCZYX`` order), otherwise a tifffile TIFF keeping the axes order;
        ``.ome.tif``: OME-TIFF; ``.png``/``.jpg``: 2D ``YX`` or colour ``YXC`` only
        (PNG uint8/uint16, JPEG uint8, lossy at quality 95; no spacing stored);
        ``.npy``: pixels only; ``file.h5:/group/data``: an HDF5 dataset (default
        ``/data``; other datasets of an existing file are kept); ``.zarr``: one Zarr
        array; ``.ome.zarr``: OME-Zarr image in canonical ``TCZYX`` order.
    array : array_like or dask.array.Array
        2 to 5 dimensions. Dask arrays are streamed into Zarr chunk by chunk.
    meta : ImageMeta, optional
        Axes and spacing; default axes (``YX``, ``ZYX``, ``CZYX``, ``TCZYX``) if omitted.
    overwrite : bool
        Replace an existing ``path`` (or HDF5 dataset); refused otherwise.
    compression : str or None
        ``"default"`` (TIFF: none, HDF5: gzip, Zarr: zarr's default), ``None`` / ``"none"``,
        or TIFF ``"zlib"``/``"lzma"``, HDF5 ``"gzip"``/``"lzf"``, Zarr
        ``"zstd"``/``"blosc"``/``"gzip"``.
    ngff_version : {"0.4", "0.5"}
        OME-Zarr version (0.4 on Zarr v2, 0.5 on Zarr v3); for ``.zarr`` it picks
        Zarr v2 or v3.
    chunks : tuple of int, optional
        Zarr chunk shape (default: one plane or 64×256×256 brick per chunk).
    levels : int
        OME-Zarr resolution levels, each halving Y and X (mean; labels: nearest).

    Raises
    ------
    ImageWriteError
        If ``path`` exists and not ``overwrite``, the extension is unknown, the array
        does not fit the format, or writing fails.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> write_image(d / "a.ome.zarr", np.ones((2, 16, 16), np.uint8), ngff_version="0.5")
    >>> read_image(d / "a.ome.zarr")[1].extra["ngff_version"]
    '0.5'
    """
    try:
        target = parse_target(path)
    except ImageReadError as err:
        raise ImageWriteError(str(err).replace("cannot handle", "cannot write")) from err
    p = target.path
    meta = check_write_input(p, array, meta)
    fmt = target.format
    if fmt in ("zarr", "ome-zarr") and not p.name.lower().endswith(".zarr"):
        raise ImageWriteError(
            f"cannot write {str(p)!r}: write to a '.zarr' / '.ome.zarr' folder "
            f"(use write_labels for 'x.ome.zarr/labels/<name>')"
        )
    if fmt in ("zarr", "ome-zarr") and ngff_version not in ("0.4", "0.5"):
        raise ImageWriteError(
            f"cannot write {str(p)!r}: ngff_version {ngff_version!r} is not supported; "
            f"expected '0.4' or '0.5'"
        )
    if fmt == "ome-zarr":
        data, meta = _canonical(array, meta)
        with atomic_target(p, overwrite=overwrite, directory=True) as tmp:
            write_ngff(
                tmp, p, data, meta, version=ngff_version, compression=compression,
                chunks=chunks, levels=levels,
            )  # fmt: skip
    elif fmt == "zarr":
        zarr_format = 2 if ngff_version == "0.4" else 3
        with atomic_target(p, overwrite=overwrite, directory=True) as tmp:
            write_plain_zarr(
                tmp, p, array, meta, zarr_format=zarr_format, compression=compression,
                chunks=chunks,
            )  # fmt: skip
    else:
        _write_file(p, target.dataset, fmt, np.asarray(array), meta, overwrite, compression)


def _write_file(
    p: Path, dataset: str | None, fmt: str, data: np.ndarray, meta: ImageMeta,
    overwrite: bool, compression: str | None,
) -> None:  # fmt: skip
    if fmt == "hdf5":  # the file may hold other datasets: the dataset is what is overwritten
        with atomic_target(p, overwrite=True) as tmp:
            write_hdf5(tmp, p, dataset, data, meta, overwrite=overwrite, compression=compression)
    elif fmt in ("tiff", "ome-tiff"):
        with atomic_target(p, overwrite=overwrite) as tmp:
            write_tiff(tmp, p, data, meta, ome=fmt == "ome-tiff", compression=compression)
    elif compression not in ("default", None, "none"):
        raise ImageWriteError(
            f"cannot write {str(p)!r}: compression {compression!r} does not apply to "
            f"{fmt.upper()}; it applies to TIFF, HDF5 and Zarr"
        )
    elif fmt in ("png", "jpeg"):
        picture = check_picture(p, data, meta)
        with atomic_target(p, overwrite=overwrite) as tmp:
            write_picture(tmp, p, picture)
    else:
        with atomic_target(p, overwrite=overwrite) as tmp:
            write_npy(tmp, data)
