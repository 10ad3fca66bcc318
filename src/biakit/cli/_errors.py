"""Turn user mistakes into one clear line and an exit code, never a traceback.

Exit status 0: success; 2: a usage mistake or a :class:`~biakit.errors.UserError`
(one line ``biakit: error: ...`` on stderr); 1: a bug in biakit or in a
library it calls (one line with a hint to re-run with ``BIAKIT_DEBUG=1``).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import click

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
EXIT_INTERRUPTED = 130
PROG_NAME = "biakit"

_FILE_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)
#: OS errors about the user's files or disk (read-only file system, disk full, name too long, ...)
_FILE_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EROFS", "ENOSPC", "EDQUOT", "ENAMETOOLONG", "ELOOP", "EACCES", "EPERM",
                 "ENOENT", "EEXIST", "EISDIR", "ENOTDIR", "ENOTEMPTY", "EXDEV")
    if hasattr(errno, name)
)  # fmt: skip
_PACKAGE_DIR = Path(__file__).resolve().parents[1]
_WEIGHTS_ONLY = re.compile(r"weights[_ ]only", re.IGNORECASE)


def _click_modules() -> list[Any]:
    """``click.exceptions`` and typer's vendored copy of it (typer >= 0.26 ships its own)."""
    modules: list[Any] = [click.exceptions]
    try:
        from typer._click import exceptions as typer_exceptions
    except ImportError:  # older typer uses click itself
        return modules
    modules.append(typer_exceptions)
    return modules


def _types(name: str) -> tuple[type[BaseException], ...]:
    found = (getattr(m, name, None) for m in _click_modules())
    return tuple({t for t in found if isinstance(t, type)})


def _exit_types() -> tuple[type[BaseException], ...]:
    import typer

    return (*_types("Exit"), typer.Exit)


def _abort_types() -> tuple[type[BaseException], ...]:
    import typer

    return (*_types("Abort"), typer.Abort, KeyboardInterrupt)


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exception types that always mean "the input, a parameter or the config is wrong"."""
    from biakit.errors import UserError

    return (UserError, *_FILE_ERRORS)


def clean_message(message: str) -> str:
    r"""Collapse ``message`` to one line and drop advice that would mislead a user.

    torch's refusal to unpickle code ends with advice to load with
    ``weights_only=False``, which would run whatever the file holds: it is replaced.

    Examples
    --------
    >>> clean_message("a\n  b")
    'a b'
    >>> clean_message("w.pt: Weights only load failed. Re-running with weights_only=False ...")
    'w.pt: the file holds pickled Python code, not plain tensors (refused to load it)'
    """
    text = " ".join(str(message).split())
    match = _WEIGHTS_ONLY.search(text)
    if match is None:
        return text
    start = text.lower().find("weights only load failed")
    start = match.start() if start < 0 else start
    head = text[:start].rstrip(" :;,.(")
    reason = "the file holds pickled Python code, not plain tensors (refused to load it)"
    return f"{head}: {reason}" if head else reason


def _innermost_file(tb: TracebackType | None) -> Path | None:
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return None if last is None else Path(last.tb_frame.f_code.co_filename)


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the user's mistake (exit 2) rather than a bug (exit 1).

    A :class:`~biakit.errors.UserError`, a file error (missing, existing,
    permission, folder vs file, read-only file system, disk full), or a
    ``ValueError`` / ``TypeError`` raised by biakit's own argument checks (the
    innermost frame is in the biakit package).
    The same types raised inside a third-party library are internal errors.
    """
    if isinstance(exc, user_error_types()):
        return True
    if isinstance(exc, OSError) and exc.errno in _FILE_ERRNOS:
        return True
    if isinstance(exc, (ValueError, TypeError)):
        where = _innermost_file(exc.__traceback__)
        if where is None:
            return False
        try:
            where.resolve().relative_to(_PACKAGE_DIR)
        except ValueError:
            return False
        return True
    return False


class EscapedEOF(Exception):
    """An ``EOFError`` raised inside a command (e.g. by a truncated file), carried past typer.

    typer turns ``EOFError`` into "Aborted" (as if the user pressed Ctrl-D at a
    prompt); biakit never prompts, so it is unwrapped and judged like any error.
    """

    def __init__(self, original: EOFError) -> None:
        super().__init__(str(original))
        self.original = original


def guard_eof(callback: Callable[..., Any] | None) -> Any:
    """Wrap a command callback so that an ``EOFError`` reaches :func:`run_cli` intact."""
    import functools

    if callback is None:
        return None

    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except EOFError as err:
            raise EscapedEOF(err) from err

    return wrapper


def say(message: str) -> None:
    """Print ``biakit: error: <message>`` as one line on stderr."""
    click.echo(f"{PROG_NAME}: error: {clean_message(message)}", err=True)


