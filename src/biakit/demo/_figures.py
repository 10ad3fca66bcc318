"""The demo's comparison figure: plain and error-coded overlays of every method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _counts_title(counts: Any) -> str:
    return (
        f"TP {counts.tp} · FP {counts.fp} · missed {counts.missed}\n"
        f"merged {counts.merged} · split {counts.split}"
    )


def comparison_figure(comparison: Any, path: Path, index: int = 0) -> Path:
    """Ground truth and each method's objects on one held-out image, plain and error-coded.

    Top row: the objects found, a true nucleus and the object matched to it
    (IoU >= 0.5) in the same colour in every panel. Bottom row: the
    error-coded overlays (:func:`biakit.visualize.error_overlay`) with their
    counts, and the legend under the ground truth. Written atomically as PNG.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from biakit.demo import Comparison, DemoData, MethodResult
    >>> truth = np.zeros((32, 32), np.int64); truth[4:12, 4:12] = 1
    >>> data = DemoData(train=[], val=[], test=[(truth.astype(float), truth)])
    >>> comp = Comparison(data, [MethodResult("copy", {}, [truth], 0.0)], None)
    >>> comparison_figure(comp, Path(tempfile.mkdtemp()) / "c.png").suffix
    '.png'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from biakit._atomic import atomic_path
    from biakit.metrics import instance_errors
    from biakit.visualize import error_legend, error_overlay, matched_colors, overlay_labels

    image, truth = comparison.data.test[index]
    truth = np.asarray(truth, dtype=np.int64)
    n = len(comparison.results)
    fig = Figure(figsize=(3.1 * (n + 1), 6.9))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, n + 1, squeeze=False)
    true_colors: dict = {}
    for j, result in enumerate(comparison.results, start=1):
        pred = np.asarray(result.predictions[index], dtype=np.int64)
        errors = result.errors[index] if result.errors else instance_errors(truth, pred)
        true_colors, pred_colors = matched_colors(truth, pred, errors=errors)
        axes[0, j].imshow(overlay_labels(image, pred, colors=pred_colors))
        axes[0, j].set_title(f"{result.method}\n{errors.counts.n_pred} objects", fontsize=9)
        axes[1, j].imshow(error_overlay(image, truth, pred, errors=errors))
        axes[1, j].set_title(_counts_title(errors.counts), fontsize=8)
    axes[0, 0].imshow(overlay_labels(image, truth, colors=true_colors or None))
    n_true = int(np.unique(truth[truth > 0]).size)
    axes[0, 0].set_title(f"ground truth\n{n_true} objects", fontsize=9)
    handles = [Patch(color=np.asarray(c) / 255, label=t) for t, c in error_legend()]
    axes[1, 0].legend(handles=handles, loc="center", fontsize=9, frameon=False,
                      title="outcome at IoU ≥ 0.5", title_fontsize=9)  # fmt: skip
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path
