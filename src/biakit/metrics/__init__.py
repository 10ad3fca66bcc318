"""Evaluation metrics: pure functions returning frozen dataclasses.

* pixel: :func:`confusion_metrics` (binary / multi-class confusion matrix, IoU,
  Dice, precision, recall, ... averaged exactly as scikit-learn).
* instance: :func:`match_instances` (StarDist-compatible IoU matching),
  :func:`average_precision`, :func:`ctc_seg`.
* detection: :func:`match_points` (Hungarian point matching within a tolerance).
* restoration: :func:`psnr`, :func:`ssim`, :func:`nrmse` (equal to scikit-image)
  and CARE-style :func:`psnr_care`.
* classification: :func:`classification_metrics` (per-class report, balanced accuracy,
  one-vs-rest ROC AUC), :func:`confusion_matrix`, :func:`roc_auc_ovr`.
* tracking: :func:`tracking_metrics`, :func:`evaluate_ctc` (Cell Tracking
  Challenge DET, SEG, TRA, LNK, CT, TF, BC(i), CCA, equal to py-ctcmetrics).

Names are imported lazily, on first use.
"""

from __future__ import annotations

from biakit._lazy import lazy_exports

_ATTRS = {
    # instance
    "match_instances": "instance",
    "match_instances_dataset": "instance",
    "InstanceMatching": "instance",
    "average_precision": "instance",
    "ctc_seg": "instance",
    "COCOResult": "instance",
    # pixel
    "ConfusionMetrics": "pixel",
    "confusion_metrics": "pixel",
    "confusion_metrics_dataset": "pixel",
    # detection
    "DetectionMatching": "detection",
    "match_points": "detection",
    "match_points_dataset": "detection",
    "pooled_detection_counts": "detection",
    "pool_detection_matchings": "detection",
    # restoration
    "RestorationMetrics": "restoration",
    "psnr": "restoration",
    "ssim": "restoration",
    "nrmse": "restoration",
    "normalize_minmse": "restoration",
    "psnr_care": "restoration",
    "restoration_metrics": "restoration",
    "RestorationMaps": "_restoration_maps",
    "restoration_maps": "_restoration_maps",
    "nyquist_energy": "_spectral",
}
_ATTRS.update(dict.fromkeys(("ErrorCounts", "InstanceErrors", "instance_errors"), "errors"))
_ATTRS.update(
    dict.fromkeys(
        ("AOGMCounts", "DivisionScores", "TrackingMetrics", "evaluate_ctc", "tracking_metrics"),
        "tracking",
    )
)


_ATTRS.update(
    dict.fromkeys(
        ("ClassificationMetrics", "classification_metrics", "confusion_matrix", "roc_auc_ovr"),
        "classification",
    )
)

__getattr__, __dir__, __all__ = lazy_exports(__name__, _ATTRS)
