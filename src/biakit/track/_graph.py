"""Tracks as a graph of detections, and its Cell Tracking Challenge (CTC) form.

A tracking result is a directed graph: nodes are detections (one object in one
frame), edges link a detection to the same object later (one frame later, or
several frames later after a gap) or to its daughters after a division. The CTC
form cuts that graph into *segments* (a run of one object through consecutive
frames) with one ``L B E P`` line each: segment label, begin frame, end frame and
parent segment (0 for none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from biakit.errors import DataError


@dataclass(frozen=True, eq=False)
class TrackGraph:
    """Detections of a time-lapse and the links between them.

    Attributes
    ----------
    t : ndarray of int64, shape (n,)
        Frame index of each detection.
    coords : ndarray of float64, shape (n, ndim)
        Position of each detection in pixels, axes ``(z,) y, x``.
    labels : ndarray of int64, shape (n,)
        Label of the detection in its frame's mask; 0 for detections from points.
    edges : ndarray of int64, shape (m, 2)
        Links ``(source, target)`` as node indices; the source is always in an
        earlier frame than the target.
    features : dict of str to ndarray
        Per-node measurements (e.g. ``"area"``, ``"mean_intensity"``), each of
        shape (n,).

    Examples
    --------
    >>> g = TrackGraph(t=[0, 1, 1], coords=[[5, 5], [4, 5], [7, 5]], edges=[[0, 1], [0, 2]])
    >>> g.n_nodes, g.ndim, g.out_degree().tolist()
    (3, 2, [2, 0, 0])
    """

    t: np.ndarray
    coords: np.ndarray
    labels: np.ndarray | None = None
    edges: np.ndarray | None = None
    features: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = np.asarray(self.t, dtype=np.int64).reshape(-1)
        coords = np.asarray(self.coords, dtype=np.float64)
        if coords.ndim != 2 or coords.shape[0] != t.size or coords.shape[1] not in (1, 2, 3):
            raise DataError(
                f"coords: expected shape (n, 2) or (n, 3) for {t.size} detections, "
                f"got {coords.shape}"
            )
        labels = np.zeros(t.size, np.int64) if self.labels is None else self.labels
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        edges = np.zeros((0, 2), np.int64) if self.edges is None else self.edges
        edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        if labels.size != t.size:
            raise DataError(f"labels: expected {t.size} values, got {labels.size}")
        if edges.size and (edges.min() < 0 or edges.max() >= t.size):
            raise DataError(f"edges: node indices must lie in [0, {t.size}), got {edges.max()}")
        if edges.size and np.any(t[edges[:, 0]] >= t[edges[:, 1]]):
            bad = edges[np.argmax(t[edges[:, 0]] >= t[edges[:, 1]])]
            raise DataError(
                f"edges: a link must go forward in time, got {bad.tolist()} "
                f"(frames {t[bad[0]]} -> {t[bad[1]]})"
            )
        features = {k: np.asarray(v).reshape(-1) for k, v in dict(self.features).items()}
        for key, value in features.items():
            if value.size != t.size:
                raise DataError(f"features[{key!r}]: expected {t.size} values, got {value.size}")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "coords", coords)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "features", features)

    @property
    def n_nodes(self) -> int:
        """Number of detections."""
        return int(self.t.size)

    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return int(self.coords.shape[1])

    @property
    def n_frames(self) -> int:
        """Last frame index + 1 (0 for an empty graph)."""
        return int(self.t.max()) + 1 if self.t.size else 0

    def in_degree(self) -> np.ndarray:
        """Count the links arriving at each node."""
        return np.bincount(self.edges[:, 1], minlength=self.n_nodes)

    def out_degree(self) -> np.ndarray:
        """Count the links leaving each node."""
        return np.bincount(self.edges[:, 0], minlength=self.n_nodes)

    def with_edges(self, edges: np.ndarray) -> TrackGraph:
        """Return the same detections with other links."""
        return TrackGraph(self.t, self.coords, self.labels, edges, self.features)


def to_ctc(graph: TrackGraph) -> tuple[np.ndarray, np.ndarray]:
    """Cut a track graph into CTC segments.

    A link continues a segment when it joins consecutive frames and is the only
    link leaving its source and the only one reaching its target. Every other
    link (division, gap closing, merge) starts a new segment whose parent is the
    source's segment; a merged node (several links in) gets the parent of its
    closest-in-time source (the CTC format has one parent per segment).

    Parameters
    ----------
    graph : TrackGraph
        Detections and links.

    Returns
    -------
    node_track : ndarray of int64, shape (n,)
        Segment label (1, 2, ...) of every node, numbered by first frame.
    table : ndarray of int64, shape (k, 4)
        One ``L B E P`` row per segment, sorted by ``L``.

    Examples
    --------
    A cell in frames 0-1 divides into two daughters in frame 2; one daughter
    is lost in frame 3 and found again in frame 4 (a gap-closed link):

    >>> g = TrackGraph(
    ...     t=[0, 1, 2, 2, 3, 4],
    ...     coords=[[5, 5], [5, 5], [3, 5], [7, 5], [7, 6], [7, 7]],
    ...     edges=[[0, 1], [1, 2], [1, 3], [3, 4], [2, 5]],
    ... )
    >>> node_track, table = to_ctc(g)
    >>> node_track.tolist()
    [1, 1, 2, 3, 3, 4]
    >>> table.tolist()
    [[1, 0, 1, 0], [2, 2, 2, 1], [3, 2, 3, 1], [4, 4, 4, 2]]
    """
    n = graph.n_nodes
    t = graph.t
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    out_deg, in_deg = graph.out_degree(), graph.in_degree()
    continues = (out_deg[src] == 1) & (in_deg[dst] == 1) & (t[dst] == t[src] + 1)
    previous = np.full(n, -1, np.int64)  # the node this one continues
    previous[dst[continues]] = src[continues]
    # Parent node of a segment start: the latest source among its incoming links.
    parent_node = np.full(n, -1, np.int64)
    order = np.argsort(t[src], kind="stable")
    parent_node[dst[order]] = src[order]
    node_track = np.zeros(n, np.int64)
    next_label = 1
    for node in np.lexsort((np.arange(n), t)):
        if previous[node] >= 0:
            node_track[node] = node_track[previous[node]]
        else:
            node_track[node] = next_label
            next_label += 1
    k = next_label - 1
    begin = np.full(k + 1, np.iinfo(np.int64).max)
    end = np.full(k + 1, -1, np.int64)
    np.minimum.at(begin, node_track, t)
    np.maximum.at(end, node_track, t)
    parent = np.zeros(k + 1, np.int64)
    starts = np.flatnonzero((previous < 0) & (parent_node >= 0))
    parent[node_track[starts]] = node_track[parent_node[starts]]
    labels = np.arange(1, k + 1)
    table = np.stack([labels, begin[1:], end[1:], parent[1:]], axis=1)
    return node_track, table.astype(np.int64)


def from_ctc(masks: np.ndarray, table: np.ndarray) -> TrackGraph:
    """Build the track graph of a CTC sequence (masks + ``L B E P`` table).

    Nodes are the labelled objects of every frame (label = segment label),
    edges join a segment's detections in consecutive frames where it is present
    and the parent's last detection to the child's first.

    Parameters
    ----------
    masks : ndarray of int, axes ``T(Z)YX``
        Label images; object label = segment label ``L``.
    table : array-like of int, shape (k, 4)
        ``L B E P`` rows.

    Returns
    -------
    TrackGraph

    Examples
    --------
    >>> m = np.zeros((3, 8, 8), np.uint16)
    >>> m[0, 1:3, 1:3] = 1; m[1, 1:3, 2:4] = 1; m[2, 1:3, 1:3] = 2; m[2, 5:7, 5:7] = 3
    >>> g = from_ctc(m, [[1, 0, 1, 0], [2, 2, 2, 1], [3, 2, 2, 1]])
    >>> g.labels.tolist(), g.edges.tolist()
    ([1, 1, 2, 3], [[0, 1], [1, 2], [1, 3]])
    """
    table = _check_table(table)
    graph = detections_from_labels(masks)
    key = np.lexsort((graph.t, graph.labels))  # by label, then frame
    same = graph.labels[key[1:]] == graph.labels[key[:-1]]
    edges = [np.stack([key[:-1][same], key[1:][same]], axis=1)]
    first = {}
    last = {}
    for node in key:
        first.setdefault(int(graph.labels[node]), int(node))
        last[int(graph.labels[node])] = int(node)
    links = [
        (last[p], first[lab])
        for lab, _, _, p in table.tolist()
        if p > 0 and p in last and lab in first
    ]
    if links:
        edges.append(np.asarray(links, np.int64))
    edges_arr = np.concatenate(edges) if edges else np.zeros((0, 2), np.int64)
    order = np.lexsort((edges_arr[:, 1], edges_arr[:, 0]))
    return graph.with_edges(edges_arr[order])


def _check_table(table: np.ndarray) -> np.ndarray:
    table = np.asarray(table, dtype=np.int64)
    if table.size == 0:
        return table.reshape(0, 4)
    if table.ndim != 2 or table.shape[1] != 4:
        raise DataError(f"track table: expected rows 'L B E P', got shape {table.shape}")
    return table


def detections_from_labels(masks: np.ndarray, image: np.ndarray | None = None) -> TrackGraph:
    """One node per labelled object per frame: centroid, area, mean intensity.

    Parameters
    ----------
    masks : ndarray of int, axes ``T(Z)YX``
        Label images (0 = background).
    image : ndarray, optional
        Intensities of the same shape; adds ``mean_intensity``.

    Returns
    -------
    TrackGraph
        Nodes sorted by frame then label, no edges; features ``area`` (pixels)
        and, with ``image``, ``mean_intensity``.

    Examples
    --------
    >>> m = np.zeros((2, 6, 6), np.uint8)
    >>> m[0, 0:2, 0:2] = 3; m[1, 2:5, 2:5] = 1
    >>> g = detections_from_labels(m)
    >>> g.t.tolist(), g.labels.tolist(), g.coords.tolist(), g.features["area"].tolist()
    ([0, 1], [3, 1], [[0.5, 0.5], [3.0, 3.0]], [4, 9])
    """
    masks = np.asarray(masks)
    if masks.ndim not in (3, 4) or not np.issubdtype(masks.dtype, np.integer):
        raise DataError(
            f"masks: expected integer label images with axes T(Z)YX, got {masks.dtype} "
            f"array of shape {masks.shape}"
        )
    if image is not None and np.shape(image) != masks.shape:
        raise DataError(
            f"image: expected shape {masks.shape} like the masks, got {np.shape(image)}"
        )
    ndim = masks.ndim - 1
    parts: dict[str, list[np.ndarray]] = {"t": [], "labels": [], "coords": [], "area": []}
    parts["mean_intensity"] = []
    grids = None
    for frame in range(masks.shape[0]):
        lab = masks[frame].ravel().astype(np.int64)
        if lab.size and lab.min() < 0:
            raise DataError(f"masks: labels must be >= 0, frame {frame} has {lab.min()}")
        present = np.flatnonzero(np.bincount(lab)[1:]) + 1 if lab.size else np.zeros(0, int)
        if not present.size:
            continue
        if grids is None:
            grids = [g.ravel() for g in np.indices(masks.shape[1:], dtype=np.float64)]
        area = np.bincount(lab, minlength=present[-1] + 1)
        centre = [np.bincount(lab, g, minlength=present[-1] + 1)[present] for g in grids]
        parts["t"].append(np.full(present.size, frame))
        parts["labels"].append(present)
        parts["area"].append(area[present])
        parts["coords"].append(np.stack(centre, axis=1) / area[present, None])
        if image is not None:
            sums = np.bincount(lab, np.asarray(image[frame], np.float64).ravel(), present[-1] + 1)
            parts["mean_intensity"].append(sums[present] / area[present])
    if not parts["t"]:
        return TrackGraph(np.zeros(0, np.int64), np.zeros((0, ndim)))
    features = {"area": np.concatenate(parts["area"])}
    if image is not None:
        features["mean_intensity"] = np.concatenate(parts["mean_intensity"])
    return TrackGraph(
        t=np.concatenate(parts["t"]),
        coords=np.concatenate(parts["coords"]),
        labels=np.concatenate(parts["labels"]),
        features=features,
    )


def detections_from_points(points: np.ndarray) -> TrackGraph:
    """Nodes from a points array with rows ``(t, (z,) y, x)`` (napari's order).

    Examples
    --------
    >>> detections_from_points([[1, 2.0, 3.0], [0, 4.0, 5.0]]).t.tolist()
    [0, 1]
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] not in (3, 4):
        raise DataError(f"points: expected rows (t, y, x) or (t, z, y, x), got shape {pts.shape}")
    if pts.size and (np.any(pts[:, 0] != np.round(pts[:, 0])) or pts[:, 0].min() < 0):
        raise DataError("points: the frame column t must hold integers >= 0")
    order = np.lexsort(tuple(pts[:, ::-1].T))
    pts = pts[order]
    return TrackGraph(t=pts[:, 0].astype(np.int64), coords=pts[:, 1:])


