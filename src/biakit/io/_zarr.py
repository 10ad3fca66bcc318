"""Zarr arrays and OME-Zarr images / labels (NGFF 0.4 on Zarr v2, 0.5 on Zarr v3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import zarr

from biakit.io._common import (
    ImageReadError,
    ImageWriteError,
    compression_key,
    meta_from_file,
    normalize_unit,
)
from biakit.io._meta import ImageMeta
from biakit.io._ngff import (
    NGFF_VERSIONS,
    build_multiscale,
    image_attrs,
    ome_attrs,
    parse_multiscale,
)

_ZARR_COMPRESSION = ("default", "none", "zstd", "blosc", "gzip")


def open_node(path: Path) -> zarr.Array | zarr.Group:
    """Open a Zarr array or group read-only, with a clear error."""
    if not path.exists():
        raise ImageReadError(f"cannot read {str(path)!r}: no such file or folder")
    try:
        return zarr.open(str(path), mode="r")
    except Exception as err:
        raise ImageReadError(
            f"cannot read {str(path)!r}: not a Zarr array or group ({type(err).__name__}: {err})"
        ) from err


def list_labels(path: Path) -> list[str]:
    """Names of the label images of an OME-Zarr image (``x.ome.zarr/labels/<name>``)."""
    if not (path / "labels").is_dir():
        return []
    node = open_node(path / "labels")
    names = ome_attrs(node).get("labels", []) if isinstance(node, zarr.Group) else []
    return [str(n) for n in names]


def read_zarr(
    path: Path, *, lazy: bool, level: int, axes: str | None = None
) -> tuple[Any, ImageMeta]:
    """Read a Zarr array or an OME-Zarr image / labels group as a Dask array.

    ``axes`` overrides the axes in the metadata (or names them where there are none).
    """
    node = open_node(path)
    if isinstance(node, zarr.Array):
        if level != 0:
            raise ImageReadError(
                f"cannot read {str(path)!r}: level={level} but it is a plain array"
            )
        attrs = dict(node.attrs)
        file_axes = attrs.get("axes") if len(str(attrs.get("axes", ""))) == node.ndim else None
        kw: dict[str, Any] = {"unit": "pixel"}
        if file_axes is not None and "spacing" in attrs:
            kw = {"spacing": tuple(attrs["spacing"]), "unit": normalize_unit(attrs.get("unit"))}
        if attrs.get("channel_names"):
            kw["channel_names"] = tuple(attrs["channel_names"])
        meta = meta_from_file(
            path, node.ndim, file_axes, override=axes, extra={"format": "zarr"}, **kw
        )
        data = da.from_zarr(node)
        return (data if lazy else data.compute()), meta
    if "multiscales" not in ome_attrs(node):
        arrays = sorted(node.array_keys())
        labels = list_labels(path)
        hint = f"; it holds labels {labels}: use read_labels" if labels else ""
        inside = ome_attrs(node).get("labels")
        if isinstance(inside, list):
            hint = f"; it is a labels group holding {inside}: use read_labels on the image"
        raise ImageReadError(
            f"cannot read {str(path)!r}: a Zarr group without OME-Zarr 'multiscales' metadata; "
            f"arrays inside: {', '.join(arrays) or '(none)'} (read one as '{path}/<name>'){hint}"
        )
    ms = parse_multiscale(path, node)
    if not 0 <= level < len(ms.paths):
        raise ImageReadError(
            f"cannot read {str(path)!r}: level={level} is out of range; it has "
            f"{len(ms.paths)} level(s) 0..{len(ms.paths) - 1} (paths {list(ms.paths)})"
        )
    try:
        arr = node[ms.paths[level]]
    except KeyError as err:
        raise ImageReadError(
            f"cannot read {str(path)!r}: level path {ms.paths[level]!r} named in the "
            f"metadata is missing"
        ) from err
    if arr.ndim != len(ms.axes):
        raise ImageReadError(
            f"cannot read {str(path)!r}: metadata has axes {ms.axes!r} but level "
            f"{ms.paths[level]!r} has {arr.ndim} dimensions"
        )
    extra = {
        "format": "ome-zarr", "ngff_version": ms.version, "zarr_format": ms.zarr_format,
        "level": level, "levels": ms.paths, "labels": list_labels(path),
    }  # fmt: skip
    if ms.time_unit:
        extra["time_unit"] = ms.time_unit
    if "image-label" in ms.attrs:
        extra["image-label"] = ms.attrs["image-label"]
    meta = meta_from_file(
        path, arr.ndim, ms.axes, override=axes, spacing=ms.scales[level], unit=ms.unit,
        channel_names=ms.channel_names, extra=extra,
    )  # fmt: skip
    data = da.from_zarr(arr)
    return (data if lazy else data.compute()), meta


def _compressors(path: Path, compression: str | None, zarr_format: int) -> Any:
    key = compression_key(path, compression, list(_ZARR_COMPRESSION), "Zarr")
    if key in ("default", "none"):
        return "auto" if key == "default" else None
    if zarr_format == 2:
        import numcodecs

        v2 = {
            "zstd": numcodecs.Zstd(level=3),
            "blosc": numcodecs.Blosc("zstd", 5, numcodecs.Blosc.BITSHUFFLE),
            "gzip": numcodecs.GZip(level=5),
        }
        return v2[key]
    v3 = {
        "zstd": zarr.codecs.ZstdCodec(level=3),
        "blosc": zarr.codecs.BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle"),
        "gzip": zarr.codecs.GzipCodec(level=5),
    }
    return v3[key]


def default_chunks(shape: tuple[int, ...], axes: str) -> tuple[int, ...]:
    """Chunks of one plane / a 3D brick: 1 along T and C, up to 64 (Z) and 512 or 256 (YX)."""
    yx = 256 if "Z" in axes else 512
    limit = {"T": 1, "C": 1, "Z": 64, "Y": yx, "X": yx}
    return tuple(max(1, min(n, limit[a])) for n, a in zip(shape, axes))


def _create(
    store: Any, name: str | None, array: Any, axes: str, zarr_format: int, compressors: Any,
    chunks: tuple[int, ...] | None, attributes: dict[str, Any] | None = None,
) -> zarr.Array:  # fmt: skip
    chunks = tuple(chunks) if chunks else default_chunks(array.shape, axes)
    kwargs: dict[str, Any] = {}
    if zarr_format == 2:
        kwargs["chunk_key_encoding"] = {"name": "v2", "separator": "/"}
    else:
        kwargs["dimension_names"] = [a.lower() for a in axes]
    kwargs.update(
        shape=array.shape, dtype=array.dtype, chunks=chunks, compressors=compressors,
        attributes=attributes,
    )  # fmt: skip
    if isinstance(store, zarr.Group):
        return store.create_array(name, **kwargs)
    return zarr.create_array(store, zarr_format=zarr_format, **kwargs)


def _store(array: Any, target: zarr.Array) -> None:
    if isinstance(array, da.Array):
        da.store(array.rechunk(target.chunks), target, lock=False)
    else:
        target[...] = np.asarray(array)


def write_plain_zarr(
    tmp: Path, path: Path, array: Any, meta: ImageMeta, *, zarr_format: int,
    compression: str | None, chunks: tuple[int, ...] | None,
) -> None:  # fmt: skip
    """Write one Zarr array carrying ``axes``/``spacing``/``unit`` attributes."""
    attrs: dict[str, Any] = {
        "axes": meta.axes,
        "spacing": list(meta.spacing or ()),
        "unit": meta.unit,
    }
    if meta.channel_names:
        attrs["channel_names"] = list(meta.channel_names)
    comp = _compressors(path, compression, zarr_format)
    _store(array, _create(str(tmp), None, array, meta.axes, zarr_format, comp, chunks, attrs))


def _downsample(array: Any, factors: tuple[int, ...], labels: bool, shape: Any = None) -> Any:
    """Block mean (images) or nearest (labels) by ``factors``; output ``shape`` = floor."""
    target = tuple(shape or (n // f for n, f in zip(array.shape, factors)))
    a = da.asarray(array)
    if not labels:
        mean = da.coarsen(np.mean, a.astype(np.float64), dict(enumerate(factors)), trim_excess=True)
        return (da.round(mean) if np.issubdtype(a.dtype, np.integer) else mean).astype(a.dtype)
    small = a[tuple(slice(None, None, f) for f in factors)]
    small = small[tuple(slice(0, t) for t in target)]
    pad = [(0, t - n) for t, n in zip(target, small.shape)]
    return da.pad(small, pad, mode="edge") if any(p for _, p in pad) else small


def _pyramid(
    path: Path, array: Any, meta: ImageMeta, levels: int, labels: bool
) -> list[tuple[Any, tuple[float, ...]]]:
    if not (isinstance(levels, int) and levels >= 1):
        raise ImageWriteError(
            f"cannot write {str(path)!r}: levels must be an int >= 1, got {levels!r}"
        )
    factors = tuple(2 if a in "YX" else 1 for a in meta.axes)
    out = [(array, tuple(meta.spacing or ()))]
    for _ in range(1, levels):
        prev, scale = out[-1]
        if min(n // f for n, f in zip(prev.shape, factors)) < 1:
            raise ImageWriteError(
                f"cannot write {str(path)!r}: levels={levels} is too many for shape {array.shape}"
            )
        out.append(
            (_downsample(prev, factors, labels), tuple(s * f for s, f in zip(scale, factors)))
        )
    return out


def matched_pyramid(
    array: Any, shapes: list[tuple[int, ...]], scales: list[tuple[float, ...]]
) -> list[tuple[Any, tuple[float, ...]]]:
    """Labels levels with the shapes and scales of an image's levels (nearest neighbour)."""
    out = [(array, scales[0])]
    for shape, scale in zip(shapes[1:], scales[1:]):
        prev = out[-1][0]
        factors = tuple(max(1, round(p / n)) for p, n in zip(prev.shape, shape))
        out.append((_downsample(prev, factors, True, shape), scale))
    return out


