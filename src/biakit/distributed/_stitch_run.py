"""Where the blocks of :func:`biakit.distributed.label_blockwise` run, and its checkpoint.

Without a client: Dask's threaded scheduler, one wave of as many blocks as threads at
a time (memory: a few blocks). With a ``distributed`` client: at most two blocks per
worker in flight; a NumPy source is sliced here and only the block is sent; any other
source and the decoder go to the workers once (scattered) when their pickle is large
(an in-memory image inside a lazy source, e.g. the pipeline's head view).

A :class:`Checkpoint` folder lets an interrupted labelling resume: after a block's
provisional labels are written, its :class:`BlockTable` (objects, anchors, band
slabs: all the stitcher needs) is saved, then its done-marker; after a block is
relabelled, its relabel marker. A crash anywhere before a marker redoes that block.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biakit.cancel import check_cancelled

from ._engine import share
from ._stitch_block import (
    BlockTable,
    Geometry,
    read_region,
    relabel_block,
    relabel_core,
    segment_block,
)

Index = tuple[int, ...]


def _threaded(tasks: Sequence[Callable[[], Any]]) -> Iterator[Any]:
    """Run zero-argument tasks on Dask's threaded scheduler, a few at a time."""
    import dask

    workers = int(dask.config.get("num_workers", None) or os.cpu_count() or 1)
    for start in range(0, len(tasks), workers):
        check_cancelled()
        wave = [dask.delayed(task, pure=False)() for task in tasks[start : start + workers]]
        yield from dask.compute(*wave, scheduler="threads", num_workers=workers)


def _distributed(client: Any, calls: Sequence[tuple[Any, ...]]) -> Iterator[Any]:
    """Submit ``(func, *args)`` calls to a Dask client, at most two per worker in flight."""
    from distributed import as_completed

    limit = max(2, 2 * len(client.scheduler_info().get("workers", {})))
    pending = list(reversed(calls))
    futures = as_completed()
    try:
        for _ in range(min(limit, len(pending))):
            call = pending.pop()
            futures.add(client.submit(*call, pure=False))
        for future in futures:
            check_cancelled()
            result = future.result()
            future.release()
            if pending:
                call = pending.pop()
                futures.add(client.submit(*call, pure=False))
            yield result
    finally:
        with futures.lock:  # finishing tasks remove themselves from it meanwhile
            left = list(futures.futures)
        for future in left:
            future.cancel()


def pass1(
    source: Any, segment: Any, geom: Geometry, out: Any, client: Any, indices: Sequence[Index]
) -> Iterator[Any]:
    """Segment the blocks at ``indices``; yield their tables as they finish."""
    if client is None:
        tasks = [(lambda i=i: segment_block(None, source, segment, geom, i, out)) for i in indices]
        yield from _threaded(tasks)
        return
    remote_out = None if isinstance(out, np.ndarray) else out
    inputs = share(client, _Inputs(None if isinstance(source, np.ndarray) else source, segment))
    for table in _distributed(
        client, [_remote_call(source, inputs, geom, i, remote_out) for i in indices]
    ):
        if table.core is not None:
            out[geom.core(table.index)] = table.core.astype(out.dtype, copy=False)
        yield table


@dataclass(frozen=True)
class _Inputs:
    """What every block's task reads: the source (None: sliced here) and the decoder."""

    source: Any
    segment: Any


def _segment_shared(data: Any, inputs: _Inputs, geom: Geometry, index: Any, out: Any) -> Any:
    return segment_block(data, inputs.source, inputs.segment, geom, index, out)


def _remote_call(source: Any, inputs: Any, geom: Geometry, index: Any, out: Any) -> tuple:
    """Return the task of one block; ``inputs`` is an :class:`_Inputs` or its future."""
    if isinstance(source, np.ndarray):  # send only the block, not the whole array
        return (_segment_shared, read_region(source, geom.read(index)), inputs, geom, index, out)
    return (_segment_shared, None, inputs, geom, index, out)


def _relabel_at(out: Any, geom: Geometry, index: Index, lut: np.ndarray) -> Index:
    relabel_block(out, geom.core(index), lut)
    return index


