"""Per-track measurements a biologist reads: lineage, timing, speed, displacement, fate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from biakit.errors import DataError, ParameterError
from biakit.track._graph import TrackGraph
from biakit.validation import check_spacing

# column -> (unit template, description); "{unit}" spatial unit, "{time}" time unit.
TRACK_COLUMNS: dict[str, tuple[str, str]] = {
    "track_id": ("", "CTC segment label L"),
    "lineage_id": ("", "label of the segment's root ancestor (the first cell of its tree)"),
    "parent_id": ("", "CTC parent label P (0: no parent)"),
    "generation": ("", "number of divisions between the root ancestor and this segment"),
    "n_children": ("", "number of segments whose parent is this one"),
    "start_frame": ("frame", "first frame B"),
    "end_frame": ("frame", "last frame E"),
    "length": ("frame", "E - B + 1"),
    "n_detections": ("", "number of detections of the segment"),
    "duration": ("{time}", "(E - B) times the frame interval"),
    "path_length": ("{unit}", "sum of the steps between consecutive detections"),
    "mean_speed": ("{unit}/{time}", "path_length / duration (NaN for one detection)"),
    "net_displacement": ("{unit}", "distance from the first to the last detection"),
    "straightness": ("", "net_displacement / path_length (NaN when path_length is 0)"),
    "start_z": ("{unit}", "z of the first detection times spacing"),
    "start_y": ("{unit}", "y of the first detection times spacing"),
    "start_x": ("{unit}", "x of the first detection times spacing"),
    "end_z": ("{unit}", "z of the last detection times spacing"),
    "end_y": ("{unit}", "y of the last detection times spacing"),
    "end_x": ("{unit}", "x of the last detection times spacing"),
    "mean_area": ("{unit}^{nd}", "mean object size (area in 2D, volume in 3D)"),
    "mean_intensity": ("intensity", "mean over the segment of each detection's mean intensity"),
    "divides": ("", "the segment ends in a division (two or more children)"),
    "ends_at_border": ("", "the last detection lies within border_margin of a Y/X edge"),
    "fate": ("", "divides | continues (gap / merge) | leaves | movie_end | lost"),
}
"""Every column of :func:`track_table`: ``name -> (unit, description)``."""


def track_table(
    graph: TrackGraph,
    node_track: np.ndarray,
    table: np.ndarray,
    *,
    image: np.ndarray | None = None,
    shape: Sequence[int] | None = None,
    spacing: float | Sequence[float] | None = None,
    frame_interval: float = 1.0,
    unit: str = "pixel",
    time_unit: str = "frame",
    border_margin: float | None = None,
) -> pd.DataFrame:
    """Measure every CTC segment of a tracking result: one row per track.

    Parameters
    ----------
    graph : TrackGraph
        Detections and links (from a linker or :func:`from_ctc`).
    node_track : ndarray of int, shape (n,)
        Segment label of every node, as returned by :func:`to_ctc`.
    table : array-like of int, shape (k, 4)
        ``L B E P`` rows, as returned by :func:`to_ctc`.
    image : ndarray, optional
        Intensity movie ``T(Z)YX``. Gives ``mean_intensity`` when the graph has no
        ``"mean_intensity"`` feature (the pixel at each rounded position, for
        detections from points) and the movie shape for the border test.
    shape : sequence of int, optional
        Movie shape ``T(Z)YX`` (e.g. ``masks.shape``) when no image is given; without
        either, ``ends_at_border`` is False and the last frame is the graph's.
    spacing : float or sequence of float, optional
        Physical pixel size per spatial axis (``(z,) y, x``); default 1.
    frame_interval : float
        Time between frames, in ``time_unit``.
    unit, time_unit : str
        Names of the spatial and time units, recorded in ``df.attrs["units"]``.
    border_margin : float, optional
        Distance in pixels from a Y/X edge under which a last detection counts as
        at the border. Default: the equivalent radius of the detection plus one
        pixel when the graph has ``"area"``, else 2 pixels.

    Returns
    -------
    pandas.DataFrame
        One row per segment in ``table`` order; columns as in :data:`TRACK_COLUMNS`
        (``start_z``/``end_z`` only in 3D, ``mean_area`` / ``mean_intensity`` only
        when available). ``df.attrs`` holds ``unit``, ``time_unit``, ``spacing``,
        ``frame_interval``, ``ndim`` and ``units`` (column -> unit), so
        :func:`biakit.measure.write_table` writes it as CSV with a units sidecar.

    Raises
    ------
    DataError
        If ``node_track`` or ``table`` do not fit the graph, a parent is unknown or
        parents form a cycle, or ``image`` / ``shape`` do not fit the detections.
    ParameterError
        If ``spacing``, ``frame_interval`` or ``border_margin`` are invalid.

    Examples
    --------
    A cell moves 3 px per frame for two frames, then divides:

    >>> from biakit.track import TrackGraph, to_ctc
    >>> g = TrackGraph(
    ...     t=[0, 1, 2, 3, 3],
    ...     coords=[[10, 10], [10, 13], [10, 16], [8, 16], [12, 16]],
    ...     edges=[[0, 1], [1, 2], [2, 3], [2, 4]],
    ... )
    >>> df = track_table(g, *to_ctc(g), spacing=0.5, frame_interval=2.0)
    >>> df[["track_id", "lineage_id", "generation", "path_length", "mean_speed"]].values.tolist()
    [[1.0, 1.0, 0.0, 3.0, 0.75], [2.0, 1.0, 1.0, 0.0, nan], [3.0, 1.0, 1.0, 0.0, nan]]
    >>> df["fate"].tolist()
    ['divides', 'movie_end', 'movie_end']
    """
    node_track, table, rows = _check_inputs(graph, node_track, table)
    ndim = graph.ndim
    sp = np.asarray(check_spacing(spacing, ndim) or (1.0,) * ndim)
    if not (np.isfinite(frame_interval) and frame_interval > 0):
        raise ParameterError(f"frame_interval must be a positive number, got {frame_interval!r}")
    if border_margin is not None and not (np.isfinite(border_margin) and border_margin >= 0):
        raise ParameterError(f"border_margin must be a number >= 0, got {border_margin!r}")
    movie_shape = _movie_shape(graph, image, shape)
    k = table.shape[0]
    cols: dict[str, np.ndarray] = {
        "track_id": table[:, 0],
        "lineage_id": np.zeros(k, np.int64),
        "parent_id": table[:, 3],
    }
    cols["lineage_id"], cols["generation"], cols["n_children"] = _lineage(table)
    cols.update(
        start_frame=table[:, 1], end_frame=table[:, 2], length=table[:, 2] - table[:, 1] + 1
    )
    cols["n_detections"] = np.bincount(rows, minlength=k)
    cols["duration"] = (table[:, 2] - table[:, 1]) * float(frame_interval)
    first, last, path = _path(graph, rows, k, sp)
    pos = graph.coords * sp
    has = first >= 0
    dt = np.where(has, (graph.t[last] - graph.t[first]) * float(frame_interval), 0.0)
    net = np.where(has, np.linalg.norm(pos[last] - pos[first], axis=1), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        cols["path_length"] = np.where(has, path, np.nan)
        cols["mean_speed"] = np.where(dt > 0, path / dt, np.nan)
        cols["net_displacement"] = net
        cols["straightness"] = np.where(path > 0, net / path, np.nan)
    for name, node in (("start", first), ("end", last)):
        for axis, letter in enumerate("zyx"[3 - ndim :]):
            cols[f"{name}_{letter}"] = np.where(has, pos[node, axis], np.nan)
    cols.update(_mean_features(graph, rows, k, sp, image))
    cols["divides"] = cols["n_children"] >= 2
    at_border = _at_border(graph, last, movie_shape, border_margin)
    cols["ends_at_border"] = at_border
    last_frame = (movie_shape[0] if movie_shape else graph.n_frames) - 1
    fate = np.full(k, "lost", dtype=object)
    fate[table[:, 2] >= last_frame] = "movie_end"
    fate[at_border & (table[:, 2] < last_frame)] = "leaves"
    fate[cols["n_children"] == 1] = "continues"
    fate[cols["divides"]] = "divides"
    cols["fate"] = fate
    df = pd.DataFrame(cols)
    df.attrs.update(
        unit=unit, time_unit=time_unit, spacing=tuple(sp.tolist()), ndim=ndim,
        frame_interval=float(frame_interval),
        units={c: _unit(c, unit, time_unit, ndim) for c in df.columns},
    )  # fmt: skip
    return df


def _unit(column: str, unit: str, time_unit: str, ndim: int) -> str:
    template = TRACK_COLUMNS[column][0]
    return template.replace("{unit}", unit).replace("{time}", time_unit).replace("{nd}", str(ndim))


def _check_inputs(
    graph: TrackGraph, node_track: np.ndarray, table: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(graph, TrackGraph):
        raise TypeError(f"graph must be a TrackGraph, got {type(graph).__name__}")
    node_track = np.asarray(node_track, dtype=np.int64).reshape(-1)
    if node_track.size != graph.n_nodes:
        raise DataError(
            f"node_track: expected one label per node ({graph.n_nodes}), got {node_track.size}"
        )
    table = np.asarray(table, dtype=np.int64)
    table = table.reshape(0, 4) if table.size == 0 else table
    if table.ndim != 2 or table.shape[1] != 4:
        raise DataError(f"table: expected rows 'L B E P' (shape (k, 4)), got {table.shape}")
    order = np.argsort(table[:, 0], kind="stable")
    labels = table[order, 0]
    if np.any(labels[1:] == labels[:-1]):
        raise DataError(f"table: segment labels must be unique, got duplicates in {labels}")
    pos = np.clip(np.searchsorted(labels, node_track), 0, max(labels.size - 1, 0))
    if node_track.size and (labels.size == 0 or np.any(labels[pos] != node_track)):
        missing = sorted(set(node_track.tolist()) - set(labels.tolist()))
        raise DataError(f"node_track: labels {missing[:5]} have no row in the table")
    return node_track, table, order[pos] if node_track.size else pos


def _lineage(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Root ancestor, generation (divisions above) and child count of every row."""
    k = table.shape[0]
    index = {int(lab): i for i, lab in enumerate(table[:, 0])}
    parent = np.full(k, -1, np.int64)
    for i, p in enumerate(table[:, 3].tolist()):
        if p > 0:
            if p not in index:
                raise DataError(f"table: segment {table[i, 0]} has parent {p}, which has no row")
            parent[i] = index[p]
    n_children = np.bincount(parent[parent >= 0], minlength=k)
    root = np.full(k, -1, np.int64)
    generation = np.zeros(k, np.int64)
    for i in range(k):
        chain = [i]
        while root[chain[-1]] < 0 and parent[chain[-1]] >= 0:
            chain.append(int(parent[chain[-1]]))
            if len(chain) > k:
                raise DataError(f"table: the parents of segment {table[i, 0]} form a cycle")
        top = chain[-1]
        if root[top] < 0:
            root[top], generation[top] = top, 0
        for node in reversed(chain[:-1]):
            p = parent[node]
            root[node] = root[p]
            generation[node] = generation[p] + (n_children[p] >= 2)
    return table[root, 0] if k else np.zeros(0, np.int64), generation, n_children


