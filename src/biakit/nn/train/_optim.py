"""Optimisers and learning-rate schedules built from a :class:`TrainConfig`."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.optim import lr_scheduler

from biakit.nn.train._config import TrainConfig

#: devices with fused (one-kernel) Adam, AdamW and SGD updates in PyTorch
FUSED_DEVICES = ("cpu", "cuda")


def make_optimizer(params: Iterable[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD (momentum ``cfg.momentum``, Nesterov) with ``cfg.lr`` and weight decay.

    Where every parameter is a floating-point tensor on the CPU or a CUDA device
    the update runs fused (``fused=True``: one kernel over all parameters instead of
    about ten small operations per parameter tensor and step): for the 467 k
    parameters of the default denoising U-Net an AdamW step takes 1.1 ms instead of
    5.9 ms on one CPU thread (3.7 ms instead of 7.7 ms on two, issue 11). The result
    equals PyTorch's default per-tensor update up to float32 rounding (``1e-7``
    relative, tested). Elsewhere (e.g. Apple MPS) PyTorch's default implementation
    is used.

    Examples
    --------
    >>> import torch
    >>> opt = make_optimizer(torch.nn.Linear(2, 1).parameters(), TrainConfig(optimizer="sgd"))
    >>> type(opt).__name__, opt.defaults["nesterov"], opt.defaults["fused"]
    ('SGD', True, True)
    """
    params = list(params)
    fast = {"fused": True} if _fusable(params) else {}
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **fast)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **fast)
    return torch.optim.SGD(
        params,
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.momentum > 0,
        weight_decay=cfg.weight_decay,
        **fast,
    )


def _fusable(params: list[torch.Tensor]) -> bool:
    """Whether PyTorch has a fused update for these parameters (float, on CPU or CUDA)."""
    return bool(params) and all(
        isinstance(p, torch.Tensor)
        and p.is_floating_point()
        and p.device.type in FUSED_DEVICES
        and not p.is_sparse
        for p in params
    )


class WarmupCosine:
    """Learning-rate factor of step ``s``: linear warm-up, then cosine decay to 0.

    ``f(s) = (s + 1) / W`` for ``s < W`` (``W`` warm-up steps), else
    ``0.5 * (1 + cos(pi * (s - W) / (T - W)))`` with ``T`` total steps;
    ``cosine=False`` keeps ``f = 1`` after the warm-up. A run with a time
    budget sets :attr:`time_progress` (the fraction of the budget used); the
    decay then follows whichever of steps and time is further along, so a run
    stopped by its budget ends at a low learning rate instead of mid-schedule.

    Examples
    --------
    >>> f = WarmupCosine(warmup_steps=2, total_steps=6)
    >>> [round(f(s), 3) for s in range(6)]
    [0.5, 1.0, 1.0, 0.854, 0.5, 0.146]
    >>> f.time_progress = 0.5  # half the time budget used: at least half-way down
    >>> round(f(2), 3)
    0.5
    """

    def __init__(self, warmup_steps: int, total_steps: int, cosine: bool = True) -> None:
        self.warmup_steps = int(warmup_steps)
        self.total_steps = max(int(total_steps), self.warmup_steps + 1)
        self.cosine = cosine
        self.time_progress = 0.0

    def __call__(self, step: int) -> float:
        """Factor applied to the base learning rate at optimiser step ``step`` (0-based)."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if not self.cosine:
            return 1.0
        progress = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        progress = min(1.0, max(progress, self.time_progress))
        return 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int
) -> lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau | None:
    """Schedule for ``cfg.schedule``; see :func:`scheduler_steps_per_batch` for when to step it.

    ``cosine`` / ``none`` (with warm-up) and ``onecycle`` are stepped after every
    optimiser step; ``plateau`` once per epoch with the monitored value;
    ``none`` without warm-up returns ``None``.

    Examples
    --------
    >>> import torch
    >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = make_scheduler(opt, TrainConfig(epochs=3, warmup_epochs=1), steps_per_epoch=2)
    >>> lrs = []
    >>> for _ in range(6):
    ...     lrs.append(round(opt.param_groups[0]["lr"], 3)); opt.step(); sched.step()
    >>> lrs
    [0.5, 1.0, 1.0, 0.854, 0.5, 0.146]
    """
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    total = cfg.epochs * steps_per_epoch
    warmup = cfg.warmup_epochs * steps_per_epoch
    if cfg.schedule == "cosine":
        return lr_scheduler.LambdaLR(optimizer, WarmupCosine(warmup, total))
    if cfg.schedule == "none":
        if warmup == 0:
            return None
        return lr_scheduler.LambdaLR(optimizer, WarmupCosine(warmup, total, cosine=False))
    if cfg.schedule == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total)
    return lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode=cfg.resolved_mode,
        factor=cfg.plateau_factor,
        patience=cfg.plateau_patience,
        threshold=cfg.min_delta,
        threshold_mode="abs",
    )


def scheduler_steps_per_batch(scheduler: object) -> bool:
    """Tell whether ``scheduler`` is stepped after each optimiser step (not once per epoch)."""
    return scheduler is not None and not isinstance(scheduler, lr_scheduler.ReduceLROnPlateau)
