"""GEFF (graph exchange file format, a Zarr group) export and import of track graphs.

Layout written (https://liveimagetrackingtools.org/geff, spec 1.x)::

    tracks.geff/                      attrs["geff"]: version, directed, axes, props metadata
        nodes/ids                     uint64 (N,)
        nodes/props/NAME/values       t, (z,) y, x, seg_id, tracklet_id, lineage_id, features
        edges/ids                     uint64 (E, 2), source -> target
        edges/props/NAME/values       optional edge properties
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biakit.errors import ImageReadError
from biakit.io._common import atomic_target, normalize_unit

if TYPE_CHECKING:
    from biakit.track import TrackGraph

PathLike = str | os.PathLike[str]

GEFF_VERSION = "1.3"
"""GEFF specification version written in the metadata."""

_SPACE = ("z", "y", "x")
_TIME_ALIASES = {
    "s": "second", "sec": "second", "seconds": "second", "min": "minute", "minutes": "minute",
    "h": "hour", "hr": "hour", "hours": "hour", "ms": "millisecond", "d": "day", "days": "day",
}  # fmt: skip
_DTYPES = "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64".split()


def geff_track_ids(graph: TrackGraph) -> tuple[np.ndarray, np.ndarray]:
    """Tracklet and lineage id of every node, by GEFF's definitions.

    A tracklet is a maximal chain of links whose source has one outgoing link
    and whose target has one incoming link (gaps included, unlike CTC segments);
    a lineage is a weakly connected component. Ids start at 1, numbered by
    first node.

    Examples
    --------
    >>> from biakit.track import TrackGraph
    >>> g = TrackGraph(t=[0, 1, 2, 2, 0], coords=np.zeros((5, 2)), edges=[[0, 1], [1, 2], [1, 3]])
    >>> [a.tolist() for a in geff_track_ids(g)]
    [[1, 1, 2, 3, 4], [1, 1, 1, 1, 2]]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = graph.n_nodes
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    keep = (graph.out_degree()[src] == 1) & (graph.in_degree()[dst] == 1)
    out = []
    for e in (graph.edges[keep], graph.edges):
        adj = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
        _, comp = connected_components(adj, directed=True, connection="weak")
        first = np.full(comp.max(initial=-1) + 1, n)
        np.minimum.at(first, comp, np.arange(n))
        rank = np.empty_like(first)
        rank[np.argsort(first, kind="stable")] = np.arange(first.size)
        out.append(rank[comp].astype(np.int64) + 1)
    return out[0], out[1]


def write_geff(
    path: PathLike,
    graph: TrackGraph,
    *,
    spacing: tuple[float, ...] | None = None,
    unit: str = "micrometer",
    frame_interval: float | None = None,
    time_unit: str = "second",
    node_props: Mapping[str, Any] | None = None,
    edge_props: Mapping[str, Any] | None = None,
    zarr_format: int = 2,
    overwrite: bool = False,
) -> Path:
    """Write a track graph as a GEFF Zarr group, atomically.

    Node properties: ``t`` (frame index, unit ``"frame"``), the spatial axes
    ``(z,) y, x`` (pixel coordinates, unit ``"pixel"``; with ``spacing`` /
    ``frame_interval`` the axes carry GEFF's ``scale`` and ``scaled_unit`` to
    physical units), ``seg_id`` (label in the frame's
    mask, when the graph has labels), ``tracklet_id`` and ``lineage_id`` (see
    :func:`geff_track_ids`, declared as GEFF ``track_node_props``), every
    feature of the graph (``area``, ``mean_intensity``, ...) and ``node_props``.

    Parameters
    ----------
    path : str or path
        The GEFF folder to create (e.g. ``tracks.geff`` or ``tracks.zarr``).
    graph : TrackGraph
        Detections and links.
    spacing : tuple of float, optional
        Pixel size per spatial axis, stored as each axis' ``scale``.
    unit : str
        Unit of ``spacing`` (OME-NGFF name, e.g. ``"micrometer"``).
    frame_interval : float, optional
        Time between frames, stored as the time axis' ``scale``.
    time_unit : str
        Unit of ``frame_interval`` (OME-NGFF name, e.g. ``"second"``, ``"minute"``).
    node_props, edge_props : mapping of str to array, optional
        Extra properties, one value (or row) per node / per edge in the order
        of ``graph.edges`` (e.g. the CTC segment label: ``{"ctc_label":
        to_ctc(graph)[0]}``).
    zarr_format : {2, 3}
        Zarr version (GEFF's default is 2, the most widely readable).
    overwrite : bool
        Replace an existing folder.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile
    >>> from biakit.track import TrackGraph
    >>> g = TrackGraph(t=[0, 1, 1], coords=[[5, 5], [4, 5], [7, 5]], edges=[[0, 1], [0, 2]])
    >>> out = write_geff(Path(tempfile.mkdtemp()) / "tracks.geff", g, spacing=(0.5, 0.5))
    >>> [(a["name"], a["unit"], a.get("scale")) for a in read_geff_metadata(out)["axes"]]
    [('t', 'frame', None), ('y', 'pixel', 0.5), ('x', 'pixel', 0.5)]
    >>> back = read_geff(out)
    >>> back.coords.tolist(), back.edges.tolist()
    ([[5.0, 5.0], [4.0, 5.0], [7.0, 5.0]], [[0, 1], [0, 2]])
    """
    path = Path(path)
    if zarr_format not in (2, 3):
        raise ValueError(f"zarr_format must be 2 or 3, got {zarr_format!r}")
    names = _SPACE[-graph.ndim :]
    scales = _scales(spacing, graph.ndim, frame_interval)
    tracklet, lineage = geff_track_ids(graph)
    props: dict[str, np.ndarray] = {"t": graph.t}
    props.update({a: graph.coords[:, i] for i, a in enumerate(names)})
    if np.any(graph.labels):
        props["seg_id"] = graph.labels
    props.update({"tracklet_id": tracklet, "lineage_id": lineage})
    props.update(graph.features)
    props.update(_check_props(node_props, graph.n_nodes, "node_props"))
    eprops = _check_props(edge_props, len(graph.edges), "edge_props")
    axes = [_axis("t", "time", "frame", graph.t, scales[0], _time_unit(time_unit))]
    axes += [
        _axis(a, "space", "pixel", props[a], scales[i + 1], normalize_unit(unit))
        for i, a in enumerate(names)
    ]
    meta = {
        "geff_version": GEFF_VERSION,
        "directed": True,
        "axes": axes,
        "node_props_metadata": {k: _prop_meta(k, v) for k, v in props.items()},
        "edge_props_metadata": {k: _prop_meta(k, v) for k, v in eprops.items()},
        "track_node_props": {"tracklet": "tracklet_id", "lineage": "lineage_id"},
        "display_hints": _hints(names),
    }
    for ax in axes:
        meta["node_props_metadata"][ax["name"]]["unit"] = ax["unit"]
    with atomic_target(path, overwrite=overwrite, directory=True) as tmp:
        _write_group(tmp, meta, graph, props, eprops, zarr_format)
    return path


