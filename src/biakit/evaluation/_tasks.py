"""Per-image evaluation rows: semantic, instance, detection (restoration: ``_restoration``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_IOU_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.5, 0.951, 0.05))
INSTANCE_COLUMNS = (
    "tp", "fp", "fn", "n_true", "n_pred", "precision", "recall", "accuracy", "f1",
    "mean_true_score", "mean_matched_score", "panoptic_quality",
)  # fmt: skip


def read_pair(
    gt_path: Path, pred_path: Path, axes: str | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """Read a ground-truth / prediction image pair and check their shapes agree.

    ``axes`` gives the axes of files that do not record them (4D / 5D files).
    """
    from biakit.io import read_image

    kwargs = {} if axes is None else {"axes": axes}
    gt, meta = read_image(gt_path, lazy=False, **kwargs)
    pred, _ = read_image(pred_path, lazy=False, **kwargs)
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(
            f"shape mismatch: {gt_path} is {gt.shape} but {pred_path} is {pred.shape}; "
            f"expected the same shape"
        )
    return gt, pred, meta.spatial_spacing


def _check_labels(array: np.ndarray, path: Path) -> np.ndarray:
    from biakit.validation import check_labels

    return check_labels(array, name="label image", source=path)


def semantic_rows(
    pairs: Sequence[tuple[Path, Path]], average: str, axes: str | None = None
) -> tuple[pd.DataFrame, Any]:
    """Confusion metrics per image and pooled over the data set."""
    from biakit.metrics import confusion_metrics, confusion_metrics_dataset

    arrays = []
    for gt_path, pred_path in pairs:
        gt, pred, _ = read_pair(gt_path, pred_path, axes)
        arrays.append((_check_labels(gt, gt_path), _check_labels(pred, pred_path)))
    if average == "auto":
        top = max(max(int(g.max(initial=0)), int(p.max(initial=0))) for g, p in arrays)
        average = "binary" if top <= 1 else "macro"
    labels = None
    if average != "binary":
        labels = np.unique(np.concatenate([np.unique(a) for pair in arrays for a in pair]))
    rows = []
    for (gt_path, pred_path), (gt, pred) in zip(pairs, arrays):
        m = confusion_metrics(gt, pred, average=average, labels=labels)
        rows.append({"image": gt_path.name, "prediction": pred_path.name, **m.as_dict()})
    pooled = confusion_metrics_dataset(arrays, average=average, labels=labels)
    return pd.DataFrame(rows), pooled


def instance_rows(
    pairs: Sequence[tuple[Path, Path]], thresholds: Sequence[float], axes: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """StarDist-compatible matching per image and threshold, and pooled per threshold."""
    from biakit.metrics import match_instances, match_instances_dataset

    rows, gts, preds = [], [], []
    for gt_path, pred_path in pairs:
        gt, pred, _ = read_pair(gt_path, pred_path, axes)
        gt, pred = _check_labels(gt, gt_path), _check_labels(pred, pred_path)
        gts.append(gt)
        preds.append(pred)
        for m in match_instances(gt, pred, thresh=list(thresholds)):
            row = {c: getattr(m, c) for c in INSTANCE_COLUMNS}
            rows.append({"image": gt_path.name, "thresh": m.thresh, **row})
    summary = []
    for m in match_instances_dataset(gts, preds, thresh=list(thresholds)):
        summary.append({"thresh": m.thresh, **{c: getattr(m, c) for c in INSTANCE_COLUMNS}})
    return pd.DataFrame(rows), pd.DataFrame(summary)


@dataclass(frozen=True)
class PointPair:
    """Ground-truth and predicted points of one image."""

    gt_name: str
    pred_name: str
    true: np.ndarray
    pred: np.ndarray
    classes_true: np.ndarray | None
    classes_pred: np.ndarray | None


def read_points(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read points from a CSV with :func:`biakit.io.read_points_csv`.

    Columns ``z, y, x`` (or ``y, x``) or napari's ``axis-0, ...``, and an optional ``class``.
    """
    from biakit.io import read_points_csv

    return read_points_csv(path)


def load_point_pairs(pairs: Sequence[tuple[Path, Path]]) -> list[PointPair]:
    """Read every ground-truth / prediction point CSV pair once."""
    loaded = []
    for gt_path, pred_path in pairs:
        true, ct = read_points(gt_path)
        pred, cp = read_points(pred_path)
        if true.shape[1] != pred.shape[1]:
            raise ValueError(
                f"{gt_path} has {true.shape[1]}-D points but {pred_path} has {pred.shape[1]}-D"
            )
        loaded.append(PointPair(gt_path.name, pred_path.name, true, pred, ct, cp))
    return loaded


def detection_rows(
    loaded: Sequence[PointPair], tolerance: float, spacing: Sequence[float] | None
) -> pd.DataFrame:
    """Point matching per image at one tolerance."""
    from biakit.metrics import match_points

    rows = []
    for pp in loaded:
        classes = {}
        if pp.classes_true is not None and pp.classes_pred is not None:
            classes = {"classes_true": pp.classes_true, "classes_pred": pp.classes_pred}
        m = match_points(pp.true, pp.pred, tolerance=tolerance, spacing=spacing, **classes)
        rows.append({"image": pp.gt_name, "prediction": pp.pred_name, **m.as_dict()})
    return pd.DataFrame(rows)


def pooled_counts(frame: pd.DataFrame) -> dict[str, float]:
    """Precision, recall and F1 from counts summed over images (0 for an empty denominator)."""
    from biakit.metrics import pooled_detection_counts

    return pooled_detection_counts(frame.to_dict("records"))
