"""Time-lapse inputs of :func:`biakit.distributed.predict_blockwise`: frame by frame.

A ``TYX`` / ``TCZYX`` image is predicted as its frames would be one by one: the
block grid of one frame is repeated for every frame (a block never spans two
frames), every frame gets its own normalisation statistics (as
``workflow.predict(movie[t])`` computes them) and the outputs keep the ``T`` axis
in front (``TCZYX`` maps, ``TZYX`` labels). A Z-stack under a 2-D restoration model
is predicted the same way plane by plane, its outputs keeping ``Z`` in its NGFF
place (``CZYX`` maps: the plane index after ``C``). The pieces here let the
per-block tasks of a single image run unchanged on one frame: a :class:`FrameTarget`
writes into frame ``t`` of an output array, :class:`PerFrame` gives a task the
source, targets and statistics of the frame of each :class:`FrameBlock`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from biakit.blocks import Block

from ._engine import BlockProgress
from ._output import ZarrTarget


@dataclass(frozen=True)
class FrameBlock(Block):
    """A block of one frame of a time-lapse."""

    frame: int = 0


def frame_blocks(blocks: Sequence[Block], n_frames: int) -> list[FrameBlock]:
    """Repeat the blocks of one frame for every frame (frame-major order).

    Examples
    --------
    >>> from biakit.distributed import plan_blocks
    >>> blocks = frame_blocks(plan_blocks((10,), (5,), (1,)), 2)
    >>> [(b.frame, b.write[0].start) for b in blocks]
    [(0, 0), (0, 5), (1, 0), (1, 5)]
    """
    return [FrameBlock(b.read, b.write, b.crop, t) for t in range(n_frames) for b in blocks]


def _insert(key: tuple[Any, ...], axis: int, index: int) -> tuple[Any, ...]:
    return (*key[:axis], index, *key[axis:])


@dataclass(frozen=True)
class FrameArray:
    """Array-like view of frame ``frame`` of a Zarr array (frame axis ``axis``), picklable."""

    target: ZarrTarget
    frame: int
    mode: str = "r+"
    axis: int = 0

    def _array(self) -> Any:
        return self.target.open(self.mode)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape without the frame axis."""
        shape = self._array().shape
        return tuple(int(n) for i, n in enumerate(shape) if i != self.axis)

    @property
    def dtype(self) -> np.dtype:
        """Pixel type."""
        return np.dtype(self._array().dtype)

    @property
    def chunks(self) -> tuple[int, ...]:
        """Chunk shape without the frame axis."""
        chunks = self._array().chunks
        return tuple(int(c) for i, c in enumerate(chunks) if i != self.axis)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        return np.asarray(self._array()[_insert(tuple(key), self.axis, self.frame)])

    def __setitem__(self, key: tuple[slice, ...], value: Any) -> None:
        arr = self._array()
        arr[_insert(tuple(key), self.axis, self.frame)] = np.asarray(value, dtype=arr.dtype)


@dataclass(frozen=True)
class FrameTarget:
    """Frame ``frame`` of a :class:`ZarrTarget`; used like a ZarrTarget.

    ``axis``: where the frame index sits in the array (0: ``T`` first; 1: the ``Z``
    of ``CZYX`` maps when a Z-stack is predicted plane by plane).

    Examples
    --------
    >>> import tempfile, zarr
    >>> root = tempfile.mkdtemp()
    >>> _ = zarr.create_array(f"{root}/maps", shape=(2, 3, 4, 4), dtype="f4", fill_value=0)
    >>> plane = FrameTarget(ZarrTarget(root, "maps"), 1, axis=1)  # (C, Z, Y, X): plane z=1
    >>> plane.write((slice(None), slice(0, 2), slice(0, 4)), np.ones((2, 2, 4)))
    >>> zarr.open_array(f"{root}/maps")[:].sum(axis=(0, 2, 3)).tolist(), plane.open().shape
    ([0.0, 16.0, 0.0], (2, 4, 4))
    """

    target: ZarrTarget
    frame: int
    axis: int = 0

    def open(self, mode: str = "r+") -> FrameArray:
        """Open the frame as an array-like."""
        return FrameArray(self.target, self.frame, mode, self.axis)

    def write(self, region: tuple[slice, ...], data: np.ndarray) -> None:
        """Write ``data`` into ``region`` of the frame."""
        self.target.write(_insert(tuple(region), self.axis, self.frame), data)

    def read(self, region: tuple[slice, ...]) -> np.ndarray:
        """Read ``region`` of the frame."""
        return self.target.read(_insert(tuple(region), self.axis, self.frame))


def frame_fields(
    task: Any, frame: int, axes: Mapping[str, int] | None = None, **fields: Any
) -> dict[str, Any]:
    """Fields of ``task`` for one frame: every ZarrTarget as its FrameTarget, plus ``fields``.

    ``axes``: the frame axis of a target field by name (default 0, ``T`` first).
    """
    axes = axes or {}
    out = {
        f.name: FrameTarget(value, frame, axes.get(f.name, 0))
        for f in dataclasses.fields(task)
        if isinstance(value := getattr(task, f.name), ZarrTarget)
    }
    return {**out, **fields}


@dataclass(frozen=True)
class PerFrame:
    """Task: ``task`` with the fields of the block's frame (source, targets, statistics)."""

    task: Any
    frames: tuple[dict[str, Any], ...]

    def __call__(self, block: FrameBlock) -> Any:
        return dataclasses.replace(self.task, **self.frames[block.frame])(block)


def over_frames(
    gen: Generator[BlockProgress, None, Any], frame: int, n_frames: int
) -> Generator[BlockProgress, None, Any]:
    """Progress of one frame's stage as part of all frames; return the generator's value."""
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        yield BlockProgress(p.stage, frame * p.total + p.done, n_frames * p.total)


def iter_frames(n_frames: int | None) -> Iterator[tuple[int | None, int]]:
    """``(frame, n)`` pairs: ``(None, 1)`` for a single image, else ``(t, T)`` per frame."""
    if n_frames is None:
        yield None, 1
        return
    for t in range(n_frames):
        yield t, n_frames
