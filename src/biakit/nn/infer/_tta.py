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
    tile_shape: Sequence[int], divisor: Sequence[int], enabled: bool
) -> list[Transform]:
    """List the transforms to average: identity, or all flips (plus Y/X swaps when square).

    Examples
    --------
    >>> len(tta_transforms((64, 64), (4, 4), True)), len(tta_transforms((64, 32), (4, 4), True))
    (8, 4)
    >>> len(tta_transforms((16, 64, 64), (2, 4, 4), True))
    16

    """
    if not enabled:
        return [Transform((), False)]
    ndim = len(tile_shape)
    flips = [
        tuple(a for a, on in zip(range(ndim), mask) if on)
        for mask in itertools.product((False, True), repeat=ndim)
    ]
    square = tile_shape[-1] == tile_shape[-2] and divisor[-1] == divisor[-2]
    swaps = (False, True) if square else (False,)
    return [Transform(f, s) for s in swaps for f in flips]


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
