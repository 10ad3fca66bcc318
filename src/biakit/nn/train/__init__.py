"""Training of :mod:`biakit.nn` models: config, losses, schedules and the :class:`Trainer`.

The trainer runs the epoch loop with gradient accumulation, mixed precision on
CUDA, deterministic seeding, validation with metrics, early stopping, a time
budget, atomic checkpoints (``last.pt`` / ``best.pt``, loadable with
``torch.load(weights_only=True)``) and exact resume.
"""

from biakit.nn.train._checkpoint import (
    get_rng_state,
    load_checkpoint,
    seed_everything,
    seed_worker,
    set_rng_state,
)
from biakit.nn.train._config import TrainConfig
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
    "BCELoss",
    "CEDiceLoss",
    "CrossEntropyLoss",
    "DiceLoss",
    "TrainConfig",
    "Trainer",
    "WarmupCosine",
    "get_rng_state",
    "load_checkpoint",
    "make_loss",
    "make_optimizer",
    "make_scheduler",
    "plot_curves",
    "resolve_amp",
    "seed_everything",
    "seed_worker",
    "set_rng_state",
    "write_metrics_csv",
]
