"""The :class:`Trainer`: epoch loop, validation, checkpoints, exact resume."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from biakit._atomic import atomic_write_text
from biakit.cancel import check_cancelled
from biakit.nn.device import LAYOUT_DIMS, memory_format_for, pick_device
from biakit.nn.train import _checkpoint as ck
from biakit.nn.train import _distributed as dd
from biakit.nn.train._config import TrainConfig
from biakit.nn.train._losses import make_loss
from biakit.nn.train._optim import make_optimizer, make_scheduler, scheduler_steps_per_batch
from biakit.nn.train._precision import determinism, resolve_amp
from biakit.nn.train._precision_guard import PrecisionGuard
from biakit.nn.train._report import (
    EpochProgress,
    plot_curves,
    training_summary,
    write_metrics_csv,
)
from biakit.nn.train._trainer_state import TrainerState

MetricsFn = Callable[[torch.Tensor, torch.Tensor], Mapping[str, float]]


class Trainer(TrainerState, PrecisionGuard):
    """Train a model on a dataset of ``(image, target)`` pairs; see :class:`TrainConfig`.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(B, C, *spatial)`` to logits / outputs; moved to the device.
    cfg : TrainConfig or dict
        Training settings.
    train_ds, val_ds : torch.utils.data.Dataset
        Map-style datasets returning ``(image, target)``. A ``set_epoch(epoch)``
        method, when present, is called before each epoch (training set, 0-based
        epoch) or with 0 (validation set, so it stays the same every epoch).
    output_dir : str or Path
        Receives ``last.pt`` (every epoch), ``best.pt`` (on improvement of
        ``cfg.monitor``), ``metrics.csv``, ``curves.png`` and, at the end,
        ``summary.json`` (:attr:`summary`).
    metrics : callable, optional
        ``metrics(logits, target) -> {name: value}`` on validation batches; the
        batch-size-weighted means are recorded as ``val_<name>``.
    loss_fn : callable, optional
        ``loss_fn(logits, target) -> scalar`` replacing ``cfg.loss``.
    overwrite : bool
        Allow starting over in a folder that holds a checkpoint already.
    plots : bool
        Draw ``curves.png`` (off when the folder is thrown away afterwards).

    Notes
    -----
    Under ``torchrun`` (``WORLD_SIZE > 1``) the trainer joins the process group,
    wraps the model in ``DistributedDataParallel`` with synchronised batch norm,
    shards the data by rank and writes files from rank 0 only; see
    :mod:`biakit.nn.train._distributed` (``batch_size`` is per process, the
    learning rate is not scaled). :attr:`model` stays the plain module.

    Examples
    --------
    >>> import tempfile, torch
    >>> from torch.utils.data import TensorDataset
    >>> x = torch.randn(8, 1, 8, 8); y = (x[:, 0] > 0).long()
    >>> ds = TensorDataset(x, y)
    >>> model = torch.nn.Conv2d(1, 2, 3, padding=1)
    >>> cfg = TrainConfig(epochs=2, batch_size=4, device="cpu", plot_every=0)
    >>> trainer = Trainer(model, cfg, ds, ds, output_dir=tempfile.mkdtemp())
    >>> history = trainer.fit(progress=False)
    >>> list(history["epoch"]), trainer.stop_reason
    ([1, 2], 'epochs')
    >>> trainer.summary["steps"], trainer.summary["message"][:27]
    (4, 'training ran all 2 epochs (')
    """

    def __init__(
        self,
        model: nn.Module,
        cfg: TrainConfig | Mapping[str, Any],
        train_ds: Any,
        val_ds: Any = None,
        *,
        output_dir: str | Path,
        metrics: MetricsFn | None = None,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        overwrite: bool = False,
        plots: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        cfg = cfg if isinstance(cfg, TrainConfig) else TrainConfig.model_validate(cfg)
        for name, ds in (("train_ds", train_ds), ("val_ds", val_ds)):
            if ds is not None and not (hasattr(ds, "__getitem__") and hasattr(ds, "__len__")):
                raise TypeError(f"{name} must be a map-style dataset, got {type(ds).__name__}")
        if len(train_ds) == 0:
            raise ValueError("train_ds is empty; it needs at least one sample")
        self.output_dir = Path(output_dir)
        self.plots = plots  # curves.png (off for throw-away training folders)
        if (self.output_dir / "last.pt").exists() and not overwrite:
            raise FileExistsError(
                f"{self.output_dir} holds a checkpoint already; continue it with "
                "Trainer.resume(...) or pass overwrite=True to start over"
            )
        self.cfg, self.train_ds, self.val_ds, self.metrics = cfg, train_ds, val_ds, metrics
        self.monitor = cfg.monitor
        if val_ds is None and cfg.monitor.startswith("val_"):
            if cfg.monitor != "val_loss":
                raise ValueError(f"monitor={cfg.monitor!r} needs a validation set (val_ds)")
            self.monitor = "train_loss"
        self.mode = cfg.resolved_mode
        self.dist = dd.init_distributed(cfg.device)  # one process unless under torchrun
        self.device = dd.rank_device(pick_device(cfg.device), self.dist)
        self.amp_dtype = resolve_amp(cfg.amp, self.device)
        ck.seed_everything(cfg.seed + self.dist.rank)  # data order: self.generator, all ranks
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.memory_format = memory_format_for(model, self.device, cfg.channels_last)
        if self.dist.enabled and dd.has_batchnorm(model):
            model = dd.sync_batchnorm(model, self.device)
        self.model = model.to(self.device, memory_format=self.memory_format)
        self._net = self._wrap(self.model)  # what training steps call (DDP under torchrun)
        loss = loss_fn or make_loss(
            cfg.loss,
            cfg.class_weights,
            smooth=cfg.dice_smooth,
            exclude_background=cfg.dice_exclude_background,
        )
        self.loss_fn = loss.to(self.device) if isinstance(loss, nn.Module) else loss
        self.train_loader = self._loader(train_ds, cfg.shuffle, cfg.drop_last, self.generator)
        if len(self.train_loader) == 0:
            raise ValueError(
                f"train_ds has {len(train_ds)} samples, fewer than batch_size={cfg.batch_size} "
                "with drop_last=True: no batch to train on"
            )
        self.val_loader = None
        if val_ds is not None:
            self.val_loader = self._loader(val_ds, False, False, torch.Generator(), train=False)
        self.steps_per_epoch = math.ceil(len(self.train_loader) / cfg.accumulate)
        self.optimizer = make_optimizer(self.model.parameters(), cfg)
        self.scheduler = make_scheduler(self.optimizer, cfg, self.steps_per_epoch)
        self._started: float | None = None  # start of the current fit (time budget)
        self._synced_elapsed = 0.0  # seconds of the fit at the last time-budget check
        self.float32_retries = 0  # batches redone in float32: non-finite autocast loss / grads
        self.skipped_steps = 0  # accumulated steps dropped for non-finite autocast gradients
        self._non_finite_autocast = 0  # both of the above; FLOAT32_AFTER of them: float32
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.epoch = 0  # completed epochs
        self.history: list[dict[str, Any]] = []
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.stop_reason: str | None = None
        self.steps = 0  # optimiser steps, all epochs
        self.cut_short = False  # the last epoch was cut short by the time budget
        self.summary: dict[str, Any] | None = None
        self._last_lr = float(self.optimizer.param_groups[0]["lr"])

    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.dist.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def _loader(
        self, ds: Any, shuffle: bool, drop_last: bool, gen: torch.Generator, train: bool = True
    ) -> DataLoader:
        return dd.data_loader(
            ds, self.cfg.batch_size, self.dist, shuffle=shuffle, drop_last=drop_last,
            generator=gen, train=train, num_workers=self.cfg.num_workers,
            pin_memory=self.device.type == "cuda",
        )  # fmt: skip

    # ------------------------------------------------------------------ resume
    # ------------------------------------------------------------------ loop
    def fit(
        self, progress: bool = True, on_epoch: Callable[[dict[str, Any]], Any] | None = None
    ) -> Any:
        """Train until ``cfg.epochs``, early stopping or ``max_time``; return the history.

        With ``progress`` the epochs are shown on stderr (see :meth:`iter_fit`);
        ``on_epoch`` is called with each epoch's record once its checkpoint is written.

        Returns
        -------
        pandas.DataFrame
            One row per epoch (including epochs before a resume); its
            ``attrs["summary"]`` is :attr:`summary`.
        """
        import pandas as pd

        for record in self.iter_fit(progress=progress):
            if on_epoch is not None:
                on_epoch(record)
        frame = pd.DataFrame(self.history)
        frame.attrs["summary"] = self.summary
        return frame

    def iter_fit(self, progress: bool = False) -> Iterator[dict[str, Any]]:
        """Train epoch by epoch, yielding each epoch's record once its checkpoint is written.

        Records hold ``epoch`` (1-based), ``train_loss``, ``val_loss`` and
        ``val_<metric>`` (with a validation set), ``lr`` (of the epoch's last
        step), ``train_samples``, ``steps`` (optimiser steps so far, all
        epochs), ``samples_per_s`` (training throughput), ``epoch_time`` and
        ``elapsed`` (seconds, this call). ``stop_reason`` ends as ``"epochs"``,
        ``"early_stopping"`` or ``"max_time"``, and :attr:`summary` says how the
        run ended in values and one sentence (also written to ``summary.json``
        and logged). With ``progress`` each epoch's batches, a line per epoch
        with losses and the time left, and that sentence when the time budget
        or early stopping ended training are shown on stderr.
        """
        cfg, main = self.cfg, self.dist.is_main
        start = self._started = time.perf_counter()
        self._synced_elapsed = 0.0
        self.stop_reason = None
        if cfg.early_stopping is not None and self.bad_epochs >= cfg.early_stopping:
            self.stop_reason = "early_stopping"  # resumed from a run that had stopped
        if main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        try:
            with (
                determinism(cfg.deterministic, self.device),
                EpochProgress(
                    progress and main, cfg.epochs, first_epoch=self.epoch, max_time=cfg.max_time
                ) as bar,
            ):
                while self.epoch < cfg.epochs and self.stop_reason is None:
                    record = self._run_epoch(bar, start)
                    yield dict(record)
                self.stop_reason = self.stop_reason or "epochs"
                self._finish(bar)
        finally:
            if self.history and self.plots and main:
                plot_curves(self.history, self.output_dir / "curves.png")
        dd.barrier(self.dist)  # every rank returns once rank 0 wrote its files

    def _over_budget(self) -> bool:
        """Whether ``max_time`` is used up (rank 0's clock under torchrun: all ranks agree)."""
        if self.cfg.max_time is None or self._started is None:
            return False
        if self.dist.enabled:
            self._synced_elapsed = dd.synced_elapsed(self._started, self.dist)
        else:
            self._synced_elapsed = time.perf_counter() - self._started
        return self._synced_elapsed >= self.cfg.max_time

    def _finish(self, bar: EpochProgress) -> None:
        """Record, write, log and show how the run ended."""
        cfg = self.cfg
        self.summary = training_summary(
            self.history, stop_reason=self.stop_reason, epochs=cfg.epochs,
            max_time=cfg.max_time, cut_short=self.cut_short, monitor=self.monitor,
            best_epoch=self.best_epoch, patience=cfg.early_stopping,
        )  # fmt: skip
        if self.dist.is_main:
            text = json.dumps(self.summary, indent=2)
            atomic_write_text(self.output_dir / "summary.json", text, overwrite=True)
            logging.getLogger(__name__).info(self.summary["message"])
        bar.finish(self.summary)

    def _run_epoch(self, bar: EpochProgress, start: float) -> dict[str, Any]:
        cfg, t0 = self.cfg, time.perf_counter()
        bar.start_epoch(self.epoch + 1, len(self.train_loader))
        train_loss, n_samples, train_time, cut = self._train_epoch(bar)
        record: dict[str, Any] = {"epoch": self.epoch + 1, "train_loss": train_loss}
        if self.val_loader is not None:
            record.update(self._validate())
        record.update(
            lr=self._last_lr,
            train_samples=n_samples,
            steps=self.steps,
            samples_per_s=n_samples / max(train_time, 1e-9),
            epoch_time=time.perf_counter() - t0,
            elapsed=time.perf_counter() - start,
        )
        value = record.get(self.monitor)
        if value is None:
            raise ValueError(
                f"monitor={self.monitor!r} is not among the recorded values "
                f"{sorted(record)}; return it from the metrics callable"
            )
        self._track_best(float(value))
        if self.scheduler is not None and not scheduler_steps_per_batch(self.scheduler):
            self.scheduler.step(float(value))
        self.epoch += 1
        self.cut_short = cut
        self.history.append(record)
        if cfg.early_stopping is not None and self.bad_epochs >= cfg.early_stopping:
            self.stop_reason = "early_stopping"
        if self._over_budget() or cut:
            self.stop_reason = self.stop_reason or "max_time"
        self.stop_reason = dd.broadcast_object(self.stop_reason, self.dist)  # rank 0 decides
        bar.end_epoch(record)
        self._write_outputs(improved=self.best_epoch == self.epoch)
        return record

    def _track_best(self, value: float) -> None:
        delta = self.cfg.min_delta
        if self.best_value is None:
            better = math.isfinite(value)
        elif self.mode == "min":
            better = value < self.best_value - delta
        else:
            better = value > self.best_value + delta
        if better:
            self.best_value, self.best_epoch, self.bad_epochs = value, self.epoch + 1, 0
        else:
            self.bad_epochs += 1

    def _write_outputs(self, improved: bool) -> None:
        out, state = self.output_dir, self.state_dict()  # a collective under torchrun
        if self.dist.is_main:
            write_metrics_csv(self.history, out / "metrics.csv")
            every = self.cfg.plot_every
            if self.plots and every and self.epoch % every == 0:
                plot_curves(self.history, out / "curves.png")
            ck.save_checkpoint(state, out / "last.pt")
            if improved:
                ck.copy_atomic(out / "last.pt", out / "best.pt")
        dd.barrier(self.dist)  # the checkpoint exists on every rank's return

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _to_device(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(batch, list | tuple) or len(batch) != 2:
            raise TypeError("datasets must return (image, target) pairs")
        nb = self.device.type == "cuda"
        x = batch[0].to(self.device, non_blocking=nb)
        if x.dim() == LAYOUT_DIMS.get(self.memory_format):
            x = x.contiguous(memory_format=self.memory_format)
        return x, batch[1].to(self.device, non_blocking=nb)

    def _train_epoch(self, bar: EpochProgress) -> tuple[float, int, float, bool]:
        cfg, opt = self.cfg, self.optimizer
        if hasattr(self.train_ds, "set_epoch"):
            self.train_ds.set_epoch(self.epoch)
        self._net.train()
        n_batches, acc = len(self.train_loader), cfg.accumulate
        per_step = scheduler_steps_per_batch(self.scheduler)
        total, count, group, cut = 0.0, 0, 1, False
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        for i, batch in enumerate(self.train_loader):
            check_cancelled()
            if i % acc == 0:
                if i > 0 and self._over_budget():
                    cut = True
                    break
                group = min(acc, n_batches - i)
            x, y = self._to_device(batch)
            last = (i + 1) % acc == 0 or i + 1 == n_batches
            with self._gradient_sync(last):
                loss, value, n = self._batch_loss(x, y, i)
                self.scaler.scale(loss / group if group > 1 else loss).backward()
            if last and not self._finite_gradients():
                value, n = self._redo_in_float32(x, y, i, group, (value, n))
            total, count = total + value * n, count + n
            if last:
                self._optimizer_step(per_step)
            bar.advance(value)
        return total / max(count, 1), count, time.perf_counter() - t0, cut

    def _batch_loss(self, x: torch.Tensor, y: torch.Tensor, i: int) -> tuple[Any, float, int]:
        """Return the loss to back-propagate, its value and the samples it covers (all ranks).

        Under torchrun the value and sample count are those of the global batch,
        and the local loss is weighted by this rank's share of it, so DDP's
        average of the ranks' gradients is the gradient of the global mean.
        """
        with self._autocast():
            loss = self.loss_fn(self._net(x), y)
        value, n = self._reduce_loss(loss, x.shape[0])
        if not math.isfinite(value) and self.amp_dtype is not None:
            # reduced precision can overflow where float32 does not: redo this batch in
            # float32 (weights untouched so far) before giving up; all ranks together
            loss = self.loss_fn(self._net(x), y)
            value, n = self._reduce_loss(loss, x.shape[0])
            self._note_non_finite(redone=True)
        if not math.isfinite(value):
            raise FloatingPointError(
                f"training loss is {value} at epoch {self.epoch + 1}, batch {i + 1}; "
                "lower the learning rate or check the targets"
            )
        if self.dist.enabled:
            loss = loss * (x.shape[0] * self.dist.world_size / n)
        return loss, value, n

    def _reduce_loss(self, loss: torch.Tensor, n: int) -> tuple[float, int]:
        value = float(loss.detach())
        if not self.dist.enabled:
            return value, n
        total, count = dd.all_reduce_sum([value * n, n], self.device, self.dist)
        return total / count, int(count)

    def _gradient_sync(self, sync: bool) -> contextlib.AbstractContextManager[Any]:
        """DDP's ``no_sync`` for micro-batches before the last of an accumulation group."""
        if sync or not self.dist.enabled:
            return contextlib.nullcontext()
        return self._net.no_sync()  # type: ignore[operator]

    def _optimizer_step(self, per_step: bool) -> None:
        if self.cfg.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self._last_lr = float(self.optimizer.param_groups[0]["lr"])
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.steps += 1
        if per_step:
            self._time_progress()
            self.scheduler.step()

    def _time_progress(self) -> None:
        """Tell a cosine schedule how much of the time budget is used (see ``WarmupCosine``)."""
        from biakit.nn.train._optim import WarmupCosine

        budget, started = self.cfg.max_time, self._started
        for fn in getattr(self.scheduler, "lr_lambdas", ()):
            if budget is not None and started is not None and isinstance(fn, WarmupCosine):
                # under torchrun rank 0's clock at the step's start, so all ranks agree
                now = self._synced_elapsed if self.dist.enabled else time.perf_counter() - started
                used = now / budget
                fn.time_progress = max(fn.time_progress, min(used, 1.0))

    def _validate(self) -> dict[str, float]:
        assert self.val_loader is not None
        if hasattr(self.val_ds, "set_epoch"):
            self.val_ds.set_epoch(0)
        self.val_loader.generator.manual_seed(self.cfg.seed)
        self.model.eval()
        sums: dict[str, float] = {"val_loss": 0.0}
        count = 0
        with torch.inference_mode():
            for batch in self.val_loader:
                x, y = self._to_device(batch)
                with self._autocast():
                    logits = self.model(x)
                    loss = self.loss_fn(logits, y)
                n = x.shape[0]
                sums["val_loss"] += float(loss) * n
                if self.metrics is not None:
                    for name, v in self.metrics(logits.float(), y).items():
                        key = name if name.startswith("val_") else f"val_{name}"
                        sums[key] = sums.get(key, 0.0) + float(v) * n
                count += n
        if self.dist.enabled:  # sharded validation: add up the ranks' weighted sums
            parts = dd.gather_objects((sums, count), self.dist)
            keys = dict.fromkeys(k for p in parts for k in p[0])
            sums = {k: sum(p[0].get(k, 0.0) for p in parts) for k in keys}
            count = sum(p[1] for p in parts)
        return {k: v / max(count, 1) for k, v in sums.items()}
