"""Overlap (intersection over union) of objects in consecutive frames."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from biakit.errors import ParameterError
from biakit.track._estimate import frame_slices
from biakit.track._graph import TrackGraph


def overlap_iou(masks: np.ndarray, graph: TrackGraph) -> csr_matrix:
    """IoU between every detection and those of the next frame it overlaps.

    Parameters
    ----------
    masks : ndarray of int, axes ``T(Z)YX``
        The label images the detections of ``graph`` come from.
    graph : TrackGraph
        Detections (node ``i`` = object ``labels[i]`` of frame ``t[i]``).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n, n)
        ``M[i, j]`` = IoU of node ``i`` and node ``j`` one frame later (0 when
        they do not overlap).

    Examples
    --------
    >>> from biakit.track import detections_from_labels
    >>> m = np.zeros((2, 1, 4), np.uint8)
    >>> m[0, 0, :2] = 1; m[1, 0, 1:3] = 1
    >>> overlap_iou(m, detections_from_labels(m)).toarray().round(3).tolist()
    [[0.0, 0.333], [0.0, 0.0]]
    """
    masks = np.asarray(masks)
    if masks.ndim != graph.ndim + 1 or graph.n_frames > masks.shape[0]:
        raise ParameterError(
            f"masks: expected label images T(Z)YX with {graph.ndim} spatial axes and at "
            f"least {graph.n_frames} frames, got shape {masks.shape}"
        )
    n = graph.n_nodes
    by_frame = frame_slices(graph.t)
    rows, cols, vals = [], [], []
    for f, here in by_frame.items():
        nxt = by_frame.get(f + 1)
        if nxt is None:
            continue
        a = masks[f].ravel().astype(np.int64)
        b = masks[f + 1].ravel().astype(np.int64)
        node_a = _lookup(graph, here, int(a.max()))
        node_b = _lookup(graph, nxt, int(b.max()))
        both = (a > 0) & (b > 0)
        pairs, count = np.unique(np.stack([a[both], b[both]]), axis=1, return_counts=True)
        i, j = node_a[pairs[0]], node_b[pairs[1]]
        ok = (i >= 0) & (j >= 0)
        area_a = np.bincount(a, minlength=node_a.size)[pairs[0]]
        area_b = np.bincount(b, minlength=node_b.size)[pairs[1]]
        rows.append(i[ok])
        cols.append(j[ok])
        vals.append((count / (area_a + area_b - count))[ok])
    if not rows:
        return csr_matrix((n, n))
    return csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), (n, n))


def _lookup(graph: TrackGraph, here: np.ndarray, top: int) -> np.ndarray:
    """Node index of each label of one frame (-1 for labels that are not nodes)."""
    lut = np.full(max(top, int(graph.labels[here].max())) + 1, -1, np.int64)
    lut[graph.labels[here]] = here
    return lut
