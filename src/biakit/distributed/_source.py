"""Lazy inputs: a file (or array) any worker can read region by region, in canonical axes.

A :class:`LazySource` names what to open (a Zarr / OME-Zarr array, an HDF5 dataset,
a TIFF read page-wise through tifffile's Zarr view, an NPY file memory-mapped, or
an in-memory / Dask array), not an open handle: it pickles in a few hundred bytes
and each task opens the file itself, so no pixels go through the scheduler.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biakit.axes import CANONICAL
from biakit.errors import DataError, ImageReadError
from biakit.io import ImageMeta

#: Files above this size count as "large" for the command line's automatic block-wise mode.
LARGE_BYTES = 1 << 30


@dataclass(frozen=True)
class LazySource:
    """A region-readable image in canonical axes order (a subsequence of ``CZYX``).

    Attributes
    ----------
    kind : str
        ``"zarr"``, ``"hdf5"``, ``"tiff"``, ``"npy"`` or ``"array"``.
    path : str or None
        File or folder; None for ``"array"``.
    key : str or None
        Zarr array path inside its group / HDF5 dataset.
    order : tuple of int
        Stored axis of each canonical axis.
    meta : ImageMeta
        Canonical axes, spacing and unit.
    shape : tuple of int
        Canonical shape.
    dtype : numpy.dtype
        Pixel type.
    array : object
        The NumPy / Dask array of an ``"array"`` source.
    """

    kind: str
    path: str | None
    key: str | None
    order: tuple[int, ...]
    meta: ImageMeta
    shape: tuple[int, ...]
    dtype: np.dtype
    array: Any = field(default=None, repr=False, compare=False)

    @property
    def axes(self) -> str:
        """Canonical axes, e.g. ``"CZYX"``."""
        return self.meta.axes

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape of the spatial axes."""
        return tuple(n for n, a in zip(self.shape, self.axes) if a in "ZYX")

    @property
    def nbytes(self) -> int:
        """Uncompressed size in bytes."""
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def read(self, region: tuple[slice, ...] | None = None) -> np.ndarray:
        """Read ``region`` (slices in canonical axes) as a NumPy array."""
        region = tuple(region or (slice(None),) * len(self.shape))
        stored: list[Any] = [slice(None)] * len(self.order)
        for sl, axis in zip(region, self.order):
            stored[axis] = sl
        data = np.asarray(_read_stored(self, tuple(stored)))
        return data.transpose(self.order) if _moved(self.order) else data


def _moved(order: tuple[int, ...]) -> bool:
    return list(order) != sorted(order)


def _read_stored(src: LazySource, key: tuple[Any, ...]) -> Any:
    if src.kind == "array":
        part = src.array[key]
        return part.compute(scheduler="sync") if hasattr(part, "dask") else part
    if src.kind == "zarr":
        import zarr

        node = zarr.open(str(src.path), mode="r")
        return (node[src.key] if src.key else node)[key]
    if src.kind == "hdf5":
        import h5py

        with h5py.File(src.path, "r") as f:
            return f[src.key][key]
    if src.kind == "npy":
        return np.load(src.path, mmap_mode="r")[key]
    import tifffile
    import zarr

    with tifffile.imread(src.path, aszarr=True) as store:
        return zarr.open(store, mode="r")[key]


