"""Evaluation plots written as PNG (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    from biakit._atomic import atomic_path

    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    _figure().close(fig)
    return path


def plot_instance_curves(summary: pd.DataFrame, path: Path) -> Path:
    """Precision, recall, F1 and accuracy against the IoU threshold."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for column in ("precision", "recall", "f1", "accuracy", "panoptic_quality"):
        ax.plot(summary["thresh"], summary[column], marker="o", ms=3, label=column)
    ax.set_xlabel("IoU threshold")
    ax.set_ylabel("score")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    ax.set_title("instance matching (pooled over images)")
    return _save(fig, path)


def plot_confusion_matrix(matrix: np.ndarray, labels: np.ndarray, path: Path) -> Path:
    """Row-normalised confusion-matrix heat map with the raw counts written in."""
    plt = _figure()
    matrix = np.asarray(matrix, dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = 1.2 + 0.6 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, [str(v) for v in labels])
    ax.set_yticks(ticks, [str(v) for v in labels])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    for i in ticks:
        for j in ticks:
            colour = "white" if norm[i, j] > 0.5 else "black"
            ax.text(
                j, i, f"{int(matrix[i, j])}", ha="center", va="center", color=colour, fontsize=8
            )
    fig.colorbar(im, ax=ax, label="fraction of true class")
    ax.set_title("confusion matrix (pooled)")
    return _save(fig, path)


def plot_detection_curve(tolerances: np.ndarray, table: pd.DataFrame, path: Path) -> Path:
    """Precision, recall and F1 of point matching against the distance tolerance."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for column in ("precision", "recall", "f1"):
        ax.plot(tolerances, table[column], marker="o", ms=3, label=column)
    ax.set_xlabel("distance tolerance")
    ax.set_ylabel("score")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    ax.set_title("detection (pooled over images)")
    return _save(fig, path)


def plot_quality_map(view, kind: str, path: Path) -> Path:
    """One quality-control map of a restored image (``kind``: ``"ssim"`` or ``"error"``).

    ``view`` is a :class:`biakit.evaluation._tasks.MapView`; the title gives the
    image's mean SSIM (or MSE and PSNR) and, for 3D images, the slice shown.
    The error map's colour scale ends at its 99.5th percentile (an arrow on the
    colour bar when brighter pixels are clipped).
    """
    plt = _figure()
    if kind == "ssim":
        image, cmap, label = view.ssim_map, "viridis", "SSIM"
        vmin, vmax = min(0.0, float(image.min())), 1.0
        title = f"{view.key}: SSIM map, mean SSIM {view.ssim:.4f}"
    else:
        image, cmap, label = view.squared_error, "inferno", "squared error"
        vmin, vmax = 0.0, max(float(np.percentile(image, 99.5)), 1e-12)
        title = f"{view.key}: squared error, MSE {view.mse:.3g}, PSNR {view.psnr:.2f} dB"
    height, width = image.shape
    scale = 5.0 / max(height, width)
    fig, ax = plt.subplots(figsize=(max(2.5, width * scale) + 1.2, max(2.5, height * scale)))
    im = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    extend = "max" if float(image.max()) > vmax else "neither"
    fig.colorbar(im, ax=ax, label=f"{label} (CARE-normalised)", extend=extend)
    ax.set_axis_off()
    ax.set_title(title + (f"\n{view.where} (middle slice)" if view.where else ""), fontsize=9)
    return _save(fig, path)