def write_ngff(
    tmp: Path, path: Path, array: Any, meta: ImageMeta, *, version: str,
    compression: str | None, chunks: tuple[int, ...] | None, levels: int | list[Any],
    label_source: str | None = None,
) -> None:  # fmt: skip
    """Write an OME-Zarr image group in canonical TCZYX order.

    ``levels`` is a number of levels (each halving Y and X) or a ready-made list of
    ``(array, scale)`` levels (see :func:`matched_pyramid`).
    """
    if version not in NGFF_VERSIONS:
        raise ImageWriteError(
            f"cannot write {str(path)!r}: ngff_version {version!r} is not supported; "
            f"expected one of {NGFF_VERSIONS}"
        )
    labels = label_source is not None
    pyramid = levels if isinstance(levels, list) else _pyramid(path, array, meta, levels, labels)
    zarr_format = 2 if version == "0.4" else 3
    comp = _compressors(path, compression, zarr_format)
    group = zarr.open_group(str(tmp), mode="w", zarr_format=zarr_format)
    for i, (level, _) in enumerate(pyramid):
        _store(level, _create(group, str(i), level, meta.axes, zarr_format, comp, chunks))
    multiscale = build_multiscale(meta, [scale for _, scale in pyramid], name=path.name)
    attrs = image_attrs(meta, version, multiscale, label_source=label_source, dtype=array.dtype)
    group.attrs.update(attrs)
