"""Sharding of training and validation data over the processes of data-parallel training."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized

from torch.utils.data import Sampler

from biakit.errors import ParameterError


def _check_rank(rank: int, world_size: int) -> None:
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ParameterError(f"world_size must be a positive int, got {world_size!r}")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ParameterError(f"rank must be an int in [0, {world_size - 1}], got {rank!r}")


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """Start and stop of rank ``rank``'s contiguous share of ``n`` items.

    The first ``n % world_size`` ranks get one item more than the others (as
    :func:`numpy.array_split`); shares are disjoint and cover ``range(n)``.

    Examples
    --------
    >>> [shard_bounds(5, r, 2) for r in range(2)]
    [(0, 3), (3, 5)]
    >>> [shard_bounds(1, r, 3) for r in range(3)]
    [(0, 1), (1, 1), (1, 1)]
    """
    _check_rank(rank, world_size)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ParameterError(f"n must be a non-negative int, got {n!r}")
    size, extra = divmod(n, world_size)
    start = rank * size + min(rank, extra)
    return start, start + size + (rank < extra)


class RankBatchSampler(Sampler[list[int]]):
    """One process's batches of data-parallel training: its share of each global batch.

    The indices of ``sampler`` (a shuffled or sequential order of the whole
    dataset, identical on every rank) are cut into *global batches* of
    ``batch_size * world_size`` consecutive indices -- exactly the batches of a
    single process with batch size ``batch_size * world_size``. Rank ``r``
    takes the ``r``-th block of ``batch_size`` indices of each global batch,
    so the ranks' samples are disjoint and their concatenation in rank order is
    the single-process batch. A shorter last global batch of ``m`` indices is
    split as evenly as possible in rank order (:func:`shard_bounds`); it is
    dropped when ``drop_last`` or when ``m < world_size`` (a rank would get no
    sample, and every rank must take part in each step).

    Parameters
    ----------
    sampler : iterable of int
        The order of the whole dataset (e.g. ``RandomSampler`` with a
        generator seeded identically on every rank); needs ``len``.
    batch_size : int
        Samples per process and step.
    rank, world_size : int
        This process and the number of processes.
    drop_last : bool
        Drop a last global batch shorter than ``batch_size * world_size``.

    Examples
    --------
    >>> order = list(range(11))
    >>> [list(RankBatchSampler(order, 2, rank=r, world_size=2)) for r in range(2)]
    [[[0, 1], [4, 5], [8, 9]], [[2, 3], [6, 7], [10]]]
    >>> len(RankBatchSampler(order, 2, rank=0, world_size=2, drop_last=True))
    2
    """

    def __init__(
        self,
        sampler: Iterable[int],
        batch_size: int,
        *,
        rank: int,
        world_size: int,
        drop_last: bool = False,
    ) -> None:
        _check_rank(rank, world_size)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParameterError(f"batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(sampler, Sized):
            raise ParameterError(
                f"sampler must have a length (a Sampler or a list), got {type(sampler).__name__}"
            )
        self.sampler, self.batch_size = sampler, batch_size
        self.rank, self.world_size, self.drop_last = rank, world_size, bool(drop_last)

    @property
    def global_batch_size(self) -> int:
        """Samples of one optimiser step over all processes (without accumulation)."""
        return self.batch_size * self.world_size

    def __iter__(self) -> Iterator[list[int]]:
        """Yield this rank's index batches, one per global batch."""
        size, b, r = self.global_batch_size, self.batch_size, self.rank
        batch: list[int] = []
        for index in self.sampler:
            batch.append(int(index))
            if len(batch) == size:
                yield batch[r * b : (r + 1) * b]
                batch = []
        if batch and not self.drop_last and len(batch) >= self.world_size:
            start, stop = shard_bounds(len(batch), r, self.world_size)
            yield batch[start:stop]

    def __len__(self) -> int:
        """Return the number of batches (the same on every rank)."""
        full, rest = divmod(len(self.sampler), self.global_batch_size)  # type: ignore[arg-type]
        return full + int(rest >= self.world_size and not self.drop_last)
