"""Per-horizon plot of a frame-prediction evaluation: model beside persistence and linear."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: panels drawn when their column is in the summary: (column, axis label)
PANELS = (
    ("psnr", "PSNR (dB)"),
    ("ssim", "SSIM"),
    ("count_error", "count error |n_pred - n_true|"),
    ("mean_iou", "mean IoU of true objects"),
    ("gap_area_error", "gap (wound) area error (px)"),
)
SERIES = (("", "model", "o-"), ("persistence_", "persistence", "s--"), ("linear_", "linear", "^:"))


def plot_horizon_scores(summary: pd.DataFrame, path: str | Path) -> Path:
    """PNG with one panel per score against the horizon, for the model and both baselines.

    ``summary`` has a ``horizon`` column and score columns named as
    :meth:`FramePredictor.evaluate` names them (``psnr``, ``persistence_psnr``,
    ...); panels whose model column is missing are left out. Written
    atomically (the evaluation's figure writer).

    Examples
    --------
    >>> import tempfile, os
    >>> s = pd.DataFrame({"horizon": [1, 2], "psnr": [30.0, 28.0],
    ...                   "persistence_psnr": [29.0, 27.5], "linear_psnr": [27.0, 24.0]})
    >>> path = plot_horizon_scores(s, os.path.join(tempfile.mkdtemp(), "h.png"))
    >>> path.stat().st_size > 0
    True
    """
    from biakit.evaluation._plots import _figure, _save

    panels = [(c, label) for c, label in PANELS if c in summary]
    plt = _figure()
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(3.6 * max(len(panels), 1), 3.2),
                             squeeze=False)  # fmt: skip
    for ax, (column, label) in zip(axes[0], panels):
        for prefix, name, style in SERIES:
            if f"{prefix}{column}" in summary:
                ax.plot(summary["horizon"], summary[f"{prefix}{column}"], style, ms=3, label=name)
        ax.set_xlabel("horizon (frames ahead)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0][0].legend(frameon=False)
    fig.suptitle("forecast scores per horizon")
    fig.tight_layout()
    return _save(fig, Path(path))