def _command_path(command: Any, args: list[str]) -> str:
    """``biakit pipeline run`` for ``args = ["pipeline", "run", ...]`` (sub-command names)."""
    path, current = [PROG_NAME], command
    for arg in args:
        if arg.startswith("-"):
            continue
        sub = getattr(current, "commands", {}).get(arg)
        if sub is None:
            break
        path.append(arg)
        current = sub
    return " ".join(path)


def _given_value(param: Any, args: list[str]) -> str | None:
    """Return the value given on the command line for ``param`` (an option), if any."""
    for opt in getattr(param, "opts", ()):
        for i, arg in enumerate(args):
            if arg == opt and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(f"{opt}="):
                return arg[len(opt) + 1 :]
    return None


def _usage_line(exc: Any, command: Any, args: list[str]) -> str:
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = " ".join(message.split()).rstrip(".")
    message = message[:1].lower() + message[1:]
    value = _given_value(getattr(exc, "param", None), args)
    if value is not None and repr(value) not in message and "missing" not in message:
        message += f" (got {value!r})"
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else _command_path(command, args)
    return f"{message} (see {path} --help)"


def _bare_group(command: Any, args: list[str]) -> bool:
    """Whether ``args`` only name a command group (``biakit``, ``biakit pipeline``)."""
    current = command
    for arg in args:
        current = getattr(current, "commands", {}).get(arg)
        if current is None:
            return False
    return hasattr(current, "commands")


def _help_on_stderr(command: Any, args: list[str]) -> int:
    """Print the help of the group named by ``args`` on stderr (rich writes to stdout)."""
    import contextlib

    with contextlib.redirect_stdout(sys.stderr):
        try:
            command.main(args=[*args, "--help"], prog_name=PROG_NAME, standalone_mode=False)
        except _exit_types():
            pass
    return EXIT_USER_ERROR


def run_cli(command: Callable[..., Any], args: list[str] | None = None) -> int:
    """Run a click / typer command; return its exit status, printing errors as one line.

    Warnings biakit logs while the command runs (e.g. a denoising run's advice on its
    training images) are written to stderr, one line each.

    Parameters
    ----------
    command : click.Command
        The command (e.g. ``typer.main.get_command(app)``).
    args : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for usage and user errors, 1 for internal errors,
        130 when interrupted.

    Examples
    --------
    >>> import typer
    >>> app = typer.Typer()
    >>> @app.command()
    ... def hello(n: int) -> None:
    ...     print("hello" * n)
    >>> run_cli(typer.main.get_command(app), ["2"])
    hellohello
    0
    """
    handler = _StderrHandler(logging.WARNING)  # biakit's warnings, e.g. training advice
    biakit_log = logging.getLogger("biakit")
    biakit_log.addHandler(handler)
    try:
        return _run_cli(command, args)
    finally:
        biakit_log.removeHandler(handler)


class _StderrHandler(logging.Handler):
    """Write log messages, one per line, to the ``sys.stderr`` of the moment."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # pragma: no cover - a closed stream
            self.handleError(record)


def _run_cli(command: Callable[..., Any], args: list[str] | None) -> int:
    debug = bool(os.environ.get("BIAKIT_DEBUG"))
    if not debug:  # libraries' own log lines would break the one-line error contract
        logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    argv = list(sys.argv[1:] if args is None else args)
    if _bare_group(command, argv):  # a missing command: the help, as click >= 8.2 does
        return _help_on_stderr(command, argv)
    try:
        result = command.main(args=args, prog_name=PROG_NAME, standalone_mode=False)  # type: ignore[attr-defined]
    except _exit_types() as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except _abort_types():
        say("interrupted")
        return EXIT_INTERRUPTED
    except _types("UsageError") as exc:
        if debug:
            raise
        say(_usage_line(exc, command, argv))
        return EXIT_USER_ERROR
    except _types("ClickException") as exc:  # e.g. FileError of a click.File parameter
        if debug:
            raise
        say(exc.format_message())  # type: ignore[attr-defined]
        return EXIT_USER_ERROR
    except Exception as exc:
        if debug:
            raise
        if isinstance(exc, EscapedEOF):
            exc = exc.original
        if is_user_error(exc):
            say(str(exc) or exc.__class__.__name__)
            return EXIT_USER_ERROR
        say(
            f"internal error ({exc.__class__.__name__}: {exc}); "
            "re-run with BIAKIT_DEBUG=1 for the traceback and report it"
        )
        return EXIT_INTERNAL_ERROR
    return result if isinstance(result, int) else 0


def fail(message: str) -> None:
    """Stop a command with a user error (exit status 2, ``message`` as one line)."""
    from biakit.errors import UserError

    raise UserError(message)
