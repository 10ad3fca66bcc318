"""Pieces of multi-process training that need no process group: sharding, batch norm, checks."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from biakit.errors import ParameterError
from biakit.nn.datasets import RankBatchSampler, shard_bounds
from biakit.nn.train import (
    AllReduceBatchNorm,
    DistContext,
    check_nproc,
    distributed_context,
    init_distributed,
    revert_sync_batchnorm,
    seed_worker,
    sync_batchnorm,
)
from biakit.nn.train import _distributed as dd


@pytest.mark.parametrize(("n", "world"), [(0, 2), (5, 2), (7, 3), (2, 4), (12, 4)])
def test_shard_bounds_split_evenly_in_rank_order(n, world):
    bounds = [shard_bounds(n, r, world) for r in range(world)]
    expected = [(int(a[0]), int(a[-1]) + 1) if a.size else None
                for a in np.array_split(np.arange(n), world)]  # fmt: skip
    for got, want in zip(bounds, expected):
        assert got == want or (want is None and got[0] == got[1])
    assert bounds[0][0] == 0 and bounds[-1][1] == n


def _single_and_rank_batches(n, batch, world, seed=3, drop_last=False):
    """Batches of one process with batch ``world * batch`` and of each rank, same generator seed."""
    ds = TensorDataset(torch.arange(n))
    single = DataLoader(ds, batch_size=batch * world, shuffle=True, drop_last=drop_last,
                        generator=torch.Generator().manual_seed(seed))  # fmt: skip
    ranks = []
    for rank in range(world):
        gen = torch.Generator().manual_seed(seed)
        sampler = RankBatchSampler(RandomSampler(ds, generator=gen), batch, rank=rank,
                                   world_size=world, drop_last=drop_last)  # fmt: skip
        ranks.append(DataLoader(ds, batch_sampler=sampler, generator=gen))
    epochs = []
    for _ in range(2):  # the generator moves on between epochs the same way
        one = [b[0].tolist() for b in single]
        per_rank = [[b[0].tolist() for b in loader] for loader in ranks]
        epochs.append((one, per_rank))
    return epochs


@pytest.mark.parametrize("n", [16, 13, 9])
def test_global_batch_is_the_single_process_batch_in_rank_order(n):
    """MUST-SHOW: rank r takes the r-th block of each global batch of N*B samples."""
    for one, per_rank in _single_and_rank_batches(n, batch=2, world=2):
        assert len(per_rank[0]) == len(per_rank[1])
        full = [a + b for a, b in zip(*per_rank)]
        if n % 4 == 1:  # a last global batch of 1 sample is dropped (a rank would get none)
            assert full == one[:-1] and len(one[-1]) == 1
        else:
            assert full == one
        flat = [i for batch in full for i in batch]
        assert len(flat) == len(set(flat))  # disjoint shares


def test_short_last_global_batch_splits_evenly_or_is_dropped():
    order = list(range(7))
    got = [list(RankBatchSampler(order, 2, rank=r, world_size=3)) for r in range(3)]
    # 7 = one global batch of 6 + a last one of 1 (< 3 ranks): dropped on every rank
    assert got == [[[0, 1]], [[2, 3]], [[4, 5]]]
    got = [list(RankBatchSampler(list(range(10)), 2, rank=r, world_size=3)) for r in range(3)]
    assert got == [[[0, 1], [6, 7]], [[2, 3], [8]], [[4, 5], [9]]]
    dropped = RankBatchSampler(list(range(10)), 2, rank=0, world_size=3, drop_last=True)
    assert list(dropped) == [[0, 1]] and len(dropped) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rank": 2, "world_size": 2}, r"rank must be an int in \[0, 1\], got 2"),
        ({"rank": 0, "world_size": 0}, "world_size must be a positive int, got 0"),
        ({"rank": 0, "world_size": 1, "batch_size": 0}, "batch_size must be a positive int"),
        ({"rank": 0, "world_size": 1, "sampler": iter([1])}, "sampler must have a length"),
    ],
)
def test_rank_batch_sampler_errors(kwargs, match):
    kwargs = {"sampler": [0, 1], "batch_size": 1, **kwargs}
    with pytest.raises(ParameterError, match=match):
        RankBatchSampler(kwargs.pop("sampler"), kwargs.pop("batch_size"), **kwargs)


def test_shard_bounds_errors():
    with pytest.raises(ParameterError, match="n must be a non-negative int, got -1"):
        shard_bounds(-1, 0, 2)


def test_allreduce_batchnorm_outside_a_group_is_batchnorm():
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3))
    x = torch.randn(4, 1, 8, 8)
    expected, before = plain(x), {k: v.clone() for k, v in plain.state_dict().items()}
    plain.load_state_dict(before)  # running stats moved: start again from the same state
    synced = sync_batchnorm(plain)
    assert isinstance(synced[1], AllReduceBatchNorm)
    assert torch.allclose(synced(x), expected)
    reverted = revert_sync_batchnorm(synced)
    assert type(reverted[1]) is nn.BatchNorm2d
    assert reverted.state_dict().keys() == before.keys()
    with pytest.raises(ValueError, match="expected at least 2D input"):
        AllReduceBatchNorm(3)(torch.zeros(3))


def test_sync_batchnorm_on_cuda_uses_torchs_class():
    net = sync_batchnorm(nn.Sequential(nn.BatchNorm3d(2)), "cuda")
    assert type(net[0]) is nn.SyncBatchNorm
    assert type(revert_sync_batchnorm(net)[0]) is nn.BatchNorm3d
    root = sync_batchnorm(nn.BatchNorm1d(2))  # a batch-norm root is replaced too
    assert isinstance(root, AllReduceBatchNorm)


def test_one_process_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_distributed("cpu") == DistContext() == distributed_context()
    assert not torch.distributed.is_initialized()
    dd.barrier()  # no-ops in one process
    assert dd.all_reduce_sum([1.0, 2.0], torch.device("cpu"), DistContext()) == [1.0, 2.0]
    assert dd.gather_objects("x", DistContext()) == ["x"]


def test_check_nproc_errors(monkeypatch):
    check_nproc(3, "cpu")
    with pytest.raises(ParameterError, match="--nproc -1: expected a number of processes >= 1"):
        check_nproc(-1, "cpu")
    with pytest.raises(ParameterError, match="not on device='mps'"):
        check_nproc(2, "mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    check_nproc(2, "auto")
    with pytest.raises(ParameterError, match=r"--nproc 3: .* but 2 GPU\(s\) are visible; use "):
        check_nproc(3, "cuda")


def test_more_processes_than_gpus_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ParameterError, match="LOCAL_RANK=1 has no GPU: 1 GPU"):
        init_distributed("cuda")
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ParameterError, match="WORLD_SIZE='two': expected an int"):
        init_distributed("cpu")


def test_loader_workers_are_seeded_by_rank():
    torch.manual_seed(5)
    seed_worker(0)
    rank0 = np.random.random()  # noqa: NPY002
    torch.manual_seed(5)
    seed_worker(0, rank=1)
    rank1 = np.random.random()  # noqa: NPY002
    torch.manual_seed(5)
    np.random.seed(torch.initial_seed() % 2**32)  # noqa: NPY002 (rank 0: as before)
    assert rank0 == np.random.random() != rank1  # noqa: NPY002