def _path(
    graph: TrackGraph, rows: np.ndarray, k: int, sp: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First and last node of every row (-1 when none), and the path length."""
    first = np.full(k, -1, np.int64)
    last = np.full(k, -1, np.int64)
    path = np.zeros(k)
    if not rows.size:
        return first, last, path
    order = np.lexsort((graph.t, rows))
    r = rows[order]
    start = np.r_[True, r[1:] != r[:-1]]
    stop = np.r_[r[1:] != r[:-1], True]
    first[r[start]] = order[start]
    last[r[stop]] = order[stop]
    same = ~start[1:]
    steps = np.linalg.norm((graph.coords[order[1:]] - graph.coords[order[:-1]]) * sp, axis=1)
    path = np.bincount(r[1:][same], steps[same], minlength=k)
    return first, last, path


def _mean_features(
    graph: TrackGraph, rows: np.ndarray, k: int, sp: np.ndarray, image: np.ndarray | None
) -> dict[str, np.ndarray]:
    count = np.bincount(rows, minlength=k).astype(float)
    out = {}
    values = {}
    if "area" in graph.features:
        values["mean_area"] = np.asarray(graph.features["area"], float) * float(np.prod(sp))
    if "mean_intensity" in graph.features:
        values["mean_intensity"] = np.asarray(graph.features["mean_intensity"], float)
    elif image is not None and graph.n_nodes:
        idx = np.rint(graph.coords).astype(np.int64)
        idx = np.clip(idx, 0, np.asarray(image.shape[1:]) - 1)
        values["mean_intensity"] = np.asarray(image)[(graph.t, *idx.T)].astype(float)
    for name, v in values.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.bincount(rows, v, minlength=k) / count
    return out


def _movie_shape(
    graph: TrackGraph, image: np.ndarray | None, shape: Sequence[int] | None
) -> tuple[int, ...] | None:
    if image is not None:
        shape = np.shape(image)
        name = "image"
    else:
        name = "shape"
    if shape is None:
        return None
    shape = tuple(int(s) for s in shape)
    if len(shape) != graph.ndim + 1:
        raise DataError(
            f"{name}: expected a T(Z)YX movie with {graph.ndim} spatial axes like the "
            f"detections, got shape {shape}"
        )
    if graph.n_nodes and graph.n_frames > shape[0]:
        raise DataError(f"{name}: has {shape[0]} frames but detections reach frame {graph.t.max()}")
    return shape


def _at_border(
    graph: TrackGraph, last: np.ndarray, shape: tuple[int, ...] | None, margin: float | None
) -> np.ndarray:
    has = last >= 0
    if shape is None or not has.any():
        return np.zeros(last.size, bool)
    node = last[has]
    if margin is not None:
        m = np.full(node.size, float(margin))
    elif "area" in graph.features:
        size = np.asarray(graph.features["area"], float)[node]
        radius = np.sqrt(size / np.pi) if graph.ndim <= 2 else np.cbrt(3 * size / (4 * np.pi))
        m = radius + 1.0
    else:
        m = np.full(node.size, 2.0)
    yx = graph.coords[node][:, -2:] if graph.ndim >= 2 else graph.coords[node]
    hi = np.asarray(shape[-yx.shape[1] :], float) - 1
    dist = np.minimum(yx, hi - yx).min(axis=1)
    out = np.zeros(last.size, bool)
    out[has] = dist <= m
    return out
