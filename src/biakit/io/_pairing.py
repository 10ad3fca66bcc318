"""Pair files by name (images with masks, ground truth with predictions, images with points)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from biakit.errors import DataError

__all__ = ["PRED_SUFFIXES", "SIDE_OUTPUT_SUFFIXES", "file_key", "is_side_output", "pair_files"]

PRED_SUFFIXES = (
    "_labels", "_pred", "_prediction", "_mask", "_points", "_scribbles",
    "_denoised", "_restored", "_sr",
)  # fmt: skip
"""Name endings a prediction (or mask, point table) may add to its image's name."""

SIDE_OUTPUT_SUFFIXES = (
    "_overlay", "_maps", "_probabilities", "_uncertainty", "_ssim_map", "_error_map",
)  # fmt: skip
"""Name endings of the files biakit writes beside its predictions that are not predictions."""

_SIDE_OUTPUT_NAMES = frozenset(
    {
        "measurements.csv",
        "summary.csv",
        "per_image.csv",
        "test_metrics.csv",
        "test_per_image.csv",
        "test_horizon.png",
        "tuning.csv",
        "feature_importances.png",
        "confusion_matrix.png",
        "metrics_vs_iou.png",
        "metrics_vs_tolerance.png",
    }
)
_SIDE_OUTPUT_RE = re.compile(
    "(" + "|".join(re.escape(s) for s in SIDE_OUTPUT_SUFFIXES) + r")$", re.IGNORECASE
)


def file_key(path: Path) -> str:
    """Name of a file without its extension(s), used to pair files.

    Double extensions such as ``.ome.tif`` are removed whole.

    Examples
    --------
    >>> file_key(Path("a/cell_01.ome.tif")), file_key(Path("cell_01.png"))
    ('cell_01', 'cell_01')
    """
    name = Path(path).name
    lower = name.lower()
    for ext in (".ome.tiff", ".ome.tif", ".ome.zarr"):
        if lower.endswith(ext):
            return name[: -len(ext)]
    return Path(name).stem if Path(name).suffix else name


def is_side_output(path: Path) -> bool:
    """Tell whether ``path`` is a file biakit writes beside predictions that is not one.

    These are overlays (``*_overlay.png``), network maps (``*_maps.tif``), class
    probabilities, uncertainty maps, restoration quality maps (``*_ssim_map.png``,
    ``*_error_map.png``) and the tables and plots of a run
    (``measurements.csv``, ``summary.csv``, ...), as written by ``biakit predict``,
    ``biakit pixel predict``, ``biakit pipeline run`` and ``biakit evaluate``.

    Examples
    --------
    >>> is_side_output(Path("out/a_overlay.png")), is_side_output(Path("out/a_labels.tif"))
    (True, False)
    """
    name = Path(path).name
    return name.lower() in _SIDE_OUTPUT_NAMES or bool(_SIDE_OUTPUT_RE.search(file_key(path)))


def _strip_pred_suffix(key: str) -> str:
    for suffix in PRED_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


def pair_files(gt: Sequence[Path], pred: Sequence[Path]) -> list[tuple[Path, Path]]:
    """Pair each ground-truth (or image) file with the prediction of the same name.

    A prediction named like its ground truth, or with one of the suffixes
    ``_labels``, ``_pred``, ``_prediction``, ``_mask``, ``_points``, ``_scribbles``,
    ``_denoised``, ``_restored``, ``_sr`` added (as ``biakit pipeline run`` and
    ``biakit predict`` write them), is its pair. Files biakit writes beside its
    predictions (:func:`is_side_output`: overlays, maps, probabilities,
    uncertainty, quality maps, ``measurements.csv``, ...) are ignored on the
    prediction side (unless named exactly like a ground-truth file), so an
    output folder can be used as it is.

    Parameters
    ----------
    gt : sequence of Path
        Ground-truth (or input image) files.
    pred : sequence of Path
        Prediction (or mask, point table) files.

    Returns
    -------
    pairs : list of (Path, Path)
        Sorted by ground-truth name.

    Raises
    ------
    DataError
        When a file has no partner or a name is ambiguous; the message names
        the files.

    Examples
    --------
    >>> out = [Path("out/a_labels.tif"), Path("out/a_overlay.png"), Path("out/measurements.csv")]
    >>> pairs = pair_files([Path("gt/a.tif")], out)
    >>> [(g.name, p.name) for g, p in pairs]
    [('a.tif', 'a_labels.tif')]
    """
    gt_keys: dict[str, Path] = {}
    for g in gt:
        key = file_key(g)
        if key in gt_keys:
            raise DataError(f"ground truth names are ambiguous: {gt_keys[key]} and {g}")
        gt_keys[key] = g
    pred_keys: dict[str, Path] = {}
    for p in pred:
        key = file_key(p)
        if key not in gt_keys and is_side_output(p):
            continue
        if key not in gt_keys:
            key = _strip_pred_suffix(key)
        if key in pred_keys:
            raise DataError(
                f"two predictions pair with the same ground truth: {pred_keys[key]}, {p}"
            )
        pred_keys[key] = p
    missing_pred = sorted(str(gt_keys[k]) for k in gt_keys.keys() - pred_keys.keys())
    missing_gt = sorted(str(pred_keys[k]) for k in pred_keys.keys() - gt_keys.keys())
    if missing_pred or missing_gt:
        parts = []
        if missing_pred:
            more = f" (and {len(missing_pred) - 5} more)" if len(missing_pred) > 5 else ""
            parts.append(f"no prediction for {', '.join(missing_pred[:5])}{more}")
        if missing_gt:
            more = f" (and {len(missing_gt) - 5} more)" if len(missing_gt) > 5 else ""
            parts.append(f"no ground truth for {', '.join(missing_gt[:5])}{more}")
        raise DataError(
            "unpaired files: " + "; ".join(parts) + "; files pair by name, a prediction may "
            f"add one of {', '.join(PRED_SUFFIXES)}"
        )
    return [(gt_keys[k], pred_keys[k]) for k in sorted(gt_keys)]