def relabel_masks(masks: np.ndarray, graph: TrackGraph, node_track: np.ndarray) -> np.ndarray:
    """Paint every detection of ``masks`` with its track label.

    Objects of ``masks`` that are not nodes of ``graph`` become background.

    Examples
    --------
    >>> m = np.array([[[0, 4]], [[2, 0]]])
    >>> g = detections_from_labels(m)
    >>> relabel_masks(m, g, np.array([7, 7])).tolist()
    [[[0, 7]], [[7, 0]]]
    """
    masks = np.asarray(masks)
    top = max(int(node_track.max()) if node_track.size else 0, 1)
    dtype = np.uint16 if top < 2**16 else np.uint32
    out = np.zeros(masks.shape, dtype)
    for frame in np.unique(graph.t):
        here = graph.t == frame
        lut = np.zeros(int(max(graph.labels[here].max(), masks[frame].max())) + 1, dtype)
        lut[graph.labels[here]] = node_track[here]
        out[frame] = lut[masks[frame]]
    return out


def napari_tracks(
    graph: TrackGraph, node_track: np.ndarray, table: np.ndarray
) -> tuple[np.ndarray, dict[int, list[int]]]:
    """Give the data of a napari ``Tracks`` layer: rows ``(track_id, t, (z,) y, x)``, parents.

    Examples
    --------
    >>> g = TrackGraph(t=[0, 1, 1], coords=[[5, 5], [4, 5], [7, 5]], edges=[[0, 1], [0, 2]])
    >>> data, parents = napari_tracks(g, *to_ctc(g))
    >>> data.tolist(), parents
    ([[1.0, 0.0, 5.0, 5.0], [2.0, 1.0, 4.0, 5.0], [3.0, 1.0, 7.0, 5.0]], {2: [1], 3: [1]})
    """
    data = np.column_stack([node_track, graph.t, graph.coords]).astype(np.float64)
    data = data[np.lexsort((data[:, 1], data[:, 0]))]
    parents = {int(lab): [int(p)] for lab, _, _, p in np.asarray(table).tolist() if p > 0}
    return data, parents