def _check_props(props: Mapping[str, Any] | None, n: int, what: str) -> dict[str, np.ndarray]:
    out = {}
    for name, values in dict(props or {}).items():
        arr = np.asarray(values)
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"{what}: property names must be non-empty strings without '/'")
        if arr.ndim == 0 or arr.shape[0] != n:
            raise ValueError(f"{what}[{name!r}]: expected {n} values, got shape {arr.shape}")
        if arr.dtype.name not in _DTYPES:
            raise ValueError(
                f"{what}[{name!r}]: dtype {arr.dtype} is not a GEFF dtype; use one of "
                f"{', '.join(_DTYPES)}"
            )
        out[name] = arr
    return out


def _time_unit(unit: str) -> str:
    text = str(unit).strip().lower()
    return _TIME_ALIASES.get(text, text)


def _scales(spacing: Any, ndim: int, frame_interval: Any) -> list[float | None]:
    out: list[float | None] = [None] * (ndim + 1)
    if frame_interval is not None:
        dt = float(frame_interval)
        if not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"frame_interval must be a positive number, got {frame_interval!r}")
        out[0] = dt
    if spacing is not None:
        scale = np.asarray(spacing, float).reshape(-1)
        if scale.size != ndim or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ValueError(f"spacing must be {ndim} positive numbers, got {spacing!r}")
        out[1:] = scale.tolist()
    return out


def _axis(
    name: str, kind: str, unit: str, values: np.ndarray, scale: float | None, scaled_unit: str
) -> dict[str, Any]:
    axis: dict[str, Any] = {"name": name, "type": kind, "unit": unit}
    if len(values):
        axis.update(min=float(np.min(values)), max=float(np.max(values)))
    if scale is not None:
        axis.update(scale=scale, scaled_unit=scaled_unit)
    return axis


def _prop_meta(name: str, values: np.ndarray) -> dict[str, Any]:
    return {"identifier": name, "dtype": np.asarray(values).dtype.name, "varlength": False}


def _hints(names: tuple[str, ...]) -> dict[str, str]:
    hints = {"display_horizontal": "x", "display_vertical": "y", "display_time": "t"}
    if "z" in names:
        hints["display_depth"] = "z"
    return hints


def _write_group(
    folder: Path,
    meta: dict[str, Any],
    graph: TrackGraph,
    props: dict[str, np.ndarray],
    eprops: dict[str, np.ndarray],
    zarr_format: int,
) -> None:
    import zarr

    root = zarr.open_group(str(folder), mode="w", zarr_format=zarr_format)
    _array(root, "nodes/ids", np.arange(graph.n_nodes, dtype=np.uint64))
    _array(root, "edges/ids", graph.edges.astype(np.uint64).reshape(-1, 2))
    root.require_group("nodes/props")
    for name, values in props.items():
        _array(root, f"nodes/props/{name}/values", np.asarray(values))
    if eprops:
        for name, values in eprops.items():
            _array(root, f"edges/props/{name}/values", np.asarray(values))
    root.attrs["geff"] = meta


