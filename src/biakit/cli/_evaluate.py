"""``biakit evaluate``: score a folder of predictions against ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from biakit.cli._batch import AxesOption


def evaluate(
    task: Annotated[
        str, typer.Option("--task", "-t", help="semantic | instance | detection | restoration")
    ],
    gt: Annotated[str, typer.Option("--gt", help="Ground-truth folder or glob.")],
    pred: Annotated[str, typer.Option("--pred", help="Prediction folder or glob.")],
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
    """
    from biakit.errors import ParameterError
    from biakit.evaluation import evaluate_folders

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
