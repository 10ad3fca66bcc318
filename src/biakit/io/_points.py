"""Point tables (CSV): biakit's ``z,y,x`` columns and napari's ``axis-0, axis-1, ...`` columns."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import DataError, ParameterError

__all__ = ["read_points_csv", "write_points_csv"]

_AXES = ("YX", "ZYX")
_NAPARI_AXIS = re.compile(r"^axis-(\d+)$")


def _check_axes(axes: str, ndim: int | None = None) -> str:
    if not isinstance(axes, str) or axes.upper() not in _AXES:
        raise ParameterError(f"axes must be 'YX' or 'ZYX', got {axes!r}")
    axes = axes.upper()
    if ndim is not None and len(axes) != ndim:
        raise ParameterError(
            f"axes={axes!r} has {len(axes)} letters but points have {ndim} columns"
        )
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

    Raises
    ------
    ParameterError
        For points that are not ``(N, 2)`` / ``(N, 3)`` as ``axes`` says, or classes /
        scores of another length.

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
        raise ParameterError(f"points must be an (N, ndim) array, got shape {pts.shape}")
    axes = _check_axes(axes, pts.shape[1])
    columns: list[tuple[str, np.ndarray]] = [(a.lower(), pts[:, i]) for i, a in enumerate(axes)]
    for name, values, kind in (("class", classes, np.int64), ("score", scores, np.float64)):
        if values is not None:
            arr = np.asarray(values).ravel()
            if arr.size != len(pts):
                raise ParameterError(f"{name} values: got {arr.size} for {len(pts)} points")
            columns.append((name, arr.astype(kind)))
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([name for name, _ in columns])
        for row in zip(*(values.tolist() for _, values in columns)):
            writer.writerow(row)
    return Path(path)


def _napari_columns(path: Path, header: list[str], found: list[str], ndim: int | None) -> list[int]:
    """Return the indices of the spatial ``axis-N`` columns of a napari points table."""
    numbered = sorted(
        (int(m.group(1)), i) for i, h in enumerate(header) if (m := _NAPARI_AXIS.match(h))
    )
    numbers = [n for n, _ in numbered]
    if numbers != list(range(len(numbers))):
        raise DataError(
            f"{path}: napari axis columns must be axis-0, axis-1, ... without gaps; found {found}"
        )
    k = len(numbers)
    if ndim is None and k > 3:
        raise DataError(
            f"{path}: {k} napari axis columns (axis-0..axis-{k - 1}) but points have 2 or 3 "
            f"spatial coordinates; pass ndim= (the image's spatial dimensions) to take the "
            f"last 2 or 3 as z,y,x (the others, e.g. time, are dropped)"
        )
    want = k if ndim is None else ndim
    if k < max(want, 2):
        raise DataError(
            f"{path}: {k} napari axis column(s) but {max(want, 2)}-D points are expected; "
            f"found {found}"
        )
    return [i for _, i in numbered[k - want :]]


def _coordinate_columns(
    path: Path, header: list[str], found: list[str], ndim: int | None
) -> list[int]:
    letters = [n for n in ("z", "y", "x") if n in header]
    if letters or not any(_NAPARI_AXIS.match(h) for h in header):
        want = ndim or (3 if "z" in header else 2)
        names = ("z", "y", "x")[3 - want :]
        missing = [n for n in names if n not in header]
        if missing:
            raise DataError(
                f"{path}: missing column(s) {', '.join(missing)}; found {found}, expected "
                f"{','.join(names)} or napari's axis-0,axis-1,... (and optionally class)"
            )
        return [header.index(n) for n in names]
    return _napari_columns(path, header, found, ndim)


def read_points_csv(
    path: str | os.PathLike[str], *, ndim: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Read a point table (CSV) in pixel coordinates, array axis order.

    Coordinate columns are ``y,x`` or ``z,y,x`` (any order, any case), or those of
    a napari points layer saved as CSV (``index, axis-0, axis-1[, axis-2]``): the
    ``axis-N`` columns are the coordinates in array order. When a napari table has
    more axis columns than spatial axes (e.g. ``axis-0`` is time), pass ``ndim`` to
    take the last ``ndim``. An optional ``class`` column gives each point's class;
    other columns (``index``, ``score``, ...) are ignored.

    Parameters
    ----------
    path : str or path
        The CSV file.
    ndim : int, optional
        Number of coordinates (2 or 3); by default 3 when there is a ``z`` column or
        three napari axes, else 2.

    Returns
    -------
    points : numpy.ndarray
        ``float64`` of shape ``(N, ndim)``.
    classes : numpy.ndarray or None
        ``int64`` of shape ``(N,)`` when the table has a ``class`` column.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    DataError
        For an empty file, missing or ambiguous coordinate columns, or cells that
        are not numbers; the message names the file and the columns found.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = path.write_text("x,Y,class\n4,1.5,1\n")
    >>> points, classes = read_points_csv(path)
    >>> points.tolist(), classes.tolist()
    ([[1.5, 4.0]], [1])
    >>> _ = path.write_text("index,axis-0,axis-1,axis-2\n0,3.0,10.0,12.0\n")  # napari, T,Y,X
    >>> read_points_csv(path, ndim=2)[0].tolist()
    [[10.0, 12.0]]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: point table not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if not (r and r[0].lstrip().startswith("#"))]
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: not a text CSV point table ({err})") from None
    if not rows:
        raise DataError(
            f"{path}: empty file; expected a header with columns y,x or z,y,x (or axis-0,...)"
        )
    if ndim is not None and ndim not in (2, 3):
        raise ParameterError(f"ndim must be 2 or 3, got {ndim!r}")
    header = [h.strip().lower() for h in rows[0]]
    columns = _coordinate_columns(path, header, rows[0], ndim)
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    try:
        points = np.array([[float(r[k]) for k in columns] for r in body], float)
        classes = None
        if "class" in header:
            k = header.index("class")
            classes = np.array([int(float(r[k])) for r in body], dtype=np.int64)
    except (ValueError, IndexError) as err:
        raise DataError(
            f"{path}: cannot read the table ({err}); columns found: {rows[0]}"
        ) from None
    if not np.isfinite(points).all():
        raise DataError(f"{path}: coordinates must be finite numbers; found NaN or infinity")
    return points.reshape(len(body), len(columns)), classes
