"""Plain time-lapse stacks: one ``TYX`` / ``TZYX`` file, or a folder of per-frame files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from biakit.io._api import read_image, write_image
from biakit.io._common import ImageReadError, ImageWriteError
from biakit.io._ctc import PathLike, write_ctc_frames
from biakit.io._meta import ImageMeta


def read_timelapse(path: PathLike, *, axes: str | None = None) -> tuple[np.ndarray, ImageMeta]:
    """Read a time-lapse as a ``TYX`` / ``TZYX`` array: one stack file or a folder of frames.

    Parameters
    ----------
    path : str or path
        A file :func:`read_image` reads (its axes must include ``T``, from its
        metadata or ``axes``), or a folder of per-frame files (``(Z)YX`` each),
        ordered by the last number in their names (``t000.tif``, ``frame_2.png``,
        ...), as for CTC ``SEQ`` folders.
    axes : str, optional
        Axes of the stored stack (e.g. ``"TYX"``) when the file has none; for a
        folder, the axes of one frame (``"YX"`` or ``"ZYX"``).

    Returns
    -------
    array : ndarray
        Axes ``TYX`` or ``TZYX``.
    meta : ImageMeta

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> write_timelapse(d / "movie.tif", np.zeros((4, 8, 8), np.uint16), axes="TYX")
    >>> stack, meta = read_timelapse(d / "movie.tif")
    >>> stack.shape, meta.axes
    ((4, 8, 8), 'TYX')
    """
    path = Path(path)
    if path.is_dir():
        return _read_folder(path, axes)
    array, meta = read_image(path, axes=axes)
    if meta.axes not in ("TYX", "TZYX"):
        raise ImageReadError(
            f"cannot read {str(path)!r} as a time-lapse: its axes are {meta.axes!r}; expected "
            f"'TYX' or 'TZYX' (pass axes='TYX' or 'TZYX' for a file without axes metadata)"
        )
    return np.asarray(array), meta


def _read_folder(folder: Path, axes: str | None) -> tuple[np.ndarray, ImageMeta]:
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    numbered = []
    for p in files:
        digits = re.findall(r"\d+", p.name.split(".")[0])
        if digits:
            numbered.append((int(digits[-1]), p.name, p))
    if not numbered:
        raise ImageReadError(f"cannot read {str(folder)!r}: no numbered frame files in it")
    numbered.sort()
    frames, metas = [], []
    for _, _, p in numbered:
        array, meta = read_image(p, axes=axes)
        frames.append(np.asarray(array))
        metas.append(meta)
    if {f.shape for f in frames} != {frames[0].shape} or metas[0].axes not in ("YX", "ZYX"):
        raise ImageReadError(
            f"cannot read {str(folder)!r}: frames must be 2D (YX) or 3D (ZYX) of one shape, got "
            f"axes {metas[0].axes!r} and shapes {sorted({f.shape for f in frames})}"
        )
    meta = ImageMeta("T" + metas[0].axes, (1.0, *metas[0].spacing), metas[0].unit)
    return np.stack(frames), meta


def write_timelapse(
    path: PathLike,
    stack: Any,
    *,
    axes: str = "TYX",
    spacing: tuple[float, ...] | None = None,
    per_frame: bool = False,
    overwrite: bool = False,
) -> None:
    """Write a ``TYX`` / ``TZYX`` time-lapse as one file, or as a folder of per-frame files.

    Parameters
    ----------
    path : str or path
        A file for :func:`write_image` (``.tif``, ``.ome.tif``, ``.zarr``, ...)
        or, with ``per_frame``, a folder that receives ``t000.tif``, ``t001.tif``,
        ... (CTC naming), written whole then renamed into place.
    stack : array_like
        The frames, axes as ``axes`` says.
    axes : {"TYX", "TZYX"}
        Axes of ``stack``.
    spacing : tuple of float, optional
        One value per axis of ``axes`` (frame interval first).
    per_frame : bool
        One file per frame instead of one stack.
    overwrite : bool
        Replace an existing file or folder.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()) / "frames"
    >>> write_timelapse(d, np.zeros((2, 3, 8, 8), np.uint8), axes="TZYX", per_frame=True)
    >>> read_timelapse(d)[0].shape
    (2, 3, 8, 8)
    """
    path = Path(path)
    stack = np.asarray(stack)
    if axes not in ("TYX", "TZYX") or stack.ndim != len(axes):
        raise ImageWriteError(
            f"cannot write {str(path)!r}: axes must be 'TYX' or 'TZYX' matching the "
            f"{stack.ndim}-D stack, got {axes!r}"
        )
    meta = ImageMeta(axes, None if spacing is None else tuple(float(s) for s in spacing))
    if not per_frame:
        write_image(path, stack, meta, overwrite=overwrite)
        return
    write_ctc_frames(path, stack, spacing=meta.spacing[1:], overwrite=overwrite)
