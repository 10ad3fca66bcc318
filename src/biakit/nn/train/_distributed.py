r"""Multi-process training with PyTorch DistributedDataParallel (DDP), one node.

Starting
--------
``biakit train CONFIG.yaml --nproc N`` starts ``N`` processes itself (through
``torch.distributed.run``, single node) and returns the exit status of the
first process that failed. The same with PyTorch's launcher::

    torchrun --standalone --nproc_per_node N -m biakit train CONFIG.yaml

or, for a Python script that calls ``Trainer.fit`` or a workflow's ``train``,
``torchrun --standalone --nproc_per_node N script.py``. On a SLURM node, one
task per node running the launcher::

    srun --nodes 1 --ntasks 1 --gpus-per-task N --cpus-per-task C \\
        torchrun --standalone --nproc_per_node N -m biakit train CONFIG.yaml

When ``torchrun`` has set ``WORLD_SIZE > 1``, the :class:`~biakit.nn.train.Trainer`
initialises the process group itself (:func:`init_distributed`): backend
``nccl`` with one GPU per process (``cuda:LOCAL_RANK``; ``device: cuda:K`` in the
config is replaced by it) when the training device is CUDA, ``gloo`` on the
CPU. Without those variables nothing changes: one process, no process group.

What is per process (rank)
--------------------------
- ``train.batch_size`` is **per process**: a step sees ``N * batch_size``
  samples (times ``accumulate``). The learning rate is **not** scaled with
  ``N``; to keep the step size of a single-process run with batch ``B``, use
  ``batch_size: B / N``, or scale ``lr`` yourself (linear rule: ``lr * N``).
- Data: every rank draws the same shuffled order of the training set (from
  ``train.seed`` and the epoch); it is cut into global batches of
  ``N * batch_size`` consecutive samples, and rank ``r`` trains on the
  ``r``-th block of each (:class:`~biakit.nn.datasets.RankBatchSampler`). So
  ranks never share a sample, and with a loss that is a mean over samples
  (``ce``, ``bce``, ``mse``, ``mae``) training equals single-process training
  with batch ``N * batch_size`` up to rounding: each rank's loss is weighted by
  its share of the global batch before DDP averages the gradients (a short last
  batch split unevenly stays exact; one with fewer than ``N`` samples is
  dropped). Dice losses are computed per rank batch. Random patches of a
  :class:`~biakit.nn.datasets.PatchDataset` depend on ``(seed, epoch, sample
  index)``, so the ranks' patch streams are disjoint and reproducible.
- Seeds: Python, NumPy and torch's global generators are seeded with
  ``seed + rank`` (dropout and other global-state randomness differ per rank);
  the data order uses ``seed`` on every rank; data-loader workers are seeded by
  rank too.
- Batch norm layers are synchronised across ranks
  (:func:`sync_batchnorm`: PyTorch's ``SyncBatchNorm`` kernels on CUDA, an
  all-reduce of the per-channel sums on the CPU), so statistics are those of
  the global batch.
- Validation is sharded: rank ``r`` evaluates a contiguous ``1/N`` of the
  validation set with its copy of the model, and the per-sample-weighted sums
  of the loss and metrics are all-reduced, so every rank records the same
  ``val_*`` values as one process would (up to rounding).
- Decisions are taken together: the per-batch training loss (and whether it is
  finite) is all-reduced, and with ``max_time`` rank 0's clock is broadcast at
  every step and rank 0's stop decision at the end of every epoch, so all ranks
  stop after the same step.
- Files: only rank 0 writes checkpoints, ``metrics.csv``, ``curves.png``,
  ``summary.json`` and the model folder; the others wait at barriers.

Resume
------
``last.pt`` holds the model, optimiser, schedule and history once, and every
rank's random states (``rng_ranks``). ``biakit train CONFIG --resume --nproc N``
(or torchrun) continues exactly with the **same** number of processes; another
number is refused with a message naming the one to use.

Failures
--------
An exception on one rank ends that process; ``torchrun`` then stops the other
ranks (which would wait forever at their next collective) and ``biakit train
--nproc`` exits with the failed rank's status (2 for a user error). Every
collective of the training loop runs on every rank in the same order.

Examples
--------
>>> ctx = distributed_context()  # not under torchrun: one process
>>> ctx.world_size, ctx.rank, ctx.enabled, ctx.is_main
(1, 0, False, True)
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

from biakit.errors import ParameterError

#: How long a rank waits at a collective for the others (then the group fails).
TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in data-parallel training.

    Attributes
    ----------
    rank, local_rank, world_size : int
        Global rank, rank on this node (its GPU), number of processes.
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (the one that writes files)."""
        return self.rank == 0


