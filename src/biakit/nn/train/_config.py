"""Validated training configuration (:class:`TrainConfig`)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class TrainConfig(BaseModel):
    """Everything :class:`~biakit.nn.train.Trainer` needs besides the model and data.

    Saved (as a plain dict) inside every checkpoint, so a run can be resumed or
    audited without the original script.

    Parameters
    ----------
    epochs : int
        Number of passes over the training set.
    batch_size : int
        Samples per forward pass (per micro-batch when ``accumulate > 1``) and
        **per process** in multi-process training (``torchrun`` / ``biakit train
        --nproc N``): one optimiser step then sees ``N * batch_size * accumulate``
        samples, exactly the batches of one process with ``N * batch_size``.
    lr : float
        Peak learning rate. Never scaled with the number of processes: to train
        like one process with batch ``B``, give ``batch_size = B / N``; to scale
        the learning rate with the global batch, set it yourself.
    optimizer : {"adamw", "adam", "sgd"}
        SGD uses ``momentum`` with Nesterov updates.
    weight_decay : float
        Decoupled (AdamW) or L2 (Adam, SGD) weight decay.
    momentum : float
        SGD momentum.
    schedule : {"cosine", "plateau", "onecycle", "none"}
        ``cosine``: linear warm-up for ``warmup_epochs`` then cosine decay to 0,
        updated every optimiser step. ``plateau``: multiply the lr by
        ``plateau_factor`` when ``monitor`` has not improved for
        ``plateau_patience`` epochs. ``onecycle``: PyTorch's one-cycle policy,
        per step (has its own warm-up). ``none``: constant (after the warm-up).
    warmup_epochs : int
        Linear warm-up length; only with ``cosine`` or ``none``; < ``epochs``.
    plateau_factor, plateau_patience : float, int
        Settings of the ``plateau`` schedule.
    loss : {"ce", "dice", "ce_dice", "bce", "mse", "mae"}
        See :func:`~biakit.nn.train.make_loss`.
    class_weights : tuple of float, optional
        Per-class weights (CE / Dice) or per-channel ``pos_weight`` (BCE).
    dice_smooth : float
        Additive smoothing of the soft Dice ratio.
    dice_exclude_background : bool
        Leave class 0 out of the multi-class Dice mean.
    early_stopping : int, optional
        Stop after this many epochs without improvement of ``monitor``.
    monitor : str
        ``"val_loss"``, ``"train_loss"`` or ``"val_<metric>"`` (a key returned by
        the ``metrics`` callable). Without a validation set ``"val_loss"`` falls
        back to ``"train_loss"``.
    monitor_mode : {"auto", "min", "max"}
        ``auto``: minimise names containing ``"loss"``, maximise the others.
    min_delta : float
        Smallest change that counts as an improvement.
    accumulate : int
        Micro-batches whose gradients are summed before one optimiser step.
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    amp : {"auto", "none", "bf16", "fp16"}
        Mixed precision (autocast; weights and optimiser stay float32).
        ``auto``: on CUDA bf16 when the GPU supports it, else fp16 with a
        gradient scaler; on the CPU bf16 when the CPU computes it natively
        (AVX512-BF16 or AMX: about 2x faster training), else float32; float32
        on MPS. ``bf16`` / ``fp16`` where they cannot run raise an error (no
        silent fallback); ``none`` is plain float32 everywhere. A batch whose
        loss or bf16 gradients are not finite is redone in float32; after
        three such batches the run goes on in float32.
    channels_last : bool, optional
        Channels-last memory layout for the model and batches; ``None``
        (default) uses it on the CPU for 3D models, where oneDNN's 3D
        convolutions run about 1.2-1.3x faster in that layout, and for 2D
        U-Nets (training steps about 1.1x faster, float32 and bf16 alike).
    deterministic : bool
        Deterministic algorithms (warn-only), cuDNN deterministic, no
        benchmark; seeds are always set from ``seed``.
    seed : int
        Seeds Python, NumPy, torch and the data-loader generator (in
        multi-process training the global generators of rank ``r`` get
        ``seed + r``; the data order uses ``seed`` on every rank).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``. In
        multi-process training CUDA means one GPU per process
        (``cuda:LOCAL_RANK``, NCCL); ``"cpu"`` means CPU processes (gloo).
    num_workers : int
        Data-loader worker processes.
    shuffle, drop_last : bool
        Data-loader options for the training set (in multi-process training
        ``drop_last`` drops a short last *global* batch).
    max_time : float, optional
        Training-time budget in seconds for one ``fit`` call; checked before
        every optimiser step (the current epoch is then cut short, validated
        and checkpointed). A cosine schedule decays over whichever of the
        epochs and the budget runs out first, so a budget-stopped run ends at
        a low learning rate.
    plot_every : int
        Redraw ``curves.png`` every this many epochs (0: only at the end).

    Examples
    --------
    >>> cfg = TrainConfig(epochs=10, loss="ce_dice", warmup_epochs=1)
    >>> cfg.schedule, cfg.accumulate
    ('cosine', 1)
    >>> TrainConfig(epochs=2, warmup_epochs=2)
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for TrainConfig
    ...
    """

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(50, ge=1)
    batch_size: int = Field(8, ge=1)
    lr: float = Field(1e-3, gt=0)
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    weight_decay: float = Field(1e-4, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    schedule: Literal["cosine", "plateau", "onecycle", "none"] = "cosine"
    warmup_epochs: int = Field(0, ge=0)
    plateau_factor: float = Field(0.5, gt=0, lt=1)
    plateau_patience: int = Field(5, ge=0)
    loss: Literal["ce", "dice", "ce_dice", "bce", "mse", "mae"] = "ce"
    class_weights: tuple[float, ...] | None = None
    dice_smooth: float = Field(1.0, ge=0)
    dice_exclude_background: bool = False
    early_stopping: int | None = Field(None, ge=1)
    monitor: str = "val_loss"
    monitor_mode: Literal["auto", "min", "max"] = "auto"
    min_delta: float = Field(0.0, ge=0)
    accumulate: int = Field(1, ge=1)
    grad_clip: float | None = Field(None, gt=0)
    amp: Literal["auto", "none", "bf16", "fp16"] = "auto"
    channels_last: bool | None = None
    deterministic: bool = True
    seed: int = Field(0, ge=0)
    device: str = "auto"
    num_workers: int = Field(0, ge=0)
    shuffle: bool = True
    drop_last: bool = False
    max_time: float | None = Field(None, gt=0)
    plot_every: int = Field(5, ge=0)

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if not _DEVICE_RE.match(value):
            raise ValueError(
                f"device={value!r} is not understood; expected 'auto', 'cpu', 'cuda', "
                "'cuda:N' or 'mps'"
            )
        return value

    @field_validator("monitor")
    @classmethod
    def _check_monitor(cls, value: str) -> str:
        if value not in ("train_loss", "val_loss") and not value.startswith("val_"):
            raise ValueError(
                f"monitor={value!r}: expected 'val_loss', 'train_loss' or 'val_<metric name>'"
            )
        return value

    @field_validator("class_weights")
    @classmethod
    def _check_weights(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None and (len(value) == 0 or min(value) < 0 or max(value) == 0):
            raise ValueError(
                f"class_weights={value}: expected non-negative numbers, at least one positive"
            )
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> TrainConfig:
        if self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) must be smaller than epochs ({self.epochs})"
            )
        if self.warmup_epochs and self.schedule in ("onecycle", "plateau"):
            raise ValueError(
                f"warmup_epochs={self.warmup_epochs} is not supported with "
                f"schedule={self.schedule!r}"
                + (" (one-cycle has its own warm-up)" if self.schedule == "onecycle" else "")
                + "; set warmup_epochs=0 or use schedule='cosine' / 'none'"
            )
        kind = self.device.split(":")[0]
        if (self.amp, kind) in (("fp16", "cpu"), ("fp16", "mps"), ("bf16", "mps")):
            raise ValueError(
                f"amp={self.amp!r} is not available on device={self.device!r}; "
                "use amp='auto' or amp='none'"
            )
        if self.class_weights is not None and self.loss in ("mse", "mae"):
            raise ValueError(f"class_weights are not used by loss={self.loss!r}; remove them")
        return self

    @property
    def resolved_mode(self) -> Literal["min", "max"]:
        """Whether smaller (``"min"``) or larger (``"max"``) ``monitor`` values are better."""
        if self.monitor_mode != "auto":
            return self.monitor_mode
        return "min" if "loss" in self.monitor else "max"
