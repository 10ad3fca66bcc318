"""What a :class:`~biakit.nn.train.Trainer` saves to continue exactly: its checkpoint state."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from biakit.errors import ParameterError
from biakit.nn.train import _checkpoint as ck
from biakit.nn.train import _distributed as dd
from biakit.nn.train._config import TrainConfig


class TrainerState:
    """Trainer mixin: exact resume (``resume``, ``state_dict``, ``load_state_dict``)."""

    @classmethod
    def resume(
        cls,
        model: torch.nn.Module,
        cfg: TrainConfig | Mapping[str, Any] | None,
        train_ds: Any,
        val_ds: Any = None,
        *,
        output_dir: str | Path,
        checkpoint: str | Path = "last.pt",
        metrics: Callable[[torch.Tensor, torch.Tensor], Mapping[str, float]] | None = None,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        plots: bool = True,
    ) -> Any:
        """Rebuild a trainer from ``output_dir/checkpoint`` and continue where it stopped.

        Model weights, optimiser, schedule, gradient scaler, history, best value,
        early-stopping counter and all random states (Python, NumPy, torch,
        CUDA, data-loader generator) are restored, so on CPU the continued run
        ends with weights identical to an uninterrupted one. ``cfg=None`` uses
        the configuration stored in the checkpoint; a given ``cfg`` should only
        differ in ``epochs``, ``early_stopping``, ``max_time``, ``num_workers``.
        The file is read with ``torch.load(weights_only=True)``. Under torchrun
        every rank reads it and restores its own random states; the number of
        processes must be the one that wrote it.
        """
        path = Path(checkpoint)
        path = path if path.is_absolute() else Path(output_dir) / path
        state = ck.load_checkpoint(path)
        cfg = TrainConfig.model_validate(state["config"]) if cfg is None else cfg
        trainer = cls(
            model,
            cfg,
            train_ds,
            val_ds,
            output_dir=output_dir,
            metrics=metrics,
            loss_fn=loss_fn,
            overwrite=True,
            plots=plots,
        )
        trainer.load_state_dict(state)
        return trainer

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training (plain types and tensors only).

        Under torchrun a collective (it gathers every rank's random states):
        call it on every rank.
        """
        rng = ck.get_rng_state(self.generator)
        extra = {}
        if self.dist.enabled:
            extra["rng_ranks"] = dd.gather_objects(rng, self.dist)
        return {
            "format": ck.CHECKPOINT_FORMAT,
            "world_size": self.dist.world_size,
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "monitor": self.monitor,
            "history": [dict(r) for r in self.history],
            "config": self.cfg.model_dump(mode="json"),
            "rng": rng,
            "versions": {"torch": str(torch.__version__)},
            **extra,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        written = int(state.get("world_size", 1))
        if written != self.dist.world_size:
            raise ParameterError(
                f"checkpoint of epoch {state.get('epoch')} was written by {written} training "
                f"process(es), this run has {self.dist.world_size}; resume exactly with the same "
                f"number (--nproc {written} / torchrun --nproc_per_node {written})"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.best_value, self.best_epoch = state["best_value"], state["best_epoch"]
        self.bad_epochs = int(state["bad_epochs"])
        self.history = [dict(r) for r in state["history"]]
        self.steps = int(self.history[-1].get("steps", 0)) if self.history else 0
        ck.set_rng_state(state["rng"], self.generator)  # the data order: rank 0's, all ranks
        if self.dist.enabled:
            ck.set_rng_state(state["rng_ranks"][self.dist.rank])
