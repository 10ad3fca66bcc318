"""Score-ranked COCO-style average precision for label images.

A re-implementation of pycocotools' ``COCOeval`` (``iouType="segm"``, one
category, no crowd regions) on label images, with the sparse overlap table
of :mod:`biakit.metrics._overlap` instead of run-length-encoded masks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from biakit.validation import check_finite, check_iou_thresholds

from ._overlap import check_pair, sparse_overlap

COCO_AREA_RANGES_2D: dict[str, tuple[float, float]] = {
    "all": (0.0, 1e10),
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e10),
}
"""pycocotools' area ranges in px² (used for 2D images)."""

VOLUME_AREA_RANGES_3D: dict[str, tuple[float, float]] = {
    "all": (0.0, np.inf),
    "small": (0.0, 128.0**2),
    "medium": (128.0**2, 256.0**2),
    "large": (256.0**2, np.inf),
}
"""Voxel-count ranges of the MitoEM / NucMM 3D AP evaluation (mAP_3Dvolume)."""

RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
"""The 101 recall points of pycocotools' interpolated precision."""


@dataclass(frozen=True, eq=False)
class COCOResult:
    """COCO-style AP / AR summary and the underlying precision-recall curves.

    Attributes
    ----------
    ap : float
        AP averaged over ``iou_thresholds`` and the 101 recall points, area "all".
    ap50, ap75 : float
        AP at IoU 0.5 / 0.75 (NaN if that threshold is not evaluated).
    ap_by_area : dict of str to float
        AP@thresholds for every area range.
    ar, ar_by_area : float, dict
        Recall at ``max_dets`` averaged over the thresholds (area "all" / each).
    iou_thresholds, recall_thresholds : ndarray
        Shapes ``(T,)`` and ``(101,)``.
    area_ranges : dict of str to (float, float)
        Inclusive ``[min, max]`` object size per range (pixels or voxels).
    precision : ndarray, shape (T, 101, A)
        Interpolated precision at each recall point; NaN where a range holds no
        ground-truth object (pycocotools writes -1 there).
    recall : ndarray, shape (T, A)
        Final recall per threshold and range (NaN as above).
    max_dets : int
        Detections kept per image (highest scores first).
    """

    ap: float
    ap50: float
    ap75: float
    ap_by_area: dict[str, float]
    ar: float
    ar_by_area: dict[str, float]
    iou_thresholds: np.ndarray
    recall_thresholds: np.ndarray
    area_ranges: dict[str, tuple[float, float]]
    precision: np.ndarray
    recall: np.ndarray
    max_dets: int


def _det_scores(scores: Any, labels: np.ndarray, index: int) -> np.ndarray:
    """Scores of the predicted objects, aligned with the sorted ``labels``."""
    name = f"scores_list[{index}]"
    if isinstance(scores, Mapping):
        missing = [int(v) for v in labels if int(v) not in scores]
        if missing:
            raise ValueError(f"{name} has no score for predicted label(s) {missing[:10]}")
        out = np.array([float(scores[int(v)]) for v in labels], dtype=float)
    else:
        out = np.asarray(scores, dtype=float)
        if out.ndim != 1 or len(out) != len(labels):
            raise ValueError(
                f"{name} must be a mapping label -> score or a 1-D array with one score per "
                f"predicted object in ascending label order ({len(labels)}), got shape {out.shape}"
            )
    return check_finite(out, name=name)


def _evaluate_image(ov, det_scores, thresholds, ranges, max_dets):
    """Run pycocotools' ``evaluateImg`` for every area range of one image."""
    order = np.argsort(-det_scores, kind="mergesort")[:max_dets]
    rank = np.full(ov.n_pred, -1)
    rank[order] = np.arange(len(order))
    iou = ov.scores("iou")
    keep = rank[ov.cols] >= 0
    d_of_edge, g_of_edge, v_of_edge = rank[ov.cols[keep]], ov.rows[keep], iou[keep]
    n_det, n_thr = len(order), len(thresholds)
    det_area = ov.pred_areas[order]
    out = []
    for lo, hi in ranges:
        gt_ig = (ov.true_areas < lo) | (ov.true_areas > hi)
        # gts are visited regular first, then ignored, each in label order
        g_rank = np.argsort(np.argsort(gt_ig, kind="mergesort"), kind="mergesort")
        edge_order = np.lexsort((g_rank[g_of_edge], d_of_edge))
        cand: list[list[tuple[int, float]]] = [[] for _ in range(n_det)]
        for e in edge_order:
            cand[d_of_edge[e]].append((int(g_of_edge[e]), float(v_of_edge[e])))
        ig = gt_ig.tolist()
        matched = np.zeros((n_thr, n_det), bool)
        dt_ig = np.zeros((n_thr, n_det), bool)
        for ti, t in enumerate(thresholds):
            taken = [False] * ov.n_true
            for d in range(n_det):
                best, m = min(float(t), 1 - 1e-10), -1
                for g, v in cand[d]:
                    if taken[g]:
                        continue
                    if m > -1 and not ig[m] and ig[g]:
                        break
                    if v < best:
                        continue
                    best, m = v, g
                if m > -1:
                    taken[m] = True
                    matched[ti, d] = True
                    dt_ig[ti, d] = ig[m]
        outside = (det_area < lo) | (det_area > hi)
        dt_ig |= ~matched & outside[None, :]
        out.append((det_scores[order], matched, dt_ig, gt_ig))
    return out


