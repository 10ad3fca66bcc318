"""The per-file loop of batch verbs: go on past a bad file, list the failures at the end.

A batch verb (``pipeline run``, ``pixel predict``, ``predict``) checks its
planned outputs first, then calls :func:`run_batch` with a function that
processes one file (reading, computing and writing its outputs atomically),
and finally :func:`finish_batch`, which prints ``FAILED <file>: <reason>``
for every failed file and stops with exit status 2 when any failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

#: ``--axes`` of the verbs that read images: the axes of files that do not record them.
AxesOption = Annotated[
    str | None,
    typer.Option(
        "--axes",
        help="Axes of the input images, e.g. YX, ZYX, CYX, TZYX; needed for 4D/5D files "
        "without axes metadata (overrides the file's axes).",
    ),
]


def read_kwargs(axes: str | None) -> dict[str, Any]:
    """Keyword arguments for :func:`biakit.io.read_image` given ``--axes``."""
    return {} if axes is None else {"axes": axes}


@dataclass(frozen=True)
class Failure:
    """A file a batch could not process and why (one line)."""

    path: Path
    reason: str

    def line(self) -> str:
        """``FAILED <path>: <reason>``."""
        return f"FAILED {self.path}: {self.reason}"


def run_batch(paths: Sequence[Path], fn: Callable[[Path], Any], description: str) -> list[Failure]:
    """Call ``fn(path)`` for every path with a progress bar; collect the files that failed.

    A user error (:func:`biakit.cli._errors.is_user_error`: a
    :class:`~biakit.errors.UserError`, a file error, biakit's own
    ``ValueError``) for one file is recorded and the batch goes on; any other
    exception is a bug and stops the batch.

    Parameters
    ----------
    paths : sequence of Path
        Input files.
    fn : callable
        Processes one file; must leave no partial outputs when it raises.
    description : str
        Label of the progress bar.

    Returns
    -------
    list of Failure
        The files that failed, in order (empty when all succeeded).

    Examples
    --------
    >>> from biakit.errors import ImageReadError
    >>> def fn(path):
    ...     if path.name == "b.tif":
    ...         raise ImageReadError(f"{path}: cannot read")
    >>> [f.line() for f in run_batch([Path("a.tif"), Path("b.tif")], fn, "demo")]
    ['FAILED b.tif: cannot read']
    """
    from biakit.cli._errors import clean_message, is_user_error
    from biakit.cli._progress import track

    failures = []
    for path in track(paths, len(paths), description):
        try:
            fn(path)
        except Exception as exc:
            if not is_user_error(exc):
                raise
            failures.append(Failure(Path(path), _reason(Path(path), clean_message(str(exc)))))
    return failures


def _reason(path: Path, message: str) -> str:
    """Drop a leading file name from ``message`` (the ``FAILED`` line names the file)."""
    for prefix in (f"{path}: ", f"'{path}': ", f"cannot read '{path}': ", f"{path.name}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message or "failed"


def finish_batch(failures: Sequence[Failure], total: int) -> None:
    """Report the failed files; stop with exit status 2 when there are any.

    With one input the error is the usual single line ``biakit: error: <file>: <reason>``;
    with several, every failure is listed on stderr as ``FAILED <file>: <reason>``
    followed by ``biakit: error: <n> of <total> file(s) failed``.

    Raises
    ------
    biakit.errors.UserError
        When any file failed.
    """
    from biakit.errors import UserError

    if not failures:
        return
    if total == 1:
        only = failures[0]
        raise UserError(f"{only.path}: {only.reason}")
    for failure in failures:
        typer.echo(failure.line(), err=True)
    raise UserError(f"{len(failures)} of {total} file(s) failed (listed above)")
