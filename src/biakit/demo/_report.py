"""The demo's HTML report: metrics table, side-by-side overlays, training curves."""

from __future__ import annotations

import html
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def comparison_figure(comparison: Any, path: Path, index: int = 0) -> Path:
    """Ground truth and each method's labels on one held-out image, side by side (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from biakit._atomic import atomic_path
    from biakit.visualize import overlay_labels

    image, truth = comparison.data.test[index]
    panels = [("ground truth", truth)] + [
        (r.method, r.predictions[index]) for r in comparison.results
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    for ax, (title, labels) in zip(axes, panels):
        ax.imshow(overlay_labels(image, np.asarray(labels, dtype=np.int64)))
        ax.set_title(f"{title}\n{int(np.unique(labels[labels > 0]).size)} objects", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0, classes="t")


def write_report(
    output: Path,
    comparison_table: pd.DataFrame,
    classical_table: pd.DataFrame,
    figures: dict[str, str],
    notes: list[str],
) -> Path:
    """Write ``report.html`` (images referenced by relative path) atomically."""
    import biakit
    from biakit._atomic import atomic_write_text

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>biakit demo</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table.t{border-collapse:collapse}table.t td,table.t th{padding:4px 10px;"
        "border-bottom:1px solid #ddd;text-align:right}img{max-width:100%}</style></head><body>",
        f"<h1>biakit {html.escape(biakit.__version__)} demo</h1>",
        f"<p>{html.escape(time.strftime('%Y-%m-%d %H:%M'))} on {html.escape(platform.node())} "
        f"({html.escape(platform.machine())}, Python {platform.python_version()})</p>",
        "<h2>Instance segmentation of touching nuclei (held-out synthetic images)</h2>",
        "<p>Scores pooled over the test images with StarDist-compatible matching "
        "(F1, accuracy = TP/(TP+FP+FN), panoptic quality) at IoU 0.5 and 0.75.</p>",
        _table_html(comparison_table),
    ]
    for title, src in figures.items():
        parts.append(f"<h3>{html.escape(title)}</h3><img src='{html.escape(src)}'>")
    parts += ["<h2>Classical pipelines on more images</h2>", _table_html(classical_table)]
    if notes:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{html.escape(n)}</li>" for n in notes]
        parts.append("</ul>")
    parts.append("</body></html>")
    return atomic_write_text(output / "report.html", "\n".join(parts), overwrite=True)
