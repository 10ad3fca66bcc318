"""Noise2Void's blind-spot blend, block-wise: a second pass over the network's output.

In memory, :meth:`biakit.workflows.Denoiser.predict_maps` predicts the image, measures
the blend weights on the central region of that prediction
(:meth:`~biakit.workflows.Denoiser.blend_weights`) and gives each pixel its own value
back (:func:`biakit.nn.infer.blend_blind_spot`). Block-wise the same happens in two
passes, so nothing is predicted twice: the blocks write the network's output into a
working array; the client reads the weight region of it (per frame or plane) and
measures the weights; then every block mixes its pixels, an element-wise task that
writes the maps (never in place, so a retried or resumed task gives the same result).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._engine import BlockProgress
from ._output import ZarrTarget
from ._predict_frames import FrameTarget
from ._predict_tasks import View, read_channels


def wants_blend(model: Any, kind: str) -> bool:
    """Whether ``model`` is a denoising workflow that blends (``resolved_blend_input``)."""
    if kind != "network" or model.task != "denoise":
        return False
    return bool(model.config.resolved_blend_input)


@dataclass(frozen=True)
class BlendTask:
    """Task: the blend of one block from the written network output and the image."""

    source: Any
    network: ZarrTarget
    maps: ZarrTarget
    blend: Any  # BlendWeights of the block's image (frame, plane)

    def __call__(self, block: Any) -> None:
        from biakit.nn.infer import blend_blind_spot

        region = (slice(None), *block.write)
        raw = read_channels(self.source, block.write)
        out = blend_blind_spot(raw, self.network.read(region), self.blend)
        self.maps.write(region, out)


def iter_blend_weights(
    model: Any, frames: Sequence[Any], stats: Sequence[tuple[Any, Any]], network: ZarrTarget,
    frame_axis: int | None, options: dict[str, Any],
) -> Generator[BlockProgress, None, list[Any]]:  # fmt: skip
    """Blend weights of every frame (``frame_axis`` None: one image) from the written output."""
    opts = {k: options[k] for k in ("device", "amp") if k in options}
    weights = []
    for t, (src, st) in enumerate(zip(frames, stats)):
        written = network if frame_axis is None else FrameTarget(network, t, frame_axis)
        view = View(src, np.float32)
        weights.append(model.blend_weights(view, st, tta=options["tta"],
                                           prediction=written.open("r"), **opts))  # fmt: skip
        yield BlockProgress("blend weights", t + 1, len(frames))
    return weights
