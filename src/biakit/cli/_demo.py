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
) -> None:
    """Deep vs classical vs pixel classifier on touching nuclei, plus classical pipelines.

    Trains a small instance-segmentation U-Net (GPU when present) within the time
    budget, segments held-out synthetic images with all three methods, prints the
    scores and writes report.html with overlays and training curves to OUTPUT.
    """
    import shutil

    from rich.console import Console

    from biakit.demo import (
        comparison_figure,
        iter_comparison,
        iter_demo,
        rows_to_frame,
        write_report,
    )

    console = Console()
    if not console.is_terminal:
        console.width = 120
    if (output / "instance_model").exists() and overwrite:
        shutil.rmtree(output / "instance_model")
    output.mkdir(parents=True, exist_ok=True)
    comparison = None
    for step, result in iter_comparison(output, seconds=60 * minutes, quick=quick):
        if result is None:
            console.print(f"[bold]running[/bold] {step} ...")
        comparison = result or comparison
    assert comparison is not None
    import pandas as pd

    table = pd.DataFrame([r.row() for r in comparison.results])
    console.print(_rich_table("instance segmentation, held-out synthetic nuclei", table))
    classical = rows_to_frame(list(iter_demo(output / "classical", overwrite=overwrite)))
    console.print(_rich_table("classical pipelines", classical))
    figures = {
        "Overlays on a held-out image": comparison_figure(
            comparison, output / "comparison.png"
        ).name
    }
    curves = output / "instance_model" / "training" / "curves.png"
    if curves.exists():
        figures["Training curves of the instance U-Net"] = str(curves.relative_to(output))
    deep = comparison.results[-1]
    notes = [
        f"deep model: {deep.notes.get('epochs')} epochs in {deep.seconds:.0f} s "
        f"(budget {minutes} min)",
        f"pixel classifier: {100 * comparison.results[1].notes['painted_fraction']:.2f}% of "
        "training pixels painted",
    ]
    report = write_report(output, table, classical, figures, notes)
    from biakit._atomic import atomic_write_text

    atomic_write_text(output / "results.csv", table.to_csv(index=False), overwrite=True)
    atomic_write_text(
        output / "classical" / "results.csv", classical.to_csv(index=False), overwrite=True
    )
    typer.echo(f"report: {report}")
