"""``biakit pipeline``: run YAML-configured classical pipelines on folders of images."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

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


SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Run block-wise on Dask: local (a cluster on this machine), threads, or "
        "tcp://HOST:PORT (a running scheduler). Default: local for Zarr / OME-Zarr / HDF5 "
        "inputs and files over 1 GiB, in memory otherwise.",
    ),
]
BlockSizeOption = Annotated[
    int | None,
    typer.Option("--block-size", help="Block edge in pixels (block-wise runs; default: auto)."),
]
WorkersOption = Annotated[
    int | None, typer.Option("--workers", help="Worker processes of --scheduler local.")
]
MemoryLimitOption = Annotated[
    str | None,
    typer.Option("--memory-limit", help="Memory per local worker, e.g. 2GiB (default: shared)."),
]
ResumeOption = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Block-wise runs: continue an interrupted run (OUTPUT/NAME.ome.zarr.partial), "
        "keeping the blocks it finished; inputs already done are skipped. Use the same "
        "options as the interrupted run.",
    ),
]


def timelapse_hint(message: str) -> str:
    """Add to an in-memory run's refusal of a time-lapse how to predict it block-wise.

    Examples
    --------
    >>> timelapse_hint("m.tif: a time-lapse of 3 frames").split("; ")[-1]
    'or predict it frame by frame, block-wise, with --scheduler threads'
    """
    if "a time-lapse of" not in message:
        return message
    return f"{message}; or predict it frame by frame, block-wise, with --scheduler threads"


def check_resume(resume: bool, overwrite: bool) -> None:
    """Refuse ``--resume`` together with ``--overwrite`` (as ``biakit train`` does)."""
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other; choose one")


def require_blockwise(resume: bool, blockwise: bool) -> None:
    """Refuse ``--resume`` for a run in memory (nothing to resume there)."""
    if resume and not blockwise:
        from biakit.cli._errors import fail

        fail(
            "--resume continues an interrupted block-wise run (OUTPUT/NAME.ome.zarr.partial), "
            "but this run is in memory; add --scheduler (e.g. --scheduler threads) to run "
            "block-wise, or leave --resume out"
        )


def resume_modes(
    inputs: Iterable[Path], output: Path, resume: bool, overwrite: bool = False
) -> dict[Path, str]:
    """Per input: ``"fresh"`` (start it), ``"resume"`` (its ``.partial`` exists) or ``"done"``.

    With ``resume``, an input whose output is complete is ``"done"`` (skipped) and one
    with neither output nor ``.partial`` starts afresh; when no input has either,
    there is nothing to resume. Without ``resume`` (nor ``overwrite``) an interrupted
    run in the way is refused. Both are one-line errors, before any cluster starts.
    """
    from biakit.cli._errors import fail
    from biakit.io import file_key

    modes = {}
    for path in inputs:
        dest = output / f"{file_key(path)}.ome.zarr"
        partial = dest.with_name(dest.name + ".partial")
        if partial.exists() and not (resume or overwrite):
            fail(
                f"{partial}: holds an interrupted run; continue it with --resume (same options) "
                "or start afresh with --overwrite"
            )
        mode = "fresh"
        if resume and partial.exists():
            mode = "resume"
        elif resume and dest.exists():
            mode = "done"
        modes[path] = mode
    if resume and all(m == "fresh" for m in modes.values()):
        fail(
            f"--resume: no interrupted block-wise run in {output} (no NAME.ome.zarr.partial "
            "for these inputs); start without --resume"
        )
    return modes


def run_inputs(modes: dict[Path, str], output: Path, run_one: Any) -> None:
    """Call ``run_one(path, dest, resume)`` per input as its :func:`resume_modes` mode says.

    An interrupted input (Ctrl-C, cancel) says where its finished blocks are kept and
    how to continue, then the command stops as interrupted (exit status 130).
    """
    from biakit.cancel import Cancelled
    from biakit.io import file_key

    for path, mode in modes.items():
        dest = output / f"{file_key(path)}.ome.zarr"
        if mode == "done":
            typer.echo(f"{path.name}: already complete in {dest} (kept)")
            continue
        try:
            run_one(path, dest, mode == "resume")
        except (KeyboardInterrupt, Cancelled):
            partial = dest.with_name(dest.name + ".partial")
            if partial.exists():
                typer.echo(
                    f"biakit: {path.name}: the finished blocks are kept in {partial}; continue "
                    "with the same command and --resume",
                    err=True,
                )
            raise KeyboardInterrupt from None


def use_blockwise(scheduler: str | None, inputs: Iterable[Path]) -> bool:
    """Block-wise when ``--scheduler`` is given or an input is lazily readable or large."""
    from biakit.distributed._client import check_scheduler
    from biakit.distributed._source import is_lazy_input

    if scheduler is not None:
        check_scheduler(scheduler)
        return True
    return any(is_lazy_input(p) for p in inputs)


def open_client(scheduler: str | None, workers: int | None, memory_limit: str | None,
                inputs: Iterable[Path] = (), axes: str | None = None,
                time: bool = False) -> Any:  # fmt: skip
    """Start / connect the Dask client of a block-wise run and print where its dashboard is.

    Every input is opened (lazily) first, so an unreadable file is reported before a
    cluster is started for nothing; ``time`` accepts time-lapses (prediction).
    """
    from biakit.distributed import get_client, open_source

    for path in inputs:
        open_source(path, axes=axes, time=time)
    client = get_client(scheduler or "local", n_workers=workers, memory_limit=memory_limit)
    where = client.dashboard_link or "no dashboard (install bokeh for it)"
    typer.echo(f"biakit: {client.kind} scheduler with {client.n_workers} worker(s); {where}",
               err=True)  # fmt: skip
    return client


def block_progress(items: Iterable[Any]) -> Iterator[Any]:
    """Show a progress bar per stage of a block-wise run; pass every item through."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from biakit.distributed import BlockProgress

    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        tasks: dict[str, Any] = {}
        for item in items:
            if isinstance(item, BlockProgress):
                if item.stage not in tasks:
                    tasks[item.stage] = progress.add_task(item.stage, total=item.total)
                progress.update(tasks[item.stage], completed=item.done, total=item.total)
            yield item


