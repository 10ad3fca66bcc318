"""Tracking: link detections of a time-lapse into tracks and lineages.

The result of every linker is a :class:`TrackGraph` (detections + links);
:func:`to_ctc` cuts it into Cell Tracking Challenge segments (``L B E P``),
:func:`relabel_masks` paints label images with the segment labels and
:func:`napari_tracks` gives the data of a napari ``Tracks`` layer.
"""

from biakit.track._config import LinkConfig
from biakit.track._fill import fill_gaps
from biakit.track._graph import (
    TrackGraph,
    detections_from_labels,
    detections_from_points,
    from_ctc,
    napari_tracks,
    relabel_masks,
    to_ctc,
)
from biakit.track._link import link
from biakit.track._overlap import overlap_iou
from biakit.track._table import TRACK_COLUMNS, track_table
from biakit.track._track import track

__all__ = [
    "TRACK_COLUMNS",
    "LinkConfig",
    "TrackGraph",
    "detections_from_labels",
    "detections_from_points",
    "fill_gaps",
    "from_ctc",
    "link",
    "napari_tracks",
    "overlap_iou",
    "relabel_masks",
    "to_ctc",
    "track",
    "track_table",
]
