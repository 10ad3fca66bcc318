"""Reading and writing microscopy images with their axes and physical spacing.

Formats: TIFF (plain, ImageJ hyperstacks, OME-TIFF), PNG/JPEG, NPY, HDF5
datasets (``file.h5:/group/data``), Zarr arrays and OME-Zarr images (NGFF 0.4
and 0.5) with their label images. Zarr is read lazily as Dask arrays. Writes are
atomic (temporary file beside the target, then renamed) and never replace an
existing file unless ``overwrite=True``.

Time-lapse data: Cell Tracking Challenge folders (:func:`read_ctc` / :func:`write_ctc`,
:func:`read_ctc_frames` / :func:`write_ctc_frames`, :func:`validate_ctc` for the CTC rules)
and plain ``TYX`` / ``TZYX`` stacks or per-frame folders (:func:`read_timelapse` /
:func:`write_timelapse`); track graphs as GEFF Zarr groups (:func:`write_geff` /
:func:`read_geff`) and napari-ready track tables (:func:`write_tracks_csv` /
:func:`read_tracks_csv`).

Also here: :func:`read_channel_first` (an input image as ``(C, *spatial)``, as
every workflow reads it), point tables (:func:`read_points_csv`, napari's
``axis-N`` columns accepted) and pairing files by name (:func:`pair_files`).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> import numpy as np
>>> from biakit.io import ImageMeta, read_image, write_image
>>> path = Path(tempfile.mkdtemp()) / "stack.ome.tif"
>>> write_image(path, np.zeros((3, 16, 16), np.uint16), ImageMeta("ZYX", (2.5, 0.325, 0.325)))
>>> image, meta = read_image(path)
>>> meta.axes, meta.spacing
('ZYX', (2.5, 0.325, 0.325))
"""

from biakit.io._api import read_image, write_image
from biakit.io._channel_first import read_channel_first
from biakit.io._common import ImageReadError, ImageWriteError
from biakit.io._ctc import (
    ctc_digits,
    read_ctc,
    read_ctc_frames,
    read_ctc_table,
    validate_ctc,
    write_ctc,
    write_ctc_frames,
    write_ctc_table,
)
from biakit.io._geff import geff_track_ids, read_geff, read_geff_metadata, write_geff
from biakit.io._labels import read_labels, write_labels
from biakit.io._meta import ImageMeta
from biakit.io._pairing import file_key, is_side_output, pair_files
from biakit.io._paths import list_images, supported_formats
from biakit.io._points import read_points_csv, write_points_csv
from biakit.io._timelapse import read_timelapse, write_timelapse
from biakit.io._tracks_csv import read_tracks_csv, write_tracks_csv
from biakit.io._zarr import default_chunks

__all__ = [
    "ImageMeta",
    "ImageReadError",
    "ImageWriteError",
    "ctc_digits",
    "default_chunks",
    "file_key",
    "geff_track_ids",
    "is_side_output",
    "list_images",
    "pair_files",
    "read_channel_first",
    "read_ctc",
    "read_ctc_frames",
    "read_ctc_table",
    "read_geff",
    "read_geff_metadata",
    "read_image",
    "read_labels",
    "read_points_csv",
    "read_timelapse",
    "read_tracks_csv",
    "supported_formats",
    "validate_ctc",
    "write_ctc",
    "write_ctc_frames",
    "write_ctc_table",
    "write_geff",
    "write_image",
    "write_labels",
    "write_points_csv",
    "write_timelapse",
    "write_tracks_csv",
]
