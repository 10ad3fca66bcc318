"""Cell Tracking Challenge (CTC) folders and their validity rules.

The CTC layout of one sequence ``SEQ`` (e.g. ``01``)::

    SEQ/tNNN.tif                       raw frames
    SEQ_GT/TRA/man_trackNNN.tif        ground-truth markers / masks, label = track label
    SEQ_GT/TRA/man_track.txt           one "L B E P" line per track
    SEQ_RES/maskNNN.tif                a result's masks, label = track label
    SEQ_RES/res_track.txt              one "L B E P" line per track

``NNN`` is the zero-based frame index with 3 digits, 4 when the sequence has
more than 1000 frames. A 3D sequence has one ``ZYX`` TIFF per frame.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import DataError, ImageReadError
from biakit.io._api import read_image, write_image
from biakit.io._common import atomic_target
from biakit.io._meta import ImageMeta

PathLike = str | os.PathLike[str]

_KINDS = {"res": ("mask", "res_track.txt"), "gt": ("man_track", "man_track.txt")}
_FRAME = re.compile(r"^(mask|man_track|t)(\d+)\.tiff?$", re.IGNORECASE)


def ctc_digits(n_frames: int) -> int:
    """Digits of the frame number in CTC file names: 3, or 4 beyond 1000 frames.

    Examples
    --------
    >>> ctc_digits(92), ctc_digits(1000), ctc_digits(1764)
    (3, 3, 4)
    """
    return 3 if n_frames <= 1000 else len(str(n_frames - 1))


# --------------------------------------------------------------------------- validity
def validate_ctc(masks: Any, table: Any) -> list[str]:
    """List the violations of the CTC rules by label images and their ``L B E P`` table.

    The rules (those of the CTC evaluation software and ``ctc_validate``): the
    table has at least one row; labels ``L`` are unique positive 16-bit
    integers; ``0 <= B <= E < n_frames``; a parent ``P`` is 0 or the label of
    another row (``P != L``) that ends before the child begins (``E_P < B``);
    every label of the table is present in each frame from ``B`` to ``E`` and in
    no other frame; every label in the masks is in the table.

    Parameters
    ----------
    masks : array_like of int, axes ``T(Z)YX``
        Label images.
    table : array_like of int, shape (k, 4)
        ``L B E P`` rows.

    Returns
    -------
    list of str
        One sentence per problem; empty when the sequence is valid.

    Examples
    --------
    >>> m = np.zeros((3, 4, 4), np.uint16)
    >>> m[0, 0, 0] = m[2, 0, 0] = 1
    >>> validate_ctc(m, [[1, 0, 2, 0]])
    ['label 1 (B=0, E=2) is missing from frame 1']
    """
    masks = np.asarray(masks)
    if masks.ndim not in (3, 4) or not np.issubdtype(masks.dtype, np.integer):
        raise DataError(
            f"masks: expected integer label images with axes T(Z)YX, got {masks.dtype} "
            f"array of shape {masks.shape}"
        )
    table = np.asarray(table)
    if table.size == 0:
        table = np.zeros((0, 4), np.int64)
    if table.ndim != 2 or table.shape[1] != 4 or not np.issubdtype(table.dtype, np.integer):
        raise DataError(f"table: expected integer rows 'L B E P', got shape {table.shape}")
    problems = _table_problems(table.astype(np.int64), masks.shape[0])
    problems += _mask_problems(masks, table.astype(np.int64))
    return problems


def _table_problems(table: np.ndarray, n_frames: int) -> list[str]:
    out = [] if len(table) else ["the table has no tracks"]
    labels, counts = np.unique(table[:, 0], return_counts=True)
    out += [
        f"label {lab} appears in {n} rows of the table" for lab, n in zip(labels, counts) if n > 1
    ]
    rows = {int(r[0]): r for r in table}
    for lab, b, e, p in table.tolist():
        if not 0 < lab < 2**16:
            out.append(f"label {lab} is not a positive 16-bit integer")
        if not 0 <= b <= e < n_frames:
            out.append(f"label {lab}: expected 0 <= B <= E < {n_frames}, got B={b}, E={e}")
        if p == lab:
            out.append(f"label {lab} is its own parent")
        elif p < 0 or (p > 0 and p not in rows):
            out.append(f"label {lab}: parent {p} is not a label of the table")
        elif p > 0 and rows[p][2] >= b:
            out.append(f"label {lab} begins in frame {b} but its parent {p} ends in {rows[p][2]}")
    return out


def _present(frame: np.ndarray) -> np.ndarray:
    flat = frame.ravel()
    top = int(flat.max()) if flat.size else 0
    if flat.size and flat.min() < 0:
        return np.unique(flat[flat != 0])
    if top > 4 * flat.size + 2**16:
        return np.unique(flat[flat > 0])
    return np.flatnonzero(np.bincount(flat.astype(np.int64), minlength=1)[1:]) + 1


def _mask_problems(masks: np.ndarray, table: np.ndarray) -> list[str]:
    out = []
    span = {}
    for lab, b, e, _ in table.tolist():
        span.setdefault(lab, (b, e))
    for t in range(masks.shape[0]):
        present = set(_present(masks[t]).tolist())
        expected = {lab for lab, (b, e) in span.items() if b <= t <= e}
        for lab in sorted(present - expected):
            if lab in span:
                b, e = span[lab]
                out.append(f"label {lab} is in frame {t}, outside its span B={b}, E={e}")
            else:
                out.append(f"label {lab} in frame {t} is not in the table")
        for lab in sorted(expected - present):
            b, e = span[lab]
            out.append(f"label {lab} (B={b}, E={e}) is missing from frame {t}")
    return out


# --------------------------------------------------------------------------- track files
def write_ctc_table(path: PathLike, table: Any, *, overwrite: bool = False) -> Path:
    r"""Write ``L B E P`` rows as a CTC track file (``res_track.txt`` / ``man_track.txt``).

    Examples
    --------
    >>> import tempfile
    >>> p = write_ctc_table(Path(tempfile.mkdtemp()) / "res_track.txt", [[1, 0, 4, 0]])
    >>> p.read_text()
    '1 0 4 0\n'
    """
    path = Path(path)
    rows = _as_table(table, f"cannot write {str(path)!r}")
    with atomic_target(path, overwrite=overwrite) as tmp:
        tmp.write_text("".join(f"{lab} {b} {e} {p}\n" for lab, b, e, p in rows.tolist()))
    return path


def read_ctc_table(path: PathLike) -> np.ndarray:
    r"""Read a CTC track file: an int64 array of ``L B E P`` rows (spaces or tabs).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "man_track.txt"
    >>> _ = p.write_text("1 0 4 0\n2\t5\t9\t1\n")
    >>> read_ctc_table(p).tolist()
    [[1, 0, 4, 0], [2, 5, 9, 1]]
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ImageReadError(f"cannot read {str(path)!r}: {err.strerror or err}") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = [int(v) for v in line.split()]
        except ValueError:
            values = []
        if len(values) != 4:
            raise ImageReadError(
                f"cannot read {str(path)!r}: line {number} is {line.strip()!r}; expected four "
                f"integers 'L B E P'"
            )
        rows.append(values)
    return np.array(rows, np.int64).reshape(-1, 4)


