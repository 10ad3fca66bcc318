"""Worker-side parts of :func:`biakit.distributed.run_pipeline` (picklable task bodies).

* :class:`_Chain` runs the head steps (per-pixel, statistics fixed) on a block plus halo.
* :class:`_HeadView` is the head's output as a lazily computed array: ``view[region]``
  runs the chain on ``region`` plus the head's halo, so the labelling reads it like
  any source and the head needs no stage, no barrier and no scratch array of its own.
* :class:`_Tail` turns one block of the head's output into instance labels.
* :class:`_Copy` copies one block of the input into the output image.
* :func:`submit_copy` submits the input's copy and its levels; :func:`wait_all`
  waits for what was submitted, reporting progress per stage.
* :func:`submit_levels` submits the resolution levels of an output, each chunk
  starting as soon as the chunks of the level below that it covers are written
  (chunks a resumed run finds marked done are skipped).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from biakit.blocks import Block

from ._engine import BlockProgress, done_marks, plan_blocks, run_marked, share, submit_after
from ._output import Levels, ZarrTarget, _Downsample


@dataclass(frozen=True)
class _Chain:
    """Task body: run the head steps on a block plus halo, return the centre's fields."""

    source: Any
    steps: tuple[Any, ...]
    spacing: tuple[float, ...]

    def state(self, block: Any) -> dict[str, Any]:
        from biakit.pipeline._pipeline import _apply_step

        region = np.asarray(self.source.read(block.read))
        state: dict[str, Any] = {"image": region.astype(np.float32, copy=False)}
        state["mask"] = state["labels"] = None
        for index, cfg in enumerate(self.steps, start=1):
            _apply_step(state, index, cfg, self.spacing)
        return {k: (None if v is None else np.asarray(v)[block.crop]) for k, v in state.items()}

    def __call__(self, block: Any) -> np.ndarray:
        return self.state(block)["image"]


