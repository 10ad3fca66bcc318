"""Turn user mistakes into one clear line and an exit code, never a traceback."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import click

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the input or the config is wrong"."""
    from biakit.io import ImageReadError, ImageWriteError
    from biakit.pipeline import ConfigError, PipelineError

    return (
        ImageReadError,
        ImageWriteError,
        ConfigError,
        PipelineError,
        FileNotFoundError,
        FileExistsError,
        NotADirectoryError,
        IsADirectoryError,
        PermissionError,
        ValueError,
    )


def _say(message: str) -> None:
    click.echo(f"biakit: error: {message}", err=True)


def run_cli(command: Callable[..., Any], args: list[str] | None = None) -> int:
    """Run a click command; return its exit code with user errors printed as one line."""
    debug = bool(os.environ.get("BIAKIT_DEBUG"))
    if not debug:  # libraries' own log lines would break the one-line error contract
        logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    try:
        result = command.main(args=args, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        _say("aborted")
        return 130
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except user_error_types() as exc:
        if debug:
            raise
        message = str(exc) or exc.__class__.__name__
        _say(" ".join(message.split()))
        return EXIT_USER_ERROR
    except Exception as exc:
        if debug:
            raise
        _say(
            f"internal error ({exc.__class__.__name__}: {exc}); "
            "re-run with BIAKIT_DEBUG=1 for the traceback and report it"
        )
        return EXIT_INTERNAL_ERROR
    return result if isinstance(result, int) else 0


def fail(message: str) -> None:
    """Stop a command with a user error."""
    raise click.UsageError(message)
