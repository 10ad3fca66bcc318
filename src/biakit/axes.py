"""Axes strings: validation and conversion to biakit's canonical ``TCZYX`` order.

An axes string names every array dimension with one letter: ``T`` (time),
``C`` (channel), ``Z``, ``Y``, ``X`` (space), and ``S`` (RGB samples, treated
as channels).  Arrays cross biakit's edges with an explicit axes string and are
put into canonical order (a subsequence of ``TCZYX``) once, inside.

Examples
--------
>>> import numpy as np
>>> validate_axes("zyx", 3)
'ZYX'
>>> a = np.zeros((5, 4, 3))  # Y, X, C (an RGB image)
>>> to_canonical(a, "YXC")[1]
'CYX'
>>> to_canonical(a, "YXC")[0].shape
(3, 5, 4)

"""

from __future__ import annotations

from typing import Any

import numpy as np

CANONICAL = "TCZYX"
SPATIAL = "ZYX"


def validate_axes(axes: str, ndim: int) -> str:
    """Check an axes string against an array's dimensionality.

    Parameters
    ----------
    axes : str
        One letter per dimension from ``TCZYXS`` (case-insensitive).
    ndim : int
        Number of array dimensions.

    Returns
    -------
    axes : str
        Upper-case axes, with ``S`` renamed ``C``.

    Raises
    ------
    ValueError
        If the length differs from ``ndim``, a letter is unknown or repeated,
        or there is no spatial axis.

    """
    up = str(axes).upper().replace("S", "C")
    if len(up) != ndim:
        raise ValueError(f"axes {axes!r} has {len(up)} letters but the array has {ndim} dimensions")
    bad = sorted(set(up) - set(CANONICAL))
    if bad:
        raise ValueError(
            f"axes {axes!r} has unknown letter(s) {bad}; expected letters from 'TCZYX'"
        )
    if len(set(up)) != len(up):
        raise ValueError(f"axes {axes!r} repeats a letter")
    if "Y" not in up or "X" not in up:
        raise ValueError(f"axes {axes!r} must contain both 'Y' and 'X'")
    return up


def default_axes(ndim: int, *, rgb: bool = False) -> str:
    """Guess axes for an array with no metadata: ``YX``, ``ZYX``, ``TZYX`` or ``YXC`` (RGB).

    Examples
    --------
    >>> default_axes(3), default_axes(3, rgb=True)
    ('ZYX', 'YXC')

    """
    if rgb:
        if ndim != 3:
            raise ValueError(f"an RGB image has 3 dimensions, got {ndim}")
        return "YXC"
    guesses = {2: "YX", 3: "ZYX", 4: "CZYX", 5: "TCZYX"}
    if ndim not in guesses:
        raise ValueError(f"cannot guess axes of a {ndim}-D array; expected 2 to 5 dimensions")
    return guesses[ndim]


def to_canonical(array: Any, axes: str) -> tuple[Any, str]:
    """Transpose ``array`` so its axes follow the canonical ``TCZYX`` order.

    Parameters
    ----------
    array : array_like or dask.array.Array
        Input array.
    axes : str
        Its axes.

    Returns
    -------
    array : array
        Transposed view (NumPy or Dask, as given).
    axes : str
        The new axes, a subsequence of ``TCZYX``.

    """
    axes = validate_axes(axes, np.ndim(array))
    order = sorted(range(len(axes)), key=lambda i: CANONICAL.index(axes[i]))
    new_axes = "".join(axes[i] for i in order)
    if list(order) == list(range(len(axes))):
        return array, new_axes
    return array.transpose(order), new_axes


def spatial_ndim(axes: str) -> int:
    """Count the spatial axes (Z, Y, X) in ``axes``.

    Examples
    --------
    >>> spatial_ndim("TCZYX"), spatial_ndim("YXC")
    (3, 2)

    """
    return sum(a in SPATIAL for a in axes.upper())
