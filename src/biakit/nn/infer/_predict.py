"""Tiled prediction of fully convolutional networks on images of any size."""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np

from biakit.cancel import check_cancelled

from ._memory import tiles_and_batch
from ._tiling import BLENDINGS, TilePlan, plan_tiles, read_tile, round_up
from ._tta import Transform, apply, invert, tta_transforms

ACTIVATIONS = (None, "softmax", "sigmoid")
_AXES = {2: "YX", 3: "ZYX"}


def _config(model: Any) -> Any:
    """Return the geometry carrier: ``model.config`` or ``model`` itself."""
    cfg = getattr(model, "config", model)
    missing = [a for a in ("ndim", "divisor", "halo", "out_channels") if not hasattr(cfg, a)]
    if missing:
        raise TypeError(
            f"model needs a .config with ndim, divisor, halo and out_channels (missing "
            f"{', '.join(missing)}); got {type(model).__name__}"
        )
    return cfg


def _per_axis(value: Any, ndim: int, name: str) -> tuple[float, ...]:
    values = np.ravel(np.asarray(value, dtype=float))
    if values.size == 1:
        values = np.repeat(values, ndim)
    if values.size != ndim or not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be a number or {ndim} numbers (one per axis), got {value!r}")
    return tuple(float(v) for v in values)


