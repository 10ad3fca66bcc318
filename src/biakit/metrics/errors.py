"""What kind of mistake each object is: true positive, false positive, missed, merged, split.

:func:`instance_errors` splits the false positives and false negatives of
:func:`biakit.metrics.match_instances` into the error kinds a biologist looks
for, object by object, so an overlay can colour them and a table can count
them. The rules, applied in this order to one pair of label images:

1. **true positive** (``"tp"``): a predicted and a true object paired by the
   optimal one-to-one matching at ``IoU >= thresh`` (the pairs that
   :func:`~biakit.metrics.match_instances` counts as ``tp``).
2. **merged** (``"merged"``): an *unmatched* predicted object that covers more
   than half of the pixels of each of two or more unmatched true objects
   (``|P & T| > 0.5 |T|``); those true objects are ``"merged"`` too. (With
   ``thresh >= 0.5`` a true object so covered can never be matched.)
3. **split** (``"split"``): an *unmatched* true object that two or more
   unmatched, not merged predicted objects each lie in by more than half of
   their pixels (``|P & T| > 0.5 |P|``); those predicted fragments are
   ``"split"`` too.
4. every other predicted object is a **false positive** (``"fp"``) and every
   other true object is **missed** (``"missed"``).

"More than half" is strict, so a true object is covered in this sense by at
most one predicted object and a predicted object lies inside at most one true
object. The kinds partition both object sets::

    n_pred = tp + fp + merged + split_pred
    n_true = tp + missed + merged_true + split

so ``fp + merged + split_pred`` equals ``match_instances(...).fp`` and
``missed + merged_true + split`` equals its ``fn``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from biakit.errors import ParameterError

from ._overlap import check_pair, sparse_overlap
from .instance import _match_one

__all__ = ["OUTCOMES", "ErrorCounts", "InstanceErrors", "instance_errors"]

OUTCOMES = ("tp", "fp", "missed", "merged", "split")
"""The outcome names, in the order of the legend."""


@dataclass(frozen=True)
class ErrorCounts:
    """How many objects fall in each error kind (see :mod:`biakit.metrics.errors`).

    Attributes
    ----------
    tp : int
        Matched pairs (true positives).
    fp : int
        Predicted objects that are neither matched, merged nor split fragments.
    missed : int
        True objects that are neither matched, merged nor split.
    merged : int
        Predicted objects covering more than half of two or more true objects.
    split : int
        True objects cut into two or more predicted fragments.
    merged_true : int
        True objects swallowed by a merged prediction.
    split_pred : int
        Predicted fragments of split true objects.
    n_true, n_pred : int
        Numbers of true and predicted objects.

    Counts of several images add up with ``+``.
    """

    tp: int = 0
    fp: int = 0
    missed: int = 0
    merged: int = 0
    split: int = 0
    merged_true: int = 0
    split_pred: int = 0
    n_true: int = 0
    n_pred: int = 0

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        """Pool the counts of two images."""
        if not isinstance(other, ErrorCounts):
            return NotImplemented
        return ErrorCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, int]:
        """Return the counts as a dict."""
        return asdict(self)


@dataclass(frozen=True)
class InstanceErrors:
    """The outcome of every object of one pair of label images.

    Attributes
    ----------
    thresh : float
        IoU threshold of the matching (inclusive).
    counts : ErrorCounts
        Objects per outcome.
    true_labels, pred_labels : tuple of int
        Object labels in ascending order.
    true_outcomes, pred_outcomes : tuple of str
        The outcome of each object, aligned with the labels: ``"tp"``,
        ``"missed"``, ``"merged"`` or ``"split"`` for true objects; ``"tp"``,
        ``"fp"``, ``"merged"`` or ``"split"`` for predicted ones.
    matched_pairs : tuple of (int, int)
        The ``(true label, predicted label)`` true-positive pairs.
    """

    thresh: float
    counts: ErrorCounts
    true_labels: tuple[int, ...]
    true_outcomes: tuple[str, ...]
    pred_labels: tuple[int, ...]
    pred_outcomes: tuple[str, ...]
    matched_pairs: tuple[tuple[int, int], ...]

    def true_outcome(self) -> dict[int, str]:
        """Return ``{true label: outcome}``."""
        return dict(zip(self.true_labels, self.true_outcomes))

    def pred_outcome(self) -> dict[int, str]:
        """Return ``{predicted label: outcome}``."""
        return dict(zip(self.pred_labels, self.pred_outcomes))


def _check_thresh(thresh: Any) -> float:
    try:
        value = float(thresh)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 < value <= 1:
        raise ParameterError(f"thresh must be an IoU threshold in (0, 1], got {thresh!r}")
    return value


def instance_errors(
    y_true: np.ndarray, y_pred: np.ndarray, *, thresh: float = 0.5
) -> InstanceErrors:
    """Classify every object as true positive, false positive, missed, merged or split.

    The rules are those of :mod:`biakit.metrics.errors`: true positives from
    :func:`~biakit.metrics.match_instances` at ``IoU >= thresh``, then merges
    (an unmatched prediction holding more than half of two or more unmatched
    true objects), then splits (an unmatched true object holding more than half of
    two or more unmatched predictions), the rest false positives and misses.

    Parameters
    ----------
    y_true, y_pred : ndarray of int
        Ground-truth and predicted label images of the same shape (any
        dimensionality), 0 = background.
    thresh : float
        IoU threshold of the matching, in ``(0, 1]``, inclusive.

    Returns
    -------
    InstanceErrors
        Per-object outcomes and their counts.

    Raises
    ------
    ParameterError
        If ``thresh`` is not in ``(0, 1]``.
    TypeError, ValueError
        As :func:`~biakit.metrics.match_instances` for invalid label images.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.zeros((10, 20), np.uint8)
    >>> y_true[2:8, 1:5], y_true[2:8, 5:9], y_true[2:8, 12:18] = 1, 2, 3
    >>> y_pred = np.zeros_like(y_true)
    >>> y_pred[1:9, 0:10] = 7  # one object over true objects 1 and 2
    >>> c = instance_errors(y_true, y_pred).counts
    >>> c.tp, c.merged, c.merged_true, c.missed
    (0, 1, 2, 1)
    """
    y_true, y_pred = check_pair(y_true, y_pred)
    thresh = _check_thresh(thresh)
    ov = sparse_overlap(y_true, y_pred)
    match = _match_one(ov, ov.scores("iou"), "iou", thresh, True)  # as match_instances
    pairs = tuple(match.matched_pairs[k] for k in match.matched_tps)  # type: ignore[index]
    t_index = {int(v): i for i, v in enumerate(ov.true_labels)}
    p_index = {int(v): j for j, v in enumerate(ov.pred_labels)}
    true_out = np.full(ov.n_true, "missed", dtype=object)
    pred_out = np.full(ov.n_pred, "fp", dtype=object)
    for t, p in pairs:
        true_out[t_index[t]], pred_out[p_index[p]] = "tp", "tp"
    rows, cols, counts = ov.rows, ov.cols, ov.counts
    # merges: unmatched predictions holding > half of >= 2 unmatched true objects
    covers = (2 * counts > ov.true_areas[rows]) & (true_out[rows] == "missed")
    covers &= pred_out[cols] == "fp"
    holders = cols[covers]
    merged = np.flatnonzero(np.bincount(holders, minlength=ov.n_pred) >= 2)
    pred_out[merged] = "merged"
    swallowed = rows[covers & np.isin(cols, merged)]
    true_out[swallowed] = "merged"
    # splits: unmatched true objects holding > half of >= 2 unmatched, unmerged predictions
    inside = (2 * counts > ov.pred_areas[cols]) & (pred_out[cols] == "fp")
    inside &= true_out[rows] == "missed"
    split = np.flatnonzero(np.bincount(rows[inside], minlength=ov.n_true) >= 2)
    true_out[split] = "split"
    pred_out[cols[inside & np.isin(rows, split)]] = "split"
    counts_ = ErrorCounts(
        tp=len(pairs),
        fp=int(np.sum(pred_out == "fp")),
        missed=int(np.sum(true_out == "missed")),
        merged=len(merged),
        split=len(split),
        merged_true=int(np.sum(true_out == "merged")),
        split_pred=int(np.sum(pred_out == "split")),
        n_true=ov.n_true,
        n_pred=ov.n_pred,
    )
    return InstanceErrors(
        thresh=thresh,
        counts=counts_,
        true_labels=tuple(int(v) for v in ov.true_labels),
        true_outcomes=tuple(str(v) for v in true_out),
        pred_labels=tuple(int(v) for v in ov.pred_labels),
        pred_outcomes=tuple(str(v) for v in pred_out),
        matched_pairs=pairs,
    )
