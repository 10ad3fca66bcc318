"""``biakit evaluate``: score a folder of predictions against ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from biakit.cli._batch import AxesOption


def evaluate(
    task: Annotated[
        str,
        typer.Option(
            "--task",
            "-t",
            help="semantic | instance | detection | restoration | tracking | classification",
        ),
    ],
    gt: Annotated[
        str, typer.Option("--gt", help="Ground-truth folder or glob (tracking: CTC GT folder).")
    ],
    pred: Annotated[
        str, typer.Option("--pred", help="Prediction folder or glob (tracking: CTC RES folder).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    thresholds: Annotated[
        str, typer.Option(help="IoU thresholds for instances, comma-separated.")
    ] = "0.5,0.55,0.6,0.65,0.7,0.75,0.8,0.85,0.9,0.95",
    average: Annotated[
        str, typer.Option(help="Semantic averaging: auto | binary | micro | macro | weighted.")
    ] = "auto",
    tolerance: Annotated[float, typer.Option(help="Detection distance tolerance.")] = 3.0,
    data_range: Annotated[
        float | None,
        typer.Option(
            help="Intensity range for the raw PSNR/SSIM of float images (*_care columns need none)."
        ),
    ] = None,
    axes: AxesOption = None,
    inputs: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="Restoration: folder or glob of the raw inputs (named like the ground truth), "
            "scored too.",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the outputs of an earlier evaluation (never inputs).")
    ] = False,
) -> None:
    """Pair files by name; write per_image.csv, summary.csv and plots; print the summary.

    Restoration: predictions NAME.tif, NAME_denoised.tif, NAME_restored.tif or
    NAME_sr.tif pair with NAME.tif; PSNR, SSIM and NRMSE are given after CARE's
    normalisation (*_care columns) and on raw values, and NAME_ssim_map.png and
    NAME_error_map.png are drawn per image (3D: middle z-slice).

    Classification: --pred is a predictions.csv of ``biakit predict`` (or its folder),
    --gt a folder of class sub-folders or a CSV (path, class); writes per_image.csv,
    report.csv (per-class precision / recall / F1 / support, averages, ROC AUC),
    confusion_matrix.csv/.png and roc_curves.png.

    Tracking: --pred is a Cell Tracking Challenge result folder (maskNNN.tif +
    res_track.txt), --gt a ground-truth folder (TRA/man_trackNNN.tif +
    TRA/man_track.txt, optional SEG/); writes tracking.csv with the CTC measures
    (DET, SEG, TRA, LNK, CT, TF, BC(0-3), CCA, AOGM counts) as py-ctcmetrics names them.
    """
    from biakit.errors import ParameterError
    from biakit.evaluation import evaluate_folders
    from biakit.evaluation._evaluate import TASKS

    if task == "tracking":
        _evaluate_tracking(Path(gt), Path(pred), output, overwrite=overwrite)
        return
    if task == "classification":
        from biakit.cli._evaluate_classification import evaluate_classification

        typer.echo(evaluate_classification(Path(gt), Path(pred), output, overwrite=overwrite))
        typer.echo(f"wrote per_image.csv, report.csv, confusion_matrix.csv/.png, roc_curves.png "
                   f"to {output}")  # fmt: skip
        return
    if task not in TASKS:
        raise ParameterError(
            f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}, tracking, classification"
        )
    try:
        thresh = [float(t) for t in thresholds.split(",") if t.strip()]
    except ValueError:
        thresh = []
    if not thresh:
        raise ParameterError(
            f"--thresholds: expected IoU thresholds in (0, 1] like 0.5,0.75, got {thresholds!r}"
        )
    report = evaluate_folders(
        task,  # type: ignore[arg-type]
        gt,
        pred,
        output,
        thresholds=thresh,
        average=average,
        tolerance=tolerance,
        data_range=data_range,
        axes=axes,
        inputs=inputs,
        overwrite=overwrite,
    )
    with_index = report.summary.to_string(index=False, float_format=lambda v: f"{v:.4f}")
    typer.echo(with_index)
    if task == "restoration" and report.per_image["psnr"].isna().any():
        typer.echo(
            "note: raw psnr/ssim of float images need --data-range (left empty); "
            "the *_care columns do not"
        )
    typer.echo(f"wrote {', '.join(p.name for p in report.files)} to {output}")


#: Columns printed by ``--task tracking`` (all of them go to tracking.csv).
_TRACKING_SHOWN = (
    "DET",
    "SEG",
    "TRA",
    "LNK",
    "CT",
    "TF",
    "BC(0)",
    "BC(1)",
    "BC(2)",
    "BC(3)",
    "CCA",
)


def _evaluate_tracking(gt: Path, pred: Path, output: Path, *, overwrite: bool) -> None:
    """Score a CTC result folder against a CTC ground-truth folder; write tracking.csv."""
    import pandas as pd

    from biakit._outputs import check_outputs, record_outputs, table_files
    from biakit.errors import DataError
    from biakit.measure import write_table
    from biakit.metrics import evaluate_ctc

    target = Path(output) / "tracking.csv"
    for folder in (gt, pred):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: folder not found (a CTC folder is expected)")
    inputs = [*sorted(gt.rglob("*")), *sorted(pred.glob("*"))]
    check_outputs(inputs, table_files(target), overwrite=overwrite)
    metrics = evaluate_ctc(pred, gt)
    if not metrics.valid:
        more = len(metrics.problems) - 1
        extra = f" (and {more} more)" if more else ""
        raise DataError(
            f"{pred / 'res_track.txt'}: not a valid CTC result: {metrics.problems[0]}{extra}"
        )
    row = {k: (float("nan") if v is None else v) for k, v in metrics.as_dict().items()}
    record_outputs(Path(output), table_files(target))
    written = write_table(pd.DataFrame([row]), target, overwrite=overwrite)
    width = max(len(k) for k in _TRACKING_SHOWN)
    for key in _TRACKING_SHOWN:
        value = row[key]
        typer.echo(f"{key:<{width}}  {'n/a' if value != value else f'{value:.4f}'}")
    a = metrics.aogm
    typer.echo(
        f"AOGM {a.aogm:g} (NS {a.ns}, FN {a.fn}, FP {a.fp}, ED {a.ed}, EA {a.ea}, EC {a.ec})"
    )
    typer.echo(f"wrote {written.name} to {output}")