def _accumulate(per_image, n_thr, n_area):
    """Run pycocotools' ``accumulate`` for one category and one ``maxDets``."""
    n_rec = len(RECALL_THRESHOLDS)
    precision = np.full((n_thr, n_rec, n_area), np.nan)
    recall = np.full((n_thr, n_area), np.nan)
    for a in range(n_area):
        parts = [img[a] for img in per_image]
        scores = np.concatenate([p[0] for p in parts])
        order = np.argsort(-scores, kind="mergesort")
        matched = np.concatenate([p[1] for p in parts], axis=1)[:, order]
        dt_ig = np.concatenate([p[2] for p in parts], axis=1)[:, order]
        npig = int(np.count_nonzero(~np.concatenate([p[3] for p in parts])))
        if npig == 0:
            continue
        tp = np.cumsum(matched & ~dt_ig, axis=1).astype(float)
        fp = np.cumsum(~matched & ~dt_ig, axis=1).astype(float)
        nd = tp.shape[1]
        for t in range(n_thr):
            rc = tp[t] / npig
            pr = tp[t] / (fp[t] + tp[t] + np.spacing(1))
            recall[t, a] = rc[-1] if nd else 0.0
            pr = np.maximum.accumulate(pr[::-1])[::-1]
            idx = np.searchsorted(rc, RECALL_THRESHOLDS, side="left")
            q = np.zeros(n_rec)
            valid = idx < nd
            q[valid] = pr[idx[valid]]
            precision[t, :, a] = q
    return precision, recall


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def _check_ap_args(y_true_list, y_pred_list, scores_list, iou_thresholds, area_ranges, max_dets):
    lists = {"y_true_list": y_true_list, "y_pred_list": y_pred_list, "scores_list": scores_list}
    for name, value in lists.items():
        if isinstance(value, np.ndarray) or not isinstance(value, Sequence):
            raise TypeError(
                f"{name} must be a list (one entry per image), got {type(value).__name__}; "
                "for a single image pass [image]"
            )
    if not len(y_true_list) == len(y_pred_list) == len(scores_list) or not y_true_list:
        raise ValueError(
            "y_true_list, y_pred_list and scores_list must have the same non-zero length, got "
            f"{len(y_true_list)}, {len(y_pred_list)} and {len(scores_list)}"
        )
    if iou_thresholds is None:
        thr = np.linspace(0.5, 0.95, 10)
    else:
        thr = np.asarray(check_iou_thresholds(iou_thresholds), dtype=float)
    if area_ranges is None:
        ndim = np.ndim(y_true_list[0])
        area_ranges = VOLUME_AREA_RANGES_3D if ndim >= 3 else COCO_AREA_RANGES_2D
    if not isinstance(area_ranges, Mapping) or "all" not in area_ranges:
        raise ValueError(f"area_ranges must be a mapping with an 'all' entry, got {area_ranges!r}")
    ranges = {str(k): (float(v[0]), float(v[1])) for k, v in area_ranges.items()}
    if any(lo > hi for lo, hi in ranges.values()):
        raise ValueError(f"area_ranges must be (min, max) with min <= max, got {area_ranges!r}")
    if isinstance(max_dets, bool) or not isinstance(max_dets, (int, np.integer)) or max_dets < 1:
        raise ValueError(f"max_dets must be a positive integer, got {max_dets!r}")
    return thr, ranges, int(max_dets)


