"""Blind-spot masking for Noise2Void (N2V, N2V2, structN2V) and its masked loss.

Noise2Void (Krull et al., CVPR 2019) trains a network to predict each pixel
from its neighbourhood only: per patch a few pixels (``mask_fraction``: 0.2% here,
CAREamics' 0.198%; the denoising workflow's default is 1.5%, Krull et al.'s 64
pixels per 64x64 patch) are chosen on a stratified random grid (one per
box of ``1 / mask_fraction`` pixels), their input values are replaced, and the
loss is the squared error between the prediction and the *original* value at
those pixels only. Replacements:

* ``"uniform"`` (N2V): the value of a random other pixel within ``radius``
  (default 5, a 11x11 window) of the masked one;
* ``"median"`` (N2V2, Hoeck et al. 2022): the median of that window without
  its centre.

structN2V (Broaddus et al., ISBI 2020) also masks a line of ``struct_length``
pixels along ``struct_axis`` through each chosen pixel (the other line pixels
get random values of the patch), so noise correlated along that axis cannot
reveal the centre.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from biakit.errors import ParameterError

Replacement = Literal["uniform", "median"]


@dataclass(frozen=True)
class N2VMasking:
    """Settings of :func:`n2v_mask`.

    Parameters
    ----------
    mask_fraction : float
        Fraction of the pixels masked per patch, in ``(0, 0.5]``.
    replacement : {"uniform", "median"}
        How masked pixels get their input value (see the module docstring).
    radius : int
        Half-size of the neighbourhood window (>= 1).
    struct_axis : int or None
        Spatial axis of the structN2V line (``-1`` = X); ``None``: no line.
    struct_length : int
        Length of the line in pixels, the masked pixel in its middle (odd, >= 3
        when ``struct_axis`` is set).

    Examples
    --------
    >>> N2VMasking(mask_fraction=0.01).box_size(2)
    10.0
    """

    mask_fraction: float = 0.002
    replacement: Replacement = "uniform"
    radius: int = 5
    struct_axis: int | None = None
    struct_length: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.mask_fraction <= 0.5:
            raise ParameterError(f"mask_fraction must be in (0, 0.5], got {self.mask_fraction!r}")
        if self.replacement not in ("uniform", "median"):
            raise ParameterError(
                f"replacement must be 'uniform' or 'median', got {self.replacement!r}"
            )
        if int(self.radius) != self.radius or self.radius < 1:
            raise ParameterError(f"radius must be an integer >= 1, got {self.radius!r}")
        if self.struct_axis is not None and (self.struct_length < 3 or self.struct_length % 2 == 0):
            raise ParameterError(
                f"struct_length must be odd and >= 3 with struct_axis={self.struct_axis}, "
                f"got {self.struct_length!r}"
            )

    def box_size(self, ndim: int) -> float:
        """Side of the stratification boxes: one masked pixel per ``box ** ndim`` pixels."""
        return (1.0 / self.mask_fraction) ** (1.0 / ndim)


def _rng(seed: Any) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def stratified_coords(
    shape: tuple[int, ...], mask_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """One random pixel per box of a grid with ``1 / mask_fraction`` pixels per box.

    Returns ``(n, ndim)`` integer coordinates inside ``shape`` (boxes cut by the
    border keep their pixel only when it falls inside).

    Examples
    --------
    >>> c = stratified_coords((100, 100), 0.01, np.random.default_rng(0))
    >>> c.shape
    (100, 2)
    """
    box, grid = _box_grid(tuple(int(n) for n in shape), float(mask_fraction))
    coords = np.floor((grid + rng.random(grid.shape)) * box).astype(np.int64)
    inside = np.all(coords < np.asarray(shape), axis=1)
    return coords[inside]


@functools.lru_cache(maxsize=64)
def _box_grid(shape: tuple[int, ...], mask_fraction: float) -> tuple[float, np.ndarray]:
    """Box side and the ``(n_boxes, ndim)`` float grid of box indices (cached, read-only)."""
    box = (1.0 / mask_fraction) ** (1.0 / len(shape))
    counts = [math.ceil(n / box) for n in shape]
    grid = np.stack(np.meshgrid(*[np.arange(k) for k in counts], indexing="ij"), -1)
    grid = grid.reshape(-1, len(shape)).astype(np.float64)
    grid.flags.writeable = False
    return box, grid


@functools.lru_cache(maxsize=16)
def _window_offsets(ndim: int, radius: int) -> np.ndarray:
    """All offsets of the ``(2r+1)^ndim`` window except the centre, ``(K, ndim)`` (read-only)."""
    axes = [np.arange(-radius, radius + 1)] * ndim
    offsets = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, ndim)
    offsets = offsets[np.any(offsets != 0, axis=1)]
    offsets.flags.writeable = False
    return offsets


def _uniform_sources(
    coords: np.ndarray, shape: tuple[int, ...], radius: int, rng: np.random.Generator
) -> np.ndarray:
    """Pick a random other pixel within ``radius`` of each coordinate (mirrored at borders)."""
    offsets = _window_offsets(len(shape), int(radius))
    src = coords + offsets[rng.integers(len(offsets), size=len(coords))]
    size = np.asarray(shape)
    outside = (src < 0) | (src >= size)
    src = np.where(outside, 2 * coords - src, src)  # mirror the offset around the pixel
    src = np.clip(src, 0, size - 1)
    same = np.all(src == coords, axis=1)  # only in patches thinner than the window
    for i in np.flatnonzero(same):
        flat = rng.integers(math.prod(shape) - 1)
        own = np.ravel_multi_index(tuple(coords[i]), shape)
        src[i] = np.unravel_index(flat + (flat >= own), shape)
    return src


def _median_values(patch: np.ndarray, coords: np.ndarray, radius: int) -> np.ndarray:
    """Median of each coordinate's window without its centre, per channel ``(C, n)``."""
    spatial = patch.shape[1:]
    offsets = _window_offsets(len(spatial), int(radius))
    pos = coords[:, None, :] + offsets[None]  # (n, K, ndim)
    valid = np.all((pos >= 0) & (pos < np.asarray(spatial)), axis=-1)
    pos = np.clip(pos, 0, np.asarray(spatial) - 1)
    values = patch[(slice(None), *np.moveaxis(pos, -1, 0))].astype(np.float64)  # (C, n, K)
    values[:, ~valid] = np.nan
    return np.nanmedian(values, axis=-1)