@dataclass(frozen=True)
class _HeadView:
    """The head's ``fields`` as an array computed on demand; ``view[region]`` runs the chain.

    One field gives the field (a mask as bool), several a float32 stack ``(k, *region)``.
    """

    chain: _Chain
    halo: tuple[int, ...]
    fields: tuple[str, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        """Spatial shape of the image."""
        return tuple(int(n) for n in self.chain.source.shape)

    @property
    def dtype(self) -> np.dtype:
        """Type of one field (bool for a mask alone, else float32)."""
        return np.dtype(bool if self.fields == ("mask",) else np.float32)

    def __getitem__(self, region: tuple[slice, ...]) -> np.ndarray:
        bounds = [s.indices(n)[:2] for s, n in zip(region, self.shape)]
        read = tuple(
            slice(max(a - h, 0), min(b + h, n))
            for (a, b), h, n in zip(bounds, self.halo, self.shape)
        )
        crop = tuple(slice(a - r.start, b - r.start) for (a, b), r in zip(bounds, read))
        write = tuple(slice(a, b) for a, b in bounds)
        state = self.chain.state(Block(read, write, crop))
        parts = [np.asarray(state[f]) for f in self.fields]
        if len(parts) == 1:
            return parts[0]
        return np.stack([p.astype(np.float32) for p in parts])


@dataclass(frozen=True)
class _Tail:
    """``segment(block) -> labels``: the tail steps on one block of the head's output."""

    steps: tuple[Any, ...]
    fields: tuple[str, ...]
    spacing: tuple[float, ...]
    start: int

    def __call__(self, block: np.ndarray) -> np.ndarray:
        from biakit.pipeline._pipeline import _apply_step
        from biakit.segment import label

        parts = [block] if len(self.fields) == 1 else list(block)
        state: dict[str, Any] = {"image": None, "mask": None, "labels": None}
        for name, part in zip(self.fields, parts):
            state[name] = part.astype(bool) if name == "mask" else part
        for index, cfg in enumerate(self.steps, start=self.start):
            _apply_step(state, index, cfg, self.spacing)
        labels = state["labels"] if state["labels"] is not None else label(state["mask"])
        return np.asarray(labels).astype(np.int32, copy=False)


@dataclass(frozen=True)
class _Copy:
    """Task: one block of the input into the output image."""

    source: Any
    image: ZarrTarget

    def __call__(self, block: Any) -> None:
        self.image.write(block.write, self.source.read(block.write))


class Skipped:
    """Stands for a chunk a resumed run found done: a key of a ``{future: stage}`` map."""


def submit_levels(
    client: Any, levels: Levels, after: Sequence[Any] = (), stage: str = "", priority: int = 0,
    marks: Callable[[str], Path] | None = None,
) -> dict[Any, str]:  # fmt: skip
    """Submit every chunk of levels 1, 2, ... of ``levels``; return ``{future: stage}``.

    ``after``: the futures writing level 0, one per chunk in :func:`plan_blocks` order
    (empty: level 0 is written; None: that chunk is written). A chunk of level 1
    starts once the chunks of level 0 under it are written, and so on: no level waits
    for the whole level below. ``priority``: Dask's task priority (see
    :func:`submit_after`). ``marks``: stage name -> folder of done-markers (see
    :meth:`OmeZarrWriter.marks`): chunks marked done are not submitted (a
    :class:`Skipped` key stands for each), the others mark themselves once written.
    """
    factors = tuple(2 if a in "YX" else 1 for a in levels.axes)
    token = uuid.uuid4().hex[:8]
    below = list(after)
    grid = tuple(-(-n // c) for n, c in zip(levels.shapes[0], levels.chunks))
    out: dict[Any, str] = {}
    for i in range(1, len(levels.targets)):
        shape = levels.shapes[i]
        chunks = tuple(min(c, n) for c, n in zip(levels.chunks, shape))
        prev = tuple(min(c, n) for c, n in zip(levels.chunks, levels.shapes[i - 1]))
        task = _Downsample(levels.targets[i - 1], levels.targets[i], factors, levels.labels)
        folder = None if marks is None else marks(f"{stage}level {i}")
        done = set() if folder is None else done_marks(folder)
        current = []
        for j, block in enumerate(plan_blocks(shape, chunks, (0,) * len(shape))):
            if j in done:
                current.append(None)
                out[Skipped()] = f"{stage}level {i}"
                continue
            deps = []
            if below:
                ranges = [range(s.start * f // c, -(-s.stop * f // c))
                          for s, f, c in zip(block.write, factors, prev)]  # fmt: skip
                deps = [below[int(np.ravel_multi_index(k, grid))] for k in product(*ranges)]
            key = f"biakit-{stage}level-{i}-{token}-{j}".replace(" ", "-")
            marker = None if folder is None else str(folder / str(j))
            future = submit_after(client, run_marked, task, block, marker,
                                  after=[d for d in deps if d is not None], key=key,
                                  priority=priority)  # fmt: skip
            current.append(future)
            out[future] = f"{stage}level {i}"
        below, grid = current, tuple(-(-n // c) for n, c in zip(shape, chunks))
    return out


def submit_copy(bc: Any, src: Any, image: Levels, marks: Callable[[str], Path]) -> dict[Any, str]:
    """Submit the input's copy and its levels; return ``{future: stage}``.

    Submitted first and at low priority: they need nothing else, so a worker runs
    them whenever it would otherwise wait (between the statistics passes, at the end
    of the labelling's blocks) instead of in a stage of their own. Chunks marked done
    in ``marks(stage)`` are skipped (a :class:`Skipped` key each); the others mark
    themselves once written.
    """
    copy = share(bc, _Copy(src, image.base))
    token = uuid.uuid4().hex[:8]
    grid = plan_blocks(image.shapes[0], image.chunks, (0,) * len(image.chunks))
    folder = marks("image")
    done = done_marks(folder)
    pending: dict[Any, str] = {}
    copies: list[Any] = []
    for i, b in enumerate(grid):
        if i in done:
            copies.append(None)
            pending[Skipped()] = "image"
            continue
        copies.append(submit_after(bc, run_marked, copy, b, str(folder / str(i)),
                                   key=f"biakit-image-{token}-{i}", priority=-1))  # fmt: skip
        pending[copies[-1]] = "image"
    return pending | submit_levels(bc, image, copies, "image ", -1, marks)


def wait_all(bc: Any, pending: dict[Any, str]) -> Iterator[BlockProgress]:
    """Wait for submitted tasks; yield the progress of each stage (skipped chunks first)."""
    from biakit.cancel import check_cancelled

    totals: dict[str, int] = {}
    for stage in pending.values():
        totals[stage] = totals.get(stage, 0) + 1
    done = dict.fromkeys(totals, 0)
    for key, stage in pending.items():
        done[stage] += isinstance(key, Skipped)
    for stage, n in done.items():
        if n:
            yield BlockProgress(stage, n, totals[stage])
    for future in bc.as_completed([f for f in pending if not isinstance(f, Skipped)]):
        future.result()
        stage = pending[future]
        done[stage] += 1
        yield BlockProgress(stage, done[stage], totals[stage])
        check_cancelled()


@dataclass(frozen=True)
class StatsCache:
    """The global statistics of a run, kept in a JSON file so a resumed run reuses them.

    Examples
    --------
    >>> import tempfile
    >>> cache = StatsCache(Path(tempfile.mkdtemp()) / "statistics.json")
    >>> cache.get(["step 2 threshold"]) is None
    True
    >>> cache.put({"step 2 threshold": 0.1 + 0.2})
    >>> cache.get(["step 2 threshold"])
    {'step 2 threshold': 0.30000000000000004}
    """

    path: Path

    def _read(self) -> dict[str, float]:
        import json

        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, keys: Sequence[str]) -> dict[str, float] | None:
        """Return the values of ``keys`` if all were saved, else None."""
        data = self._read()
        if not all(isinstance(data.get(k), float) for k in keys):
            return None
        return {k: data[k] for k in keys}

    def put(self, values: dict[str, float]) -> None:
        """Add ``values`` (floats: JSON keeps them exactly); the file is replaced whole."""
        import json
        import os

        data = self._read() | {k: float(v) for k, v in values.items()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, sort_keys=True))
        os.replace(tmp, self.path)