def open_source(
    source: Any,
    *,
    axes: str | None = None,
    level: int = 0,
    channel: int | None = None,
    time: bool = False,
) -> LazySource:
    """Open an image file (or wrap an array) for region-wise reading by any worker.

    Parameters
    ----------
    source : str, path, LazySource, numpy.ndarray or dask.array.Array
        ``.zarr`` / ``.ome.zarr`` (lazily), ``file.h5:/dataset`` (chunk-wise), ``.npy``
        (memory-mapped), ``.tif`` (page-wise through tifffile's Zarr view when the
        layout allows, otherwise read once into memory), other formats (read into
        memory), or an array (``axes`` default ``YX`` / ``ZYX`` / ``CZYX``).
    axes : str, optional
        Axes of the stored array when its metadata lacks them.
    level : int
        OME-Zarr resolution level.
    channel : int, optional
        Keep only this channel (the ``C`` axis is dropped).
    time : bool
        Keep a time axis of more than one frame (``TYX``, ``TCZYX``, ...; see
        :func:`frame_sources`). By default such an image is refused; a time axis of
        one frame is always dropped.

    Returns
    -------
    LazySource

    Raises
    ------
    ImageReadError
        Unreadable file (see :func:`biakit.io.read_image`).
    DataError
        A time axis with more than one frame (without ``time``), or ``channel`` out
        of range.

    Examples
    --------
    >>> src = open_source(np.arange(24).reshape(2, 3, 4), axes="YXC")
    >>> src.axes, src.shape
    ('CYX', (4, 2, 3))
    >>> src.read((slice(0, 1), slice(None), slice(1, 3))).tolist()
    [[[4, 8], [16, 20]]]
    """
    if isinstance(source, LazySource):
        src = source
    elif isinstance(source, str | os.PathLike):
        src = _open_path(source, axes, level, time)
    else:
        from biakit.io._meta import ImageMeta as _Meta

        ndim = np.ndim(source)
        meta = _Meta(axes, unit="pixel") if axes else _Meta.default(ndim)  # no physical size
        if len(meta.axes) != ndim:
            raise DataError(f"axes {axes!r} do not fit an array of shape {np.shape(source)}")
        data = source if hasattr(source, "dask") else np.asarray(source)
        src = _canonical("array", None, None, meta, data.shape, data.dtype, data, time)
    return _select(src, channel)


def _open_path(
    path: str | os.PathLike[str], axes: str | None, level: int, time: bool
) -> LazySource:
    from biakit.io import read_image
    from biakit.io._paths import parse_target

    target = parse_target(path)
    p = target.path
    if target.format in ("zarr", "ome-zarr"):
        data, meta = read_image(p, lazy=True, level=level, axes=axes)
        key = None
        if meta.extra.get("format") == "ome-zarr":
            key = meta.extra["levels"][level]
        return _canonical("zarr", str(p), key, meta, data.shape, data.dtype, time=time)
    if target.format == "hdf5":
        data, meta = read_image(path, lazy=True, axes=axes)
        return _canonical("hdf5", str(p), meta.extra["dataset"], meta, data.shape, data.dtype,
                          time=time)  # fmt: skip
    if target.format == "npy":
        data, meta = read_image(p, lazy=True, axes=axes)
        return _canonical("npy", str(p), None, meta, data.shape, data.dtype, time=time)
    if target.format in ("tiff", "ome-tiff"):
        found = _tiff_source(p, axes, time)
        if found is not None:
            return found
    data, meta = read_image(p, lazy=False, axes=axes)
    return _canonical("array", None, None, meta, data.shape, data.dtype, np.asarray(data), time)


def _tiff_source(path: Path, axes: str | None, time: bool) -> LazySource | None:
    """Open a big TIFF page-wise; None when it is better read whole (small, RGB, ...)."""
    import tifffile

    from biakit.io._common import meta_from_file
    from biakit.io._tiff import _imagej_meta, _ome_meta, _plain_meta

    if not path.is_file() or path.stat().st_size < (64 << 20):
        return None  # small files: the ordinary reader (exact metadata handling, no overhead)
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            raw, shape = series.axes, tuple(series.shape)
            if "S" in raw or len(shape) != len(raw):
                return None
            placeholder = np.broadcast_to(np.zeros((), series.dtype), shape)
            if tif.is_ome:
                file_axes, spacing, unit, names, fmt = _ome_meta(tif, raw, shape)
            elif tif.is_imagej:
                found = _imagej_meta(path, tif, placeholder, raw, reorder=False)
                _, file_axes, spacing, unit = found
                names, fmt = None, "imagej-tiff"
            else:
                file_axes, spacing, unit, names = _plain_meta(path, tif, raw)
                fmt = "tiff"
            with series.aszarr() as store:
                import zarr

                if tuple(zarr.open(store, mode="r").shape) != shape:
                    return None
    except (OSError, ValueError, KeyError, TypeError, tifffile.TiffFileError):
        return None
    meta = meta_from_file(
        path, len(shape), file_axes, override=axes, spacing=spacing, unit=unit,
        channel_names=names, extra={"format": fmt, "source": str(path)},
    )  # fmt: skip
    return _canonical("tiff", str(path), None, meta, shape, np.dtype(series.dtype), time=time)


