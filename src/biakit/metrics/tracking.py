"""Cell Tracking Challenge (CTC) tracking measures, equal to py-ctcmetrics 1.3.3.

* :func:`tracking_metrics`: DET, SEG, TRA, LNK (AOGM-based, CTC weights), CT,
  TF, BC(i), CCA, division precision / recall and the AOGM error counts of a
  result (label masks + ``L B E P`` table) against the ground truth.
* :func:`evaluate_ctc`: the same on CTC folders (``RES/maskNNN.tif`` +
  ``res_track.txt`` against ``GT/TRA`` and optionally ``GT/SEG``).

Matching (per frame): a result object matches a reference object when it
covers more than half of it (strict), so a reference has at most one match.
AOGM counts: ``NS`` split operations (a result object covering k > 1
references costs k - 1), ``FN`` / ``FP`` vertices, ``ED`` redundant, ``EA``
missing and ``EC`` wrongly typed edges (track link vs parent link); weights
5, 10, 1, 1, 1.5, 1. ``DET = 1 - min(AOGM_D, 10 N_v) / (10 N_v)``, ``TRA = 1 -
min(AOGM, AOGM_0) / AOGM_0`` with ``AOGM_0 = 10 N_v + 1.5 N_e``, ``LNK = 1 -
min(AOGM_A, 1.5 N_e) / (1.5 N_e)``. SEG: summed IoU of matched reference
objects of the SEG annotations over their number. A result that breaks the
CTC rules (:func:`biakit.io.validate_ctc`) gets no measure (``None``), as in
py-ctcmetrics; those rules also reject labels >= 2**16 and tracks beyond the
last frame, which py-ctcmetrics 1.3.3 does not check.

Known differences from py-ctcmetrics 1.3.3, where it misbehaves: a frame
without background pixels keeps all its objects (py-ctcmetrics drops its
smallest label), and labels are never added in the mask's own dtype
(py-ctcmetrics offsets result labels in place, which overflows e.g. uint16
masks when the two label maxima add up beyond 65535).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import DataError, ParameterError

from . import _ctc_aogm as aogm
from ._ctc_bio import (
    branching_scores,
    cell_cycle_accuracy,
    complete_tracks,
    division_counts,
    track_fractions,
)
from ._ctc_match import match_sequence, seg_score

__all__ = ["AOGMCounts", "DivisionScores", "TrackingMetrics", "evaluate_ctc", "tracking_metrics"]


@dataclass(frozen=True)
class AOGMCounts:
    """AOGM graph-correction counts (Matula et al. 2015).

    Attributes
    ----------
    ns, fn, fp : int
        Vertex splits, false negative and false positive vertices.
    ed, ea, ec : int
        Redundant (false positive) edges, missing (false negative) edges and
        edges with the wrong semantics (track link vs parent link).
    n_vertices, n_edges : int
        Vertices and edges of the reference graph.
    tp : int
        Reference vertices matched by a result object.
    n_result_vertices : int
        Vertices of the result graph.
    """

    ns: int
    fn: int
    fp: int
    ed: int
    ea: int
    ec: int
    n_vertices: int
    n_edges: int
    tp: int
    n_result_vertices: int

    @property
    def aogm(self) -> float:
        """Weighted sum of all operations (``AOGM`` of py-ctcmetrics)."""
        return self.aogm_d + self.aogm_a

    @property
    def aogm_d(self) -> float:
        """Detection part ``5 NS + 10 FN + 1 FP``."""
        return aogm.W_NS * self.ns + aogm.W_FN * self.fn + aogm.W_FP * self.fp

    @property
    def aogm_a(self) -> float:
        """Linking part ``1 ED + 1.5 EA + 1 EC``."""
        return aogm.W_ED * self.ed + aogm.W_EA * self.ea + aogm.W_EC * self.ec

    @property
    def aogm_0(self) -> float:
        """Cost of building the reference graph from nothing, ``10 N_v + 1.5 N_e``."""
        return aogm.W_FN * self.n_vertices + aogm.W_EA * self.n_edges


@dataclass(frozen=True)
class DivisionScores:
    """Division detection at a temporal tolerance of ``tolerance`` frames.

    ``precision = tp / max(tp + fp, 1)``, ``recall = tp / max(tp + fn, 1)`` and
    ``bc`` their F1 (BC(i)), None when the reference has no division.
    """

    tolerance: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    bc: float | None


@dataclass(frozen=True)
class TrackingMetrics:
    """CTC measures of one sequence; ``None`` where undefined or the result is invalid.

    Attributes
    ----------
    valid : bool
        Whether the result follows the CTC rules (else ``problems`` says why).
    det, seg, tra, lnk : float or None
        Detection, segmentation (None without SEG masks), tracking and linking
        accuracy (None when the reference has no vertex / no edge).
    ct, tf : float or None
        Complete tracks and track fractions.
    cca : float or None
        Cell cycle accuracy; None without a complete reference cell cycle.
    aogm : AOGMCounts or None
        The error counts behind DET, TRA and LNK.
    divisions : tuple of DivisionScores
        One per temporal tolerance; see :meth:`bc`.
    problems : tuple of str
        Why the result is invalid (empty when valid).
    """

    valid: bool
    det: float | None = None
    seg: float | None = None
    tra: float | None = None
    lnk: float | None = None
    ct: float | None = None
    tf: float | None = None
    cca: float | None = None
    aogm: AOGMCounts | None = None
    divisions: tuple[DivisionScores, ...] = ()
    problems: tuple[str, ...] = field(default=())

    def bc(self, i: int = 0) -> float | None:
        """BC(i): division F1 with an ``i``-frame tolerance."""
        for d in self.divisions:
            if d.tolerance == i:
                return d.bc
        have = [d.tolerance for d in self.divisions]
        raise ParameterError(f"i: no division scores for tolerance {i!r}; computed for {have}")

    def as_dict(self) -> dict[str, Any]:
        """Flat dict with py-ctcmetrics' result names (``DET``, ``AOGM_FN``, ``BC(1)``, ...)."""
        out: dict[str, Any] = {"Valid": int(self.valid), "DET": self.det, "SEG": self.seg}
        out["TRA"] = self.tra
        a = self.aogm
        out["AOGM"] = None if a is None else a.aogm
        out["AOGM_0"] = None if a is None else a.aogm_0
        for key in ("NS", "FN", "FP", "ED", "EA", "EC"):
            out[f"AOGM_{key}"] = None if a is None else getattr(a, key.lower())
        out.update({"LNK": self.lnk, "CT": self.ct, "TF": self.tf})
        if self.divisions:
            out["gt_divisions"] = self.divisions[0].tp + self.divisions[0].fn
        for d in self.divisions:
            i = d.tolerance
            out.update({f"tp_div({i})": d.tp, f"fp_div({i})": d.fp, f"fn_div({i})": d.fn})
            out.update({f"BC({i})": d.bc, f"div_precision({i})": d.precision})
            out[f"div_recall({i})"] = d.recall
        out["CCA"] = self.cca
        return out


