"""Tiled prediction for networks whose output is larger than their input (super-resolution).

Each tile is a core region of the low-resolution image plus ``config.halo`` pixels of
context on every side (clipped at the image border, where the network's own zero
padding then acts exactly as on the whole image); the network's output for the core,
``config.factors`` times larger, is written into place. For networks whose
``config.is_local`` is True the result equals whole-image prediction up to float
rounding.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Sequence
from typing import Any

import numpy as np

from biakit.errors import DataError, ParameterError

from ._memory import tile_for_model


def iter_predict_tiled_scaled(
    model: Any,
    image: Any,
    *,
    tile_shape: int | Sequence[int] | None = None,
    device: Any = "auto",
    amp: str = "none",
) -> Generator[tuple[int, int], None, np.ndarray]:
    """Predict tile by tile, yielding ``(done, total)``; the generator returns the output.

    Parameters
    ----------
    model : torch.nn.Module
        With ``model.config`` giving ``ndim``, ``factors``, ``halo`` and ``out_channels``.
    image : array_like, shape (C, *spatial)
        Low-resolution input (already normalised).
    tile_shape : int or sequence of int, optional
        Core size of a tile in input pixels. Default: chosen from the memory free on
        ``device``, as in :func:`biakit.nn.infer.predict_tiled` (the probe of the
        network counts its ``prod(factors)`` times larger output).
    device, amp : str
        As :func:`biakit.nn.infer.predict_tiled`.

    Examples
    --------
    >>> import torch
    >>> from biakit.nn.models import EDSRConfig, EDSRLite
    >>> net = EDSRLite(EDSRConfig(scale=2, n_features=4, n_blocks=1)).eval()
    >>> gen = iter_predict_tiled_scaled(net, np.zeros((1, 40, 40), np.float32), tile_shape=16)
    >>> [step for step in gen][-1]
    (9, 9)
    """
    import torch

    from biakit.nn.infer._predict import _amp_dtype, _layout, _resolve_device, guarded_forward

    cfg = model.config
    array = np.asarray(image, dtype=np.float32)
    if array.ndim != cfg.ndim + 1 or array.shape[0] != cfg.in_channels:
        raise DataError(
            f"image has shape {array.shape}; the network expects ({cfg.in_channels}, "
            f"{', '.join('ZYX'[3 - cfg.ndim :])})"
        )
    spatial, factors, halo = array.shape[1:], cfg.factors, cfg.halo
    core = _core(tile_shape, cfg.ndim)
    dev = _resolve_device(device)
    if core is None:
        core = _auto_core(model, array.shape[0], spatial, halo, factors, dev)
    starts = [range(0, n, c) for n, c in zip(spatial, core)]
    total = int(np.prod([len(s) for s in starts]))
    out = np.zeros((cfg.out_channels, *(n * f for n, f in zip(spatial, factors))), np.float32)
    dtype = _amp_dtype(amp, dev)
    model = model.to(dev).eval()
    layout = _layout(model, dev)  # channels-last for 3D networks on the CPU
    if layout is not None:
        model = model.to(memory_format=layout)
    for done, origin in enumerate(itertools.product(*starts), 1):
        stop = [min(o + c, n) for o, c, n in zip(origin, core, spatial)]
        lo = [max(o - h, 0) for o, h in zip(origin, halo)]
        hi = [min(s + h, n) for s, h, n in zip(stop, halo, spatial)]
        tile = array[(slice(None), *(slice(a, b) for a, b in zip(lo, hi)))]
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(tile))[None].to(dev)
            if layout is not None:
                x = x.contiguous(memory_format=layout)
            y = guarded_forward(model, x, dtype)[0].cpu().numpy()
        src = tuple(
            slice((o - a) * f, (s - a) * f) for o, s, a, f in zip(origin, stop, lo, factors)
        )
        dst = tuple(slice(o * f, s * f) for o, s, f in zip(origin, stop, factors))
        out[(slice(None), *dst)] = y[(slice(None), *src)]
        yield done, total
    return out


def predict_tiled_scaled(model: Any, image: Any, **kwargs: Any) -> np.ndarray:
    """Run :func:`iter_predict_tiled_scaled` to the end and return the output."""
    gen = iter_predict_tiled_scaled(model, image, **kwargs)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def _auto_core(
    model: Any, channels: int, spatial: Any, halo: Any, factors: Any, device: Any
) -> tuple[int, ...]:
    """Core of the largest tile that fits in the free memory (see ``_memory``).

    The probe measures the activations of the network, output included, per input
    voxel, so the output's ``prod(factors)`` times more voxels are accounted for.
    """
    ndim = len(spatial)
    tiles = tile_for_model(
        model, channels, spatial, (1,) * ndim, halo, device, out_scale=float(np.prod(factors))
    )
    return tuple(
        int(n) if t >= n else max(int(t) - 2 * int(h), 1) for t, n, h in zip(tiles, spatial, halo)
    )


def _core(tile_shape: Any, ndim: int) -> tuple[int, ...] | None:
    if tile_shape is None:
        return None
    values = np.ravel(np.asarray(tile_shape))
    values = np.repeat(values, ndim) if values.size == 1 else values
    if values.size != ndim or any(int(v) != v or v < 1 for v in values):
        raise ParameterError(
            f"tile_shape must be one positive integer or {ndim} of them, got {tile_shape!r}"
        )
    return tuple(int(v) for v in values)
