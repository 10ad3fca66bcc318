"""Training reports: ``metrics.csv``, ``curves.png`` and the progress bar."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from biakit._atomic import atomic_path

_NOT_PLOTTED = {"epoch", "lr", "samples_per_s", "epoch_time", "elapsed", "train_samples"}


def write_metrics_csv(history: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Rewrite ``path`` atomically with one row per epoch of ``history``."""
    with atomic_path(path, overwrite=True) as tmp:
        pd.DataFrame(list(history)).to_csv(tmp, index=False)
    return Path(path)


def plot_curves(history: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Draw losses, validation metrics and the learning rate against the epoch into a PNG.

    Uses the Agg canvas directly (no pyplot state, safe in threads and on servers).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    frame = pd.DataFrame(list(history))
    losses = [c for c in frame.columns if c.endswith("_loss")]
    metrics = [c for c in frame.columns if c not in _NOT_PLOTTED and c not in losses]
    panels = [("loss", losses), ("validation metrics", metrics), ("learning rate", ["lr"])]
    panels = [(t, cols) for t, cols in panels if cols and all(c in frame for c in cols)]
    fig = Figure(figsize=(4.0 * len(panels), 3.2))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9, wspace=0.3)
    FigureCanvasAgg(fig)
    for k, (title, cols) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        for col in cols:
            ax.plot(frame["epoch"], frame[col], marker="o", markersize=3, label=col)
        ax.set_xlabel("epoch")
        ax.set_title(title)
        if title == "learning rate":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
        else:
            ax.legend(fontsize="small")
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return Path(path)


class EpochProgress:
    """A rich progress bar over the batches of each epoch; a no-op when disabled."""

    def __init__(self, enabled: bool, epochs: int) -> None:
        self.enabled, self.epochs = enabled, epochs
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> EpochProgress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"),
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def start_epoch(self, epoch: int, batches: int) -> None:
        """Open a bar for epoch ``epoch`` (1-based) with ``batches`` steps."""
        if self._progress is not None:
            self._task = self._progress.add_task(
                f"epoch {epoch}/{self.epochs}", total=batches, info=""
            )

    def advance(self, loss: float) -> None:
        """One batch done, with its loss."""
        if self._progress is not None:
            self._progress.update(self._task, advance=1, info=f"loss {loss:.4g}")

    def end_epoch(self, record: dict[str, Any]) -> None:
        """Show the epoch summary on its bar."""
        if self._progress is not None:
            shown = {k: v for k, v in record.items() if k.endswith("loss") or k.startswith("val_")}
            info = "  ".join(f"{k} {v:.4g}" for k, v in shown.items() if isinstance(v, float))
            self._progress.update(self._task, info=info)