def _as_table(table: Any, what: str) -> np.ndarray:
    arr = np.asarray(table)
    if arr.size == 0:
        return np.zeros((0, 4), np.int64)
    if arr.ndim != 2 or arr.shape[1] != 4 or not np.issubdtype(arr.dtype, np.integer):
        raise DataError(
            f"{what}: table must hold integer rows 'L B E P', got {arr.dtype} {arr.shape}"
        )
    return arr.astype(np.int64)


# --------------------------------------------------------------------------- CTC folders
def write_ctc(
    folder: PathLike,
    masks: Any,
    table: Any,
    *,
    gt: bool = False,
    spacing: tuple[float, ...] | None = None,
    overwrite: bool = False,
    validate: bool = True,
) -> Path:
    """Write masks and their ``L B E P`` table as a CTC result (or ground-truth) folder.

    The folder (``SEQ_RES``, or ``SEQ_GT/TRA`` with ``gt=True``) is written
    whole into a temporary sibling and renamed into place: readers never see
    half a sequence, and ``overwrite=True`` leaves no stale frame behind.

    Parameters
    ----------
    folder : str or path
        ``.../01_RES`` (files ``maskNNN.tif`` + ``res_track.txt``) or, with
        ``gt=True``, ``.../01_GT/TRA`` (``man_trackNNN.tif`` + ``man_track.txt``).
    masks : array_like of int, axes ``T(Z)YX``
        Label images, label = track label (stored as uint16).
    table : array_like of int, shape (k, 4)
        ``L B E P`` rows.
    gt : bool
        Ground-truth names instead of result names.
    spacing : tuple of float, optional
        Pixel size of the spatial axes, stored in the TIFF metadata.
    overwrite : bool
        Replace an existing folder.
    validate : bool
        Refuse (``DataError``) a sequence that breaks the CTC rules (see
        :func:`validate_ctc`).

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile
    >>> m = np.zeros((2, 8, 8), np.uint16); m[:, 2:4, 2:4] = 1
    >>> out = write_ctc(Path(tempfile.mkdtemp()) / "01_RES", m, [[1, 0, 1, 0]])
    >>> sorted(p.name for p in out.iterdir())
    ['mask000.tif', 'mask001.tif', 'res_track.txt']
    """
    folder = Path(folder)
    masks = np.asarray(masks)
    rows = _as_table(table, f"cannot write {str(folder)!r}")
    if validate:
        problems = validate_ctc(masks, rows)
        if problems:
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise DataError(
                f"cannot write {str(folder)!r}: not a valid CTC sequence: "
                f"{'; '.join(problems[:5])}{more}; pass validate=False to write it anyway"
            )
    if masks.size and (masks.min() < 0 or masks.max() >= 2**16):
        raise DataError(f"cannot write {str(folder)!r}: CTC labels must lie in [0, 65535]")
    prefix, track_file = _KINDS["gt" if gt else "res"]
    meta = _frame_meta(masks.ndim - 1, spacing)
    digits = ctc_digits(masks.shape[0])
    with atomic_target(folder, overwrite=overwrite, directory=True) as tmp:
        for t, frame in enumerate(masks):
            write_image(tmp / f"{prefix}{t:0{digits}d}.tif", frame.astype(np.uint16), meta)
        write_ctc_table(tmp / track_file, rows)
    return folder


