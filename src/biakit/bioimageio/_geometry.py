"""Tile geometry of a bioimage.io model: tensors' axes, valid sizes, halo, from its description.

biakit holds every tensor as ``(B, [T,] C, *space)``: batch, time (where the
tensor has one), channel (1 where it has none), then the spatial axes in the
order ``z, y, x``. Tiling happens along space only; batch, time and channel
travel whole. Several inputs must share the first input's spatial axes and size
(they are tiled together).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from biakit.errors import ModelFileError

_SPACE = ("z", "y", "x")
_KINDS = {"BatchAxis", "ChannelAxis", "SpaceInputAxis", "TimeInputAxis"}
_OUT_KINDS = {"BatchAxis", "ChannelAxis", "SpaceOutputAxis", "SpaceOutputAxisWithHalo",
              "TimeOutputAxis", "TimeOutputAxisWithHalo"}  # fmt: skip


@dataclass(frozen=True)
class TensorLayout:
    """One tensor's axes as biakit orders them: ``(batch, [time,] channel, *space)``.

    Attributes
    ----------
    id : str
        Tensor id.
    time : str or None
        Id of its time axis (None: none).
    channel : str or None
        Id of its channel axis (None: none; biakit then holds one channel).
    space : tuple of str
        Spatial axis ids, ``z, y, x`` order (empty: e.g. class probabilities).
    channels : int
        Declared channels (1 without a channel axis; 0 when not declared).
    frames : tuple of int
        Time size ``(min, step)`` (``step`` 0: fixed); ``()`` without a time axis
        or when the size is given by a reference.
    """

    id: str
    time: str | None
    channel: str | None
    space: tuple[str, ...]
    channels: int
    frames: tuple[int, ...] = ()

    def dims(self, space: bool = True) -> tuple[str, ...]:
        """Return the bioimageio dims of biakit's array of this tensor (batch first)."""
        time = (self.time,) if self.time else ()
        return ("batch", *time, self.channel or "channel", *(self.space if space else ()))

    def valid_frames(self, n: int) -> bool:
        """Whether ``n`` frames are a valid size of the time axis (always, without one)."""
        if len(self.frames) != 2:
            return True
        lo, step = self.frames
        return n == lo if step == 0 else n >= lo and (n - lo) % step == 0


@dataclass(frozen=True)
class PackageGeometry:
    """What biakit's tiler needs to know about a package's tensors.

    Attributes
    ----------
    inputs, outputs : tuple of TensorLayout
        Every input / output tensor, in the package's order.
    space : tuple of str
        Spatial axis ids of the inputs (``("y", "x")`` or ``("z", "y", "x")``).
    batch_axis : bool
        Whether the first input has a batch axis.
    minimum, step : tuple of int
        Valid sizes ``minimum + k * step`` per spatial axis (``step`` 0: fixed size).
    halo : tuple of int
        Context per side and spatial axis (input pixels; the largest over the outputs).
    out_halo : tuple of tuple of int
        Per output, the declared halo (its own pixels; 0 without spatial axes).
    same_size : bool
        Whether every output has the inputs' spatial size (else: no tiling).
    out_space : bool
        Whether every output has spatial axes (``False``: e.g. a classifier's
        ``(batch, channel)``; the input must then have a valid whole-image size).
    """

    inputs: tuple[TensorLayout, ...]
    outputs: tuple[TensorLayout, ...]
    space: tuple[str, ...]
    batch_axis: bool
    minimum: tuple[int, ...]
    step: tuple[int, ...]
    halo: tuple[int, ...]
    out_halo: tuple[tuple[int, ...], ...]
    same_size: bool
    out_space: bool = True

    # the first input / output, as single-tensor packages use them
    @property
    def input_id(self) -> str:
        """Id of the first input."""
        return self.inputs[0].id

    @property
    def output_id(self) -> str:
        """Id of the first output."""
        return self.outputs[0].id

    @property
    def in_channels(self) -> int:
        """Channels of the first input."""
        return self.inputs[0].channels

    @property
    def out_channels(self) -> int:
        """Channels of the first output (0: not declared)."""
        return self.outputs[0].channels

    @property
    def has_time(self) -> bool:
        """Whether any tensor has a time axis."""
        return any(t.time for t in (*self.inputs, *self.outputs))

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
        """Tiles about ``target`` pixels per side, valid, multiples of the divisor.

        The number of tiles per axis is the nearest to ``n / target`` (at least 1) and
        the tiles share the axis evenly, so an image a little larger than ``target``
        is one tile, not two mostly overlapping ones.
        """
        tiles = []
        for i, n in enumerate(spatial):
            d, h = self.divisor[i], self.halo[i]
            k = max(1, round((n - 2 * h) / max(target - 2 * h, 1)))
            want = max(math.ceil((n - 2 * h) / k) + 2 * h, 2 * h + d, self.minimum[i])
            want = min(want, math.ceil(n / d) * d)
            t = self.valid(want, i)
            tiles.append(math.ceil(t / d) * d)
        return tuple(tiles)


def _size_of(axis: Any, name: str) -> tuple[int, int]:
    from bioimageio.spec.model import v0_5

    size = axis.size
    if isinstance(size, int):
        return size, 0
    if isinstance(size, v0_5.ParameterizedSize):
        return int(size.min), int(size.step)
    raise ModelFileError(f"{name}: axis {axis.id!r} has a size biakit cannot tile ({size!r})")


