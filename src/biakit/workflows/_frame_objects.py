"""Object-level scores of predicted frames: pixel scores reward blur, objects do not.

Every frame (truth, model, baselines) goes through one classical pipeline
(:class:`~biakit.workflows._frame_config.ObjectScoreOptions`): Gaussian
smoothing, a global threshold of that frame (Otsu by default), connected
components, small objects removed. Then

* ``kind="objects"``: count error ``|n_pred - n_true|``, mean IoU of the true
  objects with the predicted object optimally matched to each (0 when none;
  :func:`biakit.metrics.match_instances` at threshold 0, its
  ``mean_true_score``), and the F1 score at ``iou_thresh``;
* ``kind="monolayer"``: the gap (wound) area, the background pixels left
  after removing background components under ``min_gap`` pixels (the holes
  between cells), and its absolute error.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def segment_frame(frame: Any, options: Any, ndim: int = 2) -> np.ndarray:
    """Label image of one ``(*spatial)`` or ``(C, *spatial)`` frame (channels averaged).

    ``ndim`` is the number of spatial axes.

    Examples
    --------
    >>> from biakit.workflows._frame_config import ObjectScoreOptions
    >>> frame = np.zeros((16, 16)); frame[2:6, 2:6] = 1; frame[9:14, 8:13] = 1
    >>> int(segment_frame(frame, ObjectScoreOptions(smooth_sigma=0, min_size=4)).max())
    2
    """
    from biakit.postprocess import remove_small_objects
    from biakit.preprocess import gaussian
    from biakit.segment import label, threshold

    image = np.asarray(frame, dtype=np.float32)
    if image.ndim == ndim + 1:
        image = image.mean(axis=0)
    if options.smooth_sigma > 0:
        image = gaussian(image, options.smooth_sigma)
    mask = threshold(image, options.method, value=options.value)
    labels = label(mask)
    if options.min_size > 0:
        labels = remove_small_objects(labels, options.min_size)
    return labels


def gap_mask(labels: np.ndarray, min_gap: int) -> np.ndarray:
    """Background of ``labels`` without its components under ``min_gap`` pixels (the gap).

    Examples
    --------
    >>> labels = np.ones((6, 8), int); labels[:, 3:5] = 0; labels[0, 0] = 0
    >>> int(gap_mask(labels, 4).sum())      # the 2-pixel-wide gap, not the 1-pixel hole
    12
    """
    from biakit.segment import label

    background = label(np.asarray(labels) == 0)
    if min_gap <= 0 or background.max() == 0:
        return background > 0
    sizes = np.bincount(background.ravel())
    keep = sizes >= min_gap
    keep[0] = False
    return keep[background]


def truth_objects(labels: np.ndarray, options: Any) -> dict[str, float]:
    """Columns describing the true frame: ``n_objects`` or ``gap_area`` (pixels)."""
    if options.kind == "monolayer":
        return {"gap_area": float(gap_mask(labels, options.min_gap).sum())}
    return {"n_objects": float(len(np.unique(labels[labels > 0])))}


def object_scores(true_labels: np.ndarray, pred_labels: np.ndarray,
                  options: Any) -> dict[str, float]:  # fmt: skip
    """Object-level scores of one predicted frame's labels against the true frame's.

    Returns ``count_error``, ``mean_iou`` and ``object_f1`` (``kind="objects"``)
    or ``gap_area_error`` (pixels, ``kind="monolayer"``).

    Examples
    --------
    >>> from biakit.workflows._frame_config import ObjectScoreOptions
    >>> t = np.zeros((10, 10), np.int32); t[0:4, 0:4] = 1; t[6:9, 6:9] = 2
    >>> p = np.zeros_like(t); p[0:4, 0:2] = 1                  # half of object 1, no object 2
    >>> s = object_scores(t, p, ObjectScoreOptions())
    >>> s["count_error"], s["mean_iou"], round(s["object_f1"], 4)   # IoU 0.5 of 1, 0 of 2
    (1.0, 0.25, 0.6667)
    """
    from biakit.metrics import match_instances

    if options.kind == "monolayer":
        true_gap = gap_mask(true_labels, options.min_gap).sum()
        pred_gap = gap_mask(pred_labels, options.min_gap).sum()
        return {"gap_area_error": float(abs(int(pred_gap) - int(true_gap)))}
    t = np.asarray(true_labels, dtype=np.int32)
    p = np.asarray(pred_labels, dtype=np.int32)
    n_true, n_pred = len(np.unique(t[t > 0])), len(np.unique(p[p > 0]))
    iou = match_instances(t, p, thresh=0.0).mean_true_score if n_true and n_pred else 0.0
    at = match_instances(t, p, thresh=options.iou_thresh)
    f1 = 1.0 if n_true == n_pred == 0 else at.f1
    return {"count_error": float(abs(n_pred - n_true)), "mean_iou": float(iou),
            "object_f1": float(f1)}  # fmt: skip


#: object-score columns per kind (model columns; baselines carry a prefix)
OBJECT_COLUMNS = {
    "objects": ("count_error", "mean_iou", "object_f1"),
    "monolayer": ("gap_area_error",),
    "none": (),
}
