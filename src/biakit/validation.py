"""Checks of user input shared by every layer: spacing, numbers, label images, NaN, channels.

Small pure functions that return the checked (and normalised) value or raise a
:class:`biakit.errors.UserError` subclass whose message names the parameter
(and the file, when ``source=`` is given), what was received and what was
expected. Parameters get :class:`~biakit.errors.ParameterError`, array contents
:class:`~biakit.errors.DataError`.

One rule for ``spacing`` everywhere: ``None`` means "not given" (unit spacing),
a scalar means the same spacing on every spatial axis, a sequence has exactly one
positive finite number per spatial axis.

Examples
--------
>>> import numpy as np
>>> check_spacing(0.5, 3)
(0.5, 0.5, 0.5)
>>> check_labels(np.array([[0.0, 2.0]], np.float32)).dtype
dtype('int32')
>>> check_channel_layout(np.zeros((4, 5)), 2).shape
(1, 4, 5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np

from biakit.errors import DataError, ParameterError

__all__ = [
    "check_channel",
    "check_channel_layout",
    "check_finite",
    "check_fraction",
    "check_iou_thresholds",
    "check_labels",
    "check_ndim",
    "check_positive",
    "check_spacing",
]


def _what(name: str, source: Any) -> str:
    """``"name"`` or ``"file: name"`` for messages."""
    return f"{source}: {name}" if source is not None else name


def _is_number(value: Any) -> bool:
    return isinstance(value, Real | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def check_spacing(
    spacing: float | Sequence[float] | None, ndim: int, *, name: str = "spacing"
) -> tuple[float, ...] | None:
    """Check a physical pixel spacing: one positive finite number per spatial axis.

    Parameters
    ----------
    spacing : float, sequence of float or None
        A scalar (the same spacing on every spatial axis), ``ndim`` numbers in
        array axis order, or ``None`` (not given).
    ndim : int
        Number of spatial axes.
    name : str
        Parameter name used in messages.

    Returns
    -------
    spacing : tuple of float or None
        ``ndim`` floats, or ``None`` when ``spacing`` is ``None``.

    Raises
    ------
    ParameterError
        If a value is not a number, not positive or not finite, or the sequence
        does not have ``ndim`` entries.

    Examples
    --------
    >>> check_spacing(2, 2), check_spacing([3, 0.5, 0.5], 3), check_spacing(None, 3)
    ((2.0, 2.0), (3.0, 0.5, 0.5), None)
    """
    if spacing is None:
        return None
    if _is_number(spacing) or (isinstance(spacing, np.ndarray) and spacing.ndim == 0):
        values: list[Any] = [spacing.item() if isinstance(spacing, np.ndarray) else spacing]
        values = values * ndim
    elif isinstance(spacing, str | bytes) or not isinstance(spacing, Sequence | np.ndarray):
        raise ParameterError(
            f"{name} must be a number or {ndim} numbers (one per spatial axis), "
            f"got {type(spacing).__name__} {spacing!r}"
        )
    else:
        values = np.ravel(spacing).tolist() if isinstance(spacing, np.ndarray) else list(spacing)
        if np.ndim(spacing) != 1 or len(values) != ndim:
            raise ParameterError(
                f"{name} has {len(values)} value(s) {tuple(values)} but the image has {ndim} "
                f"spatial axes; give one number per axis or a single number for all"
            )
    out = []
    for axis, v in enumerate(values):
        if not _is_number(v) or not (math.isfinite(float(v)) and float(v) > 0):
            raise ParameterError(
                f"{name} must be positive finite numbers, got {spacing!r} (axis {axis}: {v!r})"
            )
        out.append(float(v))
    return tuple(out)


def check_finite(array: Any, *, name: str = "image", source: Any = None) -> Any:
    """Refuse an array holding NaN or infinite values; return it unchanged.

    Integer and boolean arrays are always finite and are not scanned.

    Raises
    ------
    DataError
        Saying how many NaN and infinite values were found.

    Examples
    --------
    >>> import numpy as np
    >>> check_finite(np.array([1.0, 2.0])).tolist()
    [1.0, 2.0]
    >>> check_finite(np.array([1.0, np.nan]), source="a.tif")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    biakit.errors.DataError: a.tif: image has 1 NaN and 0 infinite value(s) out of 2; ...
    """
    arr = np.asarray(array)
    if arr.dtype.kind not in "fc":
        return array
    n_bad = arr.size - int(np.count_nonzero(np.isfinite(arr)))
    if n_bad:
        n_nan = int(np.count_nonzero(np.isnan(arr)))
        raise DataError(
            f"{_what(name, source)} has {n_nan} NaN and {n_bad - n_nan} infinite value(s) "
            f"out of {arr.size}; expected finite values (fill them first, e.g. with "
            f"numpy.nan_to_num)"
        )
    return array


def check_labels(
    labels: Any, *, name: str = "labels", source: Any = None, allow_float: bool = True
) -> np.ndarray:
    """Check a label image: integers or booleans, 0 = background, no negative values.

    Float label images (e.g. saved as float32 by Fiji) are accepted when every
    value is a non-negative whole number, and converted to ``int32`` (``int64``
    when a value does not fit).

    Parameters
    ----------
    labels : array_like
        The label image (or scribbles: 0 = unpainted).
    name : str
        Parameter name used in messages.
    source : str or path, optional
        File the labels were read from, named in messages.
    allow_float : bool
        Accept whole-number float arrays (converted); refuse every float array if False.

    Returns
    -------
    labels : numpy.ndarray
        Integer or boolean labels (the input itself when it already was).

    Raises
    ------
    DataError
        For another dtype, fractional, NaN, infinite or negative values.

    Examples
    --------
    >>> import numpy as np
    >>> check_labels(np.array([0, 3], np.uint8)).tolist()
    [0, 3]
    >>> check_labels(np.array([0.0, 2.5]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    biakit.errors.DataError: labels hold non-integer values (e.g. 2.5) in a float64 array; ...
    """
    arr = np.asarray(labels)
    what = _what(name, source)
    expected = "expected integer labels (0 = background) such as uint8/uint16/int32"
    if arr.dtype.kind == "b":
        return arr
    if arr.dtype.kind == "f" and allow_float:
        bad = ~np.isfinite(arr)
        if bad.any():
            raise DataError(
                f"{what} hold {int(bad.sum())} NaN or infinite value(s) in a {arr.dtype} array; "
                f"{expected}"
            )
        frac = arr != np.round(arr)
        if frac.any():
            example = arr[frac].flat[0].item()
            raise DataError(
                f"{what} hold non-integer values (e.g. {example!r}) in a {arr.dtype} array; "
                f"{expected}"
            )
    elif arr.dtype.kind not in "iu":
        extra = "; convert the float array to integers first" if arr.dtype.kind == "f" else ""
        raise DataError(f"{what} have dtype {arr.dtype}; {expected}{extra}")
    if arr.size and arr.dtype.kind in "if" and arr.min() < 0:
        raise DataError(
            f"{what} have negative values (minimum {arr.min().item()!r}); {expected}, "
            f"with 0 for background / unpainted"
        )
    if arr.dtype.kind == "f":
        top = arr.max(initial=0)
        return arr.astype(np.int32 if top <= np.iinfo(np.int32).max else np.int64)
    return arr


def check_ndim(
    array: Any, allowed: int | Sequence[int], *, name: str = "image", source: Any = None
) -> int:
    """Check an array's number of dimensions and return it.

    Raises
    ------
    DataError
        If ``array.ndim`` is not in ``allowed``.

    Examples
    --------
    >>> import numpy as np
    >>> check_ndim(np.zeros((2, 3)), (2, 3))
    2
    """
    ok = (allowed,) if isinstance(allowed, int) else tuple(allowed)
    ndim = int(np.ndim(array))
    if ndim not in ok:
        want = " or ".join(str(n) for n in ok)
        raise DataError(
            f"{_what(name, source)} has {ndim} dimension(s) (shape {np.shape(array)}); "
            f"expected {want}"
        )
    return ndim


def check_channel(index: Any, n_channels: int, *, name: str = "channel", source: Any = None) -> int:
    """Check a channel index ``0 <= index < n_channels`` and return it as an int.

    Raises
    ------
    ParameterError
        If ``index`` is not an integer or the image has no such channel.

    Examples
    --------
    >>> check_channel(1, 2)
    1
    """
    where = f" ({source})" if source is not None else ""
    if isinstance(index, bool | np.bool_) or not isinstance(index, int | np.integer):
        raise ParameterError(f"{name} must be an integer channel index, got {index!r}")
    if not 0 <= int(index) < n_channels:
        raise ParameterError(
            f"{name}={int(index)} but the image{where} has {n_channels} channel(s); "
            f"expected an index from 0 to {n_channels - 1}"
        )
    return int(index)


def check_fraction(value: Any, *, name: str, low_open: bool = True) -> float:
    """Check a fraction in ``(0, 1]`` (``[0, 1]`` when not ``low_open``) and return it.

    Raises
    ------
    ParameterError
        For a non-number, NaN or a value outside the interval.

    Examples
    --------
    >>> check_fraction(0.5, name="val"), check_fraction(0, name="alpha", low_open=False)
    (0.5, 0.0)
    """
    interval = "(0, 1]" if low_open else "[0, 1]"
    ok = _is_number(value) and (0 < value <= 1 if low_open else 0 <= value <= 1)
    if not ok:
        raise ParameterError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def check_iou_thresholds(
    values: float | Sequence[float], *, name: str = "iou_thresholds"
) -> tuple[float, ...]:
    """Check one or more IoU thresholds, each in ``(0, 1]``; return them as a tuple.

    Raises
    ------
    ParameterError
        For an empty sequence or a value outside ``(0, 1]``.

    Examples
    --------
    >>> check_iou_thresholds([0.5, 0.75]), check_iou_thresholds(0.5)
    ((0.5, 0.75), (0.5,))
    """
    seq = [values] if _is_number(values) else values
    if isinstance(seq, str | bytes) or not isinstance(seq, Sequence | np.ndarray) or not len(seq):
        raise ParameterError(f"{name} must be one or more numbers in (0, 1], got {values!r}")
    return tuple(check_fraction(v, name=f"{name} value") for v in np.ravel(seq).tolist())


def check_positive(value: Any, *, name: str, integer: bool = False) -> Any:
    """Check a positive finite number (an ``int`` when ``integer``) and return it.

    Raises
    ------
    ParameterError
        For a non-number, zero, a negative value, NaN or infinity.

    Examples
    --------
    >>> check_positive(2.5, name="sigma"), check_positive(3, name="epochs", integer=True)
    (2.5, 3)
    """
    if integer:
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if value <= 0:
            raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        return int(value)
    if not _is_number(value) or not (math.isfinite(float(value)) and value > 0):
        raise ParameterError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_channel_layout(array: Any, ndim: int, *, name: str = "image", source: Any = None) -> Any:
    """Return ``array`` channel-first ``(C, *spatial)`` for ``ndim`` spatial axes.

    An array of ``ndim`` dimensions gets a channel axis of length 1; one of
    ``ndim + 1`` dimensions is taken as channel-first already. Nothing is guessed:
    an array that looks channel-last (``(Y, X, 3)``) is refused with a hint.

    Raises
    ------
    DataError
        For another number of dimensions, or a channel-last looking layout.

    Examples
    --------
    >>> import numpy as np
    >>> check_channel_layout(np.zeros((2, 8, 8)), 2).shape
    (2, 8, 8)
    """
    arr = array if hasattr(array, "shape") else np.asarray(array)
    what = _what(name, source)
    shape = tuple(arr.shape)
    if len(shape) == ndim:
        return arr[np.newaxis]
    if len(shape) != ndim + 1:
        raise DataError(
            f"{what} has shape {shape}; expected {ndim} spatial dimension(s), optionally "
            f"after a channel axis: (C, {', '.join('ZYX'[3 - ndim :])}) or without C"
        )
    if shape[0] > 4 and shape[-1] in (3, 4):
        raise DataError(
            f"{what} has shape {shape}, which looks channel-last (RGB); expected channels "
            f"first (C, ...): use numpy.moveaxis(image, -1, 0)"
        )
    return arr
