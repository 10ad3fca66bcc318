"""Automatic tile sizes: free memory of the device and activation bytes per input voxel.

The default tile of a tiled prediction is the largest one whose batch fits in a
fraction (1/4) of the memory free on the device, given the network's activation
memory per input voxel:

* free memory: :func:`free_memory` -- CUDA ``torch.cuda.mem_get_info``; CPU (and
  other devices) ``MemAvailable`` of ``/proc/meminfo``, else ``psutil`` when
  installed, else ``os.sysconf``, else 2 GiB;
* bytes per voxel: :func:`bytes_per_voxel` -- the network runs once, under
  ``torch.inference_mode``, on a small probe tile; forward hooks on every module add
  up the bytes of the distinct tensors the modules return (every intermediate
  feature map, as if none were freed) and a safety factor of 2 covers functional
  operations outside modules (concatenations, interpolations) and convolution
  workspaces;
* tile: :func:`auto_tile_shape` -- the most voxels with ``batch_size`` tiles in the
  budget, capped at :data:`MAX_TILE_VOXELS` (larger tiles are no faster and leave the
  batching of tiles no work), as equal sides as the image allows, rounded down to the
  divisor and never below ``2 * overlap + divisor`` (the smallest valid tile);
* tiled prediction: :func:`tiles_and_batch` -- the largest tile one batch's budget
  holds (fewer tiles, less overlap computed twice), shrunk to the least pixels that
  need no more tiles, then as many tiles per batch as the budget holds.
"""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Callable, Sequence
from typing import Any

FRACTION = 0.25  # of the free memory a batch of tiles may use
SAFETY = 2.0  # factor on the measured activation bytes
FALLBACK_FREE = 2 * 1024**3  # bytes, when the free memory cannot be read
FALLBACK_BYTES_PER_VOXEL = 4096.0  # when the network cannot be run (ONNX session)
MAX_TILE_VOXELS = {2: 2048**2, 3: 160**3}


def _meminfo_available(path: str = "/proc/meminfo") -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes, or None."""
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cpu_free() -> int:
    available = _meminfo_available()
    if available is not None:
        return available
    try:
        import psutil  # optional, not a dependency

        return int(psutil.virtual_memory().available)
    except (ImportError, AttributeError):  # pragma: no cover - Linux has /proc/meminfo
        pass
    try:  # pragma: no cover - platform dependent
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return FALLBACK_FREE


def free_memory(device: Any = "cpu") -> int:
    """Bytes of memory free on ``device``.

    Parameters
    ----------
    device : str or torch.device
        ``"cuda"`` (``torch.cuda.mem_get_info``) or any other device, for which the
        host's available RAM is returned (``MemAvailable`` of ``/proc/meminfo``, else
        ``psutil``, else ``os.sysconf``, else 2 GiB).

    Returns
    -------
    int

    Examples
    --------
    >>> free_memory("cpu") > 0
    True

    """
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    return _cpu_free()


def bytes_per_voxel(model: Any, in_channels: int, divisor: Sequence[int], device: Any) -> float:
    """Activation bytes per input voxel of ``model`` at inference, times :data:`SAFETY`.

    Runs the network once on a zero probe of ``max(2 * divisor, 16)`` pixels per axis
    (batch 1) under ``torch.inference_mode`` and adds up the bytes of the input and of
    the distinct tensors its modules return (all kept alive, so in-place results
    count once). The model's mode and device are restored.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU())
    >>> bytes_per_voxel(net, 1, (1, 1), "cpu")  # (1 + 8 + 8 channels) * 4 bytes * 2
    136.0

    """
    import torch

    param = next(model.parameters(), None)
    key = (int(in_channels), tuple(int(d) for d in divisor), str(torch.device(device)),
           None if param is None else param.dtype)  # fmt: skip
    known = _PROBED.setdefault(model, {})
    if key in known:  # the probe's figure depends on the architecture, not the weights
        return known[key]
    shape = [max(2 * int(d), 16) for d in divisor]
    seen: dict[int, Any] = {}  # data pointer -> tensor, kept alive so no address is reused

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        for t in output if isinstance(output, tuple | list) else (output,):
            if isinstance(t, torch.Tensor):
                seen[t.data_ptr()] = t

    restore = (model.training, param.device if param is not None else None)
    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        model.eval().to(device)
        floating = param is not None and param.is_floating_point()
        x = torch.zeros((1, int(in_channels), *shape), device=device,
                        dtype=param.dtype if floating else torch.float32)  # fmt: skip
        seen[-1] = x
        with torch.inference_mode():
            model(x)
        total = sum(t.numel() * t.element_size() for t in seen.values())
    finally:
        seen.clear()
        for h in handles:
            h.remove()
        model.train(restore[0])
        if restore[1] is not None:
            model.to(restore[1])
    known[key] = SAFETY * total / math.prod(shape)
    return known[key]


_PROBED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Per network: what :func:`bytes_per_voxel` measured, by (channels, divisor, device, dtype).

Frame-by-frame, plane-by-plane and slice-by-slice predictions call the tiler once per
frame; the probe (a forward pass) then ran as often (a quarter of an isotropic
restoration's time)."""


def _balanced(voxels: float, limits: Sequence[int]) -> list[float]:
    """Sides with product ``voxels``, as equal as ``limits`` (per-axis maxima) allow."""
    sides: list[float | None] = [None] * len(limits)
    while True:
        free = [i for i, s in enumerate(sides) if s is None]
        if not free:
            return [float(s) for s in sides]  # type: ignore[arg-type]
        fixed = math.prod(s for s in sides if s is not None)
        edge = (voxels / fixed) ** (1.0 / len(free))
        clipped = [i for i in free if limits[i] <= edge]
        if not clipped:
            for i in free:
                sides[i] = edge
        for i in clipped:
            sides[i] = float(limits[i])


