"""Instance segmentation metrics on integer label images (0 = background).

* :func:`match_instances` / :func:`match_instances_dataset`: optimal one-to-one
  matching at a score threshold with the numbers of StarDist's
  ``stardist.matching.matching`` / ``matching_dataset`` (tp, fp, fn, precision,
  recall, accuracy, F1, mean scores, panoptic quality).
* :func:`average_precision`: score-ranked COCO-style AP (pycocotools' greedy
  matching and 101-point interpolation) for instances with confidences.
* :func:`ctc_seg`: the Cell Tracking Challenge SEG measure.

All of them use a sparse overlap table (only pixels that are foreground in
both images are counted), so volumes with tens of thousands of objects are
fast.  These are global reductions over whole images; they are not per-pixel
operations and do not run block-wise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from biakit.errors import ParameterError
from biakit.validation import check_fraction

from ._assignment import optimal_matching
from ._coco import COCOResult, average_precision
from ._overlap import _CRITERIA, check_pair, sparse_overlap

__all__ = [
    "COCOResult",
    "InstanceMatching",
    "average_precision",
    "ctc_seg",
    "match_instances",
    "match_instances_dataset",
]


@dataclass(frozen=True)
class InstanceMatching:
    """Matching statistics at one threshold (fields as StarDist's ``Matching``).

    Attributes
    ----------
    criterion : str
        ``"iou"``, ``"iot"`` (intersection over true area) or ``"iop"``
        (intersection over predicted area).
    thresh : float
        Inclusive score threshold.
    fp, tp, fn : int
        False positives, true positives, false negatives.
    precision, recall, accuracy, f1 : float
        ``tp/(tp+fp)``, ``tp/(tp+fn)``, ``tp/(tp+fp+fn)``, ``2tp/(2tp+fp+fn)``;
        each is 0 when ``tp == 0``.
    n_true, n_pred : int
        Number of ground-truth / predicted objects.
    mean_true_score : float
        Sum of the matched (tp) scores divided by ``n_true`` (0 if no objects).
    mean_matched_score : float
        Sum of the matched scores divided by ``tp`` (0 if ``tp == 0``).
    panoptic_quality : float
        Sum of the matched scores divided by ``tp + fp/2 + fn/2`` (Kirillov et
        al. 2019, Eq. 1); 0 when the denominator is 0.
    by_image : bool or None
        Only for :func:`match_instances_dataset`: how the images were combined.
    matched_pairs, matched_scores, matched_tps : tuple or None
        Only with ``report_matches=True``: the assigned ``(true label, pred
        label)`` pairs with positive overlap (original label values, sorted by
        true label), their scores, and the indices of the pairs that count as
        true positives.
    """

    criterion: str
    thresh: float
    fp: int
    tp: int
    fn: int
    precision: float
    recall: float
    accuracy: float
    f1: float
    n_true: int
    n_pred: int
    mean_true_score: float
    mean_matched_score: float
    panoptic_quality: float
    by_image: bool | None = None
    matched_pairs: tuple[tuple[int, int], ...] | None = None
    matched_scores: tuple[float, ...] | None = None
    matched_tps: tuple[int, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a dict, leaving out optional fields that are ``None``."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def _ratio(x: float, y: float) -> float:
    return float(x) / y if y > 0 else 0.0


def _stats(
    criterion: str, thresh: float, tp: int, n_true: int, n_pred: int, score_sum: float
) -> dict[str, Any]:
    """StarDist's formulas for one threshold, with its zero policy."""
    fp, fn = n_pred - tp, n_true - tp
    nonzero = tp > 0
    return {
        "criterion": criterion,
        "thresh": thresh,
        "fp": fp,
        "tp": tp,
        "fn": fn,
        "precision": tp / (tp + fp) if nonzero else 0.0,
        "recall": tp / (tp + fn) if nonzero else 0.0,
        "accuracy": tp / (tp + fp + fn) if nonzero else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if nonzero else 0.0,
        "n_true": n_true,
        "n_pred": n_pred,
        "mean_true_score": _ratio(score_sum, n_true),
        "mean_matched_score": _ratio(score_sum, tp),
        "panoptic_quality": _ratio(score_sum, tp + fp / 2 + fn / 2),
    }


def _check_thresh(thresh: Any) -> tuple[list[float], bool]:
    """Return the thresholds as floats and whether a single one was given.

    Each threshold is in ``[0, 1]`` (:func:`biakit.validation.check_fraction`);
    0 and ``None`` (read as 0) are StarDist's "match even without overlap".
    """
    if thresh is None:
        return [0.0], True
    single = np.ndim(thresh) == 0
    if single or isinstance(thresh, (str, bytes)):
        values = [thresh]
    elif np.ndim(thresh) != 1 or len(thresh) == 0:
        raise ParameterError(
            f"thresh must be a number or a 1-D sequence of numbers, got {thresh!r}"
        )
    else:
        values = list(thresh)
    return [check_fraction(v, name="thresh", low_open=False) for v in values], single


def _check_criterion(criterion: Any) -> str:
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion must be one of {_CRITERIA}, got {criterion!r}")
    return criterion


def _match_one(ov, scores, criterion, thr, report_matches) -> InstanceMatching:
    n_true, n_pred = ov.n_true, ov.n_pred
    n_matched = min(n_true, n_pred)
    extra: dict[str, Any] = {}
    if n_matched == 0:
        tp, score_sum = 0, 0.0
        if report_matches:
            extra = {"matched_pairs": (), "matched_scores": (), "matched_tps": ()}
    else:
        chosen, candidate = optimal_matching(
            ov.rows, ov.cols, scores, n_true, n_pred, thr, solve_all=report_matches
        )
        ok = candidate[chosen]
        tp = n_matched if np.float32(thr) <= 0 else int(np.count_nonzero(ok))
        score_sum = float(np.sum(scores[chosen][ok]))
        if report_matches:
            pairs = zip(ov.true_labels[ov.rows[chosen]], ov.pred_labels[ov.cols[chosen]])
            extra = {
                "matched_pairs": tuple((int(a), int(b)) for a, b in pairs),
                "matched_scores": tuple(float(s) for s in scores[chosen]),
                "matched_tps": tuple(int(i) for i in np.flatnonzero(ok)),
            }
    return InstanceMatching(**_stats(criterion, thr, tp, n_true, n_pred, score_sum), **extra)


def match_instances(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    thresh: float | Sequence[float] | None = 0.5,
    criterion: str = "iou",
    report_matches: bool = False,
) -> InstanceMatching | list[InstanceMatching]:
    """Match predicted to ground-truth instances and count tp / fp / fn.

    The numbers equal those of ``stardist.matching.matching`` (StarDist 0.9):

    * labels need not be sequential: objects are the non-zero labels in
      ascending order (StarDist relabels sequentially); background 0 is ignored;
    * the score of a pair is its IoU, intersection over true area (``"iot"``)
      or over predicted area (``"iop"``), from the contingency table;
    * the assignment maximises the number of pairs with ``score >= thresh``
      (**inclusive**; the comparison is done in float32, as StarDist stores its
      scores in float32), ties broken by the largest total score, i.e. the
      Hungarian solution of the cost ``-(score >= thresh) - score / (2 *
      min(n_true, n_pred))``; ``thresh = 0`` (or ``None``, read as 0) matches
      ``min(n_true, n_pred)`` pairs even without overlap;
    * ratios with a zero denominator are 0 (``tp == 0`` gives precision,
      recall, accuracy and F1 of 0; empty images give all-zero scores).

    Only overlapping pairs are stored and the assignment is solved per
    connected component of the candidate graph, so it is fast on volumes with
    many objects.  When several assignments are optimal StarDist's choice
    depends on the Hungarian solver's internal order; then the matched pairs
    (never tp/fp/fn) can differ.  Reported scores are computed in float64.

    Parameters
    ----------
    y_true, y_pred : ndarray of int
        Ground-truth and predicted label images (2D, 3D or any shape), same shape.
    thresh : float or sequence of float or None
        Score threshold(s) in ``[0, 1]``; a sequence returns one result per
        threshold.
    criterion : {"iou", "iot", "iop"}
        Pair score.
    report_matches : bool
        Also return the assigned pairs.  Unlike StarDist, pairs without overlap
        (whose choice is arbitrary) are not listed.

    Returns
    -------
    InstanceMatching or list of InstanceMatching
        One result, or a list when ``thresh`` is a sequence.

    Raises
    ------
    TypeError
        If an image is not an integer NumPy array.
    ParameterError
        If a threshold is not a number in ``[0, 1]``.
    ValueError
        If shapes differ, labels are negative or ``criterion`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.zeros((20, 20), np.uint16)
    >>> y_true[2:8, 2:8] = 1
    >>> y_pred = np.roll(y_true, 2, axis=0)
    >>> m = match_instances(y_true, y_pred, thresh=0.5)
    >>> m.tp, m.fp, m.fn, round(m.mean_matched_score, 4)
    (1, 0, 0, 0.5)
    """
    y_true, y_pred = check_pair(y_true, y_pred)
    criterion = _check_criterion(criterion)
    threshs, single = _check_thresh(thresh)
    ov = sparse_overlap(y_true, y_pred)
    scores = ov.scores(criterion)
    out = [_match_one(ov, scores, criterion, t, bool(report_matches)) for t in threshs]
    return out[0] if single else out


def _combine(results: list[InstanceMatching], by_image: bool) -> InstanceMatching:
    """Combine per-image results at one threshold as StarDist's matching_dataset."""
    first = results[0]
    tp = sum(r.tp for r in results)
    n_true = sum(r.n_true for r in results)
    n_pred = sum(r.n_pred for r in results)
    if not by_image:
        score_sum = sum(r.mean_true_score * r.n_true for r in results)
        stats = _stats(first.criterion, first.thresh, tp, n_true, n_pred, score_sum)
        return InstanceMatching(**stats, by_image=False)
    stats = _stats(first.criterion, first.thresh, tp, n_true, n_pred, 0.0)
    for key in ("precision", "recall", "accuracy", "f1"):
        stats[key] = sum(getattr(r, key) for r in results) / len(results)
    for key in ("mean_true_score", "mean_matched_score", "panoptic_quality"):
        stats[key] = sum(getattr(r, key) for r in results) / len(results)
    return InstanceMatching(**stats, by_image=True)


def match_instances_dataset(
    y_true_list: Sequence[np.ndarray],
    y_pred_list: Sequence[np.ndarray],
    *,
    thresh: float | Sequence[float] | None = 0.5,
    criterion: str = "iou",
    by_image: bool = False,
) -> InstanceMatching | list[InstanceMatching]:
    """Compute matching statistics over image pairs (StarDist's ``matching_dataset``).

    With ``by_image=False`` (pooled) tp, fp, fn, ``n_true`` and ``n_pred`` are
    summed over the images and every ratio is recomputed from the sums; the
    matched-score sum is pooled as ``sum(mean_true_score * n_true)``.  With
    ``by_image=True`` the counts are still summed but precision, recall,
    accuracy, F1 and the three score means are the unweighted mean of the
    per-image values.

    Parameters
    ----------
    y_true_list, y_pred_list : sequence of ndarray of int
        Ground-truth and predicted label images, pairwise of equal shape.
    thresh : float or sequence of float or None
        Score threshold(s), inclusive (see :func:`match_instances`).
    criterion : {"iou", "iot", "iop"}
        Pair score.
    by_image : bool
        Average per-image ratios instead of pooling counts.

    Returns
    -------
    InstanceMatching or list of InstanceMatching
        With ``by_image`` set; a list when ``thresh`` is a sequence.

    Raises
    ------
    ValueError
        If the lists are empty or have different lengths (and see
        :func:`match_instances`).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.zeros((10, 10), np.uint8)
    >>> y[2:6, 2:6] = 1
    >>> empty = np.zeros_like(y)
    >>> m = match_instances_dataset([y, y], [y, empty], thresh=0.5)
    >>> m.tp, m.fn, m.recall
    (1, 1, 0.5)
    """
    if len(y_true_list) != len(y_pred_list):
        raise ValueError(
            "y_true_list and y_pred_list must have the same length, "
            f"got {len(y_true_list)} and {len(y_pred_list)}"
        )
    if len(y_true_list) == 0:
        raise ValueError("y_true_list and y_pred_list must contain at least one image pair")
    threshs, single = _check_thresh(thresh)
    per_image = [
        match_instances(t, p, thresh=threshs, criterion=criterion)
        for t, p in zip(y_true_list, y_pred_list)
    ]
    out = [_combine([img[k] for img in per_image], bool(by_image)) for k in range(len(threshs))]
    return out[0] if single else out


def ctc_seg(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Cell Tracking Challenge SEG measure of one label image.

    A reference object ``R`` is matched to the predicted object ``S`` covering
    more than half of it (``|R & S| > 0.5 |R|``, strict; at most one can);
    its score is the Jaccard index ``|R & S| / |R | S|``, or 0 without such
    an ``S``.  SEG is the mean over all reference objects.  For time-lapse
    data call it per frame (pooling the per-object scores if needed), since
    the same label in two frames is one track, not one object.

    Parameters
    ----------
    y_true, y_pred : ndarray of int
        Reference and predicted label images of the same shape.

    Returns
    -------
    float
        SEG in ``[0, 1]``; NaN when ``y_true`` has no object (undefined).

    Raises
    ------
    TypeError, ValueError
        As :func:`match_instances` for invalid images.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.zeros((10, 10), np.uint8)
    >>> y_true[0:4, 0:4] = 1
    >>> y_true[6:8, 6:8] = 2
    >>> y_pred = np.zeros_like(y_true)
    >>> y_pred[0:4, 0:3] = 5
    >>> ctc_seg(y_true, y_pred)  # (12/16 + 0) / 2
    0.375
    """
    y_true, y_pred = check_pair(y_true, y_pred)
    ov = sparse_overlap(y_true, y_pred)
    if ov.n_true == 0:
        return float("nan")
    hit = 2 * ov.counts > ov.true_areas[ov.rows]
    jaccard = ov.scores("iou")[hit]
    return float(jaccard.sum() / ov.n_true)
