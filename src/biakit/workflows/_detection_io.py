"""Point tables (CSV) for the detection workflow: write, read, pair with images."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_point_pairs", "read_points_csv", "write_points_csv"]

_AXES = ("YX", "ZYX")


def _check_axes(axes: str, ndim: int | None = None) -> str:
    if not isinstance(axes, str) or axes.upper() not in _AXES:
        raise ValueError(f"axes must be 'YX' or 'ZYX', got {axes!r}")
    axes = axes.upper()
    if ndim is not None and len(axes) != ndim:
        raise ValueError(f"axes={axes!r} has {len(axes)} letters but points have {ndim} columns")
    return axes


def write_points_csv(
    path: str | os.PathLike[str],
    points: Any,
    classes: Any = None,
    scores: Any = None,
    *,
    axes: str = "YX",
    overwrite: bool = True,
) -> Path:
    """Write points (and optional classes, scores) to a CSV file, atomically.

    Columns: the lower-case axis letters (``y,x`` or ``z,y,x``, pixel
    coordinates), then ``class`` and ``score`` when given. The file is written
    to a temporary sibling and renamed, so readers never see half a table.

    Parameters
    ----------
    path : str or path
        Destination ``.csv``.
    points : array_like, shape (N, ndim)
        Coordinates in array axis order.
    classes, scores : array_like, shape (N,), optional
        Class (int) and score (float) of each point.
    axes : {"YX", "ZYX"}
        Names of the coordinate columns.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "spots.csv"
    >>> _ = write_points_csv(path, [[1.5, 2.0]], classes=[0], scores=[0.9])
    >>> path.read_text().splitlines()
    ['y,x,class,score', '1.5,2.0,0,0.9']
    """
    from biakit._atomic import atomic_path

    pts = np.asarray(points, dtype=np.float64)
    if pts.size == 0:
        pts = np.zeros((0, len(_check_axes(axes))))
    if pts.ndim != 2:
        raise ValueError(f"points must be an (N, ndim) array, got shape {pts.shape}")
    axes = _check_axes(axes, pts.shape[1])
    columns: list[tuple[str, np.ndarray]] = [(a.lower(), pts[:, i]) for i, a in enumerate(axes)]
    for name, values, kind in (("class", classes, np.int64), ("score", scores, np.float64)):
        if values is not None:
            arr = np.asarray(values).ravel()
            if arr.size != len(pts):
                raise ValueError(f"{name} values: got {arr.size} for {len(pts)} points")
            columns.append((name, arr.astype(kind)))
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([name for name, _ in columns])
        for row in zip(*(values.tolist() for _, values in columns)):
            writer.writerow(row)
    return Path(path)


def read_points_csv(
    path: str | os.PathLike[str], *, ndim: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Read a point table with columns ``y,x`` or ``z,y,x`` (any case) and optional ``class``.

    Other columns (``score``, ``id``, ...) are ignored. Returns ``(points
    float64 (N, ndim), classes int64 (N,) or None)``; ``ndim`` forces 2 or 3
    coordinates (a ``z`` column is then required for 3).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = path.write_text("x,y,class\n4,1.5,1\n")
    >>> points, classes = read_points_csv(path)
    >>> points.tolist(), classes.tolist()
    ([[1.5, 4.0]], [1])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: point table not found")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ValueError(f"{path}: empty file; expected a header with columns y,x or z,y,x")
    header = [h.strip().lower() for h in rows[0]]
    want = ndim or (3 if "z" in header else 2)
    names = ("z", "y", "x")[3 - want :]
    missing = [n for n in names if n not in header]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {', '.join(missing)}; found {rows[0]}, "
            f"expected {','.join(names)} (and optionally class)"
        )
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    try:
        points = np.array([[float(r[header.index(n)]) for n in names] for r in body], float)
        classes = None
        if "class" in header:
            k = header.index("class")
            classes = np.array([int(float(r[k])) for r in body], dtype=np.int64)
    except (ValueError, IndexError) as err:
        raise ValueError(f"{path}: cannot read the table ({err})") from None
    return points.reshape(len(body), want), classes


def load_point_pairs(
    image_dir: str | os.PathLike[str], points_dir: str | os.PathLike[str]
) -> tuple[list[Any], list[np.ndarray], list[np.ndarray | None], list[Path]]:
    """Read images and their point tables, paired by file name.

    A table pairs with the image of the same name, or with a suffix such as
    ``_points`` (:func:`biakit.evaluation.pair_files`). Images come back
    channel-first ``(C, *spatial)``.

    Returns
    -------
    images, points, classes, image_paths : lists
    """
    from biakit.evaluation import pair_files
    from biakit.io import list_images, read_image
    from biakit.nn.datasets._split import _canonical

    tables_dir = Path(points_dir)
    tables = sorted(tables_dir.glob("*.csv")) if tables_dir.is_dir() else []
    if not tables:
        raise ValueError(f"points={str(points_dir)!r}: no .csv point tables found there")
    try:
        paired = pair_files(list_images(image_dir), tables)
    except ValueError as err:
        raise ValueError(
            f"cannot pair images in {image_dir} with tables in {points_dir}: {err}"
        ) from None
    images, points, classes = [], [], []
    for image_path, table in paired:
        image, meta = read_image(image_path)
        image, axes = _canonical(image, meta, image_path)
        image = image if "C" in axes else image[None]
        pts, cls = read_points_csv(table, ndim=image.ndim - 1)
        images.append(image)
        points.append(pts)
        classes.append(cls)
    return images, points, classes, [p for p, _ in paired]
