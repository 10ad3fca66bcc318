"""Tracking: link detections of a time-lapse into tracks and lineages.

The result of every linker is a :class:`TrackGraph` (detections + links);
:func:`to_ctc` cuts it into Cell Tracking Challenge segments (``L B E P``),
:func:`relabel_masks` paints label images with the segment labels and
:func:`napari_tracks` gives the data of a napari ``Tracks`` layer.
"""

from biakit.track._graph import (
    TrackGraph,
    detections_from_labels,
    detections_from_points,
    from_ctc,
    napari_tracks,
    relabel_masks,
    to_ctc,
)

__all__ = [
    "TrackGraph",
    "detections_from_labels",
    "detections_from_points",
    "from_ctc",
    "napari_tracks",
    "relabel_masks",
    "to_ctc",
]
