"""Training reports: ``metrics.csv``, ``curves.png``, the run summary and the progress display."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from biakit._atomic import atomic_path

_NOT_PLOTTED = {"epoch", "lr", "samples_per_s", "epoch_time", "elapsed", "train_samples", "steps"}


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


def _duration(seconds: float) -> str:
    """``45 s``, ``3 min``, ``2.5 min``, ``1.2 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}".removesuffix(".0") + " min"
    return f"{seconds / 3600:.1f} h"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _clock(seconds: float) -> str:
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"


def training_summary(
    history: Sequence[dict[str, Any]],
    *,
    stop_reason: str | None,
    epochs: int,
    max_time: float | None,
    cut_short: bool = False,
    monitor: str | None = None,
    best_epoch: int | None = None,
    patience: int | None = None,
) -> dict[str, Any]:
    """How a training run ended, as plain values and one sentence (``message``).

    Parameters
    ----------
    history : sequence of dict
        The per-epoch records (``epoch``, ``steps``, ``epoch_time``, ...).
    stop_reason : {"epochs", "early_stopping", "max_time"} or None
        Why the loop ended (``None``: interrupted).
    epochs : int
        Planned epochs.
    max_time : float or None
        Time budget in seconds.
    cut_short : bool
        Whether the last epoch was cut short by the time budget.
    monitor, best_epoch, patience : optional
        For the early-stopping sentence.

    Returns
    -------
    dict
        ``stop_reason``, ``epochs_done``, ``epochs_planned``, ``steps``
        (optimiser steps), ``seconds`` (training time of all epochs),
        ``max_time``, ``last_epoch_cut_short``, ``best_epoch`` and ``message``.

    Examples
    --------
    >>> rows = [{"epoch": e, "steps": 40 * e, "epoch_time": 25.0} for e in (1, 2, 3)]
    >>> s = training_summary(rows, stop_reason="max_time", epochs=30, max_time=75.0)
    >>> s["message"]
    'training stopped by the time budget (75 s) after 3 of 30 epochs (120 steps, 75 s)'
    """
    done = int(history[-1]["epoch"]) if history else 0
    steps = int(history[-1].get("steps", 0)) if history else 0
    seconds = float(sum(r.get("epoch_time", 0.0) for r in history))
    ran = f"{_count(steps, 'step')}, {_duration(seconds)}"
    if stop_reason == "max_time":
        cut = ", the last one cut short" if cut_short else ""
        message = (
            f"training stopped by the time budget ({_duration(max_time or 0.0)}) after "
            f"{done} of {epochs} epochs ({ran}{cut})"
        )
    elif stop_reason == "early_stopping":
        message = (
            f"training stopped early after {done} of {epochs} epochs ({ran}): {monitor} did "
            f"not improve for {_count(patience or 0, 'epoch')}; best at epoch {best_epoch}"
        )
    elif stop_reason == "epochs":
        message = f"training ran all {epochs} epochs ({ran})"
    else:
        message = f"training was interrupted after {done} of {epochs} epochs ({ran})"
    return {
        "stop_reason": stop_reason,
        "epochs_done": done,
        "epochs_planned": epochs,
        "steps": steps,
        "seconds": seconds,
        "max_time": max_time,
        "last_epoch_cut_short": bool(cut_short and stop_reason == "max_time"),
        "best_epoch": best_epoch,
        "message": message,
    }


class EpochProgress:
    """Training progress on stderr: rich bars on a terminal, one plain line per epoch otherwise.

    Each epoch shows its batches with the running loss (without a terminal: a
    line every ``line_every`` seconds within long epochs); each finished epoch
    prints its losses and metrics, the time it took and the estimated time
    left (bounded by the time budget). A no-op when disabled.
    """

    def __init__(
        self,
        enabled: bool,
        epochs: int,
        *,
        first_epoch: int = 0,
        max_time: float | None = None,
        console: Any = None,
        line_every: float = 30.0,
    ) -> None:
        self.enabled, self.epochs, self.max_time = enabled, epochs, max_time
        self.first_epoch, self.line_every = first_epoch, line_every
        self.console = console
        self._progress: Any = None
        self._task: Any = None
        self._start = self._last_line = 0.0
        self._epoch, self._batches, self._done = 0, 0, 0

    def __enter__(self) -> EpochProgress:
        if not self.enabled:
            return self
        from rich.console import Console

        self.console = self.console or Console(stderr=True)
        self._start = time.perf_counter()
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                console=self.console,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def start_epoch(self, epoch: int, batches: int) -> None:
        """Open a bar for epoch ``epoch`` (1-based) with ``batches`` steps."""
        self._epoch, self._batches, self._done = epoch, batches, 0
        self._last_line = time.perf_counter()
        if self._progress is not None:
            self._task = self._progress.add_task(
                f"epoch {epoch}/{self.epochs}", total=batches, info=""
            )

    def advance(self, loss: float) -> None:
        """One batch done, with its loss."""
        self._done += 1
        if self._progress is not None:
            self._progress.update(self._task, advance=1, info=f"loss {loss:.4g}")
        elif self.enabled and time.perf_counter() - self._last_line >= self.line_every:
            self._last_line = time.perf_counter()
            self.console.print(
                f"epoch {self._epoch}/{self.epochs}  batch {self._done}/{self._batches}  "
                f"loss {loss:.4g}", highlight=False, markup=False, soft_wrap=True,
            )  # fmt: skip

    def eta(self, epoch: int) -> str:
        """Estimated time left after ``epoch`` epochs, from this run's mean epoch time."""
        elapsed = time.perf_counter() - self._start
        done_here = max(epoch - self.first_epoch, 1)
        left = (self.epochs - epoch) * elapsed / done_here
        if self.max_time is not None and self.max_time - elapsed < left:
            return f"ETA {_clock(max(self.max_time - elapsed, 0.0))} (time budget)"
        return f"ETA {_clock(left)}"

    def end_epoch(self, record: dict[str, Any]) -> None:
        """Print the epoch's summary line: losses, metrics, time and time left."""
        if not self.enabled or self.console is None:
            return
        shown = {k: v for k, v in record.items() if k.endswith("loss") or k.startswith("val_")}
        values = "  ".join(f"{k} {v:.4g}" for k, v in shown.items() if isinstance(v, float))
        epoch = int(record["epoch"])
        time_text = f"{record.get('epoch_time', 0.0):.1f} s"
        if epoch < self.epochs:
            time_text += f"  {self.eta(epoch)}"
        line = f"epoch {epoch}/{self.epochs}  {values}  {time_text}"
        if self._progress is not None:
            self._progress.remove_task(self._task)
            self._progress.console.print(line, highlight=False, markup=False)
        else:
            self.console.print(line, highlight=False, markup=False, soft_wrap=True)

    def finish(self, summary: dict[str, Any]) -> None:
        """Print one line when training ended early (time budget or early stopping)."""
        if (
            self.enabled
            and self.console is not None
            and summary["stop_reason"]
            in (
                "max_time",
                "early_stopping",
            )
        ):
            self.console.print(summary["message"], highlight=False, markup=False, soft_wrap=True)
