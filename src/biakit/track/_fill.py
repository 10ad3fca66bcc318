"""Fill the frames a track skipped (gap-closing links) with interpolated detections."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from biakit.errors import ParameterError
from biakit.track._graph import TrackGraph


def _drift(graph: TrackGraph) -> np.ndarray:
    """Median displacement per frame over the one-frame links (pixels)."""
    e = graph.edges
    one = e[graph.t[e[:, 1]] - graph.t[e[:, 0]] == 1]
    if not one.size:
        return np.zeros(graph.ndim)
    return np.median(graph.coords[one[:, 1]] - graph.coords[one[:, 0]], axis=0)


def _plan(graph: TrackGraph) -> tuple[list, list]:
    """List new nodes ``(frame, position, template node)`` and the links replacing gaps.

    A plain gap is interpolated linearly (template: the nearer end). A gap to
    a daughter is filled backwards from the daughter (template: the daughter),
    averaged with the mirror image of her sister about the mother in frames
    where the sister is seen; when both daughters come after a gap, the
    mother is extended first.
    """
    t, x, drift = graph.t, graph.coords, _drift(graph)
    out_deg = graph.out_degree()
    n = graph.n_nodes
    nodes: list[tuple[int, np.ndarray, int]] = []
    edges: list[tuple[int, int]] = []

    def chain(src: int, dst: int, frames, positions, templates) -> None:
        prev = src
        for f, p, tpl in zip(frames, positions, templates):
            nodes.append((f, p, tpl))
            edges.append((prev, n + len(nodes) - 1))
            prev = n + len(nodes) - 1
        edges.append((prev, dst))

    by_src: dict[int, list[int]] = {}
    for a, b in graph.edges.tolist():
        by_src.setdefault(a, []).append(b)
    for a, kids in by_src.items():
        gaps = [int(t[b] - t[a]) for b in kids]
        if max(gaps) == 1:
            edges.extend((a, b) for b in kids)
            continue
        if len(kids) == 1:
            b, dt = kids[0], gaps[0]
            w = np.arange(1, dt) / dt
            pos = x[a] + w[:, None] * (x[b] - x[a])
            tpl = np.where(w <= 0.5, a, b)
            chain(a, b, range(t[a] + 1, t[b]), pos, tpl)
            continue
        head = a
        if min(gaps) > 1 and out_deg[a] >= 2:  # the mother was missed before dividing
            k = min(gaps) - 1
            mid = np.mean([x[b] - drift * (t[b] - t[a] - k - 1) for b in kids], axis=0)
            w = np.arange(1, k + 1) / (k + 1)
            pos = x[a] + w[:, None] * (mid - x[a])
            chain(a, -1, range(t[a] + 1, t[a] + k + 1), pos, [a] * k)
            edges.pop()
            head = n + len(nodes) - 1
        t_head = int(t[a]) if head == a else nodes[head - n][0]
        x_head = x[a] if head == a else nodes[head - n][1]
        for b in kids:
            frames = range(t_head + 1, int(t[b]))
            pos = [x[b] - drift * (t[b] - f) for f in frames]
            # Where the sister is seen, also mirror her about the mother; average both.
            for k, f in enumerate(frames):
                sister = [c for c in kids if c != b and t[c] == f]
                if sister:
                    mirror = 2 * (x_head + drift * (f - t_head)) - x[sister[0]]
                    pos[k] = (pos[k] + mirror) / 2
            chain(head, b, frames, pos, [b] * len(pos))
    return nodes, edges


def fill_gaps(
    graph: TrackGraph, masks: np.ndarray | None = None
) -> tuple[TrackGraph, np.ndarray | None]:
    """Add a detection in every frame a track skipped, so tracks have no gaps.

    Without gaps, the Cell Tracking Challenge form keeps one label per cell
    through missed detections (instead of a new, parent-linked segment after
    each gap), which is what complete-track measures (CT) count.

    Parameters
    ----------
    graph : TrackGraph
        Linked detections (e.g. from :func:`link`).
    masks : ndarray of int, axes ``T(Z)YX``, optional
        The label images the detections come from. A filled detection is
        painted as a copy of its template object (the nearer real detection of
        the track) moved to the interpolated position, over background only.

    Returns
    -------
    graph : TrackGraph
        New nodes appended (a fresh label in their frame, features copied from
        the template, feature ``"filled"`` = 1) and the gap links replaced by
        one-frame links.
    masks : ndarray or None
        A painted copy of ``masks`` (None when ``masks`` is None).

    Examples
    --------
    >>> g = TrackGraph(t=[0, 3], coords=[[0, 0], [3, 6]], labels=[1, 1], edges=[[0, 1]])
    >>> filled, _ = fill_gaps(g)
    >>> filled.t.tolist(), filled.coords[2:].tolist(), filled.edges.tolist()
    ([0, 3, 1, 2], [[1.0, 2.0], [2.0, 4.0]], [[0, 2], [2, 3], [3, 1]])
    """
    if masks is not None:
        masks = np.asarray(masks)
        if masks.ndim != graph.ndim + 1 or graph.n_frames > masks.shape[0]:
            raise ParameterError(
                f"masks: expected label images T(Z)YX with {graph.ndim} spatial axes and at "
                f"least {graph.n_frames} frames, got shape {masks.shape}"
            )
    nodes, edges = _plan(graph)
    if not nodes:
        feats = dict(graph.features)
        feats["filled"] = np.zeros(graph.n_nodes, np.int8)
        return TrackGraph(graph.t, graph.coords, graph.labels, graph.edges, feats), masks
    new_t = np.array([f for f, _, _ in nodes], np.int64)
    new_x = np.array([p for _, p, _ in nodes], np.float64)
    tpl = np.array([k for _, _, k in nodes], np.int64)
    new_lab = _fresh_labels(graph, new_t, masks)
    feats = {k: np.concatenate([v, v[tpl]]) for k, v in graph.features.items()}
    feats["filled"] = np.concatenate([np.zeros(graph.n_nodes, np.int8), np.ones(tpl.size, np.int8)])
    out = TrackGraph(
        np.concatenate([graph.t, new_t]),
        np.concatenate([graph.coords, new_x]),
        np.concatenate([graph.labels, new_lab]),
        np.asarray(edges, np.int64),
        feats,
    )
    if masks is not None:
        masks = _paint(graph, masks, new_t, new_x, new_lab, tpl)
    return out, masks


def _fresh_labels(graph: TrackGraph, new_t: np.ndarray, masks: np.ndarray | None) -> np.ndarray:
    """Labels not used in their frame: above the frame's largest label."""
    top = np.zeros(max(graph.n_frames, int(new_t.max()) + 1), np.int64)
    np.maximum.at(top, graph.t, graph.labels)
    if masks is not None:
        top[: masks.shape[0]] = np.maximum(
            top[: masks.shape[0]], masks.reshape(masks.shape[0], -1).max(axis=1)
        )
    order = np.argsort(new_t, kind="stable")
    rank = np.arange(new_t.size) - np.searchsorted(new_t[order], new_t[order])
    labels = np.empty(new_t.size, np.int64)
    labels[order] = top[new_t[order]] + 1 + rank
    return labels


