"""Spatially disjoint splits of one large image into blocks, with leak-proof gaps."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from biakit.model_selection._split import SPLIT_NAMES, _split_sizes, kfold_indices

EXCLUDED, TRAIN, VAL, TEST = 0, 1, 2, 3
"""Split ids in :attr:`BlockSplit.labels` (0 = excluded gap)."""


def _per_axis(value: int | Sequence[int], ndim: int, name: str, minimum: int) -> tuple[int, ...]:
    """Broadcast an int or check a per-axis sequence of ints ``>= minimum``."""
    vals = (value,) * ndim if np.isscalar(value) else tuple(value)  # type: ignore[arg-type]
    ok = len(vals) == ndim and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in vals
    )
    if not ok:
        raise ValueError(
            f"{name} must be an int >= {minimum} or one such int per axis ({ndim}), got {value!r}"
        )
    return tuple(int(v) for v in vals)


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Validate an image shape (the spatial axes to split)."""
    shp = tuple(shape) if not np.isscalar(shape) else (shape,)  # type: ignore[arg-type]
    if not shp or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shp):
        raise ValueError(f"shape must be a tuple of positive ints (2D or 3D), got {shape!r}")
    return tuple(int(s) for s in shp)


def _block_grid(
    shape: tuple[int, ...], block_shape: int | Sequence[int]
) -> tuple[tuple[int, ...], tuple[int, ...], list[tuple[slice, ...]]]:
    """Block shape, grid shape and C-ordered block slices tiling ``shape`` from the origin."""
    block = _per_axis(block_shape, len(shape), "block_shape", 1)
    if any(b > s for b, s in zip(block, shape)):
        raise ValueError(f"block_shape {block} is bigger than the image shape {shape} on some axis")
    grid = tuple(-(-s // b) for s, b in zip(shape, block))
    slices = [
        tuple(slice(i * b, min((i + 1) * b, s)) for i, b, s in zip(idx, block, shape))
        for idx in itertools.product(*(range(g) for g in grid))
    ]
    return block, grid, slices


def _label_map(
    shape: tuple[int, ...], block: tuple[int, ...], grid_ids: np.ndarray, gap: tuple[int, ...]
) -> np.ndarray:
    """Per-pixel split ids from per-block ids, with the gap taken from the lower id."""
    labels = grid_ids.astype(np.uint8)
    for axis, b in enumerate(block):
        labels = np.repeat(labels, b, axis=axis)
    labels = np.ascontiguousarray(labels[tuple(slice(0, s) for s in shape)])
    if any(gap):
        size = tuple(2 * g + 1 for g in gap)
        nearest_higher = ndi.maximum_filter(labels, size=size, mode="constant", cval=0)
        labels[nearest_higher > labels] = EXCLUDED
    return labels


@dataclass(frozen=True, eq=False)
class BlockSplit:
    """Spatially disjoint train / val / test split of one image into blocks.

    Attributes
    ----------
    labels : numpy.ndarray of uint8
        Split id per pixel: 0 = excluded gap, 1 = train, 2 = val, 3 = test.
    block_shape : tuple of int
        Block size per axis (edge blocks may be smaller).
    gap : tuple of int
        Margin per axis removed between different splits.
    train_blocks, val_blocks, test_blocks : list of tuple of slice
        Full extent of each split's blocks (before the gap was removed).

    """

    labels: np.ndarray
    block_shape: tuple[int, ...]
    gap: tuple[int, ...]
    train_blocks: list[tuple[slice, ...]]
    val_blocks: list[tuple[slice, ...]]
    test_blocks: list[tuple[slice, ...]]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the split image."""
        return self.labels.shape

    def mask(self, name: str) -> np.ndarray:
        """Boolean mask of split ``name`` (``"train"``, ``"val"``, ``"test"`` or ``"gap"``)."""
        ids = {"gap": EXCLUDED, **{n: i for i, n in enumerate(SPLIT_NAMES, start=1)}}
        if name not in ids:
            raise ValueError(f"name must be one of {tuple(ids)}, got {name!r}")
        return self.labels == ids[name]

    @property
    def train(self) -> np.ndarray:
        """Boolean mask of training pixels."""
        return self.labels == TRAIN

    @property
    def val(self) -> np.ndarray:
        """Boolean mask of validation pixels."""
        return self.labels == VAL

    @property
    def test(self) -> np.ndarray:
        """Boolean mask of test pixels."""
        return self.labels == TEST

    def patches(
        self, name: str, patch_shape: int | Sequence[int], *, stride: int | Sequence[int] = 1
    ) -> np.ndarray:
        """Origins of patches lying entirely within split ``name``; see :func:`patches_within`."""
        return patches_within(self.mask(name), patch_shape, stride=stride)


def block_split(
    shape: Sequence[int],
    *,
    block_shape: int | Sequence[int],
    val: float = 0.15,
    test: float = 0.15,
    gap: int | Sequence[int] = 0,
    seed: int = 0,
) -> BlockSplit:
    """Split one large 2D / 3D image into spatially disjoint train / val / test blocks.

    The image is tiled from the origin by blocks of ``block_shape`` (edge blocks
    are cropped); blocks are assigned to splits at random in the proportions and
    with the rounding of :func:`train_val_test_split` (counted in blocks, not
    pixels). Around every boundary between blocks of different splits, ``gap``
    pixels are excluded (label 0) from the split with the lower id: train gives
    way to val and test, val to test. Val / test blocks thus stay whole, and any
    two kept pixels of different splits are more than ``gap`` pixels apart along
    some axis: with ``gap >=`` a network's halo (receptive-field radius), no
    prediction of one split sees input pixels of another.

    Parameters
    ----------
    shape : tuple of int
        Spatial shape of the image (``(Y, X)`` or ``(Z, Y, X)``).
    block_shape : int or tuple of int
        Block size, one int for every axis or one per axis; not bigger than ``shape``.
    val, test : float
        Fractions of blocks for validation and test (``val + test < 1``).
    gap : int or tuple of int
        Margin in pixels per axis, e.g. the network's halo.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    split : BlockSplit
        Label map, boolean masks and the block slices of each split.

    Raises
    ------
    ValueError
        If ``block_shape`` exceeds ``shape``, the fractions are invalid or there
        are fewer blocks than non-empty splits.

    Examples
    --------
    >>> s = block_split((64, 64), block_shape=16, val=0.25, test=0.25, gap=2, seed=0)
    >>> len(s.train_blocks), len(s.val_blocks), len(s.test_blocks)
    (8, 4, 4)
    >>> sorted(set(s.labels.ravel().tolist()))
    [0, 1, 2, 3]

    """
    shp = _check_shape(shape)
    block, grid, slices = _block_grid(shp, block_shape)
    margin = _per_axis(gap, len(shp), "gap", 0)
    n_blocks = len(slices)
    sizes = _split_sizes(
        n_blocks, val, test, "blocks", f" with block_shape {block}; use smaller blocks"
    )
    order = np.random.default_rng(seed).permutation(n_blocks)
    ids = np.empty(n_blocks, dtype=np.uint8)
    ids[order[: sizes[0]]] = TRAIN
    ids[order[sizes[0] : sizes[0] + sizes[1]]] = VAL
    ids[order[sizes[0] + sizes[1] :]] = TEST
    labels = _label_map(shp, block, ids.reshape(grid), margin)
    by_split = [[sl for sl, i in zip(slices, ids) if i == sid] for sid in (TRAIN, VAL, TEST)]
    return BlockSplit(labels, block, margin, *by_split)


def block_kfold(
    shape: Sequence[int],
    block_shape: int | Sequence[int],
    k: int = 5,
    *,
    gap: int | Sequence[int] = 0,
    seed: int = 0,
) -> list[BlockSplit]:
    """K-fold cross-validation over the blocks of one image.

    Blocks (tiled as in :func:`block_split`) are dealt into ``k`` folds with
    :func:`kfold_indices` (shuffled with ``seed``); fold ``f`` tests on its blocks
    (id 3) and trains on all others (id 1), minus ``gap`` pixels of training
    around the test blocks (id 0). There is no validation split (id 2).

    Parameters
    ----------
    shape : tuple of int
        Spatial shape of the image.
    block_shape : int or tuple of int
        Block size; not bigger than ``shape``.
    k : int
        Number of folds, ``2 <= k <=`` number of blocks.
    gap : int or tuple of int
        Margin in pixels per axis.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    folds : list of BlockSplit
        One per fold; every block is a test block in exactly one fold.

    Examples
    --------
    >>> folds = block_kfold((32, 32), 8, k=4, gap=1, seed=0)
    >>> [len(f.test_blocks) for f in folds]
    [4, 4, 4, 4]

    """
    shp = _check_shape(shape)
    block, grid, slices = _block_grid(shp, block_shape)
    margin = _per_axis(gap, len(shp), "gap", 0)
    n_blocks = len(slices)
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k > n_blocks:
        raise ValueError(
            f"k={k} folds need at least {k} blocks, but block_shape {block} gives {n_blocks}; "
            "use smaller blocks or lower k"
        )
    folds = []
    for train_idx, test_idx in kfold_indices(n_blocks, k, shuffle=True, seed=seed):
        ids = np.full(n_blocks, TRAIN, dtype=np.uint8)
        ids[test_idx] = TEST
        labels = _label_map(shp, block, ids.reshape(grid), margin)
        train = [slices[i] for i in train_idx]
        folds.append(BlockSplit(labels, block, margin, train, [], [slices[i] for i in test_idx]))
    return folds


def patches_within(
    split_mask: np.ndarray,
    patch_shape: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
) -> np.ndarray:
    """Origins of all patches that lie entirely inside a boolean mask.

    Sampling patches only from these origins keeps every patch inside one split,
    so training patches never overlap validation or test pixels.

    Parameters
    ----------
    split_mask : numpy.ndarray of bool
        Mask of one split, e.g. ``BlockSplit.train``.
    patch_shape : int or tuple of int
        Patch size, one int for every axis or one per axis.
    stride : int or tuple of int
        Only origins on multiples of ``stride`` are returned (1 = every pixel).

    Returns
    -------
    origins : numpy.ndarray of intp, shape (n_patches, ndim)
        Patch ``i`` is ``split_mask[o0:o0+p0, o1:o1+p1, ...]`` with ``o = origins[i]``;
        in C order, empty when no patch fits.

    Raises
    ------
    TypeError
        If ``split_mask`` is not boolean.

    Examples
    --------
    >>> m = np.zeros((4, 5), bool)
    >>> m[1:4, 1:4] = True
    >>> patches_within(m, 2).tolist()
    [[1, 1], [1, 2], [2, 1], [2, 2]]

    """
    mask = np.asarray(split_mask)
    if mask.dtype != bool:
        raise TypeError(
            f"split_mask must be a boolean array, got dtype {mask.dtype}; "
            "for a BlockSplit use split.mask('train') or split.train"
        )
    patch = _per_axis(patch_shape, mask.ndim, "patch_shape", 1)
    step = _per_axis(stride, mask.ndim, "stride", 1)
    if any(p > s for p, s in zip(patch, mask.shape)):
        return np.empty((0, mask.ndim), dtype=np.intp)
    # Summed-area table with a zero border: window sums by inclusion-exclusion.
    dtype = np.int32 if mask.size < 2**31 else np.int64
    table = np.pad(mask.astype(dtype), [(1, 0)] * mask.ndim)
    for axis in range(mask.ndim):
        np.cumsum(table, axis=axis, out=table)
    n_origins = tuple(s - p + 1 for s, p in zip(mask.shape, patch))
    total = np.zeros(n_origins, dtype=dtype)
    for corner in itertools.product((0, 1), repeat=mask.ndim):
        sign = (-1) ** (mask.ndim - sum(corner))
        index = tuple(slice(c * p, c * p + n) for c, p, n in zip(corner, patch, n_origins))
        total += sign * table[index]
    full = total == int(np.prod(patch))
    keep = np.zeros_like(full)
    grid = tuple(slice(None, None, s) for s in step)
    keep[grid] = full[grid]
    return np.argwhere(keep).astype(np.intp)