def pass2(
    out: Any, geom: Geometry, luts: dict, client: Any, indices: Sequence[Index]
) -> Iterator[Index]:
    """Relabel the blocks at ``indices``; yield each one's index as it finishes."""
    if client is not None and not isinstance(out, np.ndarray):
        calls = [(_relabel_at, out, geom, i, luts[i]) for i in indices]
        yield from _distributed(client, calls)
        return
    if client is not None:
        for i in indices:
            core = geom.core(i)
            out[core] = relabel_core(out[core], luts[i]).astype(out.dtype, copy=False)
            yield i
        return
    yield from _threaded([(lambda i=i: _relabel_at(out, geom, i, luts[i])) for i in indices])


@dataclass(frozen=True)
class Checkpoint:
    """Done-markers and block tables of a labelling, kept in ``folder`` for resuming.

    ``folder/segment/<n>`` marks block ``n`` (flat index in the grid) segmented, its
    table in ``folder/segment/<n>.npz``; ``folder/relabel/<n>`` marks it relabelled.
    Each file is written after what it vouches for, so a marker is never ahead of
    the labels it stands for; a table is written whole (renamed into place).

    Examples
    --------
    >>> import tempfile
    >>> geom = Geometry((4, 4), (2, 2), (1, 1), (1, 1), (0, 0))
    >>> ckpt = Checkpoint(Path(tempfile.mkdtemp()))
    >>> table = BlockTable((0, 1), np.array([3]), np.array([2]), {})
    >>> ckpt.save(geom, table)
    >>> [t.index for t in ckpt.tables(geom)], ckpt.done(geom, "segment")
    ([(0, 1)], {(0, 1)})
    """

    folder: Path

    def _path(self, geom: Geometry, stage: str, index: Index) -> Path:
        return self.folder / stage / str(int(np.ravel_multi_index(index, geom.grid)))

    def done(self, geom: Geometry, stage: str) -> set[Index]:
        """Grid indices of the blocks marked done in ``stage`` (``segment``, ``relabel``)."""
        folder = self.folder / stage
        if not folder.is_dir():
            return set()
        size = int(np.prod(geom.grid))
        flat = [int(p.name) for p in folder.iterdir() if p.name.isdigit() and int(p.name) < size]
        return {tuple(int(i) for i in np.unravel_index(n, geom.grid)) for n in flat}

    def mark(self, geom: Geometry, stage: str, index: Index) -> None:
        """Mark block ``index`` done in ``stage`` (call after its output is written)."""
        path = self._path(geom, stage, index)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def save(self, geom: Geometry, table: BlockTable) -> None:
        """Save a segmented block's table, then its marker (after its labels are written)."""
        path = self._path(geom, "segment", table.index)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".npz.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **_table_arrays(table))
        os.replace(tmp, path.with_name(path.name + ".npz"))
        self.mark(geom, "segment", table.index)

    def tables(self, geom: Geometry) -> list[BlockTable]:
        """Tables of the blocks marked segmented (in grid order)."""
        out = []
        for index in sorted(self.done(geom, "segment")):
            path = self._path(geom, "segment", index)
            with np.load(path.with_name(path.name + ".npz"), allow_pickle=False) as data:
                out.append(_table_from(data))
        return out


def _table_arrays(table: BlockTable) -> dict[str, np.ndarray]:
    keys = list(table.bands)
    arrays = {
        "index": np.asarray(table.index, np.int64),
        "present": np.asarray(table.present, np.int64),
        "anchors": np.asarray(table.anchors, np.int64),
        "cut": np.asarray(table.cut, np.int64),
        "band_index": np.asarray(keys, np.int64).reshape(len(keys), len(table.index)),
        "band_shape": np.asarray([table.bands[k][0] for k in keys], np.int64).reshape(
            len(keys), len(table.index)
        ),
        "band_dtype": np.asarray([table.bands[k][1] for k in keys], dtype="U8"),
    }
    for n, k in enumerate(keys):
        arrays[f"band_{n}"] = np.frombuffer(table.bands[k][2], np.uint8)
    return arrays


def _table_from(data: Any) -> BlockTable:
    bands = {}
    for n, (key, shape, dtype) in enumerate(
        zip(data["band_index"], data["band_shape"], data["band_dtype"])
    ):
        entry = (tuple(int(s) for s in shape), str(dtype), data[f"band_{n}"].tobytes())
        bands[tuple(int(i) for i in key)] = entry
    index = tuple(int(i) for i in data["index"])
    return BlockTable(index, data["present"], data["anchors"], bands, data["cut"])