def _frames(masks: Any, name: str) -> np.ndarray | list[np.ndarray]:
    """Check label frames; return the array itself or the list of frames."""
    if isinstance(masks, np.ndarray):
        if masks.ndim not in (3, 4):
            raise DataError(f"{name}: expected a T(Z)YX label array, got {masks.ndim} dimensions")
        if np.issubdtype(masks.dtype, np.integer) and len(masks):
            if not np.issubdtype(masks.dtype, np.signedinteger) or masks.min() >= 0:
                return masks
        frames = list(masks)
    elif isinstance(masks, Sequence) and not isinstance(masks, str):
        frames = [np.asarray(f) for f in masks]
    else:
        raise TypeError(
            f"{name}: expected a T(Z)YX array or a sequence of frames, got {type(masks).__name__}"
        )
    if not frames:
        raise DataError(f"{name}: expected at least one frame, got none")
    for t, f in enumerate(frames):
        if not np.issubdtype(f.dtype, np.integer):
            raise DataError(f"{name}: frame {t} must hold integer labels, got dtype {f.dtype}")
        if np.issubdtype(f.dtype, np.signedinteger) and f.size and f.min() < 0:
            raise DataError(f"{name}: frame {t} has negative labels (minimum {f.min()})")
        if f.shape != frames[0].shape or f.ndim not in (2, 3):
            raise DataError(
                f"{name}: frame {t} has shape {f.shape}; expected 2D/3D frames like the first, "
                f"{frames[0].shape}"
            )
    return frames


