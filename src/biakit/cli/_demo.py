"""``biakit demo``: the main job, offline, in under two minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")] = Path(
        "biakit-demo"
    ),
    overwrite: Annotated[
        bool, typer.Option(help="Replace the outputs of an earlier demo run.")
    ] = True,
) -> None:
    """Run classical pipelines on synthetic nuclei (2D, 3D) and shipped sample images.

    Prints a results table (objects found; F1, accuracy and IoU against the
    ground truth where it is known) and writes labels, overlays and
    measurement tables to OUTPUT.
    """
    from rich.console import Console
    from rich.table import Table

    from biakit._atomic import atomic_write_text
    from biakit.cli._progress import track
    from biakit.demo import demo_cases, iter_demo, rows_to_frame

    rows = list(track(iter_demo(output, overwrite=overwrite), len(demo_cases()), "demo"))
    table = Table(title="biakit demo: classical pipeline")
    for column in ("case", "shape", "true", "found", "F1@0.5", "acc@0.5", "IoU", "seconds"):
        table.add_column(column, justify="left" if column == "case" else "right")

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for r in rows:
        table.add_row(
            r.case,
            "x".join(map(str, r.shape)),
            "-" if r.n_true is None else str(r.n_true),
            str(r.n_found),
            fmt(r.f1_50),
            fmt(r.accuracy_50),
            fmt(r.mean_iou),
            f"{r.seconds:.2f}",
        )
    console = Console()
    if not console.is_terminal:
        console.width = 110
    console.print(table)
    frame = rows_to_frame(rows)
    atomic_write_text(output / "results.csv", frame.to_csv(index=False), overwrite=True)
    typer.echo(f"outputs (labels, overlays, measurements, results.csv) in {output}")
