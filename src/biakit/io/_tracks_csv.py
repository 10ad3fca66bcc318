"""Tracks as a CSV table ready for a napari ``Tracks`` layer: ``track_id, t, (z,) y, x, parent``."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import DataError, ParameterError

PathLike = str | os.PathLike[str]

_ID_NAMES = ("track_id", "id", "track", "trackid")
_T_NAMES = ("t", "frame", "time")


def write_tracks_csv(
    path: PathLike,
    data: Any,
    graph: Mapping[int, Any] | None = None,
    *,
    properties: Mapping[str, Any] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write napari ``Tracks`` layer data (rows ``track_id, t, (z,) y, x``) as CSV, atomically.

    Columns: ``track_id, t, y, x`` (or ``track_id, t, z, y, x``), ``parent``
    (the parent track of the row's track, 0 for none; several parents of a
    merge are joined with ``;``), then one column per property. Rows are sorted
    by track then frame. Numbers are written exactly (shortest round-trip form).

    Parameters
    ----------
    path : str or path
        Destination ``.csv``.
    data : array_like, shape (N, 4) or (N, 5)
        Rows ``(track_id, t, (z,) y, x)``, e.g. from :func:`biakit.track.napari_tracks`.
    graph : mapping of int to int or list of int, optional
        napari's track graph: ``{track_id: [parent_id, ...]}``.
    properties : mapping of str to array, optional
        One value per row (e.g. ``area``, ``lineage``), in the order of ``data``.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "tracks.csv"
    >>> data = [[1, 0, 5.0, 5.0], [2, 1, 4.0, 5.0], [3, 1, 7.0, 5.5]]
    >>> _ = write_tracks_csv(path, data, {2: [1], 3: [1]})
    >>> path.read_text().splitlines()
    ['track_id,t,y,x,parent', '1,0,5.0,5.0,0', '2,1,4.0,5.0,1', '3,1,7.0,5.5,1']
    """
    from biakit._atomic import atomic_path

    rows = _check_data(data)
    parents = _check_graph(graph)
    props = {}
    for name, values in dict(properties or {}).items():
        arr = np.asarray(values).reshape(-1)
        if arr.size != len(rows):
            raise ParameterError(
                f"properties[{name!r}]: expected {len(rows)} values, got {arr.size}"
            )
        props[str(name)] = arr
    order = np.lexsort((rows[:, 1], rows[:, 0]))
    axes = ["y", "x"] if rows.shape[1] == 4 else ["z", "y", "x"]
    header = ["track_id", "t", *axes, "parent", *props]
    ids = rows[:, 0].astype(np.int64)
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i in order.tolist():
            parent = ";".join(str(p) for p in parents.get(int(ids[i]), [])) or "0"
            coords = rows[i, 2:].tolist()
            extra = [props[k][i].item() for k in props]
            writer.writerow([int(ids[i]), int(rows[i, 1]), *coords, parent, *extra])
    return Path(path)


def _check_data(data: Any) -> np.ndarray:
    rows = np.asarray(data, dtype=np.float64)
    if rows.size == 0:
        rows = rows.reshape(0, 4)
    if rows.ndim != 2 or rows.shape[1] not in (4, 5):
        raise ParameterError(
            f"data: expected rows (track_id, t, y, x) or (track_id, t, z, y, x), got shape "
            f"{rows.shape}"
        )
    if np.any(rows[:, :2] != np.round(rows[:, :2])) or np.any(rows[:, :2] < 0):
        raise ParameterError("data: track_id and t must be integers >= 0")
    return rows


def _check_graph(graph: Mapping[int, Any] | None) -> dict[int, list[int]]:
    out = {}
    for child, parents in dict(graph or {}).items():
        plist = [parents] if np.ndim(parents) == 0 else list(parents)
        try:
            out[int(child)] = [int(p) for p in plist if int(p) != 0]
        except (TypeError, ValueError):
            raise ParameterError(
                f"graph: expected {{track_id: [parent_id, ...]}} with integers, got "
                f"{child!r}: {parents!r}"
            ) from None
    return out