def read_ctc(folder: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a CTC result or ground-truth folder: masks (``T(Z)YX``) and the ``L B E P`` table.

    ``folder`` is ``SEQ_RES`` (``maskNNN.tif`` + ``res_track.txt``),
    ``SEQ_GT/TRA`` (``man_trackNNN.tif`` + ``man_track.txt``) or ``SEQ_GT``
    (its ``TRA`` folder is read). Frames must run from 0 without a gap.

    Examples
    --------
    >>> import tempfile
    >>> m = np.zeros((2, 8, 8), np.uint16); m[:, 2:4, 2:4] = 1
    >>> folder = write_ctc(Path(tempfile.mkdtemp()) / "01_GT" / "TRA", m, [[1, 0, 1, 0]], gt=True)
    >>> masks, table = read_ctc(folder.parent)
    >>> masks.shape, table.tolist()
    ((2, 8, 8), [[1, 0, 1, 0]])
    """
    folder = Path(folder)
    if not (folder / "man_track.txt").exists() and (folder / "TRA" / "man_track.txt").exists():
        folder = folder / "TRA"
    kinds = [k for k in _KINDS.values() if (folder / k[1]).exists()]
    if not kinds:
        raise ImageReadError(
            f"cannot read {str(folder)!r}: no res_track.txt or man_track.txt in it; expected a "
            f"CTC folder SEQ_RES, SEQ_GT or SEQ_GT/TRA"
        )
    prefix, track_file = kinds[0]
    table = read_ctc_table(folder / track_file)
    masks = _read_frames(folder, prefix)
    return masks, table


def write_ctc_frames(
    folder: PathLike,
    images: Any,
    *,
    spacing: tuple[float, ...] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the raw frames of a sequence as ``SEQ/tNNN.tif`` (one ``(Z)YX`` TIFF per frame).

    Examples
    --------
    >>> import tempfile
    >>> out = write_ctc_frames(Path(tempfile.mkdtemp()) / "01", np.zeros((2, 8, 8), np.float32))
    >>> sorted(p.name for p in out.iterdir())
    ['t000.tif', 't001.tif']
    """
    folder = Path(folder)
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise DataError(
            f"cannot write {str(folder)!r}: images must have axes T(Z)YX, got shape {images.shape}"
        )
    meta = _frame_meta(images.ndim - 1, spacing)
    digits = ctc_digits(images.shape[0])
    with atomic_target(folder, overwrite=overwrite, directory=True) as tmp:
        for t, frame in enumerate(images):
            write_image(tmp / f"t{t:0{digits}d}.tif", frame, meta)
    return folder


def read_ctc_frames(folder: PathLike) -> np.ndarray:
    """Read the raw frames ``SEQ/tNNN.tif`` of a CTC sequence as one ``T(Z)YX`` array.

    Examples
    --------
    >>> import tempfile
    >>> out = write_ctc_frames(Path(tempfile.mkdtemp()) / "01", np.ones((3, 8, 8), np.uint16))
    >>> read_ctc_frames(out).shape
    (3, 8, 8)
    """
    return _read_frames(Path(folder), "t")


def _frame_meta(ndim: int, spacing: tuple[float, ...] | None) -> ImageMeta:
    axes = "ZYX"[-ndim:] if ndim in (2, 3) else None
    if axes is None:
        raise DataError(f"frames must be 2D (YX) or 3D (ZYX), got {ndim} spatial axes")
    return ImageMeta(axes, None if spacing is None else tuple(float(s) for s in spacing))


def _read_frames(folder: Path, prefix: str) -> np.ndarray:
    if not folder.is_dir():
        raise ImageReadError(f"cannot read {str(folder)!r}: not a folder")
    found = {}
    for p in folder.iterdir():
        match = _FRAME.match(p.name)
        if match and match.group(1).lower() == prefix:
            found[int(match.group(2))] = p
    if not found:
        raise ImageReadError(f"cannot read {str(folder)!r}: no {prefix}NNN.tif frame in it")
    missing = sorted(set(range(max(found) + 1)) - set(found))
    if missing:
        raise ImageReadError(
            f"cannot read {str(folder)!r}: frame {missing[0]} ({prefix}{missing[0]:03d}.tif) is "
            f"missing; CTC frames must run from 0 without a gap"
        )
    frames = [np.asarray(read_image(found[t])[0]) for t in range(len(found))]
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise ImageReadError(
            f"cannot read {str(folder)!r}: frames differ in shape {sorted(shapes)}"
        )
    return np.stack(frames)