def _canonical(
    kind: str, path: str | None, key: str | None, meta: ImageMeta, shape: Any, dtype: Any,
    array: Any = None,
    time: bool = False,
) -> LazySource:  # fmt: skip
    """Order the stored axes canonically; drop a single frame, refuse more unless ``time``."""
    axes = meta.axes
    order = tuple(sorted(range(len(axes)), key=lambda i: CANONICAL.index(axes[i])))
    spacing = tuple((meta.spacing or (1.0,) * len(axes))[i] for i in order)
    shape = tuple(int(shape[i]) for i in order)
    new = meta.with_(axes="".join(axes[i] for i in order), spacing=spacing)
    if "T" in new.axes:
        t = new.axes.index("T")
        if shape[t] != 1 and time:
            return LazySource(kind, path, key, order, new, shape, np.dtype(dtype), array)
        if shape[t] != 1:
            raise DataError(
                f"{path or 'image'}: a time-lapse with {shape[t]} frames (axes {meta.axes!r}); "
                "block-wise processing takes one frame or a volume: process frames one by one"
            )
        inner = LazySource(kind, path, key, order, new, shape, np.dtype(dtype), array)
        return _at_index(inner, t, 0)
    return LazySource(kind, path, key, order, new, shape, np.dtype(dtype), array)


def _at_index(src: LazySource, axis: int, index: int) -> LazySource:
    """Return the source with canonical ``axis`` fixed at ``index`` (that axis gone)."""
    keep = [i for i in range(len(src.axes)) if i != axis]
    meta = src.meta.with_(
        axes="".join(src.axes[i] for i in keep),
        spacing=tuple(src.meta.spacing[i] for i in keep),  # type: ignore[index]
    )
    shape = tuple(src.shape[i] for i in keep)
    return LazySource("array", src.path, None, tuple(range(len(keep))), meta, shape, src.dtype,
                      _Indexed(src, axis, index))  # fmt: skip


@dataclass(frozen=True)
class _Indexed:
    """Array-like view of a source with one canonical axis fixed to an index."""

    source: LazySource
    axis: int
    index: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(n for i, n in enumerate(self.source.shape) if i != self.axis)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        full = list(key)
        full.insert(self.axis, slice(self.index, self.index + 1))
        return self.source.read(tuple(full)).squeeze(axis=self.axis)


def frame_sources(src: LazySource, axis: str = "T") -> list[LazySource]:
    """One source per index of ``axis`` (``T``: frames; ``Z``: planes), that axis dropped.

    ``[src]`` when the source has no such axis.

    Examples
    --------
    >>> movie = open_source(np.arange(24).reshape(2, 3, 4), axes="TYX", time=True)
    >>> frames = frame_sources(movie)
    >>> len(frames), frames[1].axes, int(frames[1].read()[0, 0])
    (2, 'YX', 12)
    >>> planes = frame_sources(open_source(np.arange(24).reshape(2, 3, 4), axes="ZYX"), "Z")
    >>> len(planes), planes[1].axes, planes[1].meta.spacing
    (2, 'YX', (1.0, 1.0))
    """
    if axis not in src.axes:
        return [src]
    t = src.axes.index(axis)
    return [_at_index(src, t, i) for i in range(src.shape[t])]


def _select(src: LazySource, channel: int | None) -> LazySource:
    if channel is None or "C" not in src.axes:
        if channel not in (None, 0):
            raise DataError(f"channel={channel} requested but the image has no channel axis")
        return src
    c = src.axes.index("C")
    if not 0 <= channel < src.shape[c]:
        raise DataError(
            f"channel={channel} requested but the image has {src.shape[c]} channel(s) "
            f"(0..{src.shape[c] - 1})"
        )
    keep = [i for i in range(len(src.axes)) if i != c]
    meta = src.meta.with_(
        axes="".join(src.axes[i] for i in keep),
        spacing=tuple(src.meta.spacing[i] for i in keep),  # type: ignore[index]
        channel_names=None,
    )
    view = _Indexed(src, c, channel)
    return LazySource("array", src.path, None, tuple(range(len(keep))), meta,
                      view.shape, src.dtype, view)  # fmt: skip


def is_lazy_input(path: str | os.PathLike[str]) -> bool:
    """Whether a file is read lazily (Zarr, OME-Zarr, HDF5) or is large (> 1 GiB).

    Examples
    --------
    >>> is_lazy_input("x.ome.zarr"), is_lazy_input("missing.tif")
    (True, False)
    """
    from biakit.io._paths import parse_target

    try:
        target = parse_target(path)
    except ImageReadError:
        return False
    if target.format in ("zarr", "ome-zarr", "hdf5"):
        return True
    p = target.path
    return p.is_file() and p.stat().st_size > LARGE_BYTES
