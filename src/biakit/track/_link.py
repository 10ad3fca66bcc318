"""Frame-to-frame linking, and :func:`link`, the whole linker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree

from biakit.errors import ParameterError
from biakit.track._config import LinkConfig, make_config
from biakit.track._estimate import Motion, estimate_motion, frame_slices
from biakit.track._graph import TrackGraph
from biakit.track._lap import assign

_IOU_FLOOR = 0.05
_STEP_SD = 5.5  # largest step between frames, in sd of a step (auto)


@dataclass(frozen=True)
class Scene:
    """Detections in physical units and the settings every cost uses."""

    t: np.ndarray
    x: np.ndarray
    area: np.ndarray | None
    intensity: np.ndarray | None
    motion: Motion
    step: float  # largest step between consecutive frames
    split_distance: float
    alt: float  # cost of starting or ending a track
    config: LinkConfig
    by_frame: dict[int, np.ndarray]
    overlaps: csr_matrix | None = None  # IoU of objects in consecutive frames


def pairs_within(
    src: np.ndarray, pos: np.ndarray, dst: np.ndarray, x_dst: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(src[a], dst[b])`` with ``|pos[a] - x_dst[b]| <= radius``."""
    if not src.size or not dst.size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    found = cKDTree(pos).sparse_distance_matrix(cKDTree(x_dst), radius, output_type="ndarray")
    return src[found["i"]], dst[found["j"]]


def step_cost(
    scene: Scene, i: np.ndarray, j: np.ndarray, velocity: np.ndarray | None = None
) -> np.ndarray:
    """Cost of linking ``i`` to ``j`` (same object, possibly after missed frames).

    ``|x_j - x_i - v dt|^2 / (2 sigma^2 dt)`` (a Brownian step around the
    predicted motion), plus the weighted size and intensity terms, plus
    ``gap_penalty`` per missed frame, plus (one-frame links, with
    ``overlaps``) ``-overlap_weight * log(max(IoU, 0.05))``.
    """
    m, cfg = scene.motion, scene.config
    dt = (scene.t[j] - scene.t[i]).astype(np.float64)
    v = m.drift if velocity is None else velocity
    resid = scene.x[j] - scene.x[i] - v * dt[:, None]
    cost = (resid**2).sum(axis=1) / (2 * m.sigma**2 * dt)
    cost += cfg.gap_penalty * (dt - 1)
    if scene.overlaps is not None and cfg.overlap_weight > 0:
        one = dt == 1
        iou = np.asarray(scene.overlaps[i[one], j[one]]).ravel()
        cost[one] -= cfg.overlap_weight * np.log(np.maximum(iou, _IOU_FLOOR))
    return cost + appearance_cost(scene, i, j)