def _geometry(
    cfg: Any, spatial: tuple[int, ...], tile_shape: Any, overlap: Any
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...] | None]:
    """Validate and return ``(divisor, overlap, tile_shape)`` per spatial axis.

    ``tile_shape`` is None when not given (chosen later from the free memory).
    """
    ndim, axes = len(spatial), _AXES.get(len(spatial), "")
    divisor = tuple(int(d) for d in _per_axis(cfg.divisor, ndim, "model divisor"))
    halo = _per_axis(cfg.halo if overlap is None else overlap, ndim, "overlap")
    if min(halo) < 0:
        raise ValueError(f"overlap must be >= 0 along every axis, got {overlap!r}")
    halo_i = tuple(math.ceil(h) for h in halo)
    tiles: tuple[int, ...] | None = None
    if tile_shape is not None:
        raw = _per_axis(tile_shape, ndim, "tile_shape")
        tiles = tuple(int(t) for t in raw)
        for i, (t, r, d) in enumerate(zip(tiles, raw, divisor)):
            if t != r or t < 1 or t % d:
                lower, upper = max(t // d * d, d), round_up(max(t, 1), d)
                hint = f"{lower}" if lower == upper else f"{lower} or {upper}"
                raise ValueError(
                    f"tile_shape[{i}] = {r:g} (axis {axes[i : i + 1] or i}) is not a positive "
                    f"multiple of the model divisor {d}; use {hint}"
                )
    return divisor, halo_i, tiles


def resolve_blending(cfg: Any, blending: str, overlap: Sequence[int]) -> str:
    """Return the blending ``"auto"`` stands for: ``"none"`` for exact tiles, else Gaussian.

    Tiles are exact when the network is local (``cfg.is_local``: no per-tile
    statistics) and ``overlap`` covers its whole receptive field (``cfg.halo``): every
    tile then predicts a pixel alike, so a cross-fade would only average equal values
    at the price of a quarter more overlap per axis (1.36x the pixels of a 2048^2 image
    in 2D). Other blendings are returned as given.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cfg = SimpleNamespace(halo=(23, 23), is_local=True)
    >>> resolve_blending(cfg, "auto", (23, 23)), resolve_blending(cfg, "auto", (8, 8))
    ('none', 'gaussian')
    >>> resolve_blending(SimpleNamespace(halo=(1, 1)), "auto", (1, 1))  # locality unknown
    'gaussian'
    """
    if blending != "auto":
        return blending
    halo = _per_axis(cfg.halo, len(overlap), "model halo")
    exact = bool(getattr(cfg, "is_local", False)) and all(o >= h for o, h in zip(overlap, halo))
    return "none" if exact else "gaussian"


def _check_image(cfg: Any, image: Any) -> tuple[int, ...]:
    shape = getattr(image, "shape", None)
    if shape is None:
        raise TypeError(f"image must be a NumPy, Dask or Zarr array, got {type(image).__name__}")
    ndim = int(cfg.ndim)
    if len(shape) != ndim + 1:
        raise ValueError(
            f"image has shape {tuple(shape)} ({len(shape)} axes); a {ndim}D model expects "
            f"(C, {', '.join(_AXES.get(ndim, 'S' * ndim))}) with {ndim} spatial axes "
            "(add a channel axis with image[None] for a single-channel image)"
        )
    in_ch = getattr(cfg, "in_channels", None)
    if in_ch is not None and shape[0] != in_ch:
        raise ValueError(f"image has {shape[0]} channels (axis 0); the model expects {in_ch}")
    return tuple(int(s) for s in shape[1:])


def _check_out(out: Any, shape: tuple[int, ...], blending: str) -> Any:
    if out is None:
        return np.zeros(shape, dtype=np.float32)
    if tuple(getattr(out, "shape", ())) != shape:
        raise ValueError(f"out has shape {getattr(out, 'shape', None)}; expected {shape}")
    if np.dtype(out.dtype).kind != "f":
        raise ValueError(f"out must have a floating dtype, got {out.dtype}")
    if blending != "none":  # blended tiles are accumulated
        out[...] = 0
    return out


def _resolve_device(device: Any) -> Any:
    import torch

    try:
        from biakit.nn.device import pick_device
    except ImportError:  # fallback while biakit.nn.device is unavailable
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(device)
    return pick_device(device)


def _batch_predictor(
    forward: Callable[[Any], Any],
    transforms: list[Transform],
    activation: str | None,
    device: Any,
    amp_dtype: Any = None,
    layout: Any = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """``(B, C, *tile)`` NumPy -> ``(B, out, *tile)`` NumPy, averaged over the TTA transforms.

    ``layout``: the memory format each (transformed) batch is given in (the network's).
    """
    import torch

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(device)
            total = None
            for t in transforms:
                xt = apply(t, x)
                if layout is not None:
                    xt = xt.contiguous(memory_format=layout)
                y = guarded_forward(forward, xt, amp_dtype)
                if activation == "softmax":
                    y = torch.softmax(y, dim=1)
                elif activation == "sigmoid":
                    y = torch.sigmoid(y)
                y = invert(t, y)
                total = y if total is None else total + y
            return (total / len(transforms)).cpu().numpy()

    return predict


def guarded_forward(forward: Callable[[Any], Any], x: Any, amp_dtype: Any = None) -> Any:
    """``forward(x)`` as float32, in autocast to ``amp_dtype`` when given.

    A reduced-precision output that is not finite where the input is finite is
    computed again in float32 (bf16 3D convolutions once gave intermittent NaNs on
    the CPU; an fp16 activation can overflow), so reduced precision never turns a
    finite tile into NaN.

    Examples
    --------
    >>> import torch
    >>> def net(x):  # overflows only in reduced precision
    ...     return x * 1e39 if torch.is_autocast_enabled("cpu") else x
    >>> guarded_forward(net, torch.ones(1, 1, 2, 2), torch.bfloat16).sum().item()
    4.0
    """
    import torch

    if amp_dtype is None:
        return forward(x).float()
    with torch.autocast(x.device.type, dtype=amp_dtype):
        y = forward(x).float()
    if not bool(torch.isfinite(y).all()) and bool(torch.isfinite(x).all()):
        y = forward(x).float()
    return y


def iter_predict_tiled(
    model: Any,
    image: Any,
    *,
    tile_shape: int | Sequence[int] | None = None,
    overlap: int | Sequence[int] | None = None,
    batch_size: int = 4,
    blending: str = "auto",
    tta: bool | int = False,
    device: Any = "auto",
    out: Any = None,
    activation: str | None = None,
    session: Any = None,
    amp: str = "none",
) -> Generator[tuple[int, int], None, Any]:
    """Tiled prediction as a generator of progress; see :func:`predict_tiled`.

    Arguments are validated on the call. The generator yields ``(done, total)`` tiles
    after each batch and *returns* the output array (the ``StopIteration`` value, which
    napari's ``thread_worker`` emits as ``returned``).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from types import SimpleNamespace
    >>> net = torch.nn.Conv2d(1, 1, 3, padding=1)
    >>> net.config = SimpleNamespace(ndim=2, divisor=1, halo=1, out_channels=1)
    >>> gen = iter_predict_tiled(net, np.ones((1, 40, 40)), tile_shape=16, blending="none")
    >>> [step for step in gen]
    [(4, 9), (8, 9), (9, 9)]

    """
    cfg = _config(model)
    spatial = _check_image(cfg, image)
    if blending not in (*BLENDINGS, "auto"):
        raise ValueError(f"blending must be one of {(*BLENDINGS, 'auto')}, got {blending!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    divisor, halo, tiles = _geometry(cfg, spatial, tile_shape, overlap)
    blending = resolve_blending(cfg, blending, halo)
    dev = _resolve_device("cpu" if session is not None else device)
    if tiles is None:  # fewer, larger tiles; as many per batch as memory holds
        tiles, batch_size = tiles_and_batch(
            model, int(image.shape[0]), spatial, divisor, halo, dev, batch_size=int(batch_size),
            blending=blending, runnable=session is None,
        )  # fmt: skip
    plan = plan_tiles(spatial, tiles, halo, divisor, blending)
    out_shape = (int(cfg.out_channels), *spatial)
    out = _check_out(out, out_shape, blending)
    transforms = tta_transforms(plan.tile_shape, divisor, tta)
    if session is not None:
        from ._onnx import session_forward

        predict = _batch_predictor(session_forward(session), transforms, activation, "cpu")
        return _run(plan, image, out, predict, int(batch_size), None)
    amp_dtype = _amp_dtype(amp, dev)
    layout = _layout(model, dev)
    from ._fuse import inference_network

    net = inference_network(model, dev, layout)  # batch norm folded (a kept copy)
    predict = _batch_predictor(net, transforms, activation, dev, amp_dtype, layout)
    return _run(plan, image, out, predict, int(batch_size), (net, dev, layout))


def _layout(model: Any, device: Any) -> Any:
    """Return the network's memory format for prediction on ``device`` (None: the default)."""
    import torch

    try:
        from biakit.nn.device import LAYOUT_DIMS, memory_format_for
    except ImportError:  # as in _resolve_device
        return None
    if not isinstance(model, torch.nn.Module) or isinstance(model, torch.jit.ScriptModule):
        return None
    layout = memory_format_for(model, torch.device(device))
    return layout if layout in LAYOUT_DIMS else None


def _amp_dtype(amp: str, device: Any) -> Any:
    """Autocast dtype for ``amp`` on ``device`` (``None``: float32)."""
    if amp not in ("none", "auto", "bf16", "fp16"):
        raise ValueError(f"amp must be 'none', 'auto', 'bf16' or 'fp16', got {amp!r}")
    if amp == "none":
        return None
    from biakit.nn.train._precision import resolve_amp

    return resolve_amp(amp, device)


def _run(
    plan: TilePlan,
    image: Any,
    out: Any,
    predict: Callable[[np.ndarray], np.ndarray],
    batch_size: int,
    torch_model: tuple[Any, Any, Any] | None,
) -> Generator[tuple[int, int], None, Any]:
    restore = None
    if torch_model is not None:  # (network, device, memory format or None)
        model, dev, layout = torch_model
        param = next(model.parameters(), None)
        restore = (model.training, param.device if param is not None else None)
        model.eval().to(dev)
        if layout is not None:  # left so, as after training: the weights are unchanged
            model.to(memory_format=layout)
    try:
        tiles, total = list(plan.tiles()), plan.n_tiles
        for first in range(0, total, batch_size):
            check_cancelled()
            chunk = tiles[first : first + batch_size]
            batch = np.stack([read_tile(image, t.start, plan.tile_shape) for t in chunk])
            pred = predict(batch)
            if pred.shape[1] != out.shape[0]:
                raise ValueError(
                    f"the model returned {pred.shape[1]} channels but its config declares "
                    f"out_channels={out.shape[0]}"
                )
            for tile, y in zip(chunk, pred):
                _write(out, plan, tile, y[(slice(None), *tile.crop)])
            yield first + len(chunk), total
    finally:
        if restore is not None:
            model.train(restore[0])
            if restore[1] is not None:
                model.to(restore[1])
    return out


def _write(out: Any, plan: TilePlan, tile: Any, pred: np.ndarray) -> None:
    region = (slice(None), *tile.write)
    if plan.blending == "none":
        out[region] = pred
        return
    contrib = pred * plan.weight(tile)
    if isinstance(out, np.ndarray):
        out[region] += contrib
    else:
        out[region] = np.asarray(out[region]) + contrib


def predict_tiled(
    model: Any,
    image: Any,
    *,
    tile_shape: int | Sequence[int] | None = None,
    overlap: int | Sequence[int] | None = None,
    batch_size: int = 4,
    blending: str = "auto",
    tta: bool | int = False,
    device: Any = "auto",
    out: Any = None,
    activation: str | None = None,
    progress: Callable[[int, int], Any] | None = None,
    session: Any = None,
    amp: str = "none",
) -> Any:
    """Predict a fully convolutional network on an image of any size, tile by tile.

    The image is reflect-padded at the end of each axis to a multiple of the model
    divisor (virtually: tiles are read one at a time) and cut into tiles of
    ``tile_shape`` that start at multiples of the divisor, so the network sees the
    pooling grid of a whole-image prediction. Next to an interior tile edge the first
    ``overlap`` pixels are context only (weight 0).

    * ``blending="none"``: each pixel comes from exactly one tile (the overlap between
      neighbours is cut in the middle, as in StarDist's block-wise prediction). With
      ``overlap`` >= the receptive field the result *equals* the whole-image prediction
      (of the image padded to the divisor, then cropped) up to float rounding.
    * ``"linear"`` / ``"gaussian"``: neighbours overlap by a further quarter of the
      core and are cross-faded with linear ramps or a Gaussian window (sigma = tile / 8,
      as in nnU-Net); weights form a partition of unity. Seamless even when
      ``overlap`` is smaller than the true receptive field (the usual case for deep
      U-Nets), then only approximately equal to the whole-image prediction; exact
      (up to rounding) when ``overlap`` covers it. Costs up to ~1.8x more tiles in 2D.
    * ``"auto"`` (default): ``"none"`` where the tiles are exact (a local network,
      ``model.config.is_local``, and ``overlap`` at least its receptive field, as by
      default), else ``"gaussian"`` (:func:`resolve_blending`).

    Parameters
    ----------
    model : torch.nn.Module
        Network ``(B, C, *spatial) -> (B, out_channels, *spatial)`` with a ``.config``
        giving ``ndim``, ``divisor``, ``halo`` and ``out_channels`` (e.g. a biakit
        ``UNet``). Put in ``eval()`` mode for the call, then restored.
    image : array_like
        ``(C, *spatial)`` NumPy, Dask, Zarr or HDF5 array; read tile by tile.
    tile_shape : int or sequence of int, optional
        Tile shape, a multiple of the divisor; clipped to the padded image. Default:
        chosen from the memory free on ``device`` (see ``biakit.nn.infer._memory``):
        the network runs once on a small probe to measure its activation bytes per
        input voxel, and the largest tile (as equal sides as the image allows, at
        most 2048^2 / 160^3 voxels) whose batch of ``batch_size`` tiles uses at most
        a quarter of the free memory is taken, rounded down to the divisor and at
        least ``2 * overlap + divisor``.
    overlap : int or sequence of int, optional
        Context pixels per side at interior tile edges; default ``model.config.halo``
        (rounded up).
    batch_size : int
        Tiles per forward pass.
    blending : {"auto", "gaussian", "linear", "none"}
        How overlapping tiles are combined (see above).
    tta : bool or int
        Average over flips of every axis and 90-degree rotations in YX (when Y and X
        have the same divisor; True: all, 8 transforms in 2D, 16 in 3D), each mapped back
        exactly; an integer ``n``: the first ``n`` of them (4: the four turns of YX;
        :func:`~biakit.nn.infer.tta_transforms`).
    device : str or torch.device
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"`` (see ``biakit.nn.device``).
    out : array_like, optional
        Writable float array ``(out_channels, *spatial)``, e.g. a Zarr array for
        outputs larger than memory; written tile by tile (with blending, accumulated
        in place: no weight array is needed because the weights are normalised).
    activation : {None, "softmax", "sigmoid"}
        Applied to each tile's logits before blending (softmax over channels).
    progress : callable, optional
        Called as ``progress(done, total)`` (tiles) after each batch.
    session : onnxruntime.InferenceSession, optional
        Run this ONNX session (see :func:`export_onnx`) instead of ``model``; ``model``
        then only supplies the geometry (its ``.config`` or the config itself).
    amp : {"none", "auto", "bf16", "fp16"}
        Autocast of the forward pass, resolved as in training
        (:class:`biakit.nn.train.TrainConfig`): ``auto`` is bf16 on a CPU that computes
        it natively and bf16/fp16 on CUDA (about 2x faster; outputs agree with float32
        to about 1e-2); ``none`` (default) is float32.

    Returns
    -------
    out : numpy.ndarray or array_like
        float32 ``(out_channels, *spatial)``; ``out`` itself when given.

    Raises
    ------
    ValueError
        Image dimensionality or channels not matching the model, ``tile_shape`` not a
        multiple of the divisor (the message gives the nearest valid sizes), negative
        ``overlap``, tiles too small for the overlap, unknown ``blending`` /
        ``activation``, ``out`` of the wrong shape.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from types import SimpleNamespace
    >>> net = torch.nn.Conv2d(1, 2, 3, padding=1)
    >>> net.config = SimpleNamespace(ndim=2, divisor=1, halo=1, out_channels=2)
    >>> image = np.random.default_rng(0).random((1, 50, 70), dtype=np.float32)
    >>> tiled = predict_tiled(net, image, tile_shape=32, blending="none", device="cpu")
    >>> whole = net(torch.from_numpy(image[None]))[0].detach().numpy()
    >>> tiled.shape, bool(np.abs(tiled - whole).max() < 1e-5)
    ((2, 50, 70), True)

    """
    gen = iter_predict_tiled(
        model,
        image,
        tile_shape=tile_shape,
        overlap=overlap,
        batch_size=batch_size,
        blending=blending,
        tta=tta,
        device=device,
        out=out,
        activation=activation,
        session=session,
        amp=amp,
    )
    while True:
        try:
            done, total = next(gen)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(done, total)