def _array(root: Any, name: str, data: np.ndarray) -> None:
    chunks = (max(min(data.shape[0], 2**20), 1), *data.shape[1:])
    arr = root.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks)
    if data.size:
        arr[...] = data


def read_geff(path: PathLike, *, spacing: tuple[float, ...] | None = None) -> TrackGraph:
    """Read a GEFF Zarr group as a :class:`~biakit.track.TrackGraph`.

    Positions come from the ``axes`` of the metadata (one ``time`` axis and two
    or three ``space`` axes; without axes, properties named ``t``, ``(z,) y,
    x``), as stored (pixels for files biakit writes), divided by ``spacing``
    when given. ``seg_id`` gives
    the labels; every other one-value-per-node numeric property becomes a
    feature (``tracklet_id``, ``lineage_id``, ``area``, ...). Edges are mapped
    from node ids to node indices (file order).

    Parameters
    ----------
    path : str or path
        The GEFF group (the folder whose attributes hold the ``geff`` key).
    spacing : tuple of float, optional
        Pixel size of the spatial axes, for files storing physical positions.

    Returns
    -------
    TrackGraph

    Examples
    --------
    >>> import tempfile
    >>> from biakit.track import TrackGraph
    >>> g = TrackGraph(t=[0, 1], coords=[[2.0, 3.0], [2.5, 3.5]], labels=[4, 4], edges=[[0, 1]])
    >>> back = read_geff(write_geff(Path(tempfile.mkdtemp()) / "g.geff", g))
    >>> back.labels.tolist(), back.features["tracklet_id"].tolist()
    ([4, 4], [1, 1])
    """
    path = Path(path)
    root, meta = _open(path)
    props = _read_props(root, "nodes")
    ids = np.asarray(root["nodes/ids"][...])
    t_name, space = _axis_names(path, meta, props)
    t = props.pop(t_name)
    if t.size and np.any(t != np.round(t)):
        raise ImageReadError(f"cannot read {str(path)!r}: time {t_name!r} must hold frame indices")
    scale = np.ones(len(space)) if spacing is None else np.asarray(spacing, float)
    coords = np.stack([props.pop(a) for a in space], axis=1) / scale if len(space) else None
    edges = _edge_index(path, ids, np.asarray(root["edges/ids"][...]))
    labels = props.pop("seg_id", None)
    features = {k: v for k, v in props.items() if v.ndim == 1 and v.dtype.kind in "biuf"}
    from biakit.track import TrackGraph

    return TrackGraph(t.astype(np.int64), coords, labels, edges, features)


def read_geff_metadata(path: PathLike) -> dict[str, Any]:
    """Return the ``geff`` metadata of a GEFF group (version, axes, property metadata, ...).

    Examples
    --------
    >>> import tempfile
    >>> from biakit.track import TrackGraph
    >>> out = write_geff(Path(tempfile.mkdtemp()) / "g.geff", TrackGraph([0], [[1.0, 2.0]]))
    >>> read_geff_metadata(out)["geff_version"], read_geff_metadata(out)["directed"]
    ('1.3', True)
    """
    return _open(Path(path))[1]


def _open(path: Path) -> tuple[Any, dict[str, Any]]:
    import zarr

    try:
        root = zarr.open_group(str(path), mode="r")
        meta = dict(root.attrs["geff"])
    except Exception as err:
        raise ImageReadError(
            f"cannot read {str(path)!r} as GEFF: no Zarr group with a 'geff' attribute "
            f"({type(err).__name__}: {err})"
        ) from None
    return root, meta


def _read_props(root: Any, group: str) -> dict[str, np.ndarray]:
    if f"{group}/props" not in root:
        return {}
    props = root[f"{group}/props"]
    return {name: np.asarray(props[name]["values"][...]) for name in sorted(props.group_keys())}


def _axis_names(path: Path, meta: dict, props: dict) -> tuple[str, list[str]]:
    axes = meta.get("axes") or []
    times = [a["name"] for a in axes if a.get("type") == "time"]
    space = [a["name"] for a in axes if a.get("type") == "space"]
    if not axes:
        times = ["t"] if "t" in props else []
        space = [a for a in _SPACE if a in props]
    if len(times) != 1 or len(space) not in (2, 3) or any(a not in props for a in times + space):
        raise ImageReadError(
            f"cannot read {str(path)!r}: expected one time axis and 2 or 3 space axes among the "
            f"node properties, got time {times}, space {space}, properties {sorted(props)}"
        )
    return times[0], space


def _edge_index(path: Path, ids: np.ndarray, edge_ids: np.ndarray) -> np.ndarray:
    edge_ids = edge_ids.reshape(-1, 2)
    order = np.argsort(ids, kind="stable")
    pos = np.searchsorted(ids, edge_ids, sorter=order)
    pos = np.minimum(pos, max(len(ids) - 1, 0))
    if len(edge_ids) and (not len(ids) or np.any(ids[order[pos]] != edge_ids)):
        raise ImageReadError(
            f"cannot read {str(path)!r}: an edge refers to a node id not in nodes/ids"
        )
    return order[pos].astype(np.int64) if len(edge_ids) else np.zeros((0, 2), np.int64)
