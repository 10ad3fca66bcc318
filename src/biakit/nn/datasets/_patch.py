"""Random patch sampling from lists of (possibly huge, lazily read) images and targets."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from biakit.errors import DataError
from biakit.nn.datasets._normalize import Normalizer, NormStats, normalize_with_stats
from biakit.nn.datasets._sources import ChannelFirst, find_foreground
from biakit.validation import check_channel_layout

TargetKind = Literal["labels", "continuous"]


@dataclass(frozen=True)
class PatchLocation:
    """Where sample ``i`` of an epoch comes from.

    Attributes
    ----------
    image : int
        Index of the image.
    start : tuple of int
        First voxel of the patch per spatial axis (negative or past the end only
        where the image is smaller than the patch: reflect padding there).
    foreground : bool
        Whether the patch was centred on a foreground voxel.
    """

    image: int
    start: tuple[int, ...]
    foreground: bool


def _check_list(items: Any, name: str) -> list[Any]:
    if hasattr(items, "shape") or isinstance(items, (str, bytes)):
        raise TypeError(
            f"{name} must be a list of arrays (one per image), got a single "
            f"{type(items).__name__}; wrap it in a list"
        )
    try:
        out = list(items)
    except TypeError:
        raise TypeError(f"{name} must be a list of arrays, got {type(items).__name__}") from None
    if not out:
        raise ValueError(f"{name} is empty; give at least one image")
    return out


def _check_patch_shape(patch_shape: Any) -> tuple[int, ...]:
    try:
        patch = tuple(int(p) for p in patch_shape)
    except TypeError:
        raise TypeError(f"patch_shape must be a tuple of ints, got {patch_shape!r}") from None
    if len(patch) not in (2, 3) or any(p < 1 for p in patch):
        raise ValueError(
            f"patch_shape must be 2 or 3 positive sizes ((Y, X) or (Z, Y, X)), got {patch_shape!r}"
        )
    return patch


def _wrap(array: Any, n_spatial: int, name: str, allow_channel: bool = True) -> ChannelFirst:
    if not (hasattr(array, "shape") and hasattr(array, "dtype")):
        array = np.asarray(array)
    ndim = len(array.shape)
    if ndim == n_spatial:
        return ChannelFirst(array, has_channel=False)
    if ndim == n_spatial + 1 and (allow_channel or array.shape[0] == 1):
        shape_only = np.broadcast_to(np.zeros((), np.uint8), array.shape)  # reads nothing
        check_channel_layout(shape_only, n_spatial, name=name)  # refuses a channel-last look
        return ChannelFirst(array, has_channel=True)
    axes = "(Z, Y, X)" if n_spatial == 3 else "(Y, X)"
    expected = f"{axes} or (C, {axes[1:]}" if allow_channel else f"{axes} or (1, {axes[1:]}"
    raise DataError(
        f"{name} has shape {tuple(array.shape)}, but patch_shape has {n_spatial} spatial axes; "
        f"expected {expected}"
    )


class PatchDataset(Dataset):
    """Random training patches from images and targets of any size, read lazily.

    Sample ``i`` of epoch ``e`` depends only on ``(seed, e, i)``: it is drawn
    with ``numpy.random.default_rng([seed, e, i])`` (the augmenter gets the same
    generator), so training is reproducible and resumable, also with DataLoader
    worker processes. Each sample:

    1. picks an image with probability proportional to its number of voxels;
    2. with probability ``foreground_fraction`` centres the patch on a random
       foreground voxel (target > 0; any channel for continuous targets) plus a
       jitter of up to a quarter patch per axis -- the voxel stays inside the
       patch; images without foreground fall back to 3. Foreground voxels are
       found once per image, on first need (see :func:`find_foreground`: whole
       scan in slabs, or 64 random windows of huge lazy targets);
    3. otherwise places the patch uniformly at random inside the image;
    4. reads only that region (NumPy, Zarr, h5py, Dask or any array with NumPy
       slicing). Along axes where the image is smaller than the patch, the
       image is centred at a random offset and reflect-padded (image and target);
    5. normalises the patch with statistics of the whole image computed once at
       construction (:meth:`Normalizer.stats`), so patches match the image;
    6. applies ``augmenter(image, target, rng=rng, target_kind=target_kind)``,
       then ``target_transform(target)``;
    7. returns torch tensors: the image float32 ``(C, *patch_shape)``, the target
       int64 ``(*patch_shape)`` (labels) or float32 ``(Ct, *patch_shape)``
       (continuous); after a ``target_transform``, int64 for integer / bool
       output and float32 for float output, in the shape it returned.

    Parameters
    ----------
    images : list of array_like
        Channel-first ``(C, *spatial)`` arrays, or ``(*spatial)`` (then ``C = 1``).
    targets : list of array_like
        Same spatial shape as their image: ``(*spatial)`` integer labels (or
        ``(1, *spatial)``) for ``target_kind="labels"``, ``(Ct, *spatial)`` or
        ``(*spatial)`` floats for ``"continuous"``.
    patch_shape : tuple of int
        ``(Y, X)`` or ``(Z, Y, X)``; fixes the spatial dimensionality.
    samples_per_epoch : int
        ``len(dataset)``.
    foreground_fraction : float
        Probability of a foreground-centred patch, in ``[0, 1]``.
    augmenter : callable, optional
        ``augmenter(image, target, rng=..., target_kind=...) -> (image, target)``,
        e.g. :class:`biakit.nn.augment.Augmenter`; must keep the patch shape.
    normalizer : Normalizer
        Intensity normalisation (per image, per channel).
    target_kind : {"labels", "continuous"}
        How targets are read and returned.
    target_transform : callable, optional
        Applied to the target patch after augmentation (e.g. labels -> classes).
    seed : int
        Non-negative base seed.

    Notes
    -----
    DataLoader worker processes give the same batches as ``num_workers=0``
    (checked with ``fork`` and ``spawn``). Workers get a copy of the dataset:
    call :meth:`set_epoch` before each epoch's iteration and do not use
    ``persistent_workers=True``, which would keep the old epoch. Worker copies
    must be picklable under ``spawn``: NumPy, Zarr and Dask arrays are, h5py
    datasets are not (convert to Zarr, or use ``fork``). Foreground voxels are
    found per process, on first need.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.random((40, 50)), rng.random((64, 64))]
    >>> targets = [(im > 0.9).astype(np.uint16) for im in images]
    >>> ds = PatchDataset(images, targets, (32, 32), samples_per_epoch=8, seed=1)
    >>> image, target = ds[0]
    >>> tuple(image.shape), image.dtype, tuple(target.shape), target.dtype
    ((1, 32, 32), torch.float32, (32, 32), torch.int64)
    """

    def __init__(
        self,
        images: Sequence[Any],
        targets: Sequence[Any],
        patch_shape: Sequence[int],
        *,
        samples_per_epoch: int = 256,
        foreground_fraction: float = 0.5,
        augmenter: Callable[..., tuple[Any, Any]] | None = None,
        normalizer: Normalizer | None = None,
        target_kind: TargetKind = "labels",
        target_transform: Callable[[Any], Any] | None = None,
        seed: int = 0,
    ) -> None:
        self.patch_shape = _check_patch_shape(patch_shape)
        self._check_options(
            samples_per_epoch, foreground_fraction, augmenter, target_kind, target_transform, seed
        )
        normalizer = Normalizer() if normalizer is None else normalizer
        if not isinstance(normalizer, Normalizer):
            raise TypeError(f"normalizer must be a Normalizer, got {type(normalizer).__name__}")
        self.samples_per_epoch = int(samples_per_epoch)
        self.foreground_fraction = float(foreground_fraction)
        self.augmenter, self.target_transform = augmenter, target_transform
        self.normalizer, self.target_kind, self.seed = normalizer, target_kind, int(seed)
        self.epoch = 0
        self._images, self._targets = self._wrap_all(images, targets)
        sizes = np.array([math.prod(im.spatial_shape) for im in self._images], dtype=np.float64)
        self._weights = sizes / sizes.sum()
        self.stats: list[NormStats] = [normalizer.stats(im.stats_input()) for im in self._images]
        self._foreground: list[np.ndarray | None] = [None] * len(self._images)

    @staticmethod
    def _check_options(
        samples: Any, fraction: Any, augmenter: Any, kind: Any, transform: Any, seed: Any
    ) -> None:
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
            raise ValueError(f"samples_per_epoch must be a positive int, got {samples!r}")
        if not (isinstance(fraction, (int, float, np.number)) and 0 <= fraction <= 1):
            raise ValueError(f"foreground_fraction must be in [0, 1], got {fraction!r}")
        if kind not in ("labels", "continuous"):
            raise ValueError(f"target_kind must be 'labels' or 'continuous', got {kind!r}")
        for name, fn in (("augmenter", augmenter), ("target_transform", transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")

    def _wrap_all(
        self, images: Sequence[Any], targets: Sequence[Any]
    ) -> tuple[list[ChannelFirst], list[ChannelFirst]]:
        images, targets = _check_list(images, "images"), _check_list(targets, "targets")
        if len(images) != len(targets):
            raise ValueError(
                f"images and targets must have the same length, got {len(images)} images "
                f"and {len(targets)} targets"
            )
        n = len(self.patch_shape)
        labels = self.target_kind == "labels"
        out_images, out_targets = [], []
        for k, (image, target) in enumerate(zip(images, targets)):
            im = _wrap(image, n, f"images[{k}]")
            tg = _wrap(target, n, f"targets[{k}]", allow_channel=not labels)
            if im.spatial_shape != tg.spatial_shape:
                raise ValueError(
                    f"targets[{k}] has spatial shape {tg.spatial_shape} but images[{k}] has "
                    f"{im.spatial_shape}; they must match"
                )
            if labels and not (np.issubdtype(tg.dtype, np.integer) or tg.dtype == bool):
                raise ValueError(
                    f"targets[{k}] has dtype {tg.dtype}; target_kind='labels' needs integer "
                    "labels (use target_kind='continuous' for float targets)"
                )
            out_images.append(im)
            out_targets.append(tg)
        return out_images, out_targets

    def __len__(self) -> int:
        """Return the number of samples per epoch."""
        return self.samples_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose samples ``ds[i]`` returns (non-negative int)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        self.epoch = int(epoch)

    def foreground(self, k: int) -> np.ndarray:
        """Flat indices of image ``k``'s foreground voxels (found once, then cached)."""
        cached = self._foreground[k]
        if cached is None:
            cached = find_foreground(self._targets[k], seed=self.seed + k)
            self._foreground[k] = cached
        return cached

    def _rng(self, i: int) -> np.random.Generator:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(i).__name__}")
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples per epoch")
        return np.random.default_rng([self.seed, self.epoch, int(i) % len(self)])

    def _locate(self, rng: np.random.Generator) -> PatchLocation:
        k = int(rng.choice(len(self._images), p=self._weights))
        spatial = self._images[k].spatial_shape
        lows = [min(0, n - p) for n, p in zip(spatial, self.patch_shape)]
        highs = [max(0, n - p) for n, p in zip(spatial, self.patch_shape)]
        if self.foreground_fraction > 0 and rng.random() < self.foreground_fraction:
            flat = self.foreground(k)
            if flat.size:
                centre = np.unravel_index(flat[rng.integers(flat.size)], spatial)
                start = []
                for c, p, lo, hi in zip(centre, self.patch_shape, lows, highs):
                    jitter = int(rng.integers(-(p // 4), p // 4 + 1))
                    start.append(int(np.clip(int(c) + jitter - p // 2, lo, hi)))
                return PatchLocation(k, tuple(start), True)
        start = tuple(int(rng.integers(lo, hi + 1)) for lo, hi in zip(lows, highs))
        return PatchLocation(k, start, False)

    def locate(self, i: int) -> PatchLocation:
        """Where sample ``i`` of the current epoch comes from (reads no pixels)."""
        return self._locate(self._rng(i))

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample ``i`` of the current epoch: ``(image, target)`` tensors."""
        rng = self._rng(i)
        loc = self._locate(rng)
        image = self._images[loc.image].read(loc.start, self.patch_shape)
        image = normalize_with_stats(image, self.stats[loc.image])
        target = self._targets[loc.image].read(loc.start, self.patch_shape)
        if self.target_kind == "labels":
            target = target[0]
        if self.augmenter is not None:
            image, target = self.augmenter(image, target, rng=rng, target_kind=self.target_kind)
            self._check_augmented(image, target)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return self._to_tensors(image, target)

    def _check_augmented(self, image: Any, target: Any) -> None:
        if tuple(np.shape(image)[1:]) != self.patch_shape or (
            tuple(np.shape(target)[-len(self.patch_shape) :]) != self.patch_shape
        ):
            raise ValueError(
                f"augmenter must keep the patch shape {self.patch_shape}, returned image "
                f"{tuple(np.shape(image))} and target {tuple(np.shape(target))}"
            )

    def _to_tensors(self, image: Any, target: Any) -> tuple[torch.Tensor, torch.Tensor]:
        image_t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
        target = np.asarray(target)
        if self.target_transform is None:
            floating = self.target_kind == "continuous"
        else:
            floating = np.issubdtype(target.dtype, np.floating)
        dtype = np.float32 if floating else np.int64
        return image_t, torch.from_numpy(np.ascontiguousarray(target, dtype=dtype))
