"""The ``biakit`` command line: one verb per job.

Run ``biakit --help`` for the list of verbs; every verb has ``--help``.
"""

from __future__ import annotations

import sys

import typer

from biakit import __version__

app = typer.Typer(
    name="biakit",
    help="Bioimage analysis: pre-process, segment, post-process, measure and evaluate "
    "2D, 3D and time-lapse microscopy images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"biakit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Bioimage analysis toolkit."""


def _register() -> None:
    from biakit.cli import _deep, _demo, _evaluate, _io, _pipeline, _pixel

    app.command("demo")(_demo.demo)
    app.command("evaluate")(_evaluate.evaluate)
    app.command("train")(_deep.train)
    app.command("predict")(_deep.predict)
    app.command("info")(_io.info)
    app.command("convert")(_io.convert)
    app.add_typer(_pipeline.pipeline_app, name="pipeline")
    app.add_typer(_pixel.pixel_app, name="pixel")


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``biakit`` console script."""
    from biakit.cli._errors import run_cli

    code = run_cli(typer.main.get_command(app), argv)
    if argv is None:
        sys.exit(code)
    return code
