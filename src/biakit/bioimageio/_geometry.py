"""Tile geometry of a bioimage.io model: axes, valid sizes, halo, from its description."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from biakit.errors import ModelFileError

_SPACE = ("z", "y", "x")


@dataclass(frozen=True)
class PackageGeometry:
    """What biakit's tiler needs to know about a package's single input and output.

    Attributes
    ----------
    input_id, output_id : str
        Tensor ids.
    space : tuple of str
        Spatial axis ids in biakit's order (``("y", "x")`` or ``("z", "y", "x")``).
    in_channels, out_channels : int
        Channels (1 where the tensor has no channel axis).
    in_channel_axis, out_channel_axis : bool
        Whether the tensors have a channel axis.
    batch_axis : bool
        Whether the input has a batch axis.
    minimum, step : tuple of int
        Valid sizes ``minimum + k * step`` per spatial axis (``step`` 0: fixed size).
    halo : tuple of int
        Context per side and spatial axis (input pixels).
    out_halo : tuple of int
        The declared output halo (output pixels; ``halo`` times the output's scale).
    same_size : bool
        Whether every output spatial axis has the input's size (else: no tiling).
    out_space : bool
        Whether the output has spatial axes (``False``: ``(batch, channel)``, e.g. a
        classifier's probabilities; the input must have the declared fixed size).
    """

    input_id: str
    output_id: str
    space: tuple[str, ...]
    in_channels: int
    out_channels: int
    in_channel_axis: bool
    out_channel_axis: bool
    batch_axis: bool
    minimum: tuple[int, ...]
    step: tuple[int, ...]
    halo: tuple[int, ...]
    out_halo: tuple[int, ...]
    same_size: bool
    out_space: bool = True

    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return len(self.space)

    @property
    def divisor(self) -> tuple[int, ...]:
        """Per axis, what tiles are a multiple of (the step, or 1 for a fixed size)."""
        return tuple(max(1, s) for s in self.step)

    def valid(self, n: int, axis: int) -> int:
        """Return the smallest valid size >= ``n`` along spatial ``axis``."""
        lo, step = self.minimum[axis], self.step[axis]
        if step == 0 or n <= lo:
            return lo
        return lo + math.ceil((n - lo) / step) * step

    def tile_shape(self, spatial: tuple[int, ...], target: int) -> tuple[int, ...]:
        """Tiles about ``target`` pixels per side, valid, multiples of the divisor."""
        tiles = []
        for i, n in enumerate(spatial):
            d = self.divisor[i]
            want = max(target, 2 * self.halo[i] + d, self.minimum[i])
            want = min(want, math.ceil(n / d) * d)
            t = self.valid(want, i)
            tiles.append(math.ceil(t / d) * d)
        return tuple(tiles)


def _size_of(axis: Any) -> tuple[int, int]:
    from bioimageio.spec.model import v0_5

    size = axis.size
    if isinstance(size, int):
        return size, 0
    if isinstance(size, v0_5.ParameterizedSize):
        return int(size.min), int(size.step)
    raise ModelFileError(f"input axis {axis.id!r} has a size biakit cannot tile ({size!r})")


def package_geometry(descr: Any) -> PackageGeometry:
    """Read the geometry of a format 0.5 ``ModelDescr`` (convert 0.4 ones first).

    Raises
    ------
    ModelFileError
        Several inputs, time or index axes, fewer than 2 spatial axes.
    """
    from bioimageio.spec.model import v0_5

    if len(descr.inputs) != 1:
        raise ModelFileError(
            f"package {descr.name!r} has {len(descr.inputs)} input tensors; biakit runs "
            "packages with one input"
        )
    tin, tout = descr.inputs[0], descr.outputs[0]
    kinds = {type(a).__name__ for a in tin.axes}
    space = [str(a.id) for a in tin.axes if isinstance(a, v0_5.SpaceInputAxis)]
    other = kinds - {"BatchAxis", "ChannelAxis", "SpaceInputAxis"}
    if other or any(a not in _SPACE for a in space) or len(space) not in (2, 3):
        raise ModelFileError(
            f"package {descr.name!r}: input axes {[str(a.id) for a in tin.axes]} are not "
            "batch / channel / 2 or 3 of z, y, x; biakit cannot run it"
        )
    space = sorted(space, key=_SPACE.index)
    axes = {str(a.id): a for a in tin.axes}
    out_axes = {str(a.id): a for a in tout.axes}
    sizes = [_size_of(axes[a]) for a in space]
    out_halo = [int(getattr(out_axes.get(a), "halo", 0) or 0) for a in space]
    halo = [math.ceil(h / _factor(out_axes.get(a), axes[a])) for h, a in zip(out_halo, space)]
    same = all(_same_size(out_axes.get(a), axes[a], str(tin.id)) for a in space)
    return PackageGeometry(
        input_id=str(tin.id), output_id=str(tout.id), space=tuple(space),
        in_channels=_channels(axes.get("channel")), out_channels=_channels(out_axes.get("channel")),
        in_channel_axis="channel" in axes, out_channel_axis="channel" in out_axes,
        batch_axis="batch" in axes, minimum=tuple(s[0] for s in sizes),
        step=tuple(s[1] for s in sizes), halo=tuple(halo), out_halo=tuple(out_halo),
        same_size=same, out_space=any(a in out_axes for a in space),
    )  # fmt: skip


def _factor(out_axis: Any, in_axis: Any) -> float:
    """Output pixels per input pixel (``in.scale / out.scale``, 1 when unrelated)."""
    try:
        return float(in_axis.scale) / float(out_axis.scale)
    except (AttributeError, TypeError, ZeroDivisionError):
        return 1.0


def _channels(axis: Any) -> int:
    return 1 if axis is None else len(axis.channel_names)


def _same_size(out_axis: Any, in_axis: Any, input_id: str) -> bool:
    from bioimageio.spec.model import v0_5

    if out_axis is None:
        return False
    size = out_axis.size
    if isinstance(size, v0_5.SizeReference):
        return (str(size.tensor_id) == input_id and str(size.axis_id) == str(in_axis.id)
                and size.offset == 0 and float(out_axis.scale) == float(in_axis.scale))  # fmt: skip
    return False
