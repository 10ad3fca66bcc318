"""Evaluate a folder of predictions against a folder of ground truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from biakit.evaluation._plots import (
    plot_confusion_matrix,
    plot_detection_curve,
    plot_instance_curves,
    plot_quality_map,
)
from biakit.evaluation._restoration import restoration_rows, restoration_summary
from biakit.evaluation._tasks import (
    DEFAULT_IOU_THRESHOLDS,
    detection_rows,
    instance_rows,
    load_point_pairs,
    pooled_counts,
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
        Files written: ``per_image.csv``, ``summary.csv`` and plots (for
        restoration, ``NAME_ssim_map.png`` and ``NAME_error_map.png`` per image).
    """

    task: str
    per_image: pd.DataFrame
    summary: pd.DataFrame
    files: tuple[Path, ...] = field(default=())


AVERAGES = ("auto", "binary", "micro", "macro", "weighted")


def _list(source: str | Path, task: str, *, predictions: bool = False) -> list[Path]:
    """List the files of one side; on the prediction side, without biakit's side outputs."""
    from biakit.io import is_side_output, list_images

    if task == "detection":
        import glob

        path = Path(source)
        if path.is_dir():
            files = sorted(path.glob("*.csv"))
        else:
            files = sorted(Path(m) for m in glob.glob(str(source)) if m.endswith(".csv"))
        if not files:
            raise FileNotFoundError(f"{source}: no point CSV files found")
    else:
        files = list_images(source)
    kept = [f for f in files if not is_side_output(f)] if predictions else files
    return kept or files


