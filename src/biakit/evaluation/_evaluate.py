"""Evaluate a folder of predictions against a folder of ground truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from biakit.evaluation._pairing import pair_files
from biakit.evaluation._plots import (
    plot_confusion_matrix,
    plot_detection_curve,
    plot_instance_curves,
)
from biakit.evaluation._tasks import (
    DEFAULT_IOU_THRESHOLDS,
    detection_rows,
    instance_rows,
    load_point_pairs,
    pooled_counts,
    restoration_rows,
    semantic_rows,
)

Task = Literal["semantic", "instance", "detection", "restoration"]
TASKS: tuple[str, ...] = ("semantic", "instance", "detection", "restoration")


@dataclass(frozen=True)
class EvaluationReport:
    """What :func:`evaluate_folders` computed and wrote.

    Attributes
    ----------
    task : str
        The evaluated task.
    per_image : pandas.DataFrame
        One row per image (and per IoU threshold for instances).
    summary : pandas.DataFrame
        Data-set figures (pooled counts; per threshold for instances).
    files : tuple of Path
        Files written: ``per_image.csv``, ``summary.csv`` and plots.
    """

    task: str
    per_image: pd.DataFrame
    summary: pd.DataFrame
    files: tuple[Path, ...] = field(default=())


def _list(source: str | Path, task: str) -> list[Path]:
    if task == "detection":
        path = Path(source)
        files = sorted(path.glob("*.csv")) if path.is_dir() else sorted(Path().glob(str(source)))
        if not files:
            raise FileNotFoundError(f"{source}: no point CSV files found")
        return files
    from biakit.io import list_images

    return list_images(source)


def evaluate_folders(
    task: Task,
    gt: str | Path,
    pred: str | Path,
    output: str | Path | None = None,
    *,
    thresholds: Sequence[float] = DEFAULT_IOU_THRESHOLDS,
    average: str = "auto",
    tolerance: float = 3.0,
    spacing: Sequence[float] | None = None,
    data_range: float | None = None,
    overwrite: bool = False,
) -> EvaluationReport:
    """Pair files by name, compute the task's metrics, write CSVs and plots.

    Parameters
    ----------
    task : {"semantic", "instance", "detection", "restoration"}
        What to evaluate: class masks, label images, point CSVs or restored images.
    gt, pred : str or Path
        Folders (or glob patterns) of ground truth and predictions, paired by
        name (see :func:`biakit.evaluation.pair_files`).
    output : str or Path, optional
        Folder for ``per_image.csv``, ``summary.csv`` and PNG plots.
    thresholds : sequence of float
        IoU thresholds for instances (default 0.5 to 0.95 in steps of 0.05).
    average : str
        Averaging for semantic metrics; ``"auto"`` is binary for 0/1 masks, else macro.
    tolerance : float
        Distance tolerance (inclusive, physical units with ``spacing``) for detection.
    spacing : sequence of float, optional
        Physical spacing of the point coordinates.
    data_range : float, optional
        Intensity range for PSNR / SSIM (required for float images).
    overwrite : bool
        Replace existing output files.

    Returns
    -------
    EvaluationReport
        Tables and written files.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    pairs = pair_files(_list(gt, task), _list(pred, task))
    plots: list[tuple[str, object]] = []
    if task == "semantic":
        per_image, pooled = semantic_rows(pairs, average)
        summary = pd.DataFrame([{"images": len(pairs), **pooled.as_dict()}])
        plots.append(("confusion_matrix.png", (pooled.confusion_matrix, _cm_labels(pooled))))
    elif task == "instance":
        per_image, summary = instance_rows(pairs, thresholds)
        plots.append(("metrics_vs_iou.png", summary))
    elif task == "detection":
        points = load_point_pairs(pairs)
        per_image = detection_rows(points, tolerance, spacing)
        pooled_row = pooled_counts(per_image)
        summary = pd.DataFrame([{"images": len(pairs), "tolerance": tolerance, **pooled_row}])
        plots.append(("metrics_vs_tolerance.png", points))
    else:
        per_image = restoration_rows(pairs, data_range)
        numeric = per_image.select_dtypes("number")
        summary = pd.DataFrame(
            [{"images": len(pairs)} | {f"{c}_mean": numeric[c].mean() for c in numeric}
             | {f"{c}_std": numeric[c].std(ddof=1) for c in numeric}]
        )  # fmt: skip
    files: tuple[Path, ...] = ()
    if output is not None:
        files = _write(Path(output), per_image, summary, plots, tolerance, spacing, overwrite)
    return EvaluationReport(task, per_image, summary, files)


def _cm_labels(pooled) -> np.ndarray:
    if pooled.average == "binary":
        return np.array(["other", str(pooled.labels[0])])
    return pooled.labels


def _write(out, per_image, summary, plots, tolerance, spacing, overwrite) -> tuple[Path, ...]:
    from biakit.measure import write_table

    targets = [out / "per_image.csv", out / "summary.csv", *(out / name for name, _ in plots)]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]}: output exists; pass --overwrite or another --output")
    out.mkdir(parents=True, exist_ok=True)
    written = [
        write_table(per_image, out / "per_image.csv", overwrite=overwrite),
        write_table(summary, out / "summary.csv", overwrite=overwrite),
    ]
    for name, data in plots:
        target = out / name
        if target.exists() and not overwrite:
            raise FileExistsError(
                f"{target}: output exists; pass --overwrite or choose another --output"
            )
        if name == "confusion_matrix.png":
            written.append(plot_confusion_matrix(*data, target))
        elif name == "metrics_vs_iou.png":
            written.append(plot_instance_curves(data, target))
        else:
            tolerances = np.linspace(0.25, 2.0, 8) * tolerance
            rows = [pooled_counts(detection_rows(data, t, spacing)) for t in tolerances]
            written.append(plot_detection_curve(tolerances, pd.DataFrame(rows), target))
    return tuple(written)
