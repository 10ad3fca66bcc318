"""Pair ground-truth and prediction files by name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

PRED_SUFFIXES = ("_labels", "_pred", "_prediction", "_mask", "_points", "_scribbles")


def file_key(path: Path) -> str:
    """Name of a file without its extension(s), used to pair files.

    Double extensions such as ``.ome.tif`` are removed whole.

    Examples
    --------
    >>> file_key(Path("a/cell_01.ome.tif")), file_key(Path("cell_01.png"))
    ('cell_01', 'cell_01')
    """
    name = path.name
    lower = name.lower()
    for ext in (".ome.tiff", ".ome.tif", ".ome.zarr"):
        if lower.endswith(ext):
            return name[: -len(ext)]
    return path.stem if path.suffix else name


def _strip_pred_suffix(key: str) -> str:
    for suffix in PRED_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


def pair_files(gt: Sequence[Path], pred: Sequence[Path]) -> list[tuple[Path, Path]]:
    """Pair each ground-truth file with the prediction of the same name.

    A prediction named like its ground truth, or with one of the suffixes
    ``_labels``, ``_pred``, ``_prediction``, ``_mask``, ``_points`` added
    (as ``biakit pipeline run`` writes them), is its pair.

    Raises
    ------
    ValueError
        When a file has no partner or a name is ambiguous; the message names
        the files.

    Examples
    --------
    >>> pairs = pair_files([Path("gt/a.tif")], [Path("out/a_labels.tif")])
    >>> [(g.name, p.name) for g, p in pairs]
    [('a.tif', 'a_labels.tif')]
    """
    gt_keys: dict[str, Path] = {}
    for g in gt:
        key = file_key(g)
        if key in gt_keys:
            raise ValueError(f"ground truth names are ambiguous: {gt_keys[key]} and {g}")
        gt_keys[key] = g
    pred_keys: dict[str, Path] = {}
    for p in pred:
        key = file_key(p)
        if key not in gt_keys:
            key = _strip_pred_suffix(key)
        if key in pred_keys:
            raise ValueError(
                f"two predictions pair with the same ground truth: {pred_keys[key]}, {p}"
            )
        pred_keys[key] = p
    missing_pred = sorted(str(gt_keys[k]) for k in gt_keys.keys() - pred_keys.keys())
    missing_gt = sorted(str(pred_keys[k]) for k in pred_keys.keys() - gt_keys.keys())
    if missing_pred or missing_gt:
        parts = []
        if missing_pred:
            parts.append(f"no prediction for {', '.join(missing_pred[:5])}")
        if missing_gt:
            parts.append(f"no ground truth for {', '.join(missing_gt[:5])}")
        raise ValueError("unpaired files: " + "; ".join(parts))
    return [(gt_keys[k], pred_keys[k]) for k in sorted(gt_keys)]
