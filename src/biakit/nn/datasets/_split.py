"""Train / validation splits of image lists and loading of image / target folder pairs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import DataError
from biakit.io import ImageMeta, list_images, pair_files, read_channel_first
from biakit.model_selection import train_val_test_split


@dataclass(frozen=True, eq=False)
class DatasetSplit:
    """Images and targets split into training and validation lists.

    Attributes
    ----------
    train_images, train_targets, val_images, val_targets : list
        The items, in their original order within each split.
    train_index, val_index : numpy.ndarray
        Indices of the items in the lists that were split.
    """

    train_images: list[Any]
    train_targets: list[Any]
    val_images: list[Any]
    val_targets: list[Any]
    train_index: np.ndarray
    val_index: np.ndarray


def split_dataset(
    images: Sequence[Any], targets: Sequence[Any], *, val: float = 0.2, seed: int = 0
) -> DatasetSplit:
    """Split images (and their targets) at random into training and validation sets.

    Uses :func:`biakit.model_selection.train_val_test_split` with ``test=0``: the
    validation set gets ``floor(val * n + 0.5)`` images, at least one.

    Parameters
    ----------
    images, targets : sequence
        One target per image.
    val : float
        Fraction of images for validation, in ``(0, 1)``.
    seed : int
        Seed of the split.

    Returns
    -------
    split : DatasetSplit

    Examples
    --------
    >>> s = split_dataset(list("abcde"), list("ABCDE"), val=0.2, seed=0)
    >>> len(s.train_images), len(s.val_images)
    (4, 1)
    """
    images, targets = list(images), list(targets)
    if len(images) != len(targets):
        raise ValueError(
            f"images and targets must have the same length, got {len(images)} and {len(targets)}"
        )
    if not 0 < val < 1:
        raise ValueError(f"val must be a fraction in (0, 1), got {val!r}")
    if len(images) < 2:
        raise ValueError(
            f"splitting needs at least 2 images, got {len(images)}; to validate on one image, "
            "split it into regions with biakit.model_selection.block_split"
        )
    split = train_val_test_split(len(images), val=val, test=0.0, seed=seed)
    return DatasetSplit(
        train_images=[images[i] for i in split.train],
        train_targets=[targets[i] for i in split.train],
        val_images=[images[i] for i in split.val],
        val_targets=[targets[i] for i in split.val],
        train_index=split.train,
        val_index=split.val,
    )


@dataclass(frozen=True, eq=False)
class ImagePairs:
    """Images and targets read from two folders, paired by file name.

    Attributes
    ----------
    images : list of array
        Channel-first ``(C, *spatial)`` arrays (NumPy, or Dask when read lazily).
    targets : list of array
        ``(*spatial)`` (no channel axis in the file) or ``(Ct, *spatial)``.
    metas : list of ImageMeta
        Metadata of the returned images (axes ``CYX`` / ``CZYX``, spacing); the
        file's own axes are in ``meta.extra["file_axes"]``.
    image_paths, target_paths : list of Path
        The paired files.
    """

    images: list[Any]
    targets: list[Any]
    metas: list[ImageMeta]
    image_paths: list[Path]
    target_paths: list[Path]


def load_pairs(
    image_dir: str | os.PathLike[str],
    target_dir: str | os.PathLike[str],
    *,
    lazy: bool | None = None,
) -> ImagePairs:
    """Read training images and targets from two folders, paired by file name.

    A target pairs with the image of the same name, or with a suffix
    ``_labels``, ``_mask``, ``_pred``, ... (:func:`biakit.io.pair_files`).

    Parameters
    ----------
    image_dir, target_dir : str or path
        Folders (or glob patterns) understood by :func:`biakit.io.list_images`.
    lazy : bool, optional
        Passed to :func:`biakit.io.read_image` (default: Zarr lazily as Dask).

    Returns
    -------
    pairs : ImagePairs
        Images channel-first ``(C, *spatial)`` (``C = 1`` added when the file has
        none, RGB samples become channels), targets in ``[C]ZYX`` order.

    Raises
    ------
    ImageReadError
        If a file cannot be read.
    DataError
        If files do not pair up, a file has several time points, or an image and
        its target differ in spatial shape.

    Examples
    --------
    >>> import tempfile
    >>> from biakit.io import write_image
    >>> d = Path(tempfile.mkdtemp())
    >>> (d / "im").mkdir(); (d / "gt").mkdir()
    >>> write_image(d / "im" / "a.tif", np.zeros((8, 9), np.uint8), ImageMeta("YX"))
    >>> write_image(d / "gt" / "a_labels.tif", np.zeros((8, 9), np.uint16), ImageMeta("YX"))
    >>> pairs = load_pairs(d / "im", d / "gt")
    >>> pairs.images[0].shape, pairs.targets[0].shape
    ((1, 8, 9), (8, 9))
    """
    try:
        paired = pair_files(list_images(image_dir), list_images(target_dir))
    except DataError as err:
        raise DataError(
            f"cannot pair images in {image_dir} with targets in {target_dir}: {err}"
        ) from err
    images, targets, metas = [], [], []
    for image_path, target_path in paired:
        image, meta = read_channel_first(image_path, lazy=lazy)
        target, tmeta = read_channel_first(target_path, lazy=lazy)
        if "C" not in tmeta.extra["file_axes"].upper().replace("S", "C"):
            target = target[0]  # the file has no channel axis: neither has the target
        if tuple(target.shape[-(image.ndim - 1) :]) != tuple(image.shape[1:]):
            raise DataError(
                f"{target_path} has shape {tuple(target.shape)} but its image {image_path} has "
                f"spatial shape {tuple(image.shape[1:])}; they must match"
            )
        images.append(image)
        targets.append(target)
        metas.append(meta)
    return ImagePairs(
        images=images,
        targets=targets,
        metas=metas,
        image_paths=[p for p, _ in paired],
        target_paths=[t for _, t in paired],
    )