def _check_parameters(
    task: str, thresholds: Sequence[float], average: str, tolerance: float, data_range: Any
) -> tuple[float, ...]:
    from biakit.errors import ParameterError
    from biakit.validation import check_iou_thresholds, check_positive

    if task not in TASKS:
        raise ParameterError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    if average not in AVERAGES:
        raise ParameterError(f"average must be one of {', '.join(AVERAGES)}, got {average!r}")
    check_positive(tolerance, name="tolerance")
    if data_range is not None:
        check_positive(data_range, name="data_range")
    if len(thresholds) == 0:
        raise ParameterError("thresholds: expected at least one IoU threshold in (0, 1]")
    return check_iou_thresholds(list(thresholds), name="thresholds")


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
    axes: str | None = None,
    inputs: str | Path | None = None,
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
        Intensity range for the raw PSNR / SSIM columns (NaN for float images
        without it); the ``*_care`` columns never need it.
    axes : str, optional
        Axes of image files that do not record them (e.g. ``"TZYX"`` for 4D TIFFs).
    inputs : str or Path, optional
        Restoration only: folder (or glob) of the raw inputs, named like the
        ground truth, to add the input's ``input_psnr_care``, ... columns.
    overwrite : bool
        Replace output files an earlier evaluation wrote (never other files).

    Returns
    -------
    EvaluationReport
        Tables and written files.

    Raises
    ------
    biakit.errors.ParameterError
        An unknown task or average, an IoU threshold outside (0, 1], a tolerance
        or data range that is not a positive finite number, ``inputs`` for a
        task other than restoration.
    FileExistsError
        An output would replace an input, exists (without ``overwrite``) or was
        not written by biakit; checked before any work.
    ValueError
        Unpaired files, shape mismatches, non-integer or negative labels; the
        message names the file.

    Notes
    -----
    Restoration: ``per_image.csv`` holds ``psnr_care``, ``ssim_care`` and
    ``nrmse_care`` (CARE's normalisation, :func:`biakit.metrics.restoration_maps`)
    and the raw ``mse``, ``mae``, ``psnr``, ``ssim``, ``nrmse``; the maps of 3D
    images are drawn at their middle z-slice.
    """
    thresholds = _check_parameters(task, thresholds, average, tolerance, data_range)
    if inputs is not None and task != "restoration":
        from biakit.errors import ParameterError

        raise ParameterError(f"inputs ({inputs}) is used only by task 'restoration', not {task!r}")
    from biakit.io import pair_files

    gt_files, pred_files = _list(gt, task), _list(pred, task, predictions=True)
    input_files = [] if inputs is None else _list(inputs, task, predictions=True)
    pairs = pair_files(gt_files, pred_files)
    input_pairs = None if inputs is None else _pair_inputs(gt_files, input_files, inputs)
    out = None if output is None else Path(output)
    if out is not None:
        from biakit._outputs import check_outputs

        check_outputs(
            [*gt_files, *pred_files, *input_files], _targets(out, task, pairs), overwrite=overwrite
        )
    plots: list[tuple[str, object]] = []
    if task == "semantic":
        per_image, pooled = semantic_rows(pairs, average, axes)
        summary = pd.DataFrame([{"images": len(pairs), **pooled.as_dict()}])
        plots.append(("confusion_matrix.png", (pooled.confusion_matrix, _cm_labels(pooled))))
    elif task == "instance":
        per_image, summary = instance_rows(pairs, thresholds, axes)
        plots.append(("metrics_vs_iou.png", summary))
    elif task == "detection":
        points = load_point_pairs(pairs)
        per_image = detection_rows(points, tolerance, spacing)
        pooled_row = pooled_counts(per_image)
        summary = pd.DataFrame([{"images": len(pairs), "tolerance": tolerance, **pooled_row}])
        plots.append(("metrics_vs_tolerance.png", points))
    else:
        per_image, views = restoration_rows(pairs, data_range, axes, input_pairs)
        summary = restoration_summary(per_image)
        for view in views:
            plots += [(f"{view.key}{_MAPS['ssim']}", view), (f"{view.key}{_MAPS['error']}", view)]
    files: tuple[Path, ...] = ()
    if out is not None:
        files = _write(out, per_image, summary, plots, tolerance, spacing, overwrite)
    return EvaluationReport(task, per_image, summary, files)


def _pair_inputs(gt_files: list[Path], input_files: list[Path], inputs: Any) -> dict[Path, Path]:
    """Map each ground-truth file to its raw input (paired by name like a prediction)."""
    from biakit.errors import DataError
    from biakit.io import pair_files

    try:
        return dict(pair_files(gt_files, input_files))
    except DataError as err:
        raise DataError(f"inputs {inputs}: {err} (the input plays the prediction's part)") from None


_PLOTS = {
    "semantic": "confusion_matrix.png",
    "instance": "metrics_vs_iou.png",
    "detection": "metrics_vs_tolerance.png",
}


_MAPS = {"ssim": "_ssim_map.png", "error": "_error_map.png"}


def _targets(out: Path, task: str, pairs: list[tuple[Path, Path]]) -> list[Path]:
    """Every file :func:`evaluate_folders` may write into ``out``."""
    from biakit._outputs import table_files
    from biakit.io import file_key

    plots = [out / _PLOTS[task]] if task in _PLOTS else []
    if task == "restoration":
        plots = [out / f"{file_key(g)}{end}" for g, _ in pairs for end in _MAPS.values()]
    return [*table_files(out / "per_image.csv"), *table_files(out / "summary.csv"), *plots]


def _cm_labels(pooled) -> np.ndarray:
    if pooled.average == "binary":
        return np.array(["other", str(pooled.labels[0])])
    return pooled.labels


def _write(out, per_image, summary, plots, tolerance, spacing, overwrite) -> tuple[Path, ...]:
    from biakit._outputs import record_outputs, table_files
    from biakit.measure import write_table

    tables = [out / "per_image.csv", out / "summary.csv"]
    record_outputs(
        out, [*(f for t in tables for f in table_files(t)), *(out / n for n, _ in plots)]
    )
    written = [
        write_table(per_image, out / "per_image.csv", overwrite=overwrite),
        write_table(summary, out / "summary.csv", overwrite=overwrite),
    ]
    for name, data in plots:
        target = out / name
        if name == "confusion_matrix.png":
            written.append(plot_confusion_matrix(*data, target))
        elif name == "metrics_vs_iou.png":
            written.append(plot_instance_curves(data, target))
        elif name.endswith(tuple(_MAPS.values())):
            kind = "ssim" if name.endswith(_MAPS["ssim"]) else "error"
            written.append(plot_quality_map(data, kind, target))
        else:
            tolerances = np.linspace(0.25, 2.0, 8) * tolerance
            rows = [pooled_counts(detection_rows(data, t, spacing)) for t in tolerances]
            written.append(plot_detection_curve(tolerances, pd.DataFrame(rows), target))
    record_outputs(
        out, [f for w in written for f in (table_files(w) if w.suffix == ".csv" else [w])]
    )
    return tuple(written)
