"""Point tables (CSV) for the detection workflow: pair with images.

``read_points_csv`` / ``write_points_csv`` live in :mod:`biakit.io` (re-exported here).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from biakit.io import read_points_csv, write_points_csv

__all__ = ["load_point_pairs", "read_points_csv", "write_points_csv"]


def load_point_pairs(
    image_dir: str | os.PathLike[str],
    points_dir: str | os.PathLike[str],
    *,
    axes: str | None = None,
) -> tuple[list[Any], list[np.ndarray], list[np.ndarray | None], list[Path]]:
    """Read images and their point tables, paired by file name.

    A table pairs with the image of the same name, or with a suffix such as
    ``_points`` (:func:`biakit.io.pair_files`). Images come back channel-first
    ``(C, *spatial)`` (:func:`biakit.io.read_channel_first`; ``axes`` for files
    without axes metadata).

    Returns
    -------
    images, points, classes, image_paths : lists
    """
    from biakit.errors import DataError
    from biakit.io import list_images, pair_files, read_channel_first

    tables_dir = Path(points_dir)
    tables = sorted(tables_dir.glob("*.csv")) if tables_dir.is_dir() else []
    if not tables:
        raise DataError(f"points={str(points_dir)!r}: no .csv point tables found there")
    paired = pair_files(list_images(image_dir), tables)
    images, points, classes = [], [], []
    for image_path, table in paired:
        image, _ = read_channel_first(image_path, axes=axes)
        pts, cls = read_points_csv(table, ndim=image.ndim - 1)
        images.append(image)
        points.append(pts)
        classes.append(cls)
    return images, points, classes, [p for p, _ in paired]
