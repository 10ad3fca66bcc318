"""``read_channel_first``: one image file as a channel-first ``(C, *spatial)`` NumPy array."""

from __future__ import annotations

import os

import numpy as np

from biakit.axes import to_canonical
from biakit.errors import DataError
from biakit.io._api import read_image
from biakit.io._meta import ImageMeta
from biakit.validation import check_channel

PathLike = str | os.PathLike[str]


def read_channel_first(
    path: PathLike,
    *,
    ndim: int | None = None,
    axes: str | None = None,
    channel: int | None = None,
    time: bool = False,
    lazy: bool | None = False,
    planes: bool = False,
) -> tuple[np.ndarray, ImageMeta]:
    """Read an image as a channel-first ``(C, *spatial)`` array.

    The file's axes are put into canonical order once; an image without a channel
    axis gets one of length 1. This is how every workflow, the command line and
    the training-data loaders read an input image.

    Parameters
    ----------
    path : str or path
        Any file :func:`read_image` reads.
    ndim : int, optional
        Required number of spatial axes (2 or 3); any when omitted.
    axes : str, optional
        The file's axes, overriding its metadata (see :func:`read_image`).
    channel : int, optional
        Keep only this channel (the result still has a channel axis of length 1).
    time : bool
        Keep a time axis in front: ``(T, C, *spatial)``. By default a time axis of
        length 1 is dropped and a longer one is refused.
    lazy : bool or None
        ``False`` (default): a NumPy array in memory. ``None`` / ``True``: as
        :func:`read_image` (Zarr and OME-Zarr stay lazy Dask arrays).
    planes : bool
        With ``ndim=2``, accept a Z-stack too: it keeps its ``Z`` axis
        (``(C, Z, Y, X)``) for a caller that restores it plane by plane.

    Returns
    -------
    image : numpy.ndarray
        ``(C, *spatial)``, or ``(T, C, *spatial)`` when ``time`` and the file has ``T``.
    meta : ImageMeta
        Axes (``"CYX"``, ``"CZYX"``, ``"TCZYX"``, ...), spacing (1.0 for ``C``),
        unit and channel names of the returned array; ``meta.extra`` as read, with
        ``"file_axes"`` the axes of the file.

    Raises
    ------
    ImageReadError
        If the file cannot be read (see :func:`read_image`).
    DataError
        If the image is a time-lapse and ``time`` is False, or has another number of
        spatial axes than ``ndim``.
    ParameterError
        If ``channel`` is not one of the image's channels.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from biakit.io import write_image
    >>> p = Path(tempfile.mkdtemp()) / "a.tif"
    >>> write_image(p, np.zeros((8, 9, 2), np.uint8), ImageMeta("YXC"))
    >>> image, meta = read_channel_first(p, ndim=2)
    >>> image.shape, meta.axes
    ((2, 8, 9), 'CYX')
    >>> read_channel_first(p, channel=1)[0].shape
    (1, 8, 9)
    >>> write_image(p.with_name("z.tif"), np.zeros((3, 8, 9), np.uint8), ImageMeta("ZYX"))
    >>> read_channel_first(p.with_name("z.tif"), ndim=2, planes=True)[1].axes
    'CZYX'
    """
    data, file_meta = read_image(path, lazy=lazy, axes=axes)
    shape = np.shape(data)
    data, canon = to_canonical(data if lazy is not False else np.asarray(data), file_meta.axes)
    assert file_meta.spacing is not None
    spacing = dict(zip(file_meta.axes, file_meta.spacing))
    if "T" in canon and not time:
        if data.shape[0] != 1:
            raise DataError(
                f"{path}: a time-lapse of {data.shape[0]} frames (axes {file_meta.axes!r}, shape "
                f"{shape}); expected a single time point: split the frames into files"
            )
        data, canon = data[0], canon[1:]
    if "C" not in canon:
        at = canon.find("Z") if "Z" in canon else canon.find("Y")
        data = np.expand_dims(data, at)
        canon = canon[:at] + "C" + canon[at:]
    spatial = sum(a in "ZYX" for a in canon)
    stack = planes and ndim == 2 and spatial == 3  # a Z-stack for a 2-D model, plane by plane
    if ndim is not None and spatial != ndim and not stack:
        raise DataError(
            f"{path}: a {spatial}-D image (axes {file_meta.axes!r}, shape {shape}) but "
            f"{ndim}-D images are expected here"
        )
    names = file_meta.channel_names
    c = canon.index("C")
    if channel is not None:
        index = check_channel(channel, data.shape[c], source=path)
        data = np.take(data, [index], axis=c)
        names = (names[index],) if names else None
    meta = ImageMeta(
        canon,
        tuple(1.0 if a == "C" else spacing.get(a, 1.0) for a in canon),
        unit=file_meta.unit,
        channel_names=names,
        extra={**file_meta.extra, "file_axes": file_meta.axes},
    )
    return data, meta
