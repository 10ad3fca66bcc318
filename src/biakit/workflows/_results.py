"""What ``evaluate`` returns for every workflow: the metrics' dataclasses plus a tidy table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Evaluation:
    """Scores of a workflow on a labelled data set.

    Attributes
    ----------
    task : str
        ``"semantic"``, ``"instance"``, ``"detection"``, ...
    metrics : object or tuple
        The pooled metrics as the :mod:`biakit.metrics` functions return them:
        a :class:`~biakit.metrics.ConfusionMetrics` (semantic), one
        :class:`~biakit.metrics.InstanceMatching` per IoU threshold (instance),
        a :class:`~biakit.metrics.DetectionMatching` (detection).
    per_image : pandas.DataFrame
        Tidy: one row per image (and per threshold for instances), column
        ``image`` first, then the scores.
    summary : pandas.DataFrame
        The pooled scores as a table (one row, or one per threshold).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = Evaluation("semantic", None, pd.DataFrame({"image": [0], "iou": [0.5]}),
    ...                 pd.DataFrame({"iou": [0.5]}))
    >>> ev.headline()
    'IoU 0.5000'
    >>> Evaluation("tracking", None, None, pd.DataFrame({"TRA": [0.99], "CT": [0.8]})).headline()
    'TRA 0.9900, CT 0.8000'
    >>> row = pd.DataFrame({"psnr": [30.0], "ssim": [0.9], "nrmse": [0.1], "cubic_psnr": [28.0]})
    >>> Evaluation("super_resolution", None, row, row).headline()
    'PSNR 30.00 dB (cubic 28.00 dB), SSIM 0.9000, NRMSE 0.1000'
    """

    task: str
    metrics: Any
    per_image: pd.DataFrame
    summary: pd.DataFrame

    def headline(self) -> str:
        """One line with the scores a person looks at first."""
        row = self.summary.iloc[0]
        if self.task == "tracking":
            keys = [k for k in ("TRA", "DET", "CT", "BC(1)", "CCA") if k in row]
            return ", ".join(f"{k} {row[k]:.4f}" for k in keys)
        if self.task == "instance":
            at = self.summary.set_index("thresh")
            parts = [f"F1@{t:g} {at.loc[t, 'f1']:.4f}" for t in (0.5, 0.75) if t in at.index]
            pq = at.loc[0.5, "panoptic_quality"] if 0.5 in at.index else row["panoptic_quality"]
            return ", ".join([*parts, f"PQ@0.5 {pq:.4f}"])
        if "psnr" in row:  # restoration: the network beside its baseline (input or cubic)
            base = next((p for p in ("input_", "cubic_") if f"{p}psnr" in row), None)
            than = f" ({base[:-1]} {row[f'{base}psnr']:.2f} dB)" if base else ""
            return (
                f"PSNR {row['psnr']:.2f} dB{than}, SSIM {row['ssim']:.4f}, NRMSE {row['nrmse']:.4f}"
            )
        if "iou" in row:
            extra = f", Dice {row['f1']:.4f}" if "f1" in row else ""
            return f"IoU {row['iou']:.4f}{extra}"
        tol = f" (tolerance {row['tolerance']:g})" if "tolerance" in row else ""
        return (
            f"precision {row['precision']:.4f}, recall {row['recall']:.4f}, F1 {row['f1']:.4f}{tol}"
        )
