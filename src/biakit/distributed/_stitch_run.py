"""Where the blocks of :func:`biakit.distributed.label_blockwise` run.

Without a client: Dask's threaded scheduler, one wave of as many blocks as threads at
a time (memory: a few blocks). With a ``distributed`` client: at most two blocks per
worker in flight; a NumPy source is sliced here and only the block is sent; any other
source and the decoder go to the workers once (scattered) when their pickle is large
(an in-memory image inside a lazy source, e.g. the pipeline's head view).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from biakit.cancel import check_cancelled

from ._engine import share
from ._stitch_block import Geometry, read_region, relabel_block, relabel_core, segment_block


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
        for future in futures.futures:
            future.cancel()


def pass1(source: Any, segment: Any, geom: Geometry, out: Any, client: Any) -> Iterator[Any]:
    indices = list(np.ndindex(*geom.grid))
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


def pass2(out: Any, geom: Geometry, luts: dict, client: Any) -> Iterator[None]:
    indices = list(np.ndindex(*geom.grid))
    if client is not None and not isinstance(out, np.ndarray):
        calls = [(relabel_block, out, geom.core(i), luts[i]) for i in indices]
        yield from _distributed(client, calls)
        return
    if client is not None:
        for i in indices:
            core = geom.core(i)
            out[core] = relabel_core(out[core], luts[i]).astype(out.dtype, copy=False)
            yield None
        return
    yield from _threaded([(lambda i=i: relabel_block(out, geom.core(i), luts[i])) for i in indices])
