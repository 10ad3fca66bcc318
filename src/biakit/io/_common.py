"""Shared pieces of :mod:`biakit.io`: errors, units, metadata checks, atomic writes."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from biakit.axes import default_axes, validate_axes
from biakit.errors import ImageReadError, ImageWriteError
from biakit.io._meta import ImageMeta

_UNIT_ALIASES = {
    "um": "micrometer",
    "µm": "micrometer",
    "\u03bcm": "micrometer",
    "micron": "micrometer",
    "microns": "micrometer",
    "micrometre": "micrometer",
    "micrometer": "micrometer",
    "nm": "nanometer",
    "nanometre": "nanometer",
    "nanometer": "nanometer",
    "mm": "millimeter",
    "millimetre": "millimeter",
    "millimeter": "millimeter",
    "cm": "centimeter",
    "centimeter": "centimeter",
    "m": "meter",
    "meter": "meter",
    "a": "angstrom",
    "å": "angstrom",
    "angstrom": "angstrom",
    "pixel": "pixel",
    "pixels": "pixel",
    "px": "pixel",
    "": "pixel",
}

_UNIT_IN_MICROMETERS = {
    "micrometer": 1.0,
    "nanometer": 1e-3,
    "millimeter": 1e3,
    "centimeter": 1e4,
    "meter": 1e6,
    "angstrom": 1e-4,
}

SUPPORTED_NDIM = (2, 3, 4, 5)


def normalize_unit(unit: Any) -> str:
    r"""Map unit spellings (``"um"``, ``"µm"``, ``"micron"``) to NGFF names (``"micrometer"``).

    Unknown units are returned lower-cased and stripped.

    Examples
    --------
    >>> normalize_unit("\\u00b5m"), normalize_unit("micron"), normalize_unit(None)
    ('micrometer', 'micrometer', 'pixel')
    """
    if unit is None:
        return "pixel"
    text = str(unit).strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ")  # ImageJ escapes
    return _UNIT_ALIASES.get(text.lower(), _UNIT_ALIASES.get(text, text.lower()))


def unit_to_micrometers(unit: str) -> float | None:
    """Return how many micrometers one ``unit`` is, or ``None`` if not a length unit."""
    return _UNIT_IN_MICROMETERS.get(normalize_unit(unit))


def check_write_input(path: Path, array: Any, meta: ImageMeta | None) -> ImageMeta:
    """Validate the array dimensionality and its metadata before writing.

    Returns the metadata to write (default axes when ``meta`` is ``None``).
    """
    ndim = np.ndim(array)
    if ndim not in SUPPORTED_NDIM:
        raise ImageWriteError(
            f"cannot write {str(path)!r}: a {ndim}-D array (shape {np.shape(array)}) is not "
            f"supported; expected 2 to 5 dimensions with axes from 'TCZYX'"
        )
    if meta is None:
        return ImageMeta(default_axes(ndim), unit="pixel")
    if not isinstance(meta, ImageMeta):
        raise ImageWriteError(
            f"cannot write {str(path)!r}: meta must be a biakit.io.ImageMeta or None, "
            f"got {type(meta).__name__}"
        )
    if len(meta.axes) != ndim:
        raise ImageWriteError(
            f"cannot write {str(path)!r}: meta.axes {meta.axes!r} has {len(meta.axes)} letters "
            f"but the array has {ndim} dimensions (shape {np.shape(array)})"
        )
    return meta


def compression_key(path: Path, compression: Any, choices: list[str], fmt: str) -> str:
    """Return ``compression`` lower-cased (``None`` -> ``"none"``) if it is one of ``choices``."""
    key = "none" if compression is None else str(compression).lower()
    if key not in choices:
        raise ImageWriteError(
            f"cannot write {str(path)!r}: compression {compression!r} is not available for {fmt}; "
            f"expected one of {choices} or None"
        )
    return key


def meta_from_file(
    path: Path, ndim: int, axes: str | None, *, override: str | None = None, **kwargs: Any
) -> ImageMeta:
    """Build an :class:`ImageMeta` for a file, raising :class:`ImageReadError` on bad metadata.

    ``axes`` are the axes the file declares (``None``: it declares none). Without
    them a 2D array is ``YX`` and a 3D one ``ZYX``; for 4 or more dimensions nothing
    is guessed and the caller must pass ``override``. ``override`` (the user's
    ``axes=``) replaces the file's axes; spacing and channel names are kept for the
    letters both have. Spacing from the header must be positive and finite.
    """
    if ndim not in SUPPORTED_NDIM:
        raise ImageReadError(
            f"cannot read {str(path)!r}: a {ndim}-D image is not supported; "
            f"expected 2 to 5 dimensions with axes from 'TCZYX'"
        )
    if axes is not None and kwargs.get("spacing") is not None:
        check_header_spacing(path, axes, kwargs["spacing"])
    if override is not None:
        axes, kwargs = _override(path, ndim, axes, override, kwargs)
    elif axes is None:
        if ndim >= 4:
            raise ImageReadError(
                f"cannot read {str(path)!r}: a {ndim}-D image without axes metadata; its "
                f"axes would be a guess: pass them (axes='TZYX', 'CZYX', ... in array order; "
                f"--axes on the command line)"
            )
        axes = default_axes(ndim)
    try:
        return ImageMeta(axes, **kwargs)
    except ValueError as err:
        raise ImageReadError(f"cannot read {str(path)!r}: invalid metadata: {err}") from err


def check_header_spacing(path: Path, axes: str, spacing: Any) -> None:
    """Refuse a zero, negative, NaN or infinite spacing read from a file header."""
    for axis, value in zip(axes, spacing):
        v = float(value)
        if not (np.isfinite(v) and v > 0):
            raise ImageReadError(
                f"cannot read {str(path)!r}: its metadata give spacing {v!r} for axis "
                f"{axis!r}; expected a positive number (fix the calibration, e.g. in Fiji: "
                f"Image > Properties, and save again)"
            )


def _override(
    path: Path, ndim: int, axes: str | None, override: str, kwargs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    try:
        new = validate_axes(override, ndim)
    except ValueError as err:
        raise ImageReadError(f"cannot read {str(path)!r} with axes={override!r}: {err}") from None
    kwargs = dict(kwargs)
    old = axes or ""
    spacing = kwargs.pop("spacing", None)
    if spacing is not None and len(old) == len(spacing):
        by_axis = dict(zip(old, spacing))
        kwargs["spacing"] = tuple(float(by_axis.get(a, 1.0)) for a in new)
    if "C" not in new or "C" not in old or new.index("C") != old.index("C"):
        kwargs.pop("channel_names", None)
    return new, kwargs


def check_can_write(path: Path, overwrite: bool) -> None:
    """Refuse an existing target unless ``overwrite``; create missing parent folders."""
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise ImageWriteError(
            f"cannot write {str(path)!r}: the file already exists; "
            f"pass overwrite=True to replace it"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ImageWriteError(
            f"cannot write {str(path)!r}: cannot create the folder {str(path.parent)!r} ({err})"
        ) from None


def _temp_sibling(path: Path, tag: str) -> Path:
    return path.parent / f".{path.name}.{tag}-{uuid.uuid4().hex[:12]}"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def atomic_target(path: Path, *, overwrite: bool, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write into, then move it into place.

    The temporary file or folder lives in the same folder as ``path`` (so the final
    rename is atomic for files). On any error it is removed and ``path`` is left as it
    was. An existing ``path`` is refused unless ``overwrite``.
    """
    check_can_write(path, overwrite)
    tmp = _temp_sibling(path, "tmp")
    if directory:
        tmp.mkdir()
    try:
        yield tmp
        _move_into_place(tmp, path, overwrite=overwrite)
    except ImageWriteError:
        _remove(tmp)
        raise
    except Exception as err:
        _remove(tmp)
        raise ImageWriteError(f"cannot write {str(path)!r}: {type(err).__name__}: {err}") from err


def _move_into_place(tmp: Path, path: Path, *, overwrite: bool) -> None:
    if tmp.is_dir() or path.is_dir():
        check_can_write(path, overwrite)
        old = None
        if path.exists():
            old = _temp_sibling(path, "old")
            os.rename(path, old)
        try:
            os.rename(tmp, path)
        except Exception:
            if old is not None:
                os.rename(old, path)
            raise
        if old is not None:
            _remove(old)
    else:
        check_can_write(path, overwrite)
        os.replace(tmp, path)


def wrap_read(path: Path, what: str, func: Callable[[], Any]) -> Any:
    """Call ``func``, turning any low-level exception into an :class:`ImageReadError`."""
    try:
        return func()
    except ImageReadError:
        raise
    except Exception as err:
        raise ImageReadError(
            f"cannot read {str(path)!r}: {what} ({type(err).__name__}: {err})"
        ) from err
