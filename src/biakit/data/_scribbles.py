"""Simulated user scribbles: sparse strokes painted inside the classes of a ground truth."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def synthetic_scribbles(
    classes: np.ndarray,
    *,
    fraction: float = 0.01,
    stroke_length: int = 12,
    margin: int = 0,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Paint short straight strokes inside each class, like a user annotating.

    Strokes run along the last axis from random starting points and stay at
    least ``margin`` pixels inside their class region. Classes get paint in
    proportion to their area (at least a fifth of an equal share each); in
    total about ``fraction`` of the image is painted.

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
        Distance kept from class boundaries (0: strokes may touch them, as
        users refining a boundary do).
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
    values, areas = np.unique(classes, return_counts=True)
    # Paint in proportion to each class's area (as a user covering the image would), but give
    # every class at least a fifth of an equal share so rare classes are still represented.
    share = np.maximum(areas / areas.sum(), 0.2 / len(values))
    budgets = np.maximum((fraction * classes.size * share / share.sum()).astype(int), 1)
    out = np.zeros(classes.shape, np.uint8)
    for value, budget in zip(values, budgets):
        inside = classes == value
        if margin:
            inside = ndi.binary_erosion(inside, iterations=margin)
        _paint(out, inside, int(value), int(budget), stroke_length, rng)
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


def corrective_scribbles(
    classes: np.ndarray,
    prediction: np.ndarray,
    scribbles: np.ndarray,
    *,
    fraction: float = 0.005,
    stroke_length: int = 6,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Add strokes where a prediction is wrong, as a user refining a classifier would.

    This is the interactive loop of ilastik and Trainable Weka Segmentation:
    train, look at the result, paint over the mistakes with the right class.

    Parameters
    ----------
    classes : numpy.ndarray
        True class image (bool masks mean classes 1 and 2, as in :func:`synthetic_scribbles`).
    prediction : numpy.ndarray
        Predicted class image of the same shape.
    scribbles : numpy.ndarray
        Existing scribbles (kept; new strokes only go on unpainted pixels).
    fraction : float
        Fraction of the image painted by the new strokes (at most).
    stroke_length : int
        Pixels per stroke.
    seed : int or Generator, optional
        Random seed.

    Returns
    -------
    scribbles : numpy.ndarray of uint8
        The old scribbles plus corrections.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((16, 16), bool); truth[4:12, 4:12] = True
    >>> pred = np.ones((16, 16), np.uint8); pred[4:12, 4:8] = 2  # right half missed
    >>> fixed = corrective_scribbles(truth, pred, np.zeros((16, 16), np.uint8), fraction=0.05)
    >>> bool(np.all(fixed[fixed > 0] == 2)) and bool(np.all(truth[fixed > 0]))
    True
    """
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    truth = np.asarray(classes)
    truth = truth.astype(np.uint8) + 1 if truth.dtype == bool else np.where(truth == 0, 1, truth)
    if truth.shape != np.shape(prediction) or truth.shape != np.shape(scribbles):
        raise ValueError(
            f"classes {truth.shape}, prediction {np.shape(prediction)} and scribbles "
            f"{np.shape(scribbles)} must have the same shape"
        )
    rng = np.random.default_rng(seed)
    out = np.asarray(scribbles, dtype=np.uint8).copy()
    wrong = (np.asarray(prediction) != truth) & (out == 0)
    values, counts = np.unique(truth[wrong], return_counts=True)
    if values.size == 0:
        return out
    budgets = np.maximum((fraction * truth.size * counts / counts.sum()).astype(int), 1)
    for value, budget in zip(values, budgets):
        _paint(out, wrong & (truth == value), int(value), int(budget), stroke_length, rng)
    return out