def env_world_size() -> int:
    """``WORLD_SIZE`` set by torchrun (1 when absent)."""
    return _env_int("WORLD_SIZE", 1)


def env_rank() -> int:
    """``RANK`` set by torchrun (0 when absent)."""
    return _env_int("RANK", 0)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ParameterError(f"environment variable {name}={value!r}: expected an int") from None


def distributed_context() -> DistContext:
    """Return the current :class:`DistContext` (one process unless a group is initialised)."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return DistContext()
    return DistContext(dist.get_rank(), _env_int("LOCAL_RANK", 0), dist.get_world_size())


def wants_cuda(device: str) -> bool:
    """Whether a config ``device`` trains on CUDA here (``cuda*``, or ``auto`` with a GPU)."""
    return device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())


def check_nproc(nproc: int, device: str) -> None:
    """Refuse a process count the machine cannot run: < 1, or more processes than GPUs.

    Raises
    ------
    ParameterError
        Naming ``--nproc``, the value and what would work.

    Examples
    --------
    >>> check_nproc(2, "cpu")
    >>> check_nproc(0, "cpu")
    Traceback (most recent call last):
    ...
    biakit.errors.ParameterError: --nproc 0: expected a number of processes >= 1
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ParameterError(f"--nproc {nproc}: expected a number of processes >= 1")
    if nproc == 1:
        return
    if device == "mps":
        raise ParameterError(
            f"--nproc {nproc}: several processes train on CUDA GPUs or on the CPU, not on "
            "device='mps'; set train.device to 'cpu' or use --nproc 1"
        )
    if wants_cuda(device):
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if nproc > gpus:
            fewer = f"use --nproc {gpus} or fewer, or " if gpus else ""
            raise ParameterError(
                f"--nproc {nproc}: training on device={device!r} runs one process per GPU, "
                f"but {gpus} GPU(s) are visible; {fewer}set train.device: cpu to train with "
                "CPU processes (gloo)"
            )


def init_distributed(device: str = "auto") -> DistContext:
    """Join the process group torchrun describes (``WORLD_SIZE > 1``); else do nothing.

    The backend is ``nccl`` when ``device`` trains on CUDA (this process then
    uses ``cuda:LOCAL_RANK``), ``gloo`` otherwise. Calling it again, or after
    the caller initialised the group itself, returns the current context.

    Raises
    ------
    ParameterError
        When this process's ``LOCAL_RANK`` has no GPU (more processes per node
        than GPUs).
    """
    dist = torch.distributed
    if env_world_size() <= 1 or not dist.is_available() or dist.is_initialized():
        return distributed_context()
    local = _env_int("LOCAL_RANK", 0)
    backend = "gloo"
    if wants_cuda(device):
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if local >= gpus:
            raise ParameterError(
                f"process with LOCAL_RANK={local} has no GPU: {gpus} GPU(s) visible for "
                f"device={device!r}; start at most {gpus} process(es) per node "
                "(--nproc / --nproc_per_node) or set train.device: cpu"
            )
        torch.cuda.set_device(local)
        backend = "nccl"
    dist.init_process_group(backend, timeout=TIMEOUT)
    return distributed_context()


def shutdown_distributed() -> None:
    """Leave the process group (when one is initialised)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_device(device: torch.device, ctx: DistContext) -> torch.device:
    """Return this rank's device: ``cuda:LOCAL_RANK`` for CUDA under DDP, else ``device``."""
    if ctx.enabled and device.type == "cuda":
        return torch.device("cuda", ctx.local_rank)
    return device


