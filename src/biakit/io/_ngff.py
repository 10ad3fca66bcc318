"""OME-NGFF (OME-Zarr) metadata: parsing versions 0.4 / 0.5 and building it for writing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from biakit.io._common import ImageReadError, normalize_unit
from biakit.io._meta import ImageMeta

NGFF_VERSIONS = ("0.4", "0.5")
_TYPE_LETTER = {"time": "T", "channel": "C"}
_NGFF_TYPE = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}


@dataclass(frozen=True)
class Multiscale:
    """What biakit needs from one OME-Zarr image group."""

    version: str
    zarr_format: int
    axes: str
    paths: tuple[str, ...]
    scales: tuple[tuple[float, ...], ...]
    unit: str
    time_unit: str | None
    channel_names: tuple[str, ...] | None
    attrs: dict[str, Any]


def ome_attrs(group: zarr.Group) -> dict[str, Any]:
    """Return the OME attributes of a group: under ``"ome"`` (NGFF 0.5) or at top level (0.4)."""
    attrs = dict(group.attrs)
    ome = attrs.get("ome")
    return dict(ome) if isinstance(ome, dict) else attrs


def _axis_letter(path: Path, axis: Any) -> str:
    name = str(axis.get("name", "") if isinstance(axis, dict) else axis).lower()
    kind = str(axis.get("type", "")).lower() if isinstance(axis, dict) else ""
    if name in ("t", "c", "z", "y", "x"):
        return name.upper()
    if kind in _TYPE_LETTER:
        return _TYPE_LETTER[kind]
    raise ImageReadError(
        f"cannot read {str(path)!r}: OME-Zarr axis {axis!r} cannot be mapped to TCZYX"
    )


def _scale_of(transforms: Any, ndim: int) -> list[float]:
    for t in transforms or []:
        if isinstance(t, dict) and t.get("type") == "scale" and "scale" in t:
            return [float(s) for s in t["scale"]]
    return [1.0] * ndim


def parse_multiscale(path: Path, group: zarr.Group) -> Multiscale:
    """Read axes, level paths and scales of an OME-Zarr image (NGFF 0.4 or 0.5)."""
    ome = ome_attrs(group)
    try:
        ms = ome["multiscales"][0]
        version = str(ome.get("version") or ms.get("version") or "0.4")
        raw_axes = ms.get("axes")
        if not raw_axes:  # NGFF <= 0.3: 5-D tczyx, or the array's trailing letters
            raw_axes = ["t", "c", "z", "y", "x"][-group[ms["datasets"][0]["path"]].ndim :]
        axes = "".join(_axis_letter(path, a) for a in raw_axes)
        ndim = len(axes)
        global_scale = _scale_of(ms.get("coordinateTransformations"), ndim)
        paths, scales = [], []
        for ds in ms["datasets"]:
            paths.append(str(ds["path"]))
            local = _scale_of(ds.get("coordinateTransformations"), ndim)
            scales.append(tuple(a * b for a, b in zip(local, global_scale)))
    except ImageReadError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise ImageReadError(
            f"cannot read {str(path)!r}: malformed OME-Zarr 'multiscales' metadata ({err!r})"
        ) from err
    units = {a: ax.get("unit") for a, ax in zip(axes, raw_axes) if isinstance(ax, dict)}
    space_unit = next((units[a] for a in "XYZ" if units.get(a)), None)
    channels = (ome.get("omero") or {}).get("channels") or []
    names = tuple(str(c.get("label", "")) for c in channels if isinstance(c, dict))
    if not names or not all(names):
        names = ()
    return Multiscale(
        version=version,
        zarr_format=group.metadata.zarr_format,
        axes=axes,
        paths=tuple(paths),
        scales=tuple(scales),
        unit=normalize_unit(space_unit),
        time_unit=units.get("T"),
        channel_names=names or None,
        attrs=ome,
    )


def build_multiscale(meta: ImageMeta, scales: list[tuple[float, ...]], name: str) -> dict[str, Any]:
    """Build one ``multiscales`` entry; level ``i`` has path ``str(i)`` and ``scales[i]``."""
    axes = []
    for a in meta.axes:
        entry: dict[str, Any] = {"name": a.lower(), "type": _NGFF_TYPE[a]}
        if a in "ZYX" and meta.unit != "pixel":
            entry["unit"] = meta.unit
        if a == "T" and meta.extra.get("time_unit"):
            entry["unit"] = meta.extra["time_unit"]
        axes.append(entry)
    datasets = [
        {"path": str(i), "coordinateTransformations": [{"type": "scale", "scale": list(scale)}]}
        for i, scale in enumerate(scales)
    ]
    return {"name": name, "axes": axes, "datasets": datasets}


def _channel(name: str, dtype: Any) -> dict[str, Any]:
    """Build an ``omero`` channel entry whose display window spans the dtype range."""
    dtype = np.dtype(dtype)
    lo, hi = (0.0, 1.0)
    if np.issubdtype(dtype, np.integer):
        lo, hi = float(np.iinfo(dtype).min), float(np.iinfo(dtype).max)
    window = {"min": lo, "max": hi, "start": lo, "end": hi}
    return {"label": name, "color": "FFFFFF", "active": True, "window": window}


def image_attrs(
    meta: ImageMeta,
    version: str,
    multiscale: dict[str, Any],
    *,
    label_source: str | None,
    dtype: Any = np.uint16,
) -> dict[str, Any]:
    """Group attributes for an OME-Zarr image (``label_source`` set for a labels image)."""
    ome: dict[str, Any] = {"multiscales": [multiscale]}
    if meta.channel_names and "C" in meta.axes:
        ome["omero"] = {"channels": [_channel(n, dtype) for n in meta.channel_names]}
    if label_source is not None:
        ome["image-label"] = {"version": version, "source": {"image": label_source}}
    if version == "0.4":
        multiscale["version"] = "0.4"
        if "image-label" in ome:
            ome["image-label"]["version"] = "0.4"
        return ome
    return {"ome": {"version": version, **ome}}


def labels_group_attrs(names: list[str], version: str) -> dict[str, Any]:
    """Attributes of the ``labels`` group listing the label images."""
    if version == "0.4":
        return {"labels": names}
    return {"ome": {"version": version, "labels": names}}
