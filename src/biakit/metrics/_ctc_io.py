"""Read a CTC result and ground truth for :func:`evaluate_ctc`.

Masks and ``L B E P`` tables come from :func:`biakit.io.read_ctc`; this module
adds the SEG annotations, ``GT/SEG/man_segNNN.tif`` (whole frames) or
``GT/SEG/man_seg_NNN_ZZZ.tif`` (annotated slices of 3D frames: as in
py-ctcmetrics 1.3.3, the slices of one frame are matched together in 3D and
that frame counts once per slice file), and the checks that a result fits its
ground truth. Errors name the file or folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biakit.errors import DataError

_SEG = re.compile(r"^man_seg_?(\d+)(?:_(\d+))?\.tif$")


@dataclass(frozen=True)
class SegAnnotation:
    """One annotated SEG frame (``z`` is None) or slice set (``z`` the slice indices)."""

    t: int
    mask: np.ndarray
    z: tuple[int, ...] | None
    path: Path


def _read_mask(path: Path) -> np.ndarray:
    from biakit.io import read_image

    mask = np.asarray(read_image(path)[0])
    if not np.issubdtype(mask.dtype, np.integer):
        raise DataError(f"{path}: expected integer labels, got dtype {mask.dtype}")
    return mask


def _integer_masks(masks: np.ndarray, folder: Path) -> np.ndarray:
    """Name the first non-integer frame file of ``folder`` when ``masks`` are not integers."""
    if np.issubdtype(masks.dtype, np.integer):
        if np.issubdtype(masks.dtype, np.signedinteger) and masks.size and masks.min() < 0:
            t = int(np.argmax((masks < 0).reshape(len(masks), -1).any(axis=1)))
            raise DataError(f"{folder}: frame {t} has negative labels (minimum {masks.min()})")
        return masks
    import tifffile

    for path in sorted(folder.glob("*.tif")):
        with tifffile.TiffFile(path) as tif:
            dtype = tif.series[0].dtype
        if not np.issubdtype(dtype, np.integer):
            raise DataError(f"{path}: expected integer labels, got dtype {dtype}")
    raise DataError(f"{folder}: expected integer labels, got dtype {masks.dtype}")


def seg_annotations(seg_dir: Path, masks: np.ndarray) -> list[SegAnnotation]:
    """Read the SEG annotations of a ground truth whose TRA masks are ``masks``."""
    whole: dict[int, Path] = {}
    slices: dict[int, dict[int, Path]] = {}
    for p in sorted(seg_dir.iterdir()):
        hit = _SEG.match(p.name)
        if hit and hit.group(2) is None:
            whole[int(hit.group(1))] = p
        elif hit:
            slices.setdefault(int(hit.group(1)), {})[int(hit.group(2))] = p
    out = [SegAnnotation(t, _read_mask(p), None, p) for t, p in sorted(whole.items())]
    for t, by_z in sorted(slices.items()):
        zs = sorted(by_z)
        stack = np.stack([_read_mask(by_z[z]) for z in zs])
        # py-ctcmetrics 1.3.3 counts the frame once per slice file (its file
        # list is not de-duplicated); kept so that SEG equals its value.
        out += [SegAnnotation(t, stack, tuple(zs), by_z[zs[0]])] * len(zs)
    frame = masks.shape[1:]
    for a in out:
        if a.t >= len(masks):
            raise DataError(f"{a.path}: frame {a.t}, but there are {len(masks)} frames")
        want = frame if a.z is None else (len(a.z), *frame[1:])
        if a.mask.shape != want or (a.z is not None and max(a.z) >= frame[0]):
            raise DataError(f"{a.path}: shape {a.mask.shape}, expected {want} (frame {frame})")
    return out


def read_pair(res_dir: Path, gt_dir: Path) -> tuple:
    """Read ``(gt_masks, gt_table, res_masks, res_table, seg)`` (``seg`` None without SEG)."""
    from biakit.io import read_ctc

    if gt_dir.name == "TRA" and not (gt_dir / "TRA").is_dir():
        gt_dir = gt_dir.parent  # the TRA folder itself was given
    gt, gt_table = read_ctc(gt_dir / "TRA")
    res, res_table = read_ctc(res_dir)
    gt = _integer_masks(gt, gt_dir / "TRA")
    res = _integer_masks(res, res_dir)
    if res.shape != gt.shape:
        raise DataError(
            f"{res_dir}: {len(res)} result masks of shape {res.shape[1:]}, but the ground "
            f"truth has {len(gt)} of shape {gt.shape[1:]}"
        )
    seg = seg_annotations(gt_dir / "SEG", gt) if (gt_dir / "SEG").is_dir() else None
    return gt, gt_table, res, res_table, seg