def read_tracks_csv(
    path: PathLike,
) -> tuple[np.ndarray, dict[int, list[int]], dict[str, np.ndarray]]:
    r"""Read a tracks CSV into napari ``Tracks`` layer data, graph and properties.

    Column names are matched without case: the track id (``track_id``, ``id``,
    ``track``), the frame (``t``, ``frame``, ``time``), ``z`` (optional), ``y``,
    ``x``, an optional ``parent`` (0 or empty for none; ``;`` separates several
    parents); every other column is a property (numbers when they all parse).

    Returns
    -------
    data : ndarray of float64, shape (N, 4) or (N, 5)
        Rows ``(track_id, t, (z,) y, x)`` sorted by track then frame.
    graph : dict of int to list of int
        ``{track_id: [parent_id, ...]}`` for tracks with a parent.
    properties : dict of str to ndarray
        Other columns, one value per row of ``data``.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "tracks.csv"
    >>> _ = path.write_text("ID,frame,y,x,parent,area\n2,1,4,5,1,30\n1,0,5,5,0,50\n")
    >>> data, graph, props = read_tracks_csv(path)
    >>> data.tolist(), graph, props["area"].tolist()
    ([[1.0, 0.0, 5.0, 5.0], [2.0, 1.0, 4.0, 5.0]], {2: [1]}, [50, 30])
    """
    path = Path(path)
    header, rows = _read_rows(path)
    lower = [h.strip().lower() for h in header]
    idx = {}
    for key, names in (("id", _ID_NAMES), ("t", _T_NAMES), ("y", ("y",)), ("x", ("x",))):
        hit = [i for i, h in enumerate(lower) if h in names]
        if not hit:
            raise DataError(
                f"{path}: no {key!r} column (expected one of {', '.join(names)}); found {header}"
            )
        idx[key] = hit[0]
    cols = (
        [idx["id"], idx["t"]] + ([lower.index("z")] if "z" in lower else []) + [idx["y"], idx["x"]]
    )
    try:
        data = np.array([[float(r[i]) for i in cols] for r in rows], np.float64)
    except (ValueError, IndexError) as err:
        raise DataError(
            f"{path}: a track_id / t / coordinate cell is not a number ({err})"
        ) from None
    data = data.reshape(-1, len(cols))
    try:
        _check_data(data)
    except ParameterError as err:
        raise DataError(f"{path}: {err}") from None
    order = np.lexsort((data[:, 1], data[:, 0]))
    graph = _parents(path, rows, lower, data[:, 0].astype(np.int64))
    skip = set(cols) | ({lower.index("parent")} if "parent" in lower else set())
    props = {
        header[j].strip(): _column([r[j] if j < len(r) else "" for r in rows])[order]
        for j in range(len(header))
        if j not in skip
    }
    return data[order], graph, props


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: tracks table not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r and not r[0].lstrip().startswith("#")]
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: not a text CSV tracks table ({err})") from None
    if not rows:
        raise DataError(f"{path}: empty file; expected a header track_id,t,(z,)y,x[,parent]")
    return rows[0], rows[1:]


def _parents(path: Path, rows: list[list[str]], lower: list[str], ids: np.ndarray) -> dict:
    if "parent" not in lower:
        return {}
    j = lower.index("parent")
    graph: dict[int, list[int]] = {}
    for number, (row, track) in enumerate(zip(rows, ids.tolist()), start=2):
        cell = row[j].strip() if j < len(row) else ""
        try:
            parents = [int(float(p)) for p in cell.replace(" ", ";").split(";") if p]
        except ValueError:
            raise DataError(f"{path}: line {number}: parent {cell!r} is not a track id") from None
        parents = [p for p in parents if p != 0]
        if parents and graph.setdefault(track, parents) != parents:
            raise DataError(
                f"{path}: line {number}: track {track} has parent {parents} here but "
                f"{graph[track]} on an earlier line"
            )
    return graph


def _column(cells: list[str]) -> np.ndarray:
    for kind in (int, float):
        try:
            return np.array([kind(c) for c in cells])
        except ValueError:
            continue
    return np.array(cells, dtype=object)
