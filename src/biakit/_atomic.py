"""Atomic file output: write to a temporary sibling, then rename over the target."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(
    path: str | Path, *, overwrite: bool = False, directory: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it to ``path``.

    Readers never see a half-written file, and a failed write leaves nothing
    behind. An existing ``path`` is refused unless ``overwrite``.

    Parameters
    ----------
    path : str or Path
        Final destination.
    overwrite : bool
        Allow replacing an existing file or folder.
    directory : bool
        The temporary path is a folder (e.g. a Zarr store).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'

    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    umask = _current_umask()
    if directory:  # mkdtemp makes 0700 folders, mkstemp 0600 files: give the usual permissions
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        os.chmod(tmp, 0o777 & ~umask)
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        if directory and path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def atomic_write_text(path: str | Path, text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text)
    return Path(path)
