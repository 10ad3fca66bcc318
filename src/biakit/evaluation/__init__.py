"""Evaluate folders of predictions against ground truth: tables and plots.

The metrics themselves live in :mod:`biakit.metrics`; this module pairs files
by name, runs the right metric per task, and writes ``per_image.csv``,
``summary.csv`` and PNG plots.
"""

from biakit.evaluation._evaluate import TASKS, EvaluationReport, evaluate_folders
from biakit.evaluation._tasks import DEFAULT_IOU_THRESHOLDS, read_points
from biakit.io import file_key, pair_files

__all__ = [
    "DEFAULT_IOU_THRESHOLDS",
    "TASKS",
    "EvaluationReport",
    "evaluate_folders",
    "file_key",
    "pair_files",
    "read_points",
]
