"""One call from label images or points to linked tracks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from biakit.errors import ParameterError
from biakit.track._config import LinkConfig, make_config
from biakit.track._graph import TrackGraph, detections_from_labels, detections_from_points
from biakit.track._link import link
from biakit.track._overlap import overlap_iou


def track(
    masks: np.ndarray | None = None,
    points: np.ndarray | None = None,
    image: np.ndarray | None = None,
    *,
    spacing: float | Sequence[float] | None = None,
    frame_interval: float = 1.0,
    config: LinkConfig | None = None,
    **params: Any,
) -> TrackGraph:
    """Track the objects of a time-lapse: label images or points in, linked graph out.

    Detections are the objects of ``masks`` (centroid, area and, with
    ``image``, mean intensity; with ``overlap_weight > 0`` also their overlap
    with the next frame's objects) or the rows of ``points``; they are linked by
    :func:`link` (frame-to-frame assignment, gap closing, divisions) with
    cut-offs derived from the data unless given.

    Parameters
    ----------
    masks : ndarray of int, axes ``T(Z)YX``, optional
        Label images (any segmentation; 0 = background).
    points : ndarray, shape (n, 3) or (n, 4), optional
        Rows ``(t, (z,) y, x)`` in pixels (napari's order). Give ``masks`` or
        ``points``, not both.
    image : ndarray, optional
        Intensities of the same shape as ``masks`` (adds an intensity term).
    spacing : float or sequence of float, optional
        Pixel size per spatial axis; default 1.
    frame_interval : float
        Time between frames; default 1.
    config : LinkConfig, optional
        Linking settings; keyword arguments override its fields.
    **params
        Any :class:`LinkConfig` field.

    Returns
    -------
    TrackGraph
        Use :func:`to_ctc` for CTC segments, :func:`relabel_masks` to paint
        them and :func:`fill_gaps` to bridge missed detections.

    Examples
    --------
    >>> m = np.zeros((3, 20, 20), np.uint8)
    >>> m[0, 2:5, 2:5] = 1; m[1, 3:6, 3:6] = 1; m[2, 4:7, 4:7] = 4
    >>> track(m).edges.tolist()
    [[0, 1], [1, 2]]
    """
    if (masks is None) == (points is None):
        raise ParameterError("track: give either masks (label images) or points, not both/neither")
    cfg = make_config(config, params)
    overlaps = None
    if masks is not None:
        graph = detections_from_labels(masks, image)
        if cfg.overlap_weight > 0:
            overlaps = overlap_iou(masks, graph)
    else:
        if image is not None:
            raise ParameterError("image: only used with masks (mean intensity per object)")
        graph = detections_from_points(points)
    return link(
        graph, spacing=spacing, frame_interval=frame_interval, config=cfg, overlaps=overlaps
    )
