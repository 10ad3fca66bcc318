"""Training of :mod:`biakit.nn` models: config, losses, schedules and the :class:`Trainer`.

The trainer runs the epoch loop with gradient accumulation, mixed precision on
CUDA, deterministic seeding, validation with metrics, early stopping, a time
budget, atomic checkpoints (``last.pt`` / ``best.pt``, loadable with
``torch.load(weights_only=True)``) and exact resume, in one process or in
several with DistributedDataParallel (``torchrun`` / ``biakit train --nproc N``;
see :mod:`biakit.nn.train._distributed`).
"""

from biakit.nn.train._checkpoint import (
    get_rng_state,
    load_checkpoint,
    seed_everything,
    seed_worker,
    set_rng_state,
)
from biakit.nn.train._config import TrainConfig
from biakit.nn.train._distributed import (
    AllReduceBatchNorm,
    DistContext,
    check_nproc,
    distributed_context,
    init_distributed,
    launch,
    revert_sync_batchnorm,
    shutdown_distributed,
    sync_batchnorm,
)
from biakit.nn.train._losses import (
    BCELoss,
    CEDiceLoss,
    CrossEntropyLoss,
    DiceLoss,
    make_loss,
)
from biakit.nn.train._optim import WarmupCosine, make_optimizer, make_scheduler
from biakit.nn.train._precision import resolve_amp
from biakit.nn.train._report import plot_curves, write_metrics_csv
from biakit.nn.train._trainer import Trainer

__all__ = [
    "AllReduceBatchNorm",
    "BCELoss",
    "CEDiceLoss",
    "CrossEntropyLoss",
    "DiceLoss",
    "DistContext",
    "TrainConfig",
    "Trainer",
    "WarmupCosine",
    "check_nproc",
    "distributed_context",
    "get_rng_state",
    "init_distributed",
    "launch",
    "load_checkpoint",
    "make_loss",
    "make_optimizer",
    "make_scheduler",
    "plot_curves",
    "resolve_amp",
    "revert_sync_batchnorm",
    "seed_everything",
    "seed_worker",
    "set_rng_state",
    "shutdown_distributed",
    "sync_batchnorm",
    "write_metrics_csv",
]