def appearance_cost(scene: Scene, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Size (log area ratio) and intensity terms between ``i`` and ``j``."""
    m, cfg = scene.motion, scene.config
    cost = np.zeros(i.size)
    if scene.area is not None and cfg.size_weight > 0 and np.isfinite(m.size_sd):
        ratio = np.log(scene.area[j] / scene.area[i])
        cost += cfg.size_weight * ratio**2 / (2 * m.size_sd**2)
    if scene.intensity is not None and cfg.intensity_weight > 0 and np.isfinite(m.intensity_sd):
        diff = scene.intensity[j] - scene.intensity[i]
        cost += cfg.intensity_weight * diff**2 / (2 * m.intensity_sd**2)
    return cost


def link_frames(scene: Scene) -> np.ndarray:
    """Links between consecutive frames: one sparse LAP over all frame pairs at once."""
    rows, cols = [], []
    drift = scene.motion.drift
    for f, src in scene.by_frame.items():
        dst = scene.by_frame.get(f + 1)
        if dst is not None:
            i, j = pairs_within(src, scene.x[src] + drift, dst, scene.x[dst], scene.step)
            rows.append(i)
            cols.append(j)
    if not rows:
        return np.zeros((0, 2), np.int64)
    i, j = np.concatenate(rows), np.concatenate(cols)
    alt = np.full(scene.t.size, scene.alt)
    chosen = assign(i, j, step_cost(scene, i, j), alt, alt)
    return np.stack([i[chosen], j[chosen]], axis=1)


def _as_spacing(spacing: float | Sequence[float] | None, ndim: int) -> np.ndarray:
    if spacing is None:
        return np.ones(ndim)
    sp = np.atleast_1d(np.asarray(spacing, np.float64))
    if sp.size == 1:
        sp = np.repeat(sp, ndim)
    if sp.shape != (ndim,) or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ParameterError(
            f"spacing: expected a positive number or {ndim} positive numbers (one per spatial "
            f"axis), got {spacing!r}"
        )
    return sp


def make_scene(
    graph: TrackGraph, spacing: np.ndarray, frame_interval: float, cfg: LinkConfig
) -> Scene:
    """Convert to physical units, estimate the motion, derive the cut-offs."""
    x = graph.coords * spacing
    area = graph.features.get("area")
    if area is not None:
        area = np.maximum(np.asarray(area, np.float64), 1e-12) * float(np.prod(spacing))
    inten = graph.features.get("mean_intensity")
    inten = None if inten is None else np.asarray(inten, np.float64)
    feats = {k: v for k, v in (("area", area), ("mean_intensity", inten)) if v is not None}
    motion = estimate_motion(graph.t, x, feats, floor=0.5 * float(spacing.min()))
    sigma = motion.sigma
    if cfg.max_speed is not None:
        step = cfg.max_speed * frame_interval
    else:  # 5.5 sd, or more when a minority of objects moves faster
        step = max(_STEP_SD * sigma, 1.2 * np.nan_to_num(motion.long_step))
    if cfg.split_distance is not None:
        split = cfg.split_distance
    elif np.isfinite(motion.radius):
        split = step + 2 * motion.radius
    elif np.isfinite(motion.spacing_nn):  # points: daughters are each other's neighbours
        split = step + max(step, motion.spacing_nn / 2)
    else:
        split = 2 * step
    alt = (
        cfg.alternative_cost
        if cfg.alternative_cost is not None
        else 0.55 * step**2 / (2 * sigma**2)
    )
    return Scene(graph.t, x, area, inten, motion, step, split, alt, cfg, frame_slices(graph.t))


def link(
    graph: TrackGraph,
    *,
    spacing: float | Sequence[float] | None = None,
    frame_interval: float = 1.0,
    config: LinkConfig | None = None,
    overlaps: csr_matrix | None = None,
    **params: Any,
) -> TrackGraph:
    """Link detections into tracks with divisions (Jaqaman-style LAP tracking).

    1. Frame to frame: one sparse linear assignment (squared distance around
       the drift, over twice the step variance, plus size and intensity terms)
       with a cost for starting or ending a track.
    2. Gap closing and splitting: a second assignment between track ends and
       track starts up to ``max_gap + 1`` frames later (position predicted
       from the drift and, when motion is persistent, each track's recent
       velocity), and between any detection and a track start one or two
       frames later (a division; costed by how symmetric the daughters are
       about the mother, how alike they are and that they are smaller).

    Every cut-off not given is derived from the data (see :class:`LinkConfig`).

    Parameters
    ----------
    graph : TrackGraph
        Detections (its edges are ignored).
    spacing : float or sequence of float, optional
        Pixel size per spatial axis (``(z,) y, x``); default 1.
    frame_interval : float
        Time between frames (the unit of ``max_speed``); default 1.
    config : LinkConfig, optional
        Settings; keyword arguments override its fields.
    overlaps : scipy.sparse matrix, optional
        IoU of detections in consecutive frames (:func:`overlap_iou`); used
        with ``overlap_weight > 0``.
    **params
        Any :class:`LinkConfig` field, e.g. ``max_gap=3``.

    Returns
    -------
    TrackGraph
        The same detections with links.

    Examples
    --------
    >>> from biakit.track import TrackGraph, to_ctc
    >>> g = TrackGraph(t=[0, 0, 1, 1, 2, 2],
    ...                coords=[[10, 10], [40, 40], [11, 10], [41, 41], [12, 11], [40, 42]])
    >>> link(g).edges.tolist()
    [[0, 2], [1, 3], [2, 4], [3, 5]]
    """
    from biakit.track._gaps import close_gaps

    if not isinstance(graph, TrackGraph):
        raise ParameterError(f"graph: expected a TrackGraph, got {type(graph).__name__}")
    cfg = make_config(config, params)
    spacing_arr = _as_spacing(spacing, graph.ndim)
    if not np.isfinite(frame_interval) or frame_interval <= 0:
        raise ParameterError(f"frame_interval: expected a positive number, got {frame_interval!r}")
    if graph.n_nodes == 0:
        return graph.with_edges(np.zeros((0, 2), np.int64))
    if not np.all(np.isfinite(graph.coords)):
        raise ParameterError("graph: detection coordinates must be finite (found NaN or inf)")
    scene = make_scene(graph, spacing_arr, float(frame_interval), cfg)
    if overlaps is not None:
        if not hasattr(overlaps, "shape") or overlaps.shape != (graph.n_nodes,) * 2:
            raise ParameterError(
                f"overlaps: expected a sparse matrix of shape {(graph.n_nodes,) * 2} (see "
                f"overlap_iou), got {getattr(overlaps, 'shape', type(overlaps).__name__)}"
            )
        scene = replace(scene, overlaps=csr_matrix(overlaps))
    edges = link_frames(scene)
    edges = np.concatenate([edges, close_gaps(scene, edges)])
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    return graph.with_edges(edges[order])