def _table(table: Any, name: str) -> np.ndarray:
    arr = np.asarray(table)
    if arr.size == 0:
        return np.zeros((0, 4), np.int64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise DataError(f"{name}: expected an (n, 4) table of L B E P rows, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.any(arr != np.round(arr)):
        raise DataError(f"{name}: expected integer L B E P values, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _tolerances(values: Iterable[int]) -> tuple[int, ...]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ParameterError(f"division_tolerances: expected integers >= 0 (frames), got {v!r}")
        out.append(int(v))
    return tuple(out)


def _seg_pairs(seg_masks: Any, res: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    if isinstance(seg_masks, Mapping):
        items = list(seg_masks.items())
    else:
        items = list(enumerate(_frames(seg_masks, "seg_masks")))
    pairs = []
    for t, mask in items:
        if not isinstance(t, (int, np.integer)) or not 0 <= t < len(res):
            raise ParameterError(f"seg_masks: frame {t!r} outside 0..{len(res) - 1}")
        mask = _frames([mask], f"seg_masks[{t}]")[0]
        if mask.shape != res[t].shape:
            raise DataError(f"seg_masks[{t}]: shape {mask.shape}, expected {res[t].shape}")
        pairs.append((mask, res[t]))
    return pairs


def _measures(gt, gt_table, res, res_table, seg_pairs, tolerances) -> TrackingMetrics:
    from biakit.io import validate_ctc

    m = match_sequence(gt, res)
    problems = validate_ctc(res if isinstance(res, np.ndarray) else np.stack(res), res_table)
    seg = None if seg_pairs is None else seg_score(seg_pairs)
    if problems:
        return TrackingMetrics(valid=False, problems=tuple(problems))
    c = aogm.aogm_counts(m, gt_table, res_table)
    counts = AOGMCounts(**{k: c[k] for k in AOGMCounts.__dataclass_fields__})
    divisions = tuple(
        DivisionScores(i, tp, fp, fn, *branching_scores(tp, fp, fn))
        for i, (tp, fp, fn) in zip(
            tolerances, division_counts(m, gt_table, res_table, tolerances), strict=True
        )
    )
    nv, ne = counts.n_vertices, counts.n_edges
    return TrackingMetrics(
        valid=True,
        det=1 - min(counts.aogm_d, 10.0 * nv) / (10.0 * nv) if nv else None,
        seg=seg,
        tra=1 - min(counts.aogm, counts.aogm_0) / counts.aogm_0 if counts.aogm_0 else None,
        lnk=1 - min(counts.aogm_a, 1.5 * ne) / (1.5 * ne) if ne else None,
        ct=complete_tracks(m, gt_table, res_table),
        tf=track_fractions(m, gt_table),
        cca=cell_cycle_accuracy(gt_table, res_table),
        aogm=counts,
        divisions=divisions,
    )


def tracking_metrics(
    gt_masks: np.ndarray | Sequence[np.ndarray],
    gt_table: np.ndarray,
    res_masks: np.ndarray | Sequence[np.ndarray],
    res_table: np.ndarray,
    *,
    seg_masks: np.ndarray | Mapping[int, np.ndarray] | None = None,
    division_tolerances: Iterable[int] = (0, 1, 2, 3),
) -> TrackingMetrics:
    """Compute the CTC tracking measures of a result against the ground truth.

    Parameters
    ----------
    gt_masks, res_masks : ndarray of int or sequence of ndarray
        Label images, axes ``T(Z)YX`` (or a list of ``(Z)YX`` frames); in the
        ground truth (CTC ``TRA`` markers) and the result a label is a track.
    gt_table, res_table : array_like of int, shape (n, 4)
        ``L B E P`` rows: track label, first and last frame, parent (0: none).
    seg_masks : ndarray or mapping of int to ndarray, optional
        Reference segmentation for SEG: all frames (same shape as ``gt_masks``)
        or ``{frame: mask}`` for annotated frames. Without it SEG is None (pass
        ``gt_masks`` when the markers are full segmentations).
    division_tolerances : iterable of int
        The ``i`` of BC(i): frames by which a division may be early or late.

    Returns
    -------
    TrackingMetrics
        The measures and AOGM counts; ``as_dict()`` uses py-ctcmetrics' names.

    Raises
    ------
    biakit.errors.DataError
        Masks that are not integer / non-negative / of one shape, sequences of
        different lengths, tables that are not ``(n, 4)`` integers, a ground
        truth whose masks and table disagree.
    TypeError, biakit.errors.ParameterError
        Masks of another type; negative or non-integer tolerances.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((3, 8, 8), np.uint16)
    >>> gt[:, 1:4, 1:4] = 1
    >>> table = np.array([[1, 0, 2, 0]])
    >>> res = gt.copy()
    >>> res[2] = 0  # the result loses the cell in the last frame
    >>> m = tracking_metrics(gt, table, res, [[1, 0, 1, 0]])
    >>> m.aogm.fn, m.aogm.ea, round(m.tra, 4), m.ct, m.tf
    (1, 1, 0.6515, 0.0, 0.6666666666666666)
    """
    tolerances = _tolerances(division_tolerances)
    gt = _frames(gt_masks, "gt_masks")
    res = _frames(res_masks, "res_masks")
    if len(gt) != len(res) or gt[0].shape != res[0].shape:
        raise DataError(
            f"res_masks: expected {len(gt)} frames of shape {gt[0].shape} like gt_masks, "
            f"got {len(res)} of shape {res[0].shape}"
        )
    seg_pairs = None if seg_masks is None else _seg_pairs(seg_masks, res)
    return _measures(
        gt, _table(gt_table, "gt_table"), res, _table(res_table, "res_table"), seg_pairs, tolerances
    )


def evaluate_ctc(
    res_dir: str | Path, gt_dir: str | Path, *, division_tolerances: Iterable[int] = (0, 1, 2, 3)
) -> TrackingMetrics:
    r"""Compute the CTC tracking measures of a result folder against a ground-truth folder.

    Parameters
    ----------
    res_dir : str or Path
        ``maskNNN.tif`` frames and ``res_track.txt``.
    gt_dir : str or Path
        ``TRA/man_trackNNN.tif`` + ``TRA/man_track.txt``; optional ``SEG/``
        with ``man_segNNN.tif`` or 3D slices ``man_seg_NNN_ZZZ.tif`` (SEG is
        None without it). As in py-ctcmetrics 1.3.3, the annotated slices of
        one frame are matched together in 3D, and that frame counts once per
        slice file.
    division_tolerances : iterable of int
        The ``i`` of BC(i).

    Returns
    -------
    TrackingMetrics
        As :func:`tracking_metrics`.

    Raises
    ------
    biakit.errors.ImageReadError
        From :func:`biakit.io.read_ctc`: a missing folder, table or frame, an
        unreadable TIFF, frames of different shapes, a table line that is not
        four integers (the message names the file or folder).
    biakit.errors.DataError
        Non-integer or negative labels, a result that does not fit the ground
        truth, a SEG annotation of another shape or frame, a ground-truth table
        that disagrees with its masks (the message names the file or folder).

    Examples
    --------
    >>> import tempfile, numpy as np, tifffile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "GT" / "TRA").mkdir(parents=True); (root / "RES").mkdir()
    >>> mask = np.zeros((8, 8), np.uint16); mask[2:5, 2:5] = 7
    >>> for t in range(2):
    ...     tifffile.imwrite(root / "GT" / "TRA" / f"man_track{t:03d}.tif", mask)
    ...     tifffile.imwrite(root / "RES" / f"mask{t:03d}.tif", mask)
    >>> _ = (root / "GT" / "TRA" / "man_track.txt").write_text("7 0 1 0\n")
    >>> _ = (root / "RES" / "res_track.txt").write_text("7 0 1 0\n")
    >>> m = evaluate_ctc(root / "RES", root / "GT")
    >>> m.tra, m.ct, m.seg
    (1.0, 1.0, None)
    """
    from ._ctc_io import read_pair

    tolerances = _tolerances(division_tolerances)
    res_dir, gt_dir = Path(res_dir), Path(gt_dir)
    gt, gt_table, res, res_table, seg = read_pair(res_dir, gt_dir)
    seg_pairs = None
    if seg is not None:
        seg_pairs = [(a.mask, res[a.t] if a.z is None else res[a.t][list(a.z)]) for a in seg]
    if gt_dir.name == "TRA" and not (gt_dir / "TRA").is_dir():
        gt_dir = gt_dir.parent
    try:
        return _measures(gt, gt_table, res, res_table, seg_pairs, tolerances)
    except DataError as err:  # name the file instead of the table parameter
        files = {
            "gt_table": gt_dir / "TRA" / "man_track.txt",
            "res_table": res_dir / "res_track.txt",
        }
        name, _, rest = str(err).partition(":")
        if name in files:
            raise DataError(f"{files[name]}:{rest}") from None
        raise
