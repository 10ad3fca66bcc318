"""A small matplotlib canvas for live curves (loss and metrics per epoch) and bar plots.

The deep-learning widget adds each epoch's record (the dicts the trainer yields:
``epoch``, ``train_loss``, ``val_loss``, ``val_<metric>``) with
:meth:`CurvePlot.add_record`; losses are drawn on the left axis, metrics on a
second one. The evaluation widget shows metric values with :meth:`CurvePlot.bars`.
Drawing is deferred to Qt's event loop (``draw_idle``), so a burst of records costs
one redraw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QVBoxLayout, QWidget

from biakit.errors import ParameterError

__all__ = ["CurvePlot", "split_record"]

_SKIP = {"epoch", "epochs", "lr", "train_samples", "steps", "samples_per_s", "epoch_time",
         "elapsed"}  # fmt: skip


def split_record(record: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """Split a trainer record into its losses and its metrics (finite numbers only).

    Parameters
    ----------
    record : mapping
        One epoch's record as :meth:`biakit.nn.train.Trainer.iter_fit` yields it.

    Returns
    -------
    losses, metrics : dict of str to float
        Keys ending in ``loss``; the other numeric values (bookkeeping such as
        ``lr``, ``steps`` or timings left out).

    Examples
    --------
    >>> split_record({"epoch": 1, "train_loss": 0.5, "val_loss": 0.6, "val_iou": 0.4, "lr": 1e-3})
    ({'train_loss': 0.5, 'val_loss': 0.6}, {'val_iou': 0.4})
    """
    losses: dict[str, float] = {}
    metrics: dict[str, float] = {}
    for key, value in record.items():
        if key in _SKIP or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not math.isfinite(float(value)):
            continue
        (losses if key.endswith("loss") else metrics)[key] = float(value)
    return losses, metrics


class CurvePlot(QWidget):
    """Loss and metric curves against the epoch, updated record by record.

    Attributes
    ----------
    series : dict of str to list of (int, float)
        Every curve's points ``(epoch, value)`` in the order they came.

    Examples
    --------
    >>> plot = CurvePlot()  # doctest: +SKIP
    >>> plot.add_record({"epoch": 1, "train_loss": 0.9, "val_iou": 0.3})  # doctest: +SKIP
    >>> plot.series  # doctest: +SKIP
    {'train_loss': [(1, 0.9)], 'val_iou': [(1, 0.3)]}
    """

    def __init__(self, parent: QWidget | None = None, *, title: str = "training") -> None:
        super().__init__(parent)
        self.figure = Figure(figsize=(4, 2.6), dpi=80, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(180)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.title = title
        self.series: dict[str, list[tuple[int, float]]] = {}
        self.draws = 0
        self.clear()

    def clear(self) -> None:
        """Forget every curve and show empty axes."""
        self.series = {}
        self.figure.clear()
        ax = self.figure.add_subplot()
        ax.set_title(self.title, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        self.canvas.draw_idle()

    def add_record(self, record: Mapping[str, Any]) -> None:
        """Add one epoch's values (a record without ``epoch`` is ignored) and redraw."""
        if "epoch" not in record:
            return
        epoch = int(record["epoch"])
        losses, metrics = split_record(record)
        for key, value in {**losses, **metrics}.items():
            self.series.setdefault(key, []).append((epoch, value))
        self._draw()

    def _draw(self) -> None:
        self.figure.clear()
        ax = self.figure.add_subplot()
        ax.set_title(self.title, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        twin = None
        for key, points in self.series.items():
            xs, ys = zip(*points)
            if key.endswith("loss"):
                ax.plot(xs, ys, marker="o", markersize=3, label=key)
            else:
                twin = twin or ax.twinx()
                twin.plot(xs, ys, marker="s", markersize=3, linestyle="--", label=key, color="C3")
                twin.tick_params(labelsize=7)
        ax.set_ylabel("loss", fontsize=8)
        handles, labels = ax.get_legend_handles_labels()
        if twin is not None:
            twin.set_ylabel("metric", fontsize=8)
            more = twin.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        if handles:
            ax.legend(handles, labels, fontsize=7, loc="best")
        self.draws += 1
        self.canvas.draw_idle()

    def bars(self, values: Mapping[str, float], *, title: str | None = None,
             ylim: Sequence[float] | None = (0.0, 1.0)) -> None:  # fmt: skip
        """Replace the plot with one bar per value (e.g. metrics of an evaluation)."""
        if not values:
            raise ParameterError("values: expected at least one metric to plot, got none")
        self.series = {}
        self.figure.clear()
        ax = self.figure.add_subplot()
        names = list(values)
        heights = [float(values[k]) for k in names]
        ax.bar(range(len(names)), heights, color="C0")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=7)
        ax.tick_params(labelsize=7)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.set_title(title or self.title, fontsize=9)
        self.draws += 1
        self.canvas.draw_idle()

    def curve(self, x: Sequence[float], ys: Mapping[str, Sequence[float]], *, xlabel: str,
              title: str | None = None) -> None:  # fmt: skip
        """Replace the plot with curves ``ys[name]`` against ``x`` (e.g. F1 against IoU)."""
        self.series = {}
        self.figure.clear()
        ax = self.figure.add_subplot()
        for name, values in ys.items():
            ax.plot(list(x), list(values), marker="o", markersize=3, label=name)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_ylim(0.0, 1.02)
        ax.legend(fontsize=7)
        ax.set_title(title or self.title, fontsize=9)
        self.draws += 1
        self.canvas.draw_idle()