def auto_tile_shape(
    shape: Sequence[int],
    divisor: Sequence[int],
    overlap: Sequence[int],
    voxel_bytes: float,
    *,
    batch_size: int = 1,
    free_bytes: int | None = None,
    fraction: float = FRACTION,
    max_voxels: int | None = None,
) -> tuple[int, ...]:
    """Largest tile whose batch fits in ``fraction * free_bytes``, rounded to ``divisor``.

    Parameters
    ----------
    shape : sequence of int
        Spatial image shape.
    divisor, overlap : sequence of int
        Model divisor and context per side, per axis.
    voxel_bytes : float
        Memory per input voxel of one tile (see :func:`bytes_per_voxel`).
    batch_size : int
        Tiles per forward pass.
    free_bytes : int, optional
        Free memory; default :func:`free_memory` of the CPU.
    fraction : float
        Share of ``free_bytes`` one batch may use.
    max_voxels : int, optional
        Cap on the voxels of one tile; default :data:`MAX_TILE_VOXELS`.

    Returns
    -------
    tuple of int
        Multiples of ``divisor``, at least ``2 * overlap + divisor`` rounded up and at
        most the image padded to the divisor.

    Examples
    --------
    >>> auto_tile_shape((5000, 5000), (4, 4), (10, 10), 1000.0, batch_size=4,
    ...                 free_bytes=4 * 1000 * 4 * 512**2)
    (512, 512)
    >>> auto_tile_shape((20, 5000), (4, 4), (10, 10), 1000.0, free_bytes=4 * 1000 * 100**2)
    (20, 500)

    """
    free = free_memory("cpu") if free_bytes is None else int(free_bytes)
    cap = MAX_TILE_VOXELS.get(len(shape), 160**3) if max_voxels is None else max_voxels
    voxels = min(fraction * free / (max(voxel_bytes, 1e-9) * max(batch_size, 1)), cap)
    padded = [-(-int(n) // int(d)) * int(d) for n, d in zip(shape, divisor)]
    smallest = [-(-(2 * int(h) + int(d)) // int(d)) * int(d) for h, d in zip(overlap, divisor)]
    sides = _balanced(max(voxels, 1.0), padded)
    return tuple(
        int(min(max(int(side) // int(d) * int(d), low), high))
        for side, d, low, high in zip(sides, divisor, smallest, padded)
    )


def tile_for_model(
    model: Any,
    in_channels: int,
    shape: Sequence[int],
    divisor: Sequence[int],
    overlap: Sequence[int],
    device: Any,
    *,
    batch_size: int = 1,
    runnable: bool = True,
    out_scale: float = 1.0,
    free: Callable[[Any], int] | None = None,
) -> tuple[int, ...]:
    """Automatic tile shape of ``model`` on ``device`` for an image of ``shape``.

    ``out_scale`` multiplies the fallback estimate (used when ``runnable`` is False)
    for networks whose output is larger than their input.
    """
    per_voxel = _voxel_bytes(model, in_channels, divisor, device, runnable, out_scale)
    free_fn = free if free is not None else free_memory
    return auto_tile_shape(
        shape, divisor, overlap, per_voxel, batch_size=batch_size, free_bytes=free_fn(device)
    )


def _voxel_bytes(
    model: Any, in_channels: int, divisor: Sequence[int], device: Any, runnable: bool,
    out_scale: float = 1.0,
) -> float:  # fmt: skip
    """Measured bytes per input voxel, or the fallback estimate for networks that cannot run."""
    if runnable:
        return bytes_per_voxel(model, in_channels, divisor, device)
    return FALLBACK_BYTES_PER_VOXEL * float(out_scale)


def tiles_and_batch(
    model: Any,
    in_channels: int,
    shape: Sequence[int],
    divisor: Sequence[int],
    overlap: Sequence[int],
    device: Any,
    *,
    batch_size: int,
    blending: str,
    runnable: bool = True,
    free: Callable[[Any], int] | None = None,
) -> tuple[tuple[int, ...], int]:
    """Automatic tile shape and tiles per batch of a tiled prediction of ``shape``.

    The largest tile one batch's memory budget holds (:func:`tile_for_model` with a
    batch of one), shrunk to the least pixels that need no more tiles
    (:func:`~biakit.nn.infer._tiling.fit_tile_shape`); then as many of them per batch,
    up to ``batch_size``, as the budget holds. Fewer, larger tiles overlap less: a
    1024 x 1024 image is one tile where four 564 x 564 tiles in a batch (nine with the
    cross-fading overlap) computed 2.7x its pixels.
    """
    from ._tiling import fit_tile_shape

    per_voxel = _voxel_bytes(model, in_channels, divisor, device, runnable)
    free_bytes = (free if free is not None else free_memory)(device)
    tile = auto_tile_shape(shape, divisor, overlap, per_voxel, batch_size=1, free_bytes=free_bytes)
    tile = fit_tile_shape(shape, tile, overlap, divisor, blending)
    budget = FRACTION * free_bytes / max(per_voxel, 1e-9)  # voxels of one batch
    return tile, int(min(max(batch_size, 1), max(budget // math.prod(tile), 1)))


__all__ = ["auto_tile_shape", "bytes_per_voxel", "free_memory", "tile_for_model",
           "tiles_and_batch"]  # fmt: skip