def data_loader(
    ds: Any,
    batch_size: int,
    ctx: DistContext,
    *,
    shuffle: bool,
    drop_last: bool,
    generator: torch.Generator,
    train: bool = True,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """Build this rank's training or validation loader (one process: a plain ``DataLoader``).

    Training under DDP: the shuffled (or sequential) order of the whole set,
    drawn from ``generator`` as a single process would, cut by
    :class:`~biakit.nn.datasets.RankBatchSampler`. Validation (``train=False``):
    a contiguous share of the set per rank (:func:`~biakit.nn.datasets.shard_bounds`).
    Workers are seeded by rank (:func:`~biakit.nn.train.seed_worker`).
    """
    from biakit.nn.datasets import RankBatchSampler, shard_bounds
    from biakit.nn.train._checkpoint import seed_worker

    common: dict[str, Any] = {
        "num_workers": num_workers,
        "generator": generator,
        "worker_init_fn": functools.partial(seed_worker, rank=ctx.rank),
        "pin_memory": pin_memory,
    }
    if not ctx.enabled:
        return DataLoader(ds, batch_size, shuffle=shuffle, drop_last=drop_last, **common)
    if not train:
        start, stop = shard_bounds(len(ds), ctx.rank, ctx.world_size)
        return DataLoader(ds, batch_size, sampler=range(start, stop), **common)
    order = RandomSampler(ds, generator=generator) if shuffle else SequentialSampler(ds)
    sampler = RankBatchSampler(
        order, batch_size, rank=ctx.rank, world_size=ctx.world_size, drop_last=drop_last
    )
    return DataLoader(ds, batch_sampler=sampler, **common)


# ---------------------------------------------------------------------- collectives
def barrier(ctx: DistContext | None = None) -> None:
    """Wait for every rank (nothing to do in one process)."""
    if (ctx or distributed_context()).enabled:
        torch.distributed.barrier()


def all_reduce_sum(values: Sequence[float], device: torch.device, ctx: DistContext) -> list[float]:
    """Element-wise sums over the ranks (float64; NaN / inf propagate)."""
    if not ctx.enabled:
        return [float(v) for v in values]
    tensor = torch.tensor(list(values), dtype=torch.float64, device=device)
    torch.distributed.all_reduce(tensor)
    return tensor.tolist()


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank (picklable objects)."""
    if not ctx.enabled:
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    torch.distributed.all_gather_object(out, obj)
    return out


def synced_elapsed(start: float, ctx: DistContext) -> float:
    """Seconds since ``start`` by rank 0's clock (so time-budget decisions agree)."""
    return float(broadcast_object(time.perf_counter() - start, ctx))


# --------------------------------------------------------------------- batch norm
class _AllReduceSum(torch.autograd.Function):
    """Sum over the ranks; the backward pass sums the gradients over the ranks."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone(memory_format=torch.contiguous_format)
        torch.distributed.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone(memory_format=torch.contiguous_format)
        torch.distributed.all_reduce(out)
        return out


class AllReduceBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm synchronised across ranks on any device (the CPU's ``SyncBatchNorm``).

    PyTorch's :class:`torch.nn.SyncBatchNorm` needs a GPU (and DDP refuses it on
    CPU modules). Here the per-channel sum and centred sum of squares are
    all-reduced by a differentiable sum (its backward pass sums the statistics'
    gradients over the ranks), giving the statistics, outputs, gradients and running averages of
    one batch-norm layer on the global batch. Outside a process group or in
    eval mode it is plain batch norm. Inputs ``(N, C, *spatial)``.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (N, C, ...), got {input.dim()}D")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Normalise ``input`` with the statistics of the global batch."""
        dist = torch.distributed
        if (
            not self.training
            or not (dist.is_available() and dist.is_initialized())
            or dist.get_world_size() < 2
        ):
            return super().forward(input)
        return self._all_reduce_forward(input)

    def _all_reduce_forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        x = input.float()
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        local = torch.cat([x.sum(dims), x.new_tensor([x.numel() / x.shape[1]])])
        total = _AllReduceSum.apply(local)
        count = total[-1].detach()
        mean = total[:-1] / count
        centred = x - mean.view(shape)
        squares = _AllReduceSum.apply((centred * centred).sum(dims))
        var = squares / count
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                unbiased = var.detach() * (count / torch.clamp(count - 1, min=1))
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), factor)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
        return y.to(input.dtype)


