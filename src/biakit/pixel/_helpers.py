"""Helpers of :class:`biakit.pixel.PixelClassifier`: checks, block reads, forest copies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from biakit.pixel._estimators import FORESTS


def uncertainty_from_proba(proba: np.ndarray) -> np.ndarray:
    """``1 - (p_max - p_second)`` along the last axis, float32 in [0, 1]."""
    if proba.shape[-1] < 2:
        return np.zeros(proba.shape[:-1], np.float32)
    top2 = np.partition(proba, proba.shape[-1] - 2, axis=-1)[..., -2:]
    return (1.0 - (top2[..., 1] - top2[..., 0])).astype(np.float32)


def check_finite(image: np.ndarray, name: str) -> None:
    """Raise :class:`~biakit.errors.DataError` if a float image holds NaN or infinity."""
    if image.dtype.kind not in "fc" or np.isfinite(image).all():
        return
    from biakit.errors import DataError

    bad = int(np.count_nonzero(~np.isfinite(image)))
    raise DataError(
        f"{name} contains {bad} NaN or infinite value(s) (shape {image.shape}); expected "
        "finite values: replace them (e.g. numpy.nan_to_num) or crop them away"
    )


def _cache_key(image: np.ndarray, spacing: Any, channel_axis: int | None) -> tuple:
    """Identify an image by shape, dtype and a CRC-32 of its bytes (a few ms per 4 MB)."""
    import zlib

    data = np.ascontiguousarray(image)
    crc = zlib.crc32(data.reshape(-1).view(np.uint8))
    return (data.shape, data.dtype.str, crc, spacing, channel_axis)


def _fast_forest(estimator: Any, kind: str) -> Any:
    """Copy a fitted forest into a numba :class:`FastForest` (``None`` for other classifiers)."""
    if kind not in FORESTS:
        return None
    from biakit.pixel._forest import FastForest

    return FastForest.from_sklearn(estimator)


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _spatial_shape(image: Any, channel_axis: int | None, ndim: int | None) -> tuple[int, ...]:
    shape = tuple(image.shape)
    if channel_axis is not None:
        shape = shape[: channel_axis % len(shape)] + shape[channel_axis % len(shape) + 1 :]
    if len(shape) != ndim:
        raise ValueError(
            f"the classifier was trained on {ndim}-D images but got a {len(shape)}-D image "
            f"(shape {tuple(image.shape)}, channel_axis={channel_axis})"
        )
    return shape


def _read(image: Any, region: tuple[slice, ...], channel_axis: int | None) -> np.ndarray:
    if channel_axis is not None:
        axis = channel_axis % image.ndim
        region = (*region[:axis], slice(None), *region[axis:])
    block = image[region]
    if hasattr(block, "compute"):
        block = block.compute()
    return np.asarray(block)


def _consume(gen: Iterator[tuple[int, int, Any]]) -> Any:
    result = None
    for _, _, result in gen:  # noqa: B007
        pass
    return result
