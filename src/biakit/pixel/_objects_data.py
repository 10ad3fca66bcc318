"""Input checks and feature tables of :class:`biakit.pixel.ObjectClassifier`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from biakit.measure import INTENSITY, SHAPE_2D, SHAPE_3D, measure_objects
from biakit.measure._columns import base_name, column_names

DEFAULT_FEATURES_2D: tuple[str, ...] = (
    "area",
    "perimeter",
    "eccentricity",
    "major_axis_length",
    "minor_axis_length",
    "solidity",
    "extent",
    *INTENSITY,
)
"""Default features of 2D label images: size, shape and intensity (no position)."""

DEFAULT_FEATURES_3D: tuple[str, ...] = (
    "volume",
    "surface_area",
    "sphericity",
    "eccentricity",
    "major_axis_length",
    "minor_axis_length",
    "solidity",
    "extent",
    *INTENSITY,
)
"""Default features of 3D label images: size, shape and intensity (no position)."""

Annotations = Mapping[int, int]


def default_features(ndim: int) -> list[str]:
    """Default feature columns for a ``ndim``-D label image."""
    return list(DEFAULT_FEATURES_2D if ndim == 2 else DEFAULT_FEATURES_3D)


def check_feature_names(features: Sequence[str] | None) -> list[str] | None:
    """Validate user feature names against the columns of ``measure_objects``."""
    if features is None:
        return None
    if isinstance(features, str) or not all(isinstance(f, str) for f in features):
        raise TypeError(f"features must be a sequence of column names, got {features!r}")
    names = list(features)
    known = {c for p in (*SHAPE_2D, *SHAPE_3D, *INTENSITY) for nd in (2, 3)
             for c in column_names(p, nd, None)}  # fmt: skip
    unknown = [f for f in names if base_name(f) not in known]
    if not names or unknown:
        raise ValueError(
            f"features must be non-empty column names of biakit.measure.measure_objects, "
            f"got unknown {unknown or names}; expected names from {sorted(known)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"features contains duplicates: {names}")
    return names


def _property(column: str) -> str:
    if column.startswith("centroid_"):
        return "centroid"
    if column.startswith("bbox_"):
        return "bbox"
    return base_name(column)


def feature_table(
    labels: np.ndarray,
    intensity: Any,
    features: Sequence[str],
    spacing: float | Sequence[float] | None,
) -> pd.DataFrame:
    """Measure ``labels`` and keep the ``features`` columns, indexed by object id."""
    ndim = labels.ndim
    valid = {c for p in ((SHAPE_2D if ndim == 2 else SHAPE_3D) + INTENSITY)
             for c in column_names(p, ndim, None)}  # fmt: skip
    wrong = [f for f in features if base_name(f) not in valid]
    if wrong:
        raise ValueError(
            f"features {wrong} do not exist for a {ndim}D label image; "
            f"expected names from {sorted(valid)}"
        )
    props = list(dict.fromkeys(_property(f) for f in features))
    df = measure_objects(labels, intensity, spacing=spacing, properties=props)
    absent = [f for f in features if f not in df.columns]
    if absent:
        raise ValueError(
            f"features {absent} are not in the measured table (columns {list(df.columns)}); "
            "a multi-channel intensity image gives columns such as 'mean_intensity_c0'"
        )
    return df.set_index("label")[list(features)].astype(np.float64)


def check_pair(labels: Any, intensity: Any, where: str) -> tuple[np.ndarray, Any]:
    """Check one label / intensity pair; ``where`` names it in messages."""
    lab = np.asarray(labels)
    if lab.dtype == bool or not np.issubdtype(lab.dtype, np.integer):
        raise TypeError(f"{where}: labels must be an integer label image, got dtype {lab.dtype}")
    if lab.ndim not in (2, 3):
        raise ValueError(f"{where}: labels must be 2D (YX) or 3D (ZYX), got shape {lab.shape}")
    if intensity is not None:
        shape = np.shape(intensity)
        if shape != lab.shape and shape[:-1] != lab.shape:
            raise ValueError(
                f"{where}: intensity shape {shape} does not match labels shape {lab.shape}; "
                "expected the same shape (or the same plus a trailing channel axis)"
            )
    return lab, intensity


def check_annotations(annotations: Any, where: str) -> dict[int, int]:
    """Validate ``{object_id: class}`` with integer ids >= 1 and classes >= 1."""
    if not isinstance(annotations, Mapping):
        raise TypeError(
            f"{where}: annotations must be a dict {{object_id: class}}, "
            f"got {type(annotations).__name__}"
        )
    out = {}
    for obj, cls in annotations.items():
        for name, v in (("object id", obj), ("class", cls)):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{where}: {name} {v!r} must be an integer >= 1")
        out[int(obj)] = int(cls)
    return out


def training_inputs(
    labels: Any, intensity: Any, annotations: Any, spacing: Any
) -> list[tuple[np.ndarray, Any, dict[int, int], Any]]:
    """Normalise one image or lists of images into ``(labels, intensity, annotations, spacing)``."""
    if isinstance(annotations, Mapping):
        labels, intensity, annotations, spacing = [labels], [intensity], [annotations], [spacing]
        names = ["annotations"]
    elif isinstance(annotations, (list, tuple)):
        n = len(annotations)
        names = [f"annotations[{i}]" for i in range(n)]
        if not isinstance(labels, (list, tuple)) or len(labels) != n:
            raise ValueError(
                f"labels must be a list of {n} label images (one per annotations dict), "
                f"got {type(labels).__name__} of length {len(labels)}"
            )
        if intensity is None:
            intensity = [None] * n
        if not isinstance(intensity, (list, tuple)) or len(intensity) != n:
            raise ValueError(f"intensity must be None or a list of {n} images, got {intensity!r}")
        if not _is_spacing_list(spacing, n):
            spacing = [spacing] * n
    else:
        raise TypeError(
            "annotations must be a dict {object_id: class} or a list of such dicts, "
            f"got {type(annotations).__name__}"
        )
    out = []
    for i, name in enumerate(names):
        where = "image" if len(names) == 1 else f"image {i}"
        lab, img = check_pair(labels[i], intensity[i], where)
        out.append((lab, img, check_annotations(annotations[i], name), spacing[i]))
    return out


def _is_spacing_list(spacing: Any, n: int) -> bool:
    """Tell whether ``spacing`` is a per-image list: ``n`` entries, each None or a sequence."""
    return (
        isinstance(spacing, (list, tuple))
        and len(spacing) == n
        and all(s is None or isinstance(s, (list, tuple, np.ndarray)) for s in spacing)
    )


def check_finite(X: pd.DataFrame, where: str) -> None:
    """Refuse NaN / infinite features (the tree ensembles assume finite input)."""
    bad = ~np.isfinite(X.to_numpy())
    if bad.any():
        cols = [str(c) for c in X.columns[bad.any(axis=0)]]
        ids = [int(i) for i in X.index[bad.any(axis=1)][:10]]
        raise ValueError(f"{where}: features {cols} are not finite for objects {ids}")