def average_precision(
    y_true_list: Sequence[np.ndarray],
    y_pred_list: Sequence[np.ndarray],
    scores_list: Sequence[Mapping[int, float] | Sequence[float] | np.ndarray],
    *,
    iou_thresholds: Sequence[float] | np.ndarray | None = None,
    area_ranges: Mapping[str, tuple[float, float]] | None = None,
    max_dets: int = 100,
) -> COCOResult:
    """COCO-style average precision of scored instance segmentations.

    Follows pycocotools' ``COCOeval`` (``iouType="segm"``): per image the
    ``max_dets`` highest-scoring predictions (stable order for ties) are
    matched greedily in descending score to the unmatched ground-truth object
    of highest IoU with ``IoU >= t`` (inclusive; ties go to the larger label),
    each ground truth at most once.  Ground truths outside an area range are
    ignored (matching one makes the prediction ignored, not a false positive)
    and so are unmatched predictions outside the range; ranges are inclusive
    ``[min, max]`` object sizes.  Predictions of all images are then ranked by
    score, precision is made monotone and sampled at 101 recall points
    (``searchsorted(..., side="left")``, 0 beyond the reached recall).  AP is
    the mean over thresholds and recall points.  There are no crowd regions.
    Where a range holds no ground-truth object its AP / AR is NaN
    (pycocotools prints -1).

    Parameters
    ----------
    y_true_list, y_pred_list : sequence of ndarray of int
        Ground-truth and predicted label images (2D or 3D), pairwise same shape.
    scores_list : sequence
        Per image, the confidence of every predicted object: a mapping label ->
        score, or a 1-D array in ascending order of the predicted labels.
    iou_thresholds : float or sequence of float, optional
        Each in ``(0, 1]``. Default ``np.linspace(0.5, 0.95, 10)``
        (pycocotools' exact values).
    area_ranges : mapping of str to (float, float), optional
        Named size ranges in pixels / voxels; must include ``"all"``.  Default
        :data:`COCO_AREA_RANGES_2D` for 2D and :data:`VOLUME_AREA_RANGES_3D`
        (MitoEM / NucMM evaluation) for 3D images.
    max_dets : int
        Predictions kept per image (pycocotools' default 100; raise it for
        images with many objects).

    Returns
    -------
    COCOResult
        AP / AR summaries and precision-recall arrays.

    Raises
    ------
    TypeError
        If a list argument is not a list, or images are not integer arrays.
    ParameterError
        If a threshold is not in ``(0, 1]``.
    DataError
        If a score is NaN or infinite.
    ValueError
        If lengths, area ranges, ``max_dets`` or score counts are invalid.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.zeros((20, 20), np.uint8)
    >>> y_true[2:8, 2:8] = 1
    >>> y_true[10:18, 10:18] = 2
    >>> y_pred = y_true.copy()
    >>> y_pred[10:18, 10:18] = 0  # second object missed
    >>> res = average_precision([y_true], [y_pred], [{1: 0.9}])
    >>> round(res.ap, 4)  # recall 0.5 at precision 1: 51 of 101 recall points
    0.505
    """
    thr, ranges, max_dets = _check_ap_args(
        y_true_list, y_pred_list, scores_list, iou_thresholds, area_ranges, max_dets
    )
    bounds = list(ranges.values())
    per_image = []
    for i, (yt, yp, sc) in enumerate(zip(y_true_list, y_pred_list, scores_list)):
        ov = sparse_overlap(*check_pair(yt, yp))
        per_image.append(
            _evaluate_image(ov, _det_scores(sc, ov.pred_labels, i), thr, bounds, max_dets)
        )
    precision, recall = _accumulate(per_image, len(thr), len(bounds))
    names = list(ranges)
    a_all = names.index("all")

    def at(value: float) -> float:
        hit = np.flatnonzero(np.abs(thr - value) < 1e-5)
        return _mean(precision[hit, :, a_all]) if hit.size else float("nan")

    return COCOResult(
        ap=_mean(precision[:, :, a_all]),
        ap50=at(0.5),
        ap75=at(0.75),
        ap_by_area={n: _mean(precision[:, :, a]) for a, n in enumerate(names)},
        ar=_mean(recall[:, a_all]),
        ar_by_area={n: _mean(recall[:, a]) for a, n in enumerate(names)},
        iou_thresholds=thr,
        recall_thresholds=RECALL_THRESHOLDS.copy(),
        area_ranges=ranges,
        precision=precision,
        recall=recall,
        max_dets=max_dets,
    )