def has_batchnorm(model: nn.Module) -> bool:
    """Whether ``model`` holds a batch-norm layer."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def sync_batchnorm(model: nn.Module, device: torch.device | str = "cpu") -> nn.Module:
    """Replace every batch-norm layer by a synchronised one (in place); return the root.

    As :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm` (which it is on
    CUDA with the NCCL backend): weights, buffers and ``requires_grad`` are kept.
    Elsewhere (the CPU, or GPUs over gloo) the layers become
    :class:`AllReduceBatchNorm`. Each new layer remembers its original class for
    :func:`revert_sync_batchnorm`.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    >>> type(sync_batchnorm(net)[1]).__name__
    'AllReduceBatchNorm'
    >>> type(revert_sync_batchnorm(net)[1]).__name__
    'BatchNorm2d'
    """
    dist = torch.distributed
    nccl = not (dist.is_available() and dist.is_initialized()) or dist.get_backend() == "nccl"
    native = torch.device(device).type == "cuda" and nccl
    cls = nn.SyncBatchNorm if native else AllReduceBatchNorm
    return _swap_bn(model, cls)


def revert_sync_batchnorm(model: nn.Module) -> nn.Module:
    """Undo :func:`sync_batchnorm`: the original batch-norm classes, same weights and buffers."""
    return _swap_bn(model, None)


_SYNCED = (nn.SyncBatchNorm, AllReduceBatchNorm)


def _swap_bn(module: nn.Module, cls: type[nn.Module] | None) -> nn.Module:
    bn = nn.modules.batchnorm._BatchNorm
    if cls is not None and isinstance(module, bn) and not isinstance(module, _SYNCED):
        new: Any = cls(
            module.num_features, module.eps, module.momentum, module.affine,
            module.track_running_stats,
        )  # fmt: skip
        new._biakit_bn_class = type(module)
    elif cls is None and isinstance(module, _SYNCED) and hasattr(module, "_biakit_bn_class"):
        new = module._biakit_bn_class(
            module.num_features, module.eps, module.momentum, module.affine,
            module.track_running_stats,
        )  # fmt: skip
    else:
        for name, child in module.named_children():
            swapped = _swap_bn(child, cls)
            if swapped is not child:
                setattr(module, name, swapped)
        return module
    if module.affine:
        new.weight, new.bias = module.weight, module.bias
    new.running_mean, new.running_var = module.running_mean, module.running_var
    new.num_batches_tracked = module.num_batches_tracked
    new.train(module.training)
    return new


# -------------------------------------------------------------------------- launch
def launch(args: Sequence[str], nproc: int, *, module: str = "biakit") -> int:
    """Run ``python -m module *args`` in ``nproc`` processes on this node (torchrun).

    Each process gets ``OMP_NUM_THREADS`` = CPUs / ``nproc`` unless the
    variable is set. Returns 0, or the exit status of the first process that
    failed (1 when it was killed by a signal).
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    from biakit.runtime import available_cpus

    check_nproc(nproc, "cpu")
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads is None:  # the processes' environment; restored afterwards
        os.environ["OMP_NUM_THREADS"] = str(max(1, available_cpus() // nproc))
    parsed = get_args_parser().parse_args(
        ["--standalone", f"--nproc_per_node={nproc}", "--module", module, *args]
    )
    try:
        run(parsed)
    except ChildFailedError as err:
        _, failure = err.get_first_failure()
        return failure.exitcode if failure.exitcode > 0 else 1
    finally:
        if threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
    return 0
