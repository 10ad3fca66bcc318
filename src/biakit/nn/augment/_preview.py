"""A PNG grid of original and augmented samples, to check an augmentation by eye."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from biakit._atomic import atomic_path
from biakit.nn.augment._augmenter import Augmenter, TargetKind


def _as_list(arrays: np.ndarray | Sequence[np.ndarray] | None, ndim: int) -> list | None:
    if arrays is None:
        return None
    if (
        isinstance(arrays, np.ndarray)
        and arrays.ndim in (ndim, ndim + 1)
        and arrays.dtype != object
    ):
        return [arrays]
    return list(arrays)


def _plane(array: np.ndarray, ndim: int) -> np.ndarray:
    """First channel (if any) and, in 3D, the middle Z slice."""
    if array.ndim == ndim + 1:
        array = array[0]
    return array[array.shape[0] // 2] if ndim == 3 else array


def _label_rgb(labels: np.ndarray) -> np.ndarray:
    from biakit.visualize import label_colors

    palette = label_colors(256)
    rgb = palette[np.asarray(labels, dtype=np.int64) % 256]
    rgb[labels == 0] = 0
    return rgb


def save_preview(
    images: np.ndarray | Sequence[np.ndarray],
    targets: np.ndarray | Sequence[np.ndarray] | None,
    aug: Augmenter,
    path: str | Path,
    n: int = 8,
    seed: int = 0,
    *,
    target_kind: TargetKind = "labels",
    overwrite: bool = True,
) -> Path:
    """Write a PNG grid: one row per sample, original and augmented image / target.

    Rows cycle through ``images``; columns are the original image, original
    target, augmented image and augmented target (first channel; 3D shows the
    middle Z slice). Each row's images share one grey scale, so intensity
    augmentation is visible. The file is written atomically.

    Parameters
    ----------
    images : array or sequence of arrays
        ``(C, *spatial)`` images.
    targets : array or sequence of arrays, optional
        Matching targets (labels are drawn in colour), or None.
    aug : Augmenter
        The augmentation to preview.
    path : str or Path
        Output PNG file.
    n : int
        Number of rows (augmented samples).
    seed : int
        Seed of the augmentation draws.
    target_kind : {"labels", "continuous"}
        Kind of the targets.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    path : Path
        The written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from biakit.nn.augment import AugmentConfig, Augmenter
    >>> image = np.random.default_rng(0).random((1, 32, 32), dtype=np.float32)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "preview.png"
    >>> save_preview([image], None, Augmenter(AugmentConfig(), ndim=2), out, n=2).exists()
    True

    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not isinstance(aug, Augmenter):
        raise TypeError(f"aug must be an Augmenter; got {type(aug).__name__}")
    if int(n) < 1:
        raise ValueError(f"n must be at least 1; got {n!r}")
    image_list = _as_list(images, aug.ndim + 1) or []
    target_list = _as_list(targets, aug.ndim if target_kind == "labels" else aug.ndim + 1)
    if not image_list:
        raise ValueError("images is empty; pass at least one (C, *spatial) image")
    if target_list is not None and len(target_list) != len(image_list):
        raise ValueError(f"targets has {len(target_list)} entries but images has {len(image_list)}")
    rng = np.random.default_rng(seed)
    cols = 2 if target_list is None else 4
    fig = Figure(figsize=(2.2 * cols, 2.2 * n))
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, cols, squeeze=False)
    titles = ["image", "target", "augmented image", "augmented target"]
    if target_list is None:
        titles = ["image", "augmented image"]
    for row in range(n):
        j = row % len(image_list)
        tgt = None if target_list is None else target_list[j]
        out_img, out_tgt = aug(image_list[j], tgt, rng=rng, target_kind=target_kind)
        panels = [_plane(np.asarray(image_list[j], np.float32), aug.ndim)]
        if tgt is not None:
            panels.append(_plane(np.asarray(tgt), aug.ndim))
        panels.append(_plane(out_img, aug.ndim))
        if out_tgt is not None:
            panels.append(_plane(out_tgt, aug.ndim))
        lo, hi = np.percentile(panels[0], [0.5, 99.5])
        for col, (ax, panel) in enumerate(zip(axes[row], panels)):
            is_target = tgt is not None and col in (1, 3)
            if is_target and target_kind == "labels":
                ax.imshow(_label_rgb(panel), interpolation="nearest")
            elif is_target:
                ax.imshow(panel, cmap="magma", interpolation="nearest")
            else:
                ax.imshow(panel, cmap="gray", vmin=lo, vmax=max(hi, lo + 1e-6))
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(titles[col], fontsize=8)
    fig.tight_layout()
    with atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return Path(path)
