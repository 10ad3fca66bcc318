"""Time-lapse inputs of :func:`biakit.distributed.predict_blockwise`: frame by frame.

A ``TYX`` / ``TCZYX`` image is predicted as its frames would be one by one: the
block grid of one frame is repeated for every frame (a block never spans two
frames), every frame gets its own normalisation statistics (as
``workflow.predict(movie[t])`` computes them) and the outputs keep the ``T`` axis
in front (``TCZYX`` maps, ``TZYX`` labels). The pieces here let the per-block tasks
of a single image run unchanged on one frame: a :class:`FrameTarget` writes into
frame ``t`` of an output array, :class:`PerFrame` gives a task the source, targets
and statistics of the frame of each :class:`FrameBlock`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterator, Sequence
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


@dataclass(frozen=True)
class FrameArray:
    """Array-like view of frame ``frame`` of a Zarr array (``T`` first), picklable."""

    target: ZarrTarget
    frame: int
    mode: str = "r+"

    def _array(self) -> Any:
        return self.target.open(self.mode)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape without ``T``."""
        return tuple(int(n) for n in self._array().shape[1:])

    @property
    def dtype(self) -> np.dtype:
        """Pixel type."""
        return np.dtype(self._array().dtype)

    @property
    def chunks(self) -> tuple[int, ...]:
        """Chunk shape without ``T``."""
        return tuple(int(c) for c in self._array().chunks[1:])

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        return np.asarray(self._array()[(self.frame, *key)])

    def __setitem__(self, key: tuple[slice, ...], value: Any) -> None:
        arr = self._array()
        arr[(self.frame, *key)] = np.asarray(value, dtype=arr.dtype)


@dataclass(frozen=True)
class FrameTarget:
    """Frame ``frame`` of a :class:`ZarrTarget` with ``T`` first; used like a ZarrTarget."""

    target: ZarrTarget
    frame: int

    def open(self, mode: str = "r+") -> FrameArray:
        """Open the frame as an array-like."""
        return FrameArray(self.target, self.frame, mode)

    def write(self, region: tuple[slice, ...], data: np.ndarray) -> None:
        """Write ``data`` into ``region`` of the frame."""
        self.target.write((self.frame, *region), data)

    def read(self, region: tuple[slice, ...]) -> np.ndarray:
        """Read ``region`` of the frame."""
        return self.target.read((self.frame, *region))


def frame_fields(task: Any, frame: int, **fields: Any) -> dict[str, Any]:
    """Fields of ``task`` for one frame: every ZarrTarget as its FrameTarget, plus ``fields``."""
    out = {
        f.name: FrameTarget(value, frame)
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
