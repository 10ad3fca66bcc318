"""Run one task per block on a :class:`BlockClient`, with progress, resume and cancellation."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biakit.blocks import Block, iter_blocks
from biakit.cancel import Cancelled, check_cancelled
from biakit.errors import ParameterError


@dataclass(frozen=True)
class BlockProgress:
    """Progress of a block-wise run: ``done`` of ``total`` blocks of ``stage`` finished.

    Attributes
    ----------
    stage : str
        What is running (``"statistics"``, ``"level 0"``, ``"labels"``, ``"level 1"``, ...).
    done, total : int
        Blocks finished (including those a resumed run found done) and planned.
    """

    stage: str
    done: int
    total: int


def round_up(value: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= ``value``."""
    return -(-int(value) // int(multiple)) * int(multiple)


def check_block_shape(block_shape: Any, ndim: int, name: str = "block_shape") -> tuple[int, ...]:
    """Validate a block shape: one positive int (every axis) or ``ndim`` of them.

    Examples
    --------
    >>> check_block_shape(64, 2)
    (64, 64)
    >>> check_block_shape((0, 8), 2)
    Traceback (most recent call last):
    ...
    biakit.errors.ParameterError: block_shape: expected 2 positive integers (one per spatial \
axis) or one, got (0, 8)
    """
    values = (block_shape,) * ndim if isinstance(block_shape, int) else tuple(block_shape)
    ok = len(values) == ndim and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values
    )
    if not ok:
        raise ParameterError(
            f"{name}: expected {ndim} positive integers (one per spatial axis) or one, "
            f"got {block_shape!r}"
        )
    return tuple(int(v) for v in values)


def auto_block_shape(
    shape: Sequence[int], bytes_per_voxel: float, budget: int, multiple: Sequence[int] | None = None
) -> tuple[int, ...]:
    """Largest cube-like block whose working set ``voxels * bytes_per_voxel`` fits ``budget``.

    Examples
    --------
    >>> auto_block_shape((4096, 4096), 16, 64 << 20)
    (2048, 2048)
    >>> auto_block_shape((40, 4096, 4096), 16, 64 << 20, multiple=(1, 16, 16))
    (40, 336, 336)
    """
    ndim = len(shape)
    multiple = tuple(multiple or (1,) * ndim)
    voxels = max(budget / max(bytes_per_voxel, 1e-9), 1.0)
    side = voxels ** (1 / ndim)
    out = [min(n, max(int(side), m)) for n, m in zip(shape, multiple)]
    for _ in range(3):  # axes capped by the image leave room for the others
        rest = [i for i, (o, n) in enumerate(zip(out, shape)) if o < n]
        if not rest:
            break
        fixed = math.prod(o for i, o in enumerate(out) if i not in rest)
        side = (voxels / fixed) ** (1 / len(rest))
        for i in rest:
            out[i] = min(shape[i], max(int(side), multiple[i]))
    out = [min(round_up(o, m), round_up(n, m)) if o < n else n
           for o, n, m in zip(out, shape, multiple)]  # fmt: skip
    return tuple(max(o // m * m, m) if o < n else o for o, n, m in zip(out, shape, multiple))


def plan_blocks(
    shape: Sequence[int],
    block_shape: Sequence[int],
    halo: Sequence[int],
    divisor: Sequence[int] | None = None,
) -> list[Block]:
    """Blocks with their halo; block starts and halos rounded up to multiples of ``divisor``.

    With a network's divisor every read region starts on the pooling grid of a
    whole-image prediction, so the centre of each block equals it.

    Examples
    --------
    >>> [b.read[0] for b in plan_blocks((40,), (10,), (3,), divisor=(8,))]
    [slice(0, 24, None), slice(8, 40, None), slice(24, 40, None)]
    """
    divisor = tuple(divisor or (1,) * len(shape))
    block = tuple(round_up(b, d) for b, d in zip(block_shape, divisor))
    halo = tuple(round_up(h, d) for h, d in zip(halo, divisor))
    return list(iter_blocks(tuple(shape), block, halo))


def _call(task: Callable[[Block], Any], block: Block) -> Any:
    return task(block)


def iter_run_blocks(
    client: Any,
    task: Callable[[Block], Any],
    blocks: Sequence[Block],
    *,
    stage: str,
    marks: Path | None = None,
) -> Iterator[tuple[BlockProgress, Any]]:
    """Run ``task(block)`` for every block; yield progress and each task's (small) result.

    Parameters
    ----------
    client : BlockClient
        Where tasks run.
    task : callable
        Picklable; reads its input region, computes, writes its output region and
        returns something small. Running it twice on a block must give the same
        output (idempotent writes), since Dask retries tasks of lost workers.
    blocks : sequence of Block
        The blocks.
    stage : str
        Name shown in progress records.
    marks : Path, optional
        Folder of done-markers: blocks marked there are skipped (resume), and each
        finished block is marked (after its task returned, so after its write).

    Yields
    ------
    (BlockProgress, result)
        ``result`` is None for blocks skipped as already done.
    """
    todo = list(range(len(blocks)))
    done = 0
    if marks is not None:
        marks.mkdir(parents=True, exist_ok=True)
        finished = {int(p.name) for p in marks.iterdir() if p.name.isdigit()}
        todo = [i for i in todo if i not in finished]
        done = len(blocks) - len(todo)
        if done:
            yield BlockProgress(stage, done, len(blocks)), None
    if not todo:
        return
    check_cancelled()
    ref = client.scatter(task)
    token = uuid.uuid4().hex[:8]
    futures = {}
    for i in todo:
        key = f"biakit-{stage.replace(' ', '-')}-{token}-{i}"
        futures[client.submit(_call, ref, blocks[i], key=key)] = i
    try:
        for future in client.as_completed(futures):
            result = future.result()
            if marks is not None:
                (marks / str(futures[future])).touch()
            done += 1
            yield BlockProgress(stage, done, len(blocks)), result
            check_cancelled()
    except (Cancelled, KeyboardInterrupt, GeneratorExit):
        client.cancel(futures)
        raise
    except Exception:
        client.cancel(futures)
        raise


def run_blocks(
    client: Any, task: Callable[[Block], Any], blocks: Sequence[Block], *, stage: str = "blocks"
) -> list[Any]:
    """Run ``task`` on every block and return the results in block order (plain wrapper).

    Examples
    --------
    >>> from biakit.distributed import get_client
    >>> blocks = plan_blocks((10,), (4,), (0,))
    >>> with get_client("threads", n_workers=2) as bc:
    ...     run_blocks(bc, lambda b: b.write[0].start, blocks)
    [0, 4, 8]
    """
    if not blocks:
        raise ParameterError("blocks: expected at least one block, got none")
    out: list[Any] = [None] * len(blocks)
    for _, (index, result) in iter_run_blocks(client, _Indexed(task), _enumerated(blocks),
                                              stage=stage):  # fmt: skip
        out[index] = result
    return out


@dataclass(frozen=True)
class _IndexedBlock(Block):
    index: int = 0


def _enumerated(blocks: Sequence[Block]) -> list[Block]:
    return [_IndexedBlock(b.read, b.write, b.crop, i) for i, b in enumerate(blocks)]


@dataclass(frozen=True)
class _Indexed:
    """Wrap a task so its result comes back with the block's index."""

    task: Callable[[Block], Any]

    def __call__(self, block: Block) -> tuple[int, Any]:
        return getattr(block, "index", -1), self.task(block)
