"""``biakit demo``: the main job, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def _rich_table(title: str, frame: Any) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), justify="left" if column in ("method", "case") else "right")
    for _, row in frame.iterrows():
        cells = []
        for value in row:
            if isinstance(value, float):
                cells.append("-" if value != value else f"{value:.3f}")
            else:
                cells.append("-" if value is None else str(value))
        table.add_row(*cells)
    return table


def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")] = Path(
        "biakit-demo"
    ),
    minutes: Annotated[
        float, typer.Option(help="Training time budget of the deep network (minutes).")
    ] = 3.0,
    quick: Annotated[bool, typer.Option(help="Tiny data and a short run (for tests).")] = False,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the outputs of an earlier demo run.")
    ] = True,
    big: Annotated[
        bool,
        typer.Option(
            "--big",
            help="Instead: segment a MitoEM-like EM volume of --size block by block "
            "(bounded memory) and score it against its exact labels.",
        ),
    ] = False,
    size: Annotated[
        str, typer.Option(help="With --big: image size, e.g. 2GB, 500MB (uint8 voxels).")
    ] = "2GB",
    scheduler: Annotated[
        str | None,
        typer.Option(help="With --big: 'threads' (default), 'local' or tcp://HOST:PORT."),
    ] = None,
) -> None:
    """Deep vs classical vs pixel classifier on touching nuclei, plus classical pipelines.

    Trains a small instance-segmentation U-Net (GPU when present) within the time
    budget, showing its progress on stderr, segments held-out synthetic images with
    all three methods, prints the scores and writes report.html to OUTPUT: scores,
    error counts, plain and error-coded overlays, training curves and how training
    ended. With --big: generates a synthetic EM volume of --size into
    OUTPUT/volume.ome.zarr, segments it block by block with stitched instance labels
    and prints the matching scores, the time of each stage and the peak memory.
    """
    if big:
        _big(output, size, scheduler, overwrite)
        return
    import shutil

    from rich.console import Console

    from biakit._atomic import atomic_write_text
    from biakit.demo import (
        comparison_table,
        iter_comparison,
        iter_demo,
        rows_to_frame,
        write_report,
    )
    from biakit.pixel import warm_up

    warm_up(background=True)  # compile the pixel classifier's kernels while data are made
    console = Console()
    if not console.is_terminal:
        console.width = 120
    if (output / "instance_model").exists() and overwrite:
        shutil.rmtree(output / "instance_model")
    output.mkdir(parents=True, exist_ok=True)
    comparison = None
    steps = iter_comparison(output, seconds=60 * minutes, quick=quick, progress=True)
    for step, result in steps:
        if result is None:
            budget = f" (time budget {minutes:g} min)" if step.startswith("deep") else ""
            console.print(f"[bold]running[/bold] {step}{budget} ...")
        comparison = result or comparison
    assert comparison is not None
    table = comparison_table(comparison)
    console.print(_rich_table("instance segmentation, held-out synthetic nuclei", table))
    rows = []
    for row in iter_demo(output / "classical", overwrite=overwrite):
        console.print(f"[bold]classical pipeline[/bold] {row.case}: {row.n_found} objects")
        rows.append(row)
    classical = rows_to_frame(rows)
    console.print(_rich_table("classical pipelines", classical))
    for row in rows:
        if row.note:
            console.print(f"- {row.case}: {row.note}", highlight=False, markup=False)
    report = write_report(output, comparison, rows, minutes=minutes)
    atomic_write_text(output / "results.csv", table.to_csv(index=False), overwrite=True)
    atomic_write_text(
        output / "classical" / "results.csv", classical.to_csv(index=False), overwrite=True
    )
    typer.echo(f"report: {report}")


def _big(output: Path, size: str, scheduler: str | None, overwrite: bool) -> None:
    """``biakit demo --big``: the big-volume demo with progress on stderr."""
    import pandas as pd
    from rich.console import Console

    from biakit.demo._big import iter_big_demo

    console = Console(stderr=True)
    gen = iter_big_demo(output, size=size, scheduler=scheduler, overwrite=overwrite)
    shown = ""
    while True:
        try:
            stage, done, total = next(gen)
        except StopIteration as stop:
            result = stop.value
            break
        if stage != shown or done == total or done % max(1, total // 10) == 0:
            console.print(f"{stage} {done}/{total}", highlight=False)
            shown = stage
    rows = [
        ("volume (Z, Y, X)", " x ".join(map(str, result.shape))),
        ("image size", f"{result.image_gb:.2f} GB"),
        ("blocks (block, halo)", f"{result.n_blocks} ({result.block_shape}, {result.halo})"),
        ("objects true / found", f"{result.n_true} / {result.n_pred}"),
        ("precision / recall / F1 @ IoU 0.5",
         f"{result.precision:.3f} / {result.recall:.3f} / {result.f1:.3f}"),
        ("pieces joined across blocks", str(result.n_matched_across_blocks)),
        *[(f"time {k}", f"{v:.1f} s") for k, v in result.seconds.items()],
        ("peak memory (this process)", f"{result.peak_rss_gb:.2f} GB"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["case", "value"])
    Console().print(_rich_table("big volume, block-wise", frame))
    typer.echo(f"summary: {output / 'big_demo.json'}")
