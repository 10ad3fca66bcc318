"""``biakit export``: a trained model folder as a bioimage.io package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

_FORMATS = ("bioimageio",)


def export(
    model: Annotated[Path, typer.Argument(help="Model folder written by `biakit train`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output package (.zip).")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="Package format: bioimageio.")
    ] = "bioimageio",
    weights: Annotated[
        str,
        typer.Option(help="Weight formats, comma-separated (pytorch_state_dict always)."),
    ] = "pytorch_state_dict,torchscript,onnx",
    sample: Annotated[
        Path | None,
        typer.Option(
            help="Image for the test tensors and the cover (a movie for frame prediction; "
            "default: synthetic)."
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Package name.")] = None,
    author: Annotated[list[str] | None, typer.Option(help="Author name (repeatable).")] = None,
    license: Annotated[str, typer.Option(help="SPDX licence id.")] = "MIT",
    check: Annotated[
        bool, typer.Option(help="Run bioimageio.core's test_model on the package.")
    ] = True,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
) -> None:
    """Export a trained model as a BioImage Model Zoo (bioimage.io) package."""
    if format not in _FORMATS:
        raise typer.BadParameter(f"got {format!r}; expected one of {', '.join(_FORMATS)}",
                                 param_hint="--format")  # fmt: skip
    from biakit.bioimageio import export_package, test_package
    from biakit.workflows import load_model

    workflow = load_model(model)
    image = None
    if sample is not None:
        from biakit.io import read_channel_first

        movie = workflow.task == "frame_prediction"  # its test input: the movie's last frames
        image, _ = read_channel_first(sample, ndim=workflow.input_ndim, time=movie)
    formats = tuple(w.strip() for w in weights.split(",") if w.strip())
    path = export_package(workflow, output, weights=formats, sample=image, name=name,
                          authors=tuple(author or ("biakit user",)), license=license,
                          overwrite=overwrite)  # fmt: skip
    typer.echo(f"wrote {path} ({', '.join(formats)})")
    if check:
        failed = []
        for fmt in formats:
            summary = test_package(path, fmt)
            typer.echo(f"bioimageio.core test_model ({fmt}): {summary.status}")
            if summary.status != "passed":
                failed.append(fmt)
        if failed:
            raise typer.Exit(1)
