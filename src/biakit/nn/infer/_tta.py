"""Test-time augmentation: flips of every spatial axis and 90-degree rotations in YX.

A transform is a set of flipped spatial axes followed by an optional Y/X transpose.
Flips of all subsets of the ``ndim`` axes together with the transpose give the eight
symmetries of the square in YX (times the Z flip in 3D). Its inverse is the transpose
followed by the same flips. The functions work on NumPy arrays and torch tensors of
shape ``(B, C, *spatial)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Transform:
    """One test-time augmentation.

    Attributes
    ----------
    flip : tuple of int
        Spatial axes (0-based, without batch and channel) to flip.
    transpose : bool
        Whether Y and X are swapped after flipping (with flips: rotations by 90 degrees).
    """

    flip: tuple[int, ...]
    transpose: bool


def tta_transforms(
    tile_shape: Sequence[int], divisor: Sequence[int], enabled: bool | int
) -> list[Transform]:
    """List the transforms to average: identity, all symmetries, or the first ``n`` of them.

    ``enabled`` False (or 1) gives the identity alone, True every symmetry: the flips of
    every axis with Y/X swaps (8 in 2D, 16 in 3D; without swaps, 4 in 2D, when Y and
    X have different divisors: a swapped tile would not fit the network's grid); an
    integer ``n`` the first ``n`` in an order where each prefix is a subgroup: the
    identity, the half turn in YX, the two quarter turns, the Y and X flips, the two
    diagonal mirrors, then the same with Z flipped. Four transforms are the four turns
    of YX. Tiles need not be square: a turned tile is predicted as it is and turned
    back, so every tile of an image (the last, cut ones included) gets the same set.
    Averaging ``n`` predictions whose transform-specific errors are independent keeps
    ``1 - 1/n`` of the part of the error TTA can remove: 4 keep 6/7 of what 8 do.

    Examples
    --------
    >>> len(tta_transforms((64, 64), (4, 4), True)), len(tta_transforms((64, 32), (4, 4), True))
    (8, 8)
    >>> len(tta_transforms((64, 32), (4, 8), True))  # a swap would break the divisors
    4
    >>> len(tta_transforms((16, 64, 64), (2, 4, 4), True))
    16
    >>> tta_transforms((64, 64), (4, 4), 2)  # the identity and the half turn
    [Transform(flip=(), transpose=False), Transform(flip=(0, 1), transpose=False)]

    """
    if isinstance(enabled, bool) or enabled is None:
        count = None if enabled else 1
    else:
        count = int(enabled)
        if count < 1:
            raise ValueError(f"tta must be a bool or a number of transforms >= 1, got {enabled}")
    ndim = len(tile_shape)
    y, x = ndim - 2, ndim - 1
    swaps = ndim >= 2 and divisor[-1] == divisor[-2]
    if ndim < 2:
        plane = [Transform((), False), Transform((0,), False)]
    elif swaps:  # turns by 0, 180, 90, 270 degrees, then the four mirrors
        plane = [Transform((), False), Transform((y, x), False), Transform((x,), True),
                 Transform((y,), True), Transform((y,), False), Transform((x,), False),
                 Transform((), True), Transform((y, x), True)]  # fmt: skip
    else:
        plane = [Transform((), False), Transform((y, x), False), Transform((y,), False),
                 Transform((x,), False)]  # fmt: skip
    ordered = list(plane)
    for mask in itertools.product((False, True), repeat=max(ndim - 2, 0)):
        if any(mask):  # the same with the leading axes (Z) flipped
            lead = tuple(a for a, on in enumerate(mask) if on)
            ordered += [Transform(tuple(sorted(lead + t.flip)), t.transpose) for t in plane]
    return ordered if count is None else ordered[:count]


def _flip(x: Any, axes: tuple[int, ...]) -> Any:
    if not axes:
        return x
    dims = tuple(a + 2 for a in axes)
    if isinstance(x, np.ndarray):
        return np.flip(x, axis=dims)
    return x.flip(dims)


def _swap(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return np.swapaxes(x, -1, -2)
    return x.transpose(-1, -2)


def apply(transform: Transform, x: Any) -> Any:
    """Apply ``transform`` to a batch ``(B, C, *spatial)``."""
    x = _flip(x, transform.flip)
    return _swap(x) if transform.transpose else x


def invert(transform: Transform, y: Any) -> Any:
    """Map a prediction made on ``apply(transform, x)`` back to the frame of ``x``."""
    if transform.transpose:
        y = _swap(y)
    return _flip(y, transform.flip)
