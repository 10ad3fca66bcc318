"""Column names, units and property sets of :func:`biakit.measure.measure_objects`."""

from __future__ import annotations

from collections.abc import Iterable

SHAPE_2D: tuple[str, ...] = (
    "centroid",
    "bbox",
    "area",
    "equivalent_diameter",
    "perimeter",
    "eccentricity",
    "major_axis_length",
    "minor_axis_length",
    "solidity",
    "extent",
)
"""Default shape properties of 2D label images, in column order."""

SHAPE_3D: tuple[str, ...] = (
    "centroid",
    "bbox",
    "volume",
    "equivalent_diameter",
    "surface_area",
    "sphericity",
    "eccentricity",
    "major_axis_length",
    "minor_axis_length",
    "solidity",
    "extent",
)
"""Default shape properties of 3D label images, in column order."""

INTENSITY: tuple[str, ...] = (
    "mean_intensity",
    "min_intensity",
    "max_intensity",
    "std_intensity",
    "median_intensity",
    "integrated_intensity",
)
"""Intensity properties (one column per channel, suffixed ``_c0``, ``_c1``, ... for
multi-channel intensity images)."""

# name -> (unit template, description). "{unit}" is the spatial unit, "{nd}" the
# number of spatial dimensions; "intensity" is the unit of the intensity image.
COLUMNS: dict[str, tuple[str, str]] = {
    "label": ("", "object id in the label image"),
    "centroid_z": ("{unit}", "centroid along Z: mean voxel index times spacing"),
    "centroid_y": ("{unit}", "centroid along Y: mean pixel index times spacing"),
    "centroid_x": ("{unit}", "centroid along X: mean pixel index times spacing"),
    "bbox_min_z": ("pixel", "first Z index of the bounding box (inclusive)"),
    "bbox_min_y": ("pixel", "first Y index of the bounding box (inclusive)"),
    "bbox_min_x": ("pixel", "first X index of the bounding box (inclusive)"),
    "bbox_max_z": ("pixel", "last Z index of the bounding box plus one (exclusive)"),
    "bbox_max_y": ("pixel", "last Y index of the bounding box plus one (exclusive)"),
    "bbox_max_x": ("pixel", "last X index of the bounding box plus one (exclusive)"),
    "area": ("{unit}^2", "pixel count times pixel area (2D)"),
    "volume": ("{unit}^3", "voxel count times voxel volume (3D)"),
    "equivalent_diameter": ("{unit}", "diameter of the disc (2D) or ball (3D) of equal size"),
    "perimeter": (
        "{unit}",
        "skimage.measure.perimeter (4-neighbourhood) with each boundary step weighted by "
        "its physical length; equals skimage's value times the spacing when isotropic",
    ),
    "surface_area": (
        "{unit}^2",
        "area of the marching-cubes mesh (level 0.5, physical spacing) after Taubin smoothing",
    ),
    "sphericity": ("", "pi^(1/3) (6 volume)^(2/3) / surface_area; 1 for a ball"),
    "eccentricity": (
        "",
        "sqrt(1 - minor^2 / major^2) of the inertia ellipse (2D, as skimage) or ellipsoid (3D)",
    ),
    "major_axis_length": (
        "{unit}",
        "full length of the longest axis of the ellipse/ellipsoid with the same second moments",
    ),
    "minor_axis_length": (
        "{unit}",
        "full length of the shortest axis of the ellipse/ellipsoid with the same second moments",
    ),
    "solidity": ("", "pixel count / pixel count of the convex hull image (as skimage)"),
    "extent": ("", "pixel count / bounding-box pixel count"),
    "mean_intensity": ("intensity", "mean of the intensity over the object"),
    "min_intensity": ("intensity", "minimum intensity over the object"),
    "max_intensity": ("intensity", "maximum intensity over the object"),
    "std_intensity": ("intensity", "population standard deviation (ddof=0) of the intensity"),
    "median_intensity": ("intensity", "median intensity (mean of the two middle values if even)"),
    "integrated_intensity": ("intensity*{unit}^{nd}", "sum of the intensity times pixel size"),
}
"""Every column :func:`measure_objects` can return: ``name -> (unit, description)``.

Units are templates: ``{unit}`` is replaced by the spatial unit (e.g.
``micrometer``) and ``{nd}`` by the number of spatial dimensions. Intensity
columns of multi-channel images carry a ``_c<i>`` suffix.
"""


def base_name(column: str) -> str:
    """Strip a ``_c<i>`` channel suffix from an intensity column name.

    Examples
    --------
    >>> base_name("mean_intensity_c1"), base_name("area")
    ('mean_intensity', 'area')

    """
    stem, sep, tail = column.rpartition("_c")
    if sep and tail.isdigit() and stem in COLUMNS:
        return stem
    return column


def column_units(columns: Iterable[str], ndim: int, unit: str = "micrometer") -> dict[str, str]:
    """Resolve the unit of each column name (``""`` for unitless or unknown columns).

    Parameters
    ----------
    columns : iterable of str
        Column names, e.g. ``df.columns``.
    ndim : int
        Number of spatial dimensions of the label image (2 or 3).
    unit : str
        Spatial unit of the spacing.

    Returns
    -------
    units : dict
        ``column -> unit string``.

    Examples
    --------
    >>> column_units(["label", "area", "integrated_intensity_c0"], 2, "um")
    {'label': '', 'area': 'um^2', 'integrated_intensity_c0': 'intensity*um^2'}

    """
    out = {}
    for col in columns:
        template = COLUMNS.get(base_name(str(col)), ("", ""))[0]
        out[str(col)] = template.format(unit=unit, nd=ndim)
    return out


def column_names(prop: str, ndim: int, n_channels: int | None) -> list[str]:
    """Columns produced by one property name (``n_channels=None``: no channel axis)."""
    axes = "zyx"[3 - ndim :]
    if prop == "centroid":
        return [f"centroid_{a}" for a in axes]
    if prop == "bbox":
        return [f"bbox_min_{a}" for a in axes] + [f"bbox_max_{a}" for a in axes]
    if prop in INTENSITY and n_channels is not None:
        return [f"{prop}_c{c}" for c in range(n_channels)]
    return [prop]