def _layout(tensor: Any, kinds: set[str], name: str, is_input: bool) -> TensorLayout:
    """Return the :class:`TensorLayout` of one tensor description (raises for other axes)."""
    types = [type(a).__name__ for a in tensor.axes]
    other = sorted(set(types) - kinds)
    space = [str(a.id) for a in tensor.axes if "Space" in type(a).__name__]
    if other or any(a not in _SPACE for a in space):
        raise ModelFileError(
            f"package {name!r}: tensor {str(tensor.id)!r} has axes "
            f"{[str(a.id) for a in tensor.axes]} ({', '.join(sorted(set(types)))}); biakit "
            "runs batch / time / channel axes and 2 or 3 of the spatial axes z, y, x"
        )
    by_kind = {type(a).__name__.replace("WithHalo", "").replace("Input", "").replace("Output", ""):
               a for a in tensor.axes}  # fmt: skip
    time, channel = by_kind.get("TimeAxis"), by_kind.get("ChannelAxis")
    frames: tuple[int, ...] = ()
    if time is not None and (is_input or isinstance(time.size, int)):
        try:
            frames = _size_of(time, name)
        except ModelFileError:
            frames = ()  # a reference: checked by bioimageio.core
    return TensorLayout(
        id=str(tensor.id), time=str(time.id) if time is not None else None,
        channel=str(channel.id) if channel is not None else None,
        space=tuple(sorted(space, key=_SPACE.index)),
        channels=1 if channel is None else len(channel.channel_names), frames=frames,
    )  # fmt: skip


def package_geometry(descr: Any) -> PackageGeometry:
    """Read the geometry of a format 0.5 ``ModelDescr`` (convert 0.4 ones first).

    Raises
    ------
    ModelFileError
        Index axes or other spatial axes than z / y / x, fewer than 2 spatial axes,
        or inputs that do not share the first input's spatial size.
    """
    ins = tuple(_layout(t, _KINDS, descr.name, True) for t in descr.inputs)
    outs = tuple(_layout(t, _OUT_KINDS, descr.name, False) for t in descr.outputs)
    first = descr.inputs[0]
    space = ins[0].space
    if len(space) not in (2, 3):
        raise ModelFileError(
            f"package {descr.name!r}: input {ins[0].id!r} has spatial axes {list(space)}; "
            "biakit runs 2D or 3D inputs"
        )
    axes = {str(a.id): a for a in first.axes}
    _check_inputs(descr, ins, axes)
    sizes = [_size_of(axes[a], descr.name) for a in space]
    out_halo, halo, same = [], [0] * len(space), True
    for tout in descr.outputs:
        out_axes = {str(a.id): a for a in tout.axes}
        h = [int(getattr(out_axes.get(a), "halo", 0) or 0) for a in space]
        out_halo.append(tuple(h))
        for i, a in enumerate(space):
            halo[i] = max(halo[i], math.ceil(h[i] / _factor(out_axes.get(a), axes[a])))
        same = same and all(_same_size(out_axes.get(a), axes[a], {t.id for t in ins})
                            for a in space)  # fmt: skip
    return PackageGeometry(
        inputs=ins, outputs=outs, space=space, batch_axis="batch" in axes,
        minimum=tuple(s[0] for s in sizes), step=tuple(s[1] for s in sizes), halo=tuple(halo),
        out_halo=tuple(out_halo), same_size=same, out_space=all(o.space for o in outs),
    )  # fmt: skip


def _check_inputs(descr: Any, ins: tuple[TensorLayout, ...], axes: dict[str, Any]) -> None:
    """Every further input: the first input's spatial axes, sizes referring to them."""
    from bioimageio.spec.model import v0_5

    for tensor, lay in zip(descr.inputs[1:], ins[1:]):
        other = {str(a.id): a for a in tensor.axes}
        ok = lay.space == ins[0].space
        for a in lay.space if ok else ():
            size, own = other[a].size, axes[a].size
            ref = (isinstance(size, v0_5.SizeReference) and str(size.tensor_id) == ins[0].id
                   and str(size.axis_id) == a and size.offset == 0)  # fmt: skip
            ok = ok and (ref or size == own)
        if not ok:
            raise ModelFileError(
                f"package {descr.name!r}: input {lay.id!r} does not have the spatial axes and "
                f"size of input {ins[0].id!r}; biakit runs several inputs only when they are "
                "spatially aligned (same axes, sizes referring to the first input)"
            )


def _factor(out_axis: Any, in_axis: Any) -> float:
    """Output pixels per input pixel (``in.scale / out.scale``, 1 when unrelated)."""
    try:
        return float(in_axis.scale) / float(out_axis.scale)
    except (AttributeError, TypeError, ZeroDivisionError):
        return 1.0


def _same_size(out_axis: Any, in_axis: Any, input_ids: set[str]) -> bool:
    from bioimageio.spec.model import v0_5

    if out_axis is None:
        return False
    size = out_axis.size
    if isinstance(size, v0_5.SizeReference):
        return (str(size.tensor_id) in input_ids and str(size.axis_id) == str(in_axis.id)
                and size.offset == 0 and float(out_axis.scale) == float(in_axis.scale))  # fmt: skip
    return False
