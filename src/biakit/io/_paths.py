"""File-name handling: which format a path is, HDF5 ``file.h5:/dataset`` paths, listing images."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from biakit.io._common import ImageReadError

_EXTENSIONS = {
    ".ome.tif": "ome-tiff",
    ".ome.tiff": "ome-tiff",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".npy": "npy",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".he5": "hdf5",
    ".hdf": "hdf5",
    ".ome.zarr": "ome-zarr",
    ".zarr": "zarr",
}
_H5_RE = re.compile(r"\.(?:h5|hdf5|he5|hdf)(?=:|$)", re.IGNORECASE)


def supported_formats() -> tuple[str, ...]:
    """Return the file extensions :func:`read_image` and :func:`write_image` understand.

    Examples
    --------
    >>> ".ome.zarr" in supported_formats(), ".tif" in supported_formats()
    (True, True)
    """
    return tuple(_EXTENSIONS)


@dataclass(frozen=True)
class Target:
    """A parsed image path: format, path on disk, and dataset inside an HDF5 file."""

    format: str
    path: Path
    dataset: str | None = None


def _ext_format(name: str) -> str | None:
    low = name.lower()
    for ext, fmt in _EXTENSIONS.items():  # longest (".ome.tif") before shortest (".tif")
        if low.endswith(ext):
            return fmt
    return None


def parse_target(path: str | os.PathLike[str]) -> Target:
    """Work out the format of ``path``.

    ``file.h5:/group/data`` addresses a dataset in an HDF5 file; any path with a
    component ending in ``.zarr`` (e.g. ``x.ome.zarr/labels/nuclei``) is Zarr.
    """
    text = os.fspath(path)
    match = _H5_RE.search(text)
    if match is not None:
        file_part, rest = text[: match.end()], text[match.end() :]
        dataset = rest[1:] if rest.startswith(":") else None
        return Target("hdf5", Path(file_part), dataset or None)
    p = Path(text)
    for i, part in enumerate(p.parts):
        fmt = _ext_format(part)
        if fmt in ("zarr", "ome-zarr") and (part.lower().endswith(".zarr")):
            kind = fmt if i == len(p.parts) - 1 else "zarr"
            return Target(kind, p)
    fmt = _ext_format(p.name)
    if fmt is None:
        raise ImageReadError(
            f"cannot handle {text!r}: unknown extension {''.join(p.suffixes) or '(none)'!r}; "
            f"supported extensions: {', '.join(supported_formats())} "
            f"(HDF5 datasets as 'file.h5:/group/data')"
        )
    return Target(fmt, p)


def _is_image_path(p: Path) -> bool:
    if p.name.startswith("."):
        return False
    fmt = _ext_format(p.name)
    if fmt is None:
        return False
    return p.is_dir() if fmt in ("zarr", "ome-zarr") else p.is_file()


def list_images(dir_or_glob: str | os.PathLike[str]) -> list[Path]:
    """List the images in a folder or matching a glob pattern.

    Only files with a supported extension are kept (hidden files are skipped);
    a ``.zarr`` folder counts as one image and is not looked into.

    Parameters
    ----------
    dir_or_glob : str or path
        A folder, a glob pattern (``"data/*.tif"``, ``"data/**/*.zarr"``) or a
        single image path.

    Returns
    -------
    paths : list of Path
        Sorted paths.

    Raises
    ------
    ImageReadError
        If nothing matches.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> d = Path(tempfile.mkdtemp())
    >>> np.save(d / "b.npy", np.zeros((2, 2))); np.save(d / "a.npy", np.zeros((2, 2)))
    >>> [p.name for p in list_images(d)]
    ['a.npy', 'b.npy']
    """
    text = os.fspath(dir_or_glob)
    p = Path(text)
    if p.is_dir() and _ext_format(p.name) not in ("zarr", "ome-zarr"):
        found = [c for c in p.iterdir() if _is_image_path(c)]
        where = f"folder {text!r}"
    elif glob.has_magic(text):
        found = [Path(m) for m in glob.glob(text, recursive=True) if _is_image_path(Path(m))]
        where = f"pattern {text!r}"
    else:
        found = [p] if _is_image_path(p) else []
        where = f"path {text!r}" + ("" if p.exists() else " (it does not exist)")
    if not found:
        raise ImageReadError(
            f"no images found for {where}; supported extensions: {', '.join(supported_formats())}"
        )
    return sorted(found)