def _run_blockwise(pipeline: Any, inputs: list[Path], output: Path, opts: dict[str, Any]) -> None:
    from biakit.distributed import PipelineReport, iter_run_pipeline

    modes = resume_modes(inputs, output, opts["resume"], opts["overwrite"])  # before any cluster
    with open_client(opts["scheduler"], opts["workers"], opts["memory_limit"], inputs,
                     opts["axes"]) as client:  # fmt: skip

        def one(path: Path, dest: Path, resume: bool) -> None:
            gen = iter_run_pipeline(
                pipeline, path, dest, client=client, block_shape=opts["block_size"],
                axes=opts["axes"], overwrite=opts["overwrite"], resume=resume,
            )  # fmt: skip
            for item in block_progress(gen):
                if isinstance(item, PipelineReport):
                    typer.echo(f"{path.name}: {item.n_objects} object(s); wrote {item.dest}")

        run_inputs(modes, output, one)


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
    scheduler: SchedulerOption = None,
    block_size: BlockSizeOption = None,
    workers: WorkersOption = None,
    memory_limit: MemoryLimitOption = None,
    resume: ResumeOption = False,
) -> None:
    """Apply a pipeline to every image; write labels, measurements.csv and overlays.

    A file that cannot be read or processed is listed at the end (FAILED ...) and
    the others are still processed; the exit status is then 2. Block-wise runs
    (``--scheduler``, or Zarr / HDF5 / large inputs) write ``OUTPUT/NAME.ome.zarr``
    (the segmented channel with levels, labels in ``labels/``) chunk by chunk; an
    interrupted one continues with ``--resume``.
    """
    from biakit.cli._batch import finish_batch, run_batch
    from biakit.io import list_images
    from biakit.pipeline import Pipeline
    from biakit.pipeline._files import FileRun

    check_resume(resume, overwrite)
    pipeline = Pipeline.from_yaml(config)
    inputs = list_images(input)
    blockwise = use_blockwise(scheduler, inputs)
    require_blockwise(resume, blockwise)
    if blockwise:
        opts = {"scheduler": scheduler, "workers": workers, "memory_limit": memory_limit,
                "block_size": block_size, "axes": axes, "overwrite": overwrite,
                "resume": resume}  # fmt: skip
        _run_blockwise(pipeline, inputs, output, opts)
        return
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
