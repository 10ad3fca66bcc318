"""Frame-prediction packages: a time axis on input (past frames) and output (next frames).

The package's input is ``(batch, time = n_input, channel, *space)``, its output
``(batch, time = horizon, channel, *space)``: biakit's video network (SimVP,
ConvLSTM; frames stacked on channels inside) wrapped by
:class:`~biakit.bioimageio._frame_net.FrameForecaster`, which rolls it out
beyond ``n_output`` frames and blends toward persistence as
:meth:`~biakit.workflows.FramePredictor.forecast` does. Intensities are
normalised with the training statistics (``scale_linear`` per channel) and
mapped back after the network. Frames are predicted whole (no halo declared):
tiling would change the prediction near tile borders.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from biakit.bioimageio._tasks import (
    TaskSpec,
    _names,
    ensure_float32,
    register_exporter,
    scale_linear,
)
from biakit.errors import ParameterError

_CALLABLE = '''

def {name}(network, horizon, blend=(), tta=False, hold=(), anchor_sigma=0.0):
    """Build the frame forecaster: ``{inner}(**network)`` wrapped for time axes."""
    return FrameForecaster({inner}(**network), network["n_input"], network["n_output"],
                           horizon, tuple(blend), tta, network["ndim"], tuple(hold),
                           anchor_sigma)
'''


def _horizon(workflow: Any) -> int:
    return int(workflow.config.forecast_horizon)


def _blend(workflow: Any) -> list[float]:
    return [float(a) for a in (workflow.training.get("horizon_blend") or [])]


def _hold(workflow: Any) -> list[bool]:
    return [bool(h) for h in (workflow.training.get("horizon_hold") or [])]


def _anchor_sigma(workflow: Any) -> float:
    return float(workflow.training.get("blend_anchor_sigma") or 0.0)


def _tta(workflow: Any) -> bool:
    return bool(getattr(workflow.config, "tta", False))


def frame_network(workflow: Any) -> Any:
    """Return the workflow's network wrapped for time axes, with its self-contained source."""
    from biakit.bioimageio import _frame_net
    from biakit.bioimageio._export import NetworkSource, _config_class
    from biakit.bioimageio._frame_net import FrameForecaster
    from biakit.bioimageio._vendor import architecture_file
    from biakit.nn.models import get_architecture

    arch = get_architecture(workflow.architecture)
    inner, inner_name = architecture_file(arch.id, arch.version, arch.builder, arch.summary,
                                          _config_class(arch))  # fmt: skip
    name = f"{inner_name}_frames"
    source = (inner + "\n\n# time axes: biakit.bioimageio._frame_net, copied verbatim\n"
              + inspect.getsource(_frame_net)
              + _CALLABLE.format(name=name, inner=inner_name))  # fmt: skip
    net_cfg = workflow.network_config
    model = FrameForecaster(workflow.model.eval().to("cpu"), net_cfg.n_input, net_cfg.n_output,
                            _horizon(workflow), tuple(_blend(workflow)), _tta(workflow),
                            int(net_cfg.ndim), tuple(_hold(workflow)),
                            _anchor_sigma(workflow))  # fmt: skip
    kwargs = {"network": net_cfg.model_dump(mode="json"), "horizon": _horizon(workflow),
              "blend": _blend(workflow), "tta": _tta(workflow),
              "hold": _hold(workflow), "anchor_sigma": _anchor_sigma(workflow)}  # fmt: skip
    comment = f"biakit architecture {arch.id!r} version {arch.version}, time axes"
    return NetworkSource(model.eval(), source, name, kwargs, comment)


def frame_test_input(workflow: Any, sample: Any, mins: list[int], steps: list[int]) -> np.ndarray:
    """``(1, n_input, C, *spatial)`` float32: the last frames of ``sample``, of a valid size.

    ``sample``: a movie ``(T, *spatial)`` or ``(T, C, *spatial)`` with at least
    ``n_input`` frames; default a smooth random image drifting one pixel per frame
    along x, in the training intensities.
    """
    from biakit.bioimageio._export import _valid_size
    from biakit.workflows._frame_tools import as_movie

    cfg, c = workflow.config, workflow.in_channels
    n = int(cfg.n_input)
    if sample is None:
        sample = _drifting_movie(workflow, n)
    movie, _ = as_movie(sample, int(cfg.ndim), "sample")
    if len(movie) < n or movie.shape[1] != c:
        raise ParameterError(
            f"sample has shape {movie.shape} (T, C, *spatial); the model takes the last "
            f"n_input={n} frames of {c} channel(s): give a movie with >= {n} frames"
        )
    frames = movie[-n:]
    sizes = [_valid_size(s, lo, st) for s, lo, st in zip(frames.shape[2:], mins, steps)]
    pad = [(0, 0), (0, 0)] + [(0, max(0, t - s)) for s, t in zip(frames.shape[2:], sizes)]
    frames = np.pad(frames, pad, mode="reflect" if min(frames.shape[2:]) > 1 else "edge")
    crop = (slice(None), slice(None), *(slice(0, t) for t in sizes))
    return np.ascontiguousarray(frames[crop][None], dtype=np.float32)


def _drifting_movie(workflow: Any, n: int) -> np.ndarray:
    from scipy import ndimage as ndi

    ndim = int(workflow.config.ndim)
    norm = workflow.training["normalization"]
    offset = np.asarray(norm["offset"], np.float32).reshape(-1, *[1] * ndim)
    scale = np.asarray(norm["scale"], np.float32).reshape(-1, *[1] * ndim)
    side = 48 if ndim == 2 else 16
    rng = np.random.default_rng(0)
    base = rng.random((workflow.in_channels, *(side,) * ndim))
    base = np.stack([ndi.gaussian_filter(b, 2.0) for b in base])
    base = (base - base.min()) / (np.ptp(base) + 1e-12)
    frames = [np.roll(base, t, axis=-1) for t in range(n)]
    return (offset + scale * np.stack(frames)).astype(np.float32)


@register_exporter("frame_prediction")
def _frame_prediction(workflow: Any, dtype: Any = None) -> TaskSpec:
    cfg = workflow.config
    norm = workflow.training["normalization"]
    offset, scale = list(norm["offset"]), list(norm["scale"])
    gain = [1.0 / s for s in scale]
    pre = [ensure_float32(), scale_linear(gain, [-o / s for o, s in zip(offset, scale)])]
    names = _names("channel", workflow.in_channels)
    horizon = _horizon(workflow)
    note = (
        f"Give the last {cfg.n_input} frames of a movie (time axis, oldest first); frame "
        f"sizes must be multiples of {workflow.network_config.divisor[0]}. Frames are "
        "predicted whole: tiling them changes the prediction near tile borders."
    )
    return TaskSpec(
        pre, [scale_linear(scale, offset)], names, names, "frames",
        f"the next {horizon} frames ({cfg.n_output} per step, rolled out, blended toward "
        "the last frame), input intensities",
        config={"frames": {"n_input": cfg.n_input, "n_output": cfg.n_output,
                           "horizon": horizon, "blend": _blend(workflow), "tta": _tta(workflow),
                           "normalization": norm, "tiling": "whole frames"}},
        tags=["frame-prediction", "video-prediction", "time-lapse"], note=note,
        frames=(int(cfg.n_input), horizon), network=frame_network,
        make_test_input=frame_test_input,
        reference=lambda x: workflow.predict_maps(x, horizon=horizon),
    )  # fmt: skip