def n2v_mask(
    patch: Any,
    masking: N2VMasking | None = None,
    *,
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Mask a channel-first patch for Noise2Void training.

    Parameters
    ----------
    patch : array_like, shape (C, *spatial)
        One training patch (2D or 3D spatial).
    masking : N2VMasking, optional
        Fraction, replacement, window and structN2V line (default: N2V).
    seed : int, Generator or None
        Randomness of the chosen pixels and their replacements.

    Returns
    -------
    masked : numpy.ndarray of float32, shape (C, *spatial)
        The network input: ``patch`` with the chosen pixels (in every channel)
        replaced, and with structN2V the line pixels around them.
    mask : numpy.ndarray of bool, shape (*spatial)
        The chosen pixels: where the loss compares the prediction with ``patch``.

    Examples
    --------
    >>> patch = np.random.default_rng(0).random((1, 64, 64)).astype(np.float32)
    >>> masked, mask = n2v_mask(patch, N2VMasking(mask_fraction=0.01), seed=1)
    >>> int(mask.sum()) in range(36, 50), bool(np.all(masked[0][~mask] == patch[0][~mask]))
    (True, True)
    """
    masking = N2VMasking() if masking is None else masking
    array = np.asarray(patch, dtype=np.float32)
    if array.ndim not in (3, 4):
        raise ParameterError(
            f"patch must be channel-first (C, Y, X) or (C, Z, Y, X), got shape {array.shape}"
        )
    spatial = array.shape[1:]
    rng = _rng(seed)
    coords = stratified_coords(spatial, masking.mask_fraction, rng)
    masked = array.copy()
    mask = np.zeros(spatial, dtype=bool)
    if len(coords) == 0:
        return masked, mask
    if masking.struct_axis is not None:
        _struct_line(masked, array, coords, masking, rng)
    index = (slice(None), *coords.T)
    if masking.replacement == "median":
        masked[index] = _median_values(array, coords, masking.radius)
    else:
        src = _uniform_sources(coords, spatial, masking.radius, rng)
        masked[index] = array[(slice(None), *src.T)]
    mask[tuple(coords.T)] = True
    return masked, mask


def _struct_line(
    masked: np.ndarray, patch: np.ndarray, coords: np.ndarray, masking: N2VMasking,
    rng: np.random.Generator,
) -> None:  # fmt: skip
    """Give the line pixels around each coordinate random values drawn from the patch."""
    spatial = patch.shape[1:]
    axis = masking.struct_axis
    if not -len(spatial) <= axis < len(spatial):
        raise ParameterError(f"struct_axis={axis} is not a spatial axis of a {len(spatial)}D patch")
    axis %= len(spatial)
    half = masking.struct_length // 2
    steps = np.array([s for s in range(-half, half + 1) if s != 0])
    line = np.repeat(coords[:, None, :], len(steps), axis=1)  # (n, L-1, ndim)
    line[..., axis] += steps[None]
    line = line.reshape(-1, len(spatial))
    line = line[np.all((line >= 0) & (line < np.asarray(spatial)), axis=1)]
    flat = patch.reshape(patch.shape[0], -1)
    draws = rng.integers(flat.shape[1], size=len(line))
    masked[(slice(None), *line.T)] = flat[:, draws]


def n2v_loss(output: Any, target: Any, huber: float | None = None) -> Any:
    """Mean squared error over the masked pixels only (a ``Trainer`` ``loss_fn``).

    Parameters
    ----------
    output : torch.Tensor, shape (B, C, *spatial)
        Network prediction.
    target : torch.Tensor, shape (B, C + 1, *spatial)
        The unmasked patch (``C`` channels) and the mask as the last channel,
        as :class:`N2VDataset` returns it.
    huber : float, optional
        Squared error up to this residual, linear beyond (Huber's loss, ``2 h |r| - h**2``):
        a rare outlier among the masked pixels (a hot pixel, a cosmic ray) pulls with a
        bounded force instead of one that grows with its value. None: plain squared error.

    Returns
    -------
    torch.Tensor
        ``sum(mask * (output - patch)**2) / (C * sum(mask))``; 0 (with a
        gradient) when no pixel is masked.

    Examples
    --------
    >>> import torch
    >>> out = torch.zeros(1, 1, 4, 4)
    >>> target = torch.zeros(1, 2, 4, 4); target[0, 0] = 2.0; target[0, 1, 0, 0] = 1.0
    >>> float(n2v_loss(out, target)), float(n2v_loss(out, target, huber=1.0))  # 2*1*2 - 1
    (4.0, 3.0)
    """
    n = output.shape[1]
    if target.shape[1] != n + 1 or target.shape[2:] != output.shape[2:]:
        raise ParameterError(
            f"n2v_loss needs a target of shape (B, {n + 1}, *spatial) (patch + mask) for an "
            f"output of shape {tuple(output.shape)}, got {tuple(target.shape)}"
        )
    clean, mask = target[:, :n].float(), target[:, n:].float()
    if huber is None:
        error = (output.float() - clean) ** 2
    else:
        import torch

        r = (output.float() - clean).abs()
        error = torch.where(r <= huber, r**2, 2.0 * huber * r - huber**2)
    return (error * mask).sum() / (mask.sum() * n).clamp_min(1.0)  # no host sync


class N2VDataset:
    """A dataset of ``(masked patch, patch + mask)`` pairs around a patch dataset.

    Sample ``i`` of epoch ``e`` is masked with ``default_rng([seed, e, i, 1])``,
    so training stays reproducible and resumable; :meth:`set_epoch` is passed
    on to the wrapped dataset.

    Parameters
    ----------
    base : Dataset
        Returns ``(image, target)`` tensors; for Noise2Void the target is the
        (normalised) image itself, e.g. a :class:`biakit.nn.datasets.PatchDataset`
        with the images as continuous targets.
    masking : N2VMasking
        The masking settings.
    seed : int
        Base seed of the masks.
    prefetch : bool
        After each :meth:`set_epoch`, make the epoch's samples in a background
        thread while the network trains (NumPy and PyTorch release the
        interpreter lock in their kernels), so patch reading, augmentation and
        masking leave the training step's critical path. Samples are the same
        as without it (each depends on ``(seed, epoch, i)`` only); a sample not
        made yet is made on request. Only for a ``base`` that is safe to read
        from two threads (in-memory arrays) and a data loader without worker
        processes; a copy of the dataset (pickled for a worker) does not
        prefetch.

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(2, 1, 32, 32)
    >>> ds = N2VDataset(list(zip(x, x)), N2VMasking(mask_fraction=0.01))
    >>> masked, target = ds[0]
    >>> tuple(masked.shape), tuple(target.shape)
    ((1, 32, 32), (2, 32, 32))
    """

    def __init__(
        self, base: Any, masking: N2VMasking, *, seed: int = 0, prefetch: bool = False
    ) -> None:
        self.base, self.masking, self.seed = base, masking, int(seed)
        self.prefetch = bool(prefetch)
        self.epoch = 0
        self._ready: dict[int, tuple[Any, Any]] = {}  # prefetched samples of self.epoch
        self._done: set[int] = set()  # handed out or made on request: not to prefetch
        self._making: int | None = None  # the sample the prefetch thread is making
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        """Return the samples per epoch (those of the wrapped dataset)."""
        return len(self.base)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (also in the wrapped dataset); start prefetching it if asked."""
        self._halt()
        self.epoch = int(epoch)
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)
        if self.prefetch:
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._prefetch, args=(self.epoch, self._stop), daemon=True,
                name="biakit-n2v-prefetch",
            )  # fmt: skip
            self._thread.start()

    def _halt(self) -> None:
        """Stop a running prefetch and drop what it made (it belongs to the old epoch)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self._ready.clear()
        self._done.clear()
        self._making = None

    def _prefetch(self, epoch: int, stop: threading.Event) -> None:
        for i in range(len(self)):
            with self._lock:
                if stop.is_set():
                    return
                if i in self._done:
                    continue
                self._making = i
            try:
                sample = self._make(i, epoch)
            except Exception:  # made again on request, which raises it there
                sample = None
            with self._lock:
                self._making = None
                if sample is not None:
                    self._ready[i] = sample
                self._lock.notify_all()
            if sample is None:
                return

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        """Sample ``i``: the masked image and the target patch with the mask channel."""
        i = int(i) % len(self)
        if self._thread is not None:
            with self._lock:
                while self._making == i:  # the thread is making it: wait
                    self._lock.wait()
                self._done.add(i)  # the thread skips it from now on
                if i in self._ready:
                    return self._ready.pop(i)
        return self._make(i, self.epoch)

    def _make(self, i: int, epoch: int) -> tuple[Any, Any]:
        import torch

        _, target = self.base[i]
        clean = np.asarray(target, dtype=np.float32)
        rng = np.random.default_rng([self.seed, epoch, i, 1])
        masked, mask = n2v_mask(clean, self.masking, seed=rng)
        stacked = np.empty((clean.shape[0] + 1, *clean.shape[1:]), dtype=np.float32)
        stacked[:-1] = clean
        stacked[-1] = mask
        return torch.from_numpy(masked), torch.from_numpy(stacked)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the thread (a worker's copy makes its samples on request)."""
        state = {k: v for k, v in self.__dict__.items() if k not in _UNPICKLED}
        state["prefetch"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled copy (no prefetch)."""
        self.__dict__.update(state)
        self._ready, self._done, self._making = {}, set(), None
        self._lock, self._stop, self._thread = threading.Condition(), threading.Event(), None


_UNPICKLED = ("_ready", "_done", "_making", "_lock", "_stop", "_thread")
