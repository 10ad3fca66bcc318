"""The ``biakit`` command line: one verb per job.

Run ``biakit --help`` (or ``-h``) for the list of verbs; every verb has ``--help``.
Exit status: 0 on success; 2 for a usage mistake, a bad input or a batch with
failed files (the error is one line ``biakit: error: ...`` on stderr; bare
``biakit`` prints the help on stderr, as click does); 1 for an internal error.
"""

from __future__ import annotations

import sys

import typer

from biakit import __version__

#: ``-h`` is ``--help`` everywhere (sub-commands inherit the root context's settings).
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="biakit",
    help="Bioimage analysis: pre-process, segment, post-process, measure and evaluate "
    "2D, 3D and time-lapse microscopy images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings=CONTEXT_SETTINGS,
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
    from biakit.cli import (
        _classify,
        _config,
        _cv,
        _deep,
        _demo,
        _evaluate,
        _export,
        _io,
        _pipeline,
        _pixel,
        _track,
    )
    from biakit.cli._errors import guard_eof

    app.command("demo")(_demo.demo)
    app.command("evaluate")(_evaluate.evaluate)
    app.command("train")(_deep.train)
    app.command("predict")(_deep.predict)
    app.command("track")(_track.track)
    app.command("classify-objects")(_classify.classify_objects)
    app.command("cross-validate")(_cv.cross_validate)
    app.command("info")(_io.info)
    app.command("export")(_export.export)
    app.command("convert")(_io.convert)
    app.add_typer(_pipeline.pipeline_app, name="pipeline")
    app.add_typer(_pixel.pixel_app, name="pixel")
    app.add_typer(_config.config_app, name="config")
    # typer turns EOFError (a truncated file, too) into "Aborted": carry it to run_cli intact
    for group in (app, _pipeline.pipeline_app, _pixel.pixel_app, _config.config_app):
        for info in group.registered_commands:
            info.callback = guard_eof(info.callback)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``biakit`` console script.

    With ``argv`` (tests, scripts) the exit status is returned; without it
    (the console script) the process exits with it.

    Examples
    --------
    >>> main(["info", "missing.tif"])
    2
    """
    from biakit.cli._errors import run_cli

    code = run_cli(typer.main.get_command(app), argv)
    if argv is None:
        sys.exit(code)
    return code
