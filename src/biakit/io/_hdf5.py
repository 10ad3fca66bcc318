"""HDF5 datasets addressed as ``file.h5:/group/data``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from biakit.io._common import (
    ImageReadError,
    ImageWriteError,
    compression_key,
    meta_from_file,
    normalize_unit,
)
from biakit.io._meta import ImageMeta

DEFAULT_DATASET = "data"
_H5_COMPRESSION = {"default": "gzip", "gzip": "gzip", "lzf": "lzf", "none": None}


def _datasets(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Dataset) else None)
    return names


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except Exception as err:
        raise ImageReadError(
            f"cannot read {str(path)!r}: not a valid HDF5 file ({type(err).__name__}: {err})"
        ) from err


def read_hdf5(
    path: Path, dataset: str | None, *, lazy: bool, axes: str | None = None
) -> tuple[Any, ImageMeta]:
    """Read one dataset; ``lazy`` gives a Dask array over the open (read-only) file."""
    f = _open(path)
    try:
        present = _datasets(f)
        if dataset is None and len(present) == 1:
            dataset = present[0]
        if dataset is None or dataset.strip("/") not in [p.strip("/") for p in present]:
            what = "no dataset given" if dataset is None else f"no dataset {dataset!r}"
            raise ImageReadError(
                f"cannot read {str(path)!r}: {what}; datasets present: "
                f"{', '.join(present) or '(none)'}; address one as '{path}:/group/data'"
            )
        ds = f[dataset]
        file_axes, kwargs = _axes_from_attrs(dict(ds.attrs), ds.ndim)
        extra = {"format": "hdf5", "dataset": "/" + dataset.strip("/")}
        meta = meta_from_file(path, ds.ndim, file_axes, override=axes, extra=extra, **kwargs)
        if lazy:
            import dask.array as da

            chunks = ds.chunks if ds.chunks is not None else "auto"
            return da.from_array(ds, chunks=chunks), meta  # keeps ``f`` open while in use
        data = ds[()]
    except BaseException:
        f.close()
        raise
    f.close()
    return data, meta


def _axes_from_attrs(attrs: dict[str, Any], ndim: int) -> tuple[str | None, Any]:
    """Axes and keywords from biakit attributes, ilastik ``axistags`` or ``element_size_um``."""

    def text(v: Any) -> str:
        return v.decode() if isinstance(v, bytes) else str(v)

    kwargs: dict[str, Any] = {"unit": "pixel"}
    axes = text(attrs["axes"]).upper() if "axes" in attrs else None
    if axes is None and "axistags" in attrs:
        try:
            tags = json.loads(text(attrs["axistags"]))["axes"]
            axes = "".join(t["key"] for t in tags).upper()
        except (ValueError, KeyError, TypeError):
            axes = None
    if axes is not None and len(axes) != ndim:
        axes = None
    if "spacing" in attrs and axes is not None:
        kwargs["spacing"] = tuple(float(s) for s in np.ravel(attrs["spacing"]))
        kwargs["unit"] = normalize_unit(text(attrs.get("unit", "micrometer")))
    elif "element_size_um" in attrs:
        size = tuple(float(s) for s in np.ravel(attrs["element_size_um"]))
        if len(size) == ndim:
            kwargs.update(spacing=size, unit="micrometer")
            axes = axes or ("ZYX"[-ndim:] if ndim <= 3 else None)
    if "channel_names" in attrs:
        kwargs["channel_names"] = tuple(text(n) for n in np.ravel(attrs["channel_names"]))
    return axes, kwargs


def h5_compression(path: Path, compression: str | None) -> str | None:
    """Map a ``compression`` argument to an h5py filter name."""
    return _H5_COMPRESSION[compression_key(path, compression, sorted(_H5_COMPRESSION), "HDF5")]


def write_hdf5(
    tmp: Path,
    path: Path,
    dataset: str | None,
    array: np.ndarray,
    meta: ImageMeta,
    *,
    overwrite: bool,
    compression: str | None,
) -> None:
    """Write a dataset into ``tmp`` (a copy of ``path`` when it exists) with biakit attributes."""
    dataset = "/" + (dataset or DEFAULT_DATASET).strip("/")
    comp = h5_compression(path, compression)
    if path.exists():
        shutil.copy2(path, tmp)
    with h5py.File(tmp, "a") as f:
        if dataset in f:
            if not overwrite:
                raise ImageWriteError(
                    f"cannot write {str(path)!r}: dataset {dataset!r} already exists; "
                    f"pass overwrite=True to replace it"
                )
            del f[dataset]
        chunks = True if comp else None
        ds = f.create_dataset(dataset, data=np.asarray(array), compression=comp, chunks=chunks)
        ds.attrs["axes"] = meta.axes
        ds.attrs["spacing"] = np.asarray(meta.spacing, dtype=float)
        ds.attrs["unit"] = meta.unit
        if meta.spatial_axes == meta.axes and meta.unit == "micrometer":
            ds.attrs["element_size_um"] = np.asarray(meta.spacing, dtype=float)
        if meta.channel_names:
            ds.attrs["channel_names"] = list(meta.channel_names)
