"""`measure_objects`: one table row per labelled object, in physical units."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from biakit.errors import DataError
from biakit.measure._columns import INTENSITY, SHAPE_2D, SHAPE_3D, column_names, column_units
from biakit.measure._shape import per_object_features
from biakit.measure._vectorised import compact_labels, intensity_features, moment_features
from biakit.validation import check_labels, check_ndim, check_spacing

_MOMENTS = {"centroid", "eccentricity", "major_axis_length", "minor_axis_length"}
_PER_OBJECT = {"perimeter", "solidity", "surface_area", "sphericity"}


def _check_labels(labels: ArrayLike) -> np.ndarray:
    """Apply the shared label rule, refusing boolean masks (not one id per object)."""
    arr = np.asarray(labels)
    if arr.dtype == bool:
        raise DataError(
            "labels must be an integer label image (0 = background), got dtype bool; "
            "convert a mask with skimage.measure.label or labels.astype(int)"
        )
    arr = check_labels(arr, name="labels")
    check_ndim(arr, (2, 3), name="labels")
    return arr


def _check_intensity(
    intensity: ArrayLike | None, shape: tuple[int, ...], channel_axis: int | None
) -> tuple[np.ndarray | None, int | None]:
    """Return intensity as ``(n_pixels, n_channels)`` float64 and the channel count (None: none)."""
    if intensity is None:
        if channel_axis is not None:
            raise ValueError(f"channel_axis={channel_axis} was given but intensity is None")
        return None, None
    img = np.asarray(intensity)
    if not (np.issubdtype(img.dtype, np.number) or img.dtype == bool):
        raise TypeError(f"intensity must be numeric, got dtype {img.dtype}")
    if channel_axis is not None:
        if not -img.ndim <= channel_axis < img.ndim:
            raise ValueError(f"channel_axis={channel_axis} is out of range for shape {img.shape}")
        img = np.moveaxis(img, channel_axis, -1)
    elif img.shape != shape and img.ndim == len(shape) + 1:
        channel_axis = -1  # channels last, as skimage.measure.regionprops infers
    n_channels = img.shape[-1] if channel_axis is not None else None
    spatial = img.shape[:-1] if channel_axis is not None else img.shape
    if spatial != shape:
        raise ValueError(
            f"intensity shape {np.shape(intensity)} does not match labels shape {shape} "
            f"(channel_axis={channel_axis}); expected {shape} or {shape} plus a channel axis"
        )
    flat = img.reshape(-1, n_channels or 1).astype(np.float64, copy=False)
    return flat, n_channels


def _resolve_properties(
    properties: Sequence[str] | None, ndim: int, has_intensity: bool
) -> list[str]:
    shape_props = SHAPE_2D if ndim == 2 else SHAPE_3D
    if properties is None:
        return list(shape_props) + (list(INTENSITY) if has_intensity else [])
    if isinstance(properties, str):
        properties = [properties]
    valid = set(shape_props) | set(INTENSITY)
    unknown = [p for p in properties if p not in valid]
    if unknown:
        raise ValueError(
            f"unknown properties {unknown} for a {ndim}D label image; "
            f"expected names from {sorted(valid)}"
        )
    wants_intensity = [p for p in properties if p in INTENSITY]
    if wants_intensity and not has_intensity:
        raise ValueError(f"properties {wants_intensity} need an intensity image; pass intensity=")
    return [p for p in dict.fromkeys(properties) if p != "label"]


def measure_objects(
    labels: ArrayLike,
    intensity: ArrayLike | None = None,
    *,
    spacing: float | Sequence[float] | None = None,
    properties: Sequence[str] | None = None,
    unit: str = "micrometer",
    channel_axis: int | None = None,
    mesh_smoothing: int = 10,
) -> pd.DataFrame:
    """Measure every labelled object of a 2D or 3D label image, in physical units.

    Parameters
    ----------
    labels : (Y, X) or (Z, Y, X) array of int
        Label image; 0 is background, ids need not be consecutive. A float
        image of whole numbers (as Fiji saves labels) is accepted.
    intensity : array, optional
        Intensity image of the same shape, optionally with a channel axis
        (channels last unless ``channel_axis`` says otherwise).
    spacing : float or sequence of float, optional
        Physical pixel size per axis, e.g. ``(2.0, 0.5, 0.5)`` for ZYX; a scalar
        is the same on every axis. Default 1.
    properties : sequence of str, optional
        Property names (see ``SHAPE_2D``, ``SHAPE_3D``, ``INTENSITY``); by
        default every shape property of the dimensionality, plus the intensity
        ones when ``intensity`` is given.
    unit : str
        Spatial unit of ``spacing``, recorded in ``df.attrs["units"]``.
    channel_axis : int, optional
        Channel axis of ``intensity``; columns get suffixes ``_c0``, ``_c1``, ...
    mesh_smoothing : int
        Taubin smoothing iterations of the marching-cubes mesh before its
        surface area is taken (3D only; 0 for the raw mesh).

    Returns
    -------
    table : pandas.DataFrame
        One row per object, sorted by ``label``; columns are described with
        their units in :data:`biakit.measure.COLUMNS`. ``df.attrs`` holds
        ``unit``, ``spacing``, ``ndim`` and ``units`` (column -> unit).

    Raises
    ------
    DataError
        If ``labels`` is not an integer (or whole-number float) array, is a
        boolean mask, is not 2D/3D or has negative values.
    ParameterError
        If ``spacing`` has the wrong length or is not positive and finite.
    TypeError
        If ``intensity`` is not numeric.
    ValueError
        If ``intensity`` does not match ``labels``, or a property is unknown or
        needs a missing intensity image.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((8, 8), dtype=int)
    >>> labels[1:3, 1:5] = 4
    >>> df = measure_objects(labels, spacing=0.5, properties=["area", "extent"])
    >>> df.to_dict("records")
    [{'label': 4, 'area': 2.0, 'extent': 1.0}]

    """
    labels = _check_labels(labels)
    ndim = labels.ndim
    spacing_arr = np.asarray(check_spacing(spacing, ndim) or (1.0,) * ndim)
    values, n_channels = _check_intensity(intensity, labels.shape, channel_axis)
    props = _resolve_properties(properties, ndim, values is not None)
    if int(mesh_smoothing) != mesh_smoothing or mesh_smoothing < 0:
        raise ValueError(f"mesh_smoothing must be an integer >= 0, got {mesh_smoothing!r}")

    compact, ids = compact_labels(labels)
    fg = np.flatnonzero(compact)
    lab = compact.ravel()[fg]
    counts = np.bincount(lab, minlength=ids.size + 1)[1:].astype(float)
    pixel_size = float(np.prod(spacing_arr))
    cols: dict[str, Any] = {"label": ids}
    size = counts * pixel_size
    cols["area" if ndim == 2 else "volume"] = size
    cols["equivalent_diameter"] = (2 * ndim * size / np.pi) ** (1 / ndim)
    if _MOMENTS & set(props):
        cols.update(moment_features(lab, fg, labels.shape, counts, spacing_arr))
    if {"bbox", "extent"} & set(props):
        cols.update(_bbox(compact, ids.size))
        box = np.prod([cols[f"bbox_max_{a}"] - cols[f"bbox_min_{a}"] for a in _axes(ndim)], axis=0)
        cols["extent"] = counts / box if ids.size else np.zeros(0)
    wanted = _PER_OBJECT & set(props)
    if "sphericity" in wanted:
        wanted.add("surface_area")
    if wanted:
        cols.update(per_object_features(compact, spacing_arr, wanted, int(mesh_smoothing)))
    if "sphericity" in props:
        cols["sphericity"] = np.pi ** (1 / 3) * (6 * size) ** (2 / 3) / cols["surface_area"]
    if values is not None and set(INTENSITY) & set(props):
        for c in range(n_channels or 1):
            stats = intensity_features(lab, values[fg, c], counts, pixel_size)
            suffix = "" if n_channels is None else f"_c{c}"
            cols.update({f"{k}{suffix}": v for k, v in stats.items()})
    order = ["label"] + [c for p in props for c in column_names(p, ndim, n_channels)]
    df = pd.DataFrame({c: np.asarray(cols[c]) for c in order}, columns=order)
    df.attrs.update(
        unit=unit, spacing=tuple(spacing_arr.tolist()), ndim=ndim,
        units=column_units(df.columns, ndim, unit),
    )  # fmt: skip
    return df


def _axes(ndim: int) -> str:
    return "zyx"[3 - ndim :]


def _bbox(compact: np.ndarray, n: int) -> dict[str, np.ndarray]:
    from scipy import ndimage as ndi

    slices = ndi.find_objects(compact, max_label=n)
    out = {}
    for i, a in enumerate(_axes(compact.ndim)):
        out[f"bbox_min_{a}"] = np.array([s[i].start for s in slices], dtype=np.int64)
        out[f"bbox_max_{a}"] = np.array([s[i].stop for s in slices], dtype=np.int64)
    return out