def _paint(graph, masks, new_t, new_x, new_lab, tpl) -> np.ndarray:
    """Copy each template object to its new place, over background only."""
    top = int(max(new_lab.max(), masks.max()))
    dtype = np.result_type(masks.dtype, np.min_scalar_type(top))
    out = masks.astype(dtype, copy=True)
    shape = np.array(masks.shape[1:])
    boxes: dict[int, list] = {}
    for f_new, pos, lab, k in zip(new_t, new_x, new_lab, tpl):
        f_tpl = int(graph.t[k])
        if f_tpl not in boxes:
            boxes[f_tpl] = ndi.find_objects(masks[f_tpl])
        box = boxes[f_tpl][graph.labels[k] - 1] if graph.labels[k] > 0 else None
        shift = np.round(pos - graph.coords[k]).astype(np.int64)
        if box is not None:
            idx = np.nonzero(masks[f_tpl][box] == graph.labels[k])
            pix = np.stack(idx, axis=1) + [s.start for s in box] + shift
        else:
            pix = np.round(pos)[None].astype(np.int64)
        pix = pix[np.all((pix >= 0) & (pix < shape), axis=1)]
        free = out[f_new][tuple(pix.T)] == 0
        if free.any():
            out[f_new][tuple(pix[free].T)] = lab
        else:  # keep the track present in this frame: at least its centre pixel
            centre = np.clip(np.round(pos).astype(np.int64), 0, shape - 1)
            out[f_new][tuple(centre)] = lab
    return out
