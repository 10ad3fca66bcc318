"""TIFF reading and writing: plain (tifffile "shaped"), ImageJ hyperstacks and OME-TIFF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from biakit.axes import CANONICAL
from biakit.io._common import (
    ImageReadError,
    compression_key,
    meta_from_file,
    normalize_unit,
    unit_to_micrometers,
    wrap_read,
)
from biakit.io._meta import ImageMeta

_IMAGEJ_DTYPES = (np.uint8, np.uint16, np.float32)
_TIFF_COMPRESSION = {
    "default": None,
    "none": None,
    "zlib": "zlib",
    "deflate": "zlib",
    "lzma": "lzma",
}
_IMAGEJ_UNITS = {"micrometer": "micron", "nanometer": "nm", "millimeter": "mm", "centimeter": "cm"}
_OME_UNITS = {
    "micrometer": "µm",
    "nanometer": "nm",
    "millimeter": "mm",
    "centimeter": "cm",
    "meter": "m",
    "angstrom": "Å",
    "pixel": "pixel",
}
_RESUNIT_UM = {3: 1e4, 4: 1e3, 5: 1.0}  # TIFF ResolutionUnit -> micrometers per unit


def read_tiff(path: Path, axes: str | None = None) -> tuple[np.ndarray, ImageMeta]:
    """Read the first series of a TIFF file with its axes and spacing.

    ``axes`` overrides the file's axes; it names the dimensions in the order they
    are stored (an ImageJ hyperstack is then not reordered).
    """
    return wrap_read(path, "not a valid or complete TIFF file", lambda: _read_tiff(path, axes))


def _read_tiff(path: Path, override: str | None) -> tuple[np.ndarray, ImageMeta]:
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        data = series.asarray()
        raw_axes = series.axes
        if data.ndim != len(raw_axes):
            raise ImageReadError(f"cannot read {str(path)!r}: shape and axes disagree")
        if tif.is_ome:
            axes, spacing, unit, names, fmt = _ome_meta(tif, raw_axes, data.shape)
        elif tif.is_imagej:
            data, axes, spacing, unit = _imagej_meta(
                path, tif, data, raw_axes, reorder=override is None
            )
            names, fmt = None, "imagej-tiff"
        else:
            axes, spacing, unit, names = _plain_meta(path, tif, raw_axes)
            fmt = "tiff"
            if tif.is_shaped and (tif.shaped_metadata or [{}])[0].get("dtype") == "bool":
                data = data.astype(bool)
    meta = meta_from_file(
        path, data.ndim, axes, override=override, spacing=spacing, unit=unit,
        channel_names=names, extra={"format": fmt, "source": str(path), "tiff_axes": raw_axes},
    )  # fmt: skip
    return data, meta


def _file_axes(raw_axes: str) -> str | None:
    """Map tifffile axes letters to TCZYX.

    Generic letters (``I``, ``Q``, ...) mean the file does not say what the axis is:
    in a 3D image it is taken as ``Z`` (or ``T``/``C`` when ``Z`` is used); with 4 or
    more dimensions ``None`` is returned and the caller must be told the axes.
    """
    axes = raw_axes.upper().replace("S", "C")
    if axes.count("C") > 1:
        return None
    unknown = [i for i, a in enumerate(axes) if a not in CANONICAL]
    if unknown and len(axes) >= 4:
        return None
    free = [a for a in "TCZ" if a not in axes][-len(unknown) :] if unknown else []
    if len(free) < len(unknown):
        return None
    letters = list(axes)
    for i, a in zip(unknown, free):
        letters[i] = a
    return "".join(letters)


def _resolution_spacing(path: Path, axis: str, resolution: float, per_unit: float) -> float:
    """Spacing from a TIFF resolution tag (pixels per unit); refuse zero or negative ones."""
    if not (np.isfinite(resolution) and resolution > 0):
        raise ImageReadError(
            f"cannot read {str(path)!r}: its {axis} resolution tag is {resolution!r} pixels per "
            f"unit, so the spacing of axis {axis!r} is undefined; expected a positive number "
            f"(fix the calibration, e.g. in Fiji: Image > Properties, and save again)"
        )
    return per_unit / resolution


def _spacing_for(axes: str, values: dict[str, float]) -> tuple[float, ...]:
    # 12 significant digits undo the rational round-off of TIFF resolution tags
    return tuple(float(f"{float(values.get(a, 1.0)):.12g}") for a in axes)


def _ome_meta(tif: tifffile.TiffFile, raw_axes: str, shape: tuple[int, ...]) -> tuple[Any, ...]:
    pixels = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]
    pixels = (pixels[0] if isinstance(pixels, list) else pixels)["Pixels"]
    unit = normalize_unit(pixels.get("PhysicalSizeXUnit", "µm"))
    per_um = unit_to_micrometers(unit)
    values: dict[str, float] = {}
    for a in "XYZ":
        size = pixels.get(f"PhysicalSize{a}")
        if size is None:
            continue
        other = unit_to_micrometers(pixels.get(f"PhysicalSize{a}Unit", "µm"))
        scale = other / per_um if (other and per_um) else 1.0
        values[a] = float(size) * scale
    if float(pixels.get("TimeIncrement", 0) or 0) != 0:  # NaN and negative: refused later
        values["T"] = float(pixels["TimeIncrement"])
    if not any(a in values for a in "XY"):
        unit = "pixel"
    channels = pixels.get("Channel", [])
    channels = [channels] if isinstance(channels, dict) else channels
    names = tuple(str(c.get("Name", "")) for c in channels)
    axes = _file_axes(raw_axes)
    if not (axes and "C" in axes and all(names) and len(names) == shape[axes.index("C")]):
        names = ()
    spacing = _spacing_for(axes, values) if axes else None
    return axes, spacing, unit, names or None, "ome-tiff"


def _imagej_meta(
    path: Path, tif: tifffile.TiffFile, data: np.ndarray, raw_axes: str, *, reorder: bool
) -> tuple[np.ndarray, str | None, tuple[float, ...] | None, str]:
    ij = tif.imagej_metadata or {}
    if "S" in raw_axes and "C" in raw_axes:
        raise ImageReadError(f"cannot read {str(path)!r}: ImageJ RGB images with channels")
    if reorder:  # ImageJ stores TZCYX(S): return canonical TCZYX order, RGB samples last as C
        core = [i for i, a in enumerate(raw_axes) if a != "S"]
        order = sorted(core, key=lambda i: CANONICAL.find(raw_axes[i]))
        order += [i for i, a in enumerate(raw_axes) if a == "S"]
        data = data.transpose(order) if order != list(range(data.ndim)) else data
        raw_axes = "".join(raw_axes[i] for i in order)
    axes = _file_axes(raw_axes)
    unit = normalize_unit(ij.get("unit"))
    xres, yres = tif.pages.first.resolution
    values = {
        "X": _resolution_spacing(path, "X", xres, 1.0),
        "Y": _resolution_spacing(path, "Y", yres, 1.0),
    }
    if "spacing" in ij:  # zero, negative and NaN are refused with the file named
        values["Z"] = float(ij["spacing"])
    if float(ij.get("finterval", 0) or 0) != 0:
        values["T"] = float(ij["finterval"])
    return data, axes, _spacing_for(axes, values) if axes else None, unit


def _plain_meta(path: Path, tif: tifffile.TiffFile, raw_axes: str) -> tuple[Any, ...]:
    shaped = tif.shaped_metadata[0] if tif.is_shaped and tif.shaped_metadata else {}
    axes = _file_axes(raw_axes)
    if axes and "spacing" in shaped and len(shaped["spacing"]) == len(axes):
        names = shaped.get("channel_names")
        unit = normalize_unit(shaped.get("unit", "micrometer"))
        return axes, tuple(shaped["spacing"]), unit, tuple(names) if names else None
    page = tif.pages.first
    um_per_unit = _RESUNIT_UM.get(int(page.resolutionunit))
    if axes is None or um_per_unit is None:
        return axes, None, "pixel", None
    xres, yres = page.resolution
    values = {
        "X": _resolution_spacing(path, "X", xres, um_per_unit),
        "Y": _resolution_spacing(path, "Y", yres, um_per_unit),
    }
    return axes, _spacing_for(axes, values), "micrometer", None


def _tiff_compression(path: Path, compression: str | None) -> str | None:
    return _TIFF_COMPRESSION[compression_key(path, compression, sorted(_TIFF_COMPRESSION), "TIFF")]


def _reorder(array: np.ndarray, meta: ImageMeta, order: str) -> tuple[np.ndarray, str, bool]:
    """Sort axes into ``order`` (ImageJ ``TZCYX``, OME ``TCZYX``); RGB uint8 samples stay last."""
    axes, rgb = meta.axes, _is_rgb(array, meta)
    if rgb:
        order = order.replace("C", "") + "C"
    perm = sorted(range(len(axes)), key=lambda i: order.index(axes[i]))
    new_axes = "".join(axes[i] for i in perm)
    if rgb:
        new_axes = new_axes[:-1] + "S"
    return array.transpose(perm), new_axes, rgb


def _is_rgb(array: np.ndarray, meta: ImageMeta) -> bool:
    return meta.axes.endswith("C") and array.shape[-1] == 3 and array.dtype == np.uint8


def _calibration(meta: ImageMeta) -> dict[str, float]:
    return dict(zip(meta.axes, meta.spacing or ()))


def write_tiff(
    tmp: Path, path: Path, array: np.ndarray, meta: ImageMeta, *, ome: bool,
    compression: str | None,
) -> None:  # fmt: skip
    """Write ``array`` to ``tmp`` as OME-TIFF, ImageJ (uint8/uint16/float32) or plain TIFF."""
    comp = _tiff_compression(path, compression)
    path = tmp
    if ome:
        _write_ome(path, array, meta, comp)
    elif array.dtype.type in _IMAGEJ_DTYPES:
        _write_imagej(path, array, meta, comp)
    else:
        _write_plain(path, array, meta, comp)


def _write_imagej(path: Path, array: np.ndarray, meta: ImageMeta, comp: str | None) -> None:
    data, axes, rgb = _reorder(array, meta, "TZCYX")
    cal = _calibration(meta)
    md: dict[str, Any] = {"axes": axes}
    if meta.unit != "pixel":
        md["unit"] = _IMAGEJ_UNITS.get(meta.unit, meta.unit)
    if "Z" in cal:
        md["spacing"] = cal["Z"]
    if "T" in cal:
        md["finterval"] = cal["T"]
    tifffile.imwrite(
        path, data, imagej=True, metadata=md, compression=comp,
        resolution=(1.0 / cal["X"], 1.0 / cal["Y"]),
        photometric="rgb" if rgb else "minisblack",
    )  # fmt: skip


def _write_ome(path: Path, array: np.ndarray, meta: ImageMeta, comp: str | None) -> None:
    data, axes, rgb = _reorder(array, meta, "TCZYX")
    cal = _calibration(meta)
    unit = _OME_UNITS.get(meta.unit, meta.unit)
    md: dict[str, Any] = {"axes": axes}
    for a in "XYZ":
        if a in cal:
            md[f"PhysicalSize{a}"] = cal[a]
            md[f"PhysicalSize{a}Unit"] = unit
    if "T" in cal:
        md["TimeIncrement"] = cal["T"]
    if meta.channel_names and "C" in axes:
        md["Channel"] = {"Name": list(meta.channel_names)}
    tifffile.imwrite(
        path, data, ome=True, metadata=md, compression=comp,
        photometric="rgb" if rgb else "minisblack",
    )  # fmt: skip


def _write_plain(path: Path, array: np.ndarray, meta: ImageMeta, comp: str | None) -> None:
    cal = _calibration(meta)
    md: dict[str, Any] = {"axes": meta.axes, "spacing": list(meta.spacing or ()), "unit": meta.unit}
    if meta.channel_names:
        md["channel_names"] = list(meta.channel_names)
    if array.dtype == bool:
        md["dtype"] = "bool"
    kwargs: dict[str, Any] = {}
    um = unit_to_micrometers(meta.unit)
    if um is not None:  # also as resolution tags (pixels per cm) for other readers
        kwargs = {"resolution": (1e4 / (cal["X"] * um), 1e4 / (cal["Y"] * um))}
        kwargs["resolutionunit"] = "CENTIMETER"
    data = array.astype(np.uint8) if array.dtype == bool else array
    tifffile.imwrite(path, data, metadata=md, compression=comp, photometric="minisblack", **kwargs)
