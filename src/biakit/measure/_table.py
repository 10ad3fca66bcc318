"""Writing measurement tables (atomic CSV + JSON units sidecar) and summarising them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biakit._atomic import atomic_path
from biakit.measure._columns import column_units


def sidecar_path(path: str | Path) -> Path:
    """Path of the JSON units sidecar written beside a table: ``cells.csv -> cells.units.json``."""
    return Path(path).with_suffix(".units.json")


def _atomic_write_text(path: Path, text: str, overwrite: bool) -> None:
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


def write_table(
    df: pd.DataFrame,
    path: str | Path,
    *,
    overwrite: bool = False,
    units: dict[str, str] | None = None,
) -> Path:
    """Write a measurement table to CSV atomically, with a JSON sidecar of units.

    The CSV is written to a temporary file in the same folder and renamed over
    ``path`` (readers never see a half-written file); missing parent folders
    are created. Units per column go to
    ``<stem>.units.json`` beside it (see :func:`sidecar_path`), taken from
    ``units``, else ``df.attrs["units"]`` (set by ``measure_objects``), else
    inferred from known column names with ``df.attrs.get("unit", "pixel")``.

    Parameters
    ----------
    df : pandas.DataFrame
        Table, e.g. from :func:`measure_objects`.
    path : str or Path
        Destination CSV file.
    overwrite : bool
        Replace an existing file (and its sidecar).
    units : dict, optional
        ``column -> unit`` overriding the recorded units.

    Returns
    -------
    path : Path
        The CSV path.

    Raises
    ------
    TypeError
        If ``df`` is not a DataFrame.
    FileExistsError
        If ``path`` or its sidecar exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "cells.csv"
    >>> _ = write_table(pd.DataFrame({"label": [1], "area": [2.5]}), out)
    >>> out.read_text().splitlines()
    ['label,area', '1,2.5']
    >>> sidecar_path(out).name
    'cells.units.json'

    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas.DataFrame, got {type(df).__name__}")
    path = Path(path)
    side = sidecar_path(path)
    for p in (path, side):
        if p.exists() and not overwrite:
            raise FileExistsError(f"path {p} already exists; pass overwrite=True to replace it")
    ndim = int(df.attrs.get("ndim", 3 if "volume" in df.columns else 2))
    resolved = dict(
        df.attrs.get("units") or column_units(df.columns, ndim, df.attrs.get("unit", "pixel"))
    )
    resolved.update(units or {})
    meta = {
        "table": path.name,
        "unit": df.attrs.get("unit"),
        "spacing": list(df.attrs["spacing"]) if "spacing" in df.attrs else None,
        "columns": {str(c): resolved.get(str(c), "") for c in df.columns},
    }
    _atomic_write_text(path, df.to_csv(index=False, lineterminator="\n"), overwrite)
    _atomic_write_text(side, json.dumps(meta, indent=2) + "\n", overwrite)
    return path


def _stat(values: pd.Series, func: Any) -> float:
    return float(func(values)) if len(values) else float("nan")


def summarize(df: pd.DataFrame) -> dict[str, Any]:
    """Summarise a measurement table: object count, size statistics, per-column means.

    Parameters
    ----------
    df : pandas.DataFrame
        Table from :func:`measure_objects` (``area`` or ``volume`` is the size column).

    Returns
    -------
    summary : dict
        ``count``; ``size_column`` and its ``unit``, ``total_size``, ``mean_size``,
        ``median_size``, ``std_size`` (ddof=0), ``min_size``, ``max_size`` (NaN when empty,
        absent without a size column); ``means`` and ``medians`` of every other numeric
        feature column (not ``label``, ``bbox_*``, ``centroid_*``).

    Examples
    --------
    >>> import pandas as pd
    >>> s = summarize(pd.DataFrame({"label": [1, 2], "area": [2.0, 4.0]}))
    >>> s["count"], s["mean_size"], s["total_size"]
    (2, 3.0, 6.0)

    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas.DataFrame, got {type(df).__name__}")
    out: dict[str, Any] = {"count": len(df)}
    size = next((c for c in ("area", "volume") if c in df.columns), None)
    if size is not None:
        s = df[size].astype(float)
        out["size_column"] = size
        out["unit"] = (df.attrs.get("units") or {}).get(size, "")
        out["total_size"] = float(s.sum())
        for name, func in [("mean", np.mean), ("median", np.median), ("std", np.std),
                           ("min", np.min), ("max", np.max)]:  # fmt: skip
            out[f"{name}_size"] = _stat(s, func)
    features = [
        c for c in df.columns
        if c != "label" and not str(c).startswith(("bbox_", "centroid_"))
        and pd.api.types.is_numeric_dtype(df[c])
    ]  # fmt: skip
    out["means"] = {str(c): _stat(df[c].astype(float), np.mean) for c in features}
    out["medians"] = {str(c): _stat(df[c].astype(float), np.median) for c in features}
    return out
