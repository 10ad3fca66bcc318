"""Simulated user scribbles: sparse strokes painted inside the classes of a ground truth."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def synthetic_scribbles(
    classes: np.ndarray,
    *,
    fraction: float = 0.01,
    stroke_length: int = 12,
    margin: int = 2,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Paint short straight strokes inside each class, like a user annotating.

    Strokes run along the last axis and stay at least ``margin`` pixels inside
    their class region (users avoid painting on boundaries). Each class gets
    about the same number of painted pixels; in total about ``fraction`` of
    the image is painted.

    Parameters
    ----------
    classes : numpy.ndarray
        Integer class image (2D or 3D), values 1..K; 0 is treated as class 1
        ("background") so a bool mask gives classes 1 (background) and 2.
    fraction : float
        Target fraction of painted pixels, in (0, 0.5].
    stroke_length : int
        Pixels per stroke (shorter where the region is narrower).
    margin : int
        Distance kept from class boundaries.
    seed : int or Generator, optional
        Random seed.

    Returns
    -------
    scribbles : numpy.ndarray of uint8
        0 = unpainted, k = painted class k.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((64, 64), bool); mask[16:48, 16:48] = True
    >>> s = synthetic_scribbles(mask, fraction=0.02, seed=0)
    >>> sorted(np.unique(s).tolist()), bool(np.all(mask[s == 2]))
    ([0, 1, 2], True)
    """
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    if stroke_length < 1 or margin < 0:
        raise ValueError(
            f"stroke_length must be >= 1 and margin >= 0, got {stroke_length}, {margin}"
        )
    classes = np.asarray(classes)
    if classes.dtype == bool:
        classes = classes.astype(np.uint8) + 1
    classes = np.where(classes == 0, 1, classes).astype(np.int64)
    rng = np.random.default_rng(seed)
    values = np.unique(classes)
    per_class = max(int(fraction * classes.size / len(values)), 1)
    out = np.zeros(classes.shape, np.uint8)
    for value in values:
        inside = (
            ndi.binary_erosion(classes == value, iterations=margin) if margin else classes == value
        )
        _paint(out, inside, int(value), per_class, stroke_length, rng)
    return out


def _paint(out, inside, value, budget, length, rng) -> None:
    candidates = np.argwhere(inside)
    if candidates.size == 0:
        return
    painted, tries = 0, 0
    while painted < budget and tries < 50 * budget:
        tries += 1
        start = candidates[rng.integers(len(candidates))]
        for step in range(length):
            pos = (*start[:-1], start[-1] + step)
            if pos[-1] >= inside.shape[-1] or not inside[pos]:
                break
            if out[pos] == 0:
                out[pos] = value
                painted += 1
