"""PNG / JPEG (through imageio) and NumPy ``.npy`` files."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

from biakit.io._common import ImageWriteError, meta_from_file, wrap_read
from biakit.io._meta import ImageMeta


def read_picture(path: Path, axes: str | None = None) -> tuple[np.ndarray, ImageMeta]:
    """Read a PNG or JPEG: grey images as ``YX``, colour (RGB/RGBA) as ``YXC``.

    ``axes`` overrides these (e.g. ``"TYX"`` for the frames of an animated PNG).
    """
    kind = path.suffix.lower().lstrip(".").upper()
    ext = path.suffix.lower()
    data = wrap_read(
        path, f"not a valid {kind} file",
        lambda: np.asarray(iio.imread(path.read_bytes(), extension=ext)),
    )  # fmt: skip
    file_axes: str | None
    if data.ndim == 3 and data.shape[-1] in (1, 2, 3, 4):
        file_axes = "YXC"
    elif data.ndim == 2:
        file_axes = "YX"
    else:  # e.g. an animated PNG: frames first
        file_axes = None
    meta = meta_from_file(
        path, data.ndim, file_axes, override=axes, unit="pixel", extra={"format": kind.lower()}
    )
    return data, meta


def check_picture(path: Path, array: np.ndarray, meta: ImageMeta) -> np.ndarray:
    """Check that ``array`` fits a PNG/JPEG and return it as ``YX`` or ``YXC``."""
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    kind = "JPEG" if jpeg else "PNG"
    axes = meta.axes
    colour = sorted(axes) == ["C", "X", "Y"]
    n_colours = (3,) if jpeg else (3, 4)
    if not (axes == "YX" or (colour and array.shape[axes.index("C")] in n_colours)):
        raise ImageWriteError(
            f"cannot write {str(path)!r}: {kind} holds 2D grey images (axes 'YX') or colour "
            f"images (axes 'YXC' with {' or '.join(map(str, n_colours))} channels), got axes "
            f"{axes!r} and shape {array.shape}; write TIFF, OME-Zarr or NPY instead"
        )
    allowed = ("uint8",) if (jpeg or colour) else ("uint8", "uint16")
    if array.dtype.name not in allowed:
        what = "colour" if colour else "grey"
        raise ImageWriteError(
            f"cannot write {str(path)!r}: {kind} holds {' or '.join(allowed)} {what} images, "
            f"got dtype {array.dtype}; convert first (e.g. skimage.util.img_as_ubyte) "
            f"or write TIFF"
        )
    order = [axes.index(a) for a in ("YX" if axes == "YX" else "YXC")]
    return np.ascontiguousarray(array.transpose(order))


def write_picture(tmp: Path, path: Path, data: np.ndarray) -> None:
    """Write a checked (:func:`check_picture`) array to ``tmp`` in the format of ``path``."""
    if path.suffix.lower() in (".jpg", ".jpeg"):
        iio.imwrite(tmp, data, extension=".jpg", quality=95)
    else:
        iio.imwrite(tmp, data, extension=".png")


def read_npy(path: Path, *, lazy: bool, axes: str | None = None) -> tuple[np.ndarray, ImageMeta]:
    """Read a ``.npy`` file (memory-mapped when ``lazy``); no pickled objects.

    NPY carries no axes: 2D is ``YX``, 3D ``ZYX``; more dimensions need ``axes``.
    """
    mode = "r" if lazy else None
    data = wrap_read(
        path, "not a valid .npy file",
        lambda: np.load(path, mmap_mode=mode, allow_pickle=False),
    )  # fmt: skip
    if not isinstance(data, np.ndarray):
        data = np.asarray(data)
    meta = meta_from_file(
        path, data.ndim, None, override=axes, unit="pixel", extra={"format": "npy"}
    )
    return data, meta


def write_npy(path: Path, array: np.ndarray) -> None:
    """Write a ``.npy`` file (no axes/spacing: NPY carries none)."""
    with open(path, "wb") as fh:
        np.save(fh, np.asarray(array), allow_pickle=False)
