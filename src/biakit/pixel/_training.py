"""Training data of a pixel classifier: features at painted pixels, strokes for k-fold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi


@dataclass(frozen=True)
class TrainingSet:
    """Feature rows of every painted pixel.

    Attributes
    ----------
    X : numpy.ndarray
        ``(n_pixels, n_features)`` float32 features.
    y : numpy.ndarray
        Class of each pixel (the painted value).
    strokes : numpy.ndarray
        Id of the connected scribble stroke each pixel belongs to (unique over images).
    n_channels : int
        Channels of the training images.
    n_images : int
        Number of training images.
    """

    X: np.ndarray
    y: np.ndarray
    strokes: np.ndarray
    n_channels: int
    n_images: int

    def summary(self) -> dict[str, Any]:
        """Return the counts saved with the model: painted pixels per class, strokes, images."""
        classes, counts = np.unique(self.y, return_counts=True)
        return {
            "n_images": self.n_images,
            "n_pixels": int(self.y.size),
            "n_strokes": int(np.unique(self.strokes).size),
            "pixels_per_class": {str(int(c)): int(n) for c, n in zip(classes, counts)},
        }


def collect_training_set(
    images: Sequence[Any],
    scribbles: Sequence[Any],
    spec: Any,
    spacing: Sequence[float] | None,
    channel_axis: int | None,
    *,
    stacks: dict[int, np.ndarray] | None = None,
    whole_budget: int = 0,
) -> TrainingSet:
    """Compute features only at painted pixels of every image.

    With ``stacks`` (a dict to fill) and ``whole_budget`` bytes, an image whose
    whole feature stack fits the budget is filtered whole once (faster than
    many crops, and reusable by prediction) and ``stacks[index]`` receives the
    stack; the rows are the same values as :func:`compute_features_at` gives.
    """
    from biakit.features import compute_features, compute_features_at

    xs, ys, strokes = [], [], []
    offset = 0
    n_channels = 1
    for index, (image, scribble) in enumerate(zip(images, scribbles)):
        image, scribble = np.asarray(image), np.asarray(scribble)
        spatial = image.shape
        if channel_axis is not None:
            axis = channel_axis % image.ndim
            n_channels = image.shape[axis]
            spatial = image.shape[:axis] + image.shape[axis + 1 :]
        _check_scribble(scribble, spatial, index)
        coords = np.argwhere(scribble > 0)
        if coords.size == 0:
            continue
        n_feat = spec.n_features(n_channels, ndim=len(spatial))
        if stacks is not None and int(np.prod(spatial)) * n_feat * 4 <= whole_budget:
            stack = compute_features(image, spec, spacing=spacing, channel_axis=channel_axis)
            stacks[index] = stack
            xs.append(stack[tuple(coords.T)])
        else:
            xs.append(
                compute_features_at(image, spec, coords, spacing=spacing, channel_axis=channel_axis)
            )
        ys.append(scribble[tuple(coords.T)].astype(np.int64))
        stroke_img, n = _strokes(scribble)
        strokes.append(stroke_img[tuple(coords.T)] + offset)
        offset += n
    y = _check_classes(ys)
    return TrainingSet(np.concatenate(xs), y, np.concatenate(strokes), n_channels, len(images))


def training_set_from_stack(stack: np.ndarray, scribble: Any, n_channels: int) -> TrainingSet:
    """Training rows of one image whose whole feature stack ``(*spatial, F)`` is at hand."""
    scribble = np.asarray(scribble)
    _check_scribble(scribble, stack.shape[:-1], 0)
    coords = np.nonzero(scribble > 0)
    y = _check_classes([scribble[coords].astype(np.int64)])
    stroke_img, _ = _strokes(scribble)
    return TrainingSet(stack[coords], y, stroke_img[coords], n_channels, 1)


def _check_scribble(scribble: np.ndarray, spatial: tuple[int, ...], index: int) -> None:
    if scribble.shape != tuple(spatial):
        raise ValueError(
            f"scribbles {index} have shape {scribble.shape} but image {index} has spatial "
            f"shape {tuple(spatial)}"
        )
    if not np.issubdtype(scribble.dtype, np.integer) and scribble.dtype != bool:
        raise ValueError(f"scribbles {index} must be integer labels, got {scribble.dtype}")
    if scribble.min(initial=0) < 0:
        raise ValueError(f"scribbles {index} have negative values; use 0 for unpainted")


def _check_classes(ys: list[np.ndarray]) -> np.ndarray:
    if not ys or not sum(v.size for v in ys):
        raise ValueError("no painted pixels: scribbles are all 0; paint at least two classes")
    y = np.concatenate(ys)
    if np.unique(y).size < 2:
        raise ValueError(f"only class {int(y[0])} is painted; paint at least two classes")
    return y


def _strokes(scribble: np.ndarray) -> tuple[np.ndarray, int]:
    """Label the connected strokes of each class 0..n-1 across classes (8/26-connected)."""
    out = np.zeros(scribble.shape, np.int64)
    n = 0
    structure = np.ones((3,) * scribble.ndim, bool)
    for value in np.unique(scribble[scribble > 0]):
        lab, count = ndi.label(scribble == value, structure=structure)
        out[lab > 0] = lab[lab > 0] - 1 + n
        n += count
    return out, n


def stroke_kfold(strokes: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds of pixel indices where every stroke lies in exactly one test fold.

    Strokes are shuffled with ``seed`` and dealt round-robin, so folds get
    similar numbers of strokes.
    """
    ids = np.unique(strokes)
    if k < 2:
        raise ValueError(f"k must be >= 2, got {k}")
    if ids.size < k:
        raise ValueError(
            f"k={k} folds need at least {k} separate scribble strokes, got {ids.size}; "
            "paint more strokes or lower k"
        )
    fold_by_position = np.empty(ids.size, np.int64)
    fold_by_position[np.random.default_rng(seed).permutation(ids.size)] = np.arange(ids.size) % k
    pixel_fold = fold_by_position[np.searchsorted(ids, strokes)]
    return [(np.flatnonzero(pixel_fold != f), np.flatnonzero(pixel_fold == f)) for f in range(k)]
