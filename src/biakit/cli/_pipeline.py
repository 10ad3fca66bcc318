"""``biakit pipeline``: run YAML-configured classical pipelines on folders of images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from biakit.cli._batch import AxesOption

pipeline_app = typer.Typer(
    help="Classical pipelines (pre-process, segment, post-process, measure) from YAML configs.",
    no_args_is_help=True,
)

TEMPLATE = """\
# biakit classical pipeline. Run: biakit pipeline run THIS.yaml --input DIR --output DIR
# List the steps and their parameters with: biakit pipeline steps
name: nuclei
channel: 0            # channel to segment in multi-channel images
# spacing: [2.0, 0.5, 0.5]   # override the file's physical spacing (Z, Y, X)
steps:
  - step: gaussian
    sigma: 1.0
  - step: threshold
    method: otsu
  - step: fill_holes
  - step: split_touching
  - step: remove_small_objects
    min_size: 20
  - step: relabel_sequential
outputs:
  labels: true
  measurements: true
  overlays: true
"""


@pipeline_app.command("run")
def run(
    config: Annotated[Path, typer.Argument(help="YAML pipeline config.")],
    input: Annotated[
        str, typer.Option("--input", "-i", help="Image file, folder, or glob pattern.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    axes: AxesOption = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            help="Replace outputs of an earlier biakit run (never inputs or other files)."
        ),
    ] = False,
) -> None:
    """Apply a pipeline to every image; write labels, measurements.csv and overlays.

    A file that cannot be read or processed is listed at the end (FAILED ...) and
    the others are still processed; the exit status is then 2.
    """
    from biakit.cli._batch import finish_batch, run_batch
    from biakit.io import list_images
    from biakit.pipeline import Pipeline
    from biakit.pipeline._files import FileRun

    pipeline = Pipeline.from_yaml(config)
    inputs = list_images(input)
    file_run = FileRun(pipeline, inputs, output, overwrite=overwrite, axes=axes)
    failures = run_batch(inputs, file_run.process, pipeline.config.name)
    file_run.finish()
    done = file_run.results
    if done:
        total = sum(r.n_objects for r in done)
        typer.echo(f"{len(done)} image(s), {total} object(s); results in {output}")
    finish_batch(failures, len(inputs))


@pipeline_app.command("steps")
def steps() -> None:
    """List the available steps with their parameters and defaults."""
    from pydantic_core import PydanticUndefined

    from biakit.pipeline import STEPS, params_model, step_names

    for name in step_names():
        model = params_model(name)
        params = []
        for field_name, field in model.model_fields.items():
            default = "required" if field.default is PydanticUndefined else repr(field.default)
            params.append(f"{field_name}={default}")
        typer.echo(f"{name:22s} {STEPS[name].summary}")
        if params:
            typer.echo(f"{'':22s}   {', '.join(params)}")


@pipeline_app.command("template")
def template(
    path: Annotated[Path, typer.Argument(help="Where to write the example YAML config.")],
) -> None:
    """Write a commented example config to start from."""
    from biakit._atomic import atomic_write_text

    if path.exists():
        raise FileExistsError(f"{path}: exists; choose another name")
    atomic_write_text(path, TEMPLATE)
    typer.echo(f"wrote {path}")
