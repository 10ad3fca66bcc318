"""Per-image restoration evaluation: CARE-normalised and raw metrics, quality-control maps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SSIM_WINDOW = 7
"""Side of the SSIM window (scikit-image's default)."""

CARE_COLUMNS = ("psnr", "ssim", "nrmse")


@dataclass(frozen=True)
class MapView:
    """The 2D views of one image's quality-control maps, for the PNGs.

    3D (and higher) maps are shown at their middle slice along every leading
    axis (``where`` says which, e.g. ``"z 4 of 9"``); multi-channel maps are
    averaged over channels. The numbers are those of the whole image.
    """

    key: str
    ssim_map: np.ndarray
    squared_error: np.ndarray
    where: str
    ssim: float
    mse: float
    psnr: float


def _middle(array: np.ndarray) -> tuple[np.ndarray, str]:
    lead = array.shape[:-2]
    if not lead:
        return array, ""
    index = tuple(n // 2 for n in lead)
    names = "tz"[-len(lead) :] if len(lead) <= 2 else "?" * len(lead)
    where = ", ".join(f"{a} {i + 1} of {n}" for a, i, n in zip(names, index, lead))
    return array[index], where


def _slicewise(shape: tuple[int, ...]) -> bool:
    """SSIM per z-slice for stacks thinner than the SSIM window (3D windows otherwise)."""
    return len(shape) == 3 and shape[0] < SSIM_WINDOW <= min(shape[1:])


def _window(shape: tuple[int, ...], channels: int) -> str:
    text = "x".join([str(SSIM_WINDOW)] * len(shape))
    if _slicewise(shape):
        text = f"{SSIM_WINDOW}x{SSIM_WINDOW} per z-slice"
    return text + (" per channel" if channels > 1 else "")


def _pooled(maps: list[Any]) -> dict[str, float]:
    """PSNR, SSIM, NRMSE over channels: MSE pooled, SSIM averaged (as ``channel_axis``)."""
    rng = maps[0].data_range
    mse = float(np.mean([m.mse for m in maps]))
    psnr = float("inf") if mse == 0 else float(10 * np.log10(rng * rng / mse))
    ssim = float(np.mean([m.ssim for m in maps]))
    return {"mse": mse, "psnr": psnr, "ssim": ssim, "nrmse": float(np.sqrt(mse) / rng)}


def _care(gts: list[np.ndarray], preds: list[np.ndarray]) -> tuple[dict[str, float], list]:
    """CARE-normalised metrics (each channel normalised on its own) and the maps."""
    from biakit.metrics import restoration_maps

    maps = [restoration_maps(g, p, slicewise=_slicewise(g.shape)) for g, p in zip(gts, preds)]
    return _pooled(maps), maps


def _raw(gts: list[np.ndarray], preds: list[np.ndarray], data_range: float | None) -> dict:
    """Metrics on raw values; PSNR and SSIM only when the data range is known.

    NRMSE is NaN for an all-zero ground truth (its denominator).
    """
    from biakit.metrics import nrmse, restoration_maps

    diff = np.stack(gts).astype(np.float64) - np.stack(preds).astype(np.float64)
    row: dict[str, Any] = {"data_range": np.nan, "mse": float(np.mean(diff * diff))}
    row |= {"mae": float(np.mean(np.abs(diff))), "psnr": np.nan, "ssim": np.nan}
    if data_range is not None or not {gts[0].dtype.kind, preds[0].dtype.kind} & {"f", "i"}:
        maps = [
            restoration_maps(
                g, p, normalize=False, data_range=data_range, slicewise=_slicewise(g.shape)
            )
            for g, p in zip(gts, preds)
        ]
        pooled = _pooled(maps)
        row |= {"data_range": maps[0].data_range, "psnr": pooled["psnr"], "ssim": pooled["ssim"]}
    try:
        row["nrmse"] = nrmse(np.stack(gts), np.stack(preds))
    except ValueError:
        row["nrmse"] = np.nan
    return row | {"ssim_window": _window(gts[0].shape, len(gts))}


def _read(path: Path, axes: str | None) -> tuple[np.ndarray, str]:
    from biakit.io import read_image

    image, meta = read_image(path, lazy=False, **({} if axes is None else {"axes": axes}))
    return np.asarray(image), meta.axes


def _channels(image: np.ndarray, axes: str) -> list[np.ndarray]:
    if "C" not in axes or image.ndim != len(axes):
        return [image]
    return list(np.moveaxis(image, axes.index("C"), 0))


def _read_checked(
    path: Path, axes: str | None, like: tuple[Path, tuple[int, ...], str] | None = None,
    hint: str = "",
) -> tuple[np.ndarray, str]:  # fmt: skip
    """Read an image, refuse NaN / inf and a shape unlike ``like`` (its ground truth).

    ``like`` is the ground truth's path, shape and axes: an image with the same axes
    in another order (an RGB PNG read ``YXC``, biakit's TIFF written ``CYX``) is
    transposed to the ground truth's order first.
    """
    from biakit.errors import DataError
    from biakit.validation import check_finite

    image, image_axes = _read(path, axes)
    if like is not None and image_axes != like[2] and sorted(image_axes) == sorted(like[2]):
        image = np.transpose(image, [image_axes.index(a) for a in like[2]])
        image_axes = like[2]
    if like is not None and image.shape != like[1]:
        raise DataError(
            f"shape mismatch: {like[0]} is {like[1]} but {path} is {image.shape}; expected the "
            f"same shape{hint}"
        )
    return check_finite(image, source=path), image_axes


def restoration_rows(
    pairs: Sequence[tuple[Path, Path]],
    data_range: float | None,
    axes: str | None = None,
    inputs: dict[Path, Path] | None = None,
) -> tuple[pd.DataFrame, list[MapView]]:
    """Per image: PSNR, SSIM, NRMSE after CARE's normalisation, raw metrics, map views.

    ``psnr_care``, ``ssim_care``, ``nrmse_care`` compare the percentile-normalised
    ground truth with the prediction rescaled by ``normalize_minmse`` (see
    :func:`biakit.metrics.restoration_maps`); ``inputs`` (ground
    truth -> raw input file) adds the same for the raw input (``input_*``).
    ``data_range``, ``mse``, ``mae``, ``psnr``, ``ssim``, ``nrmse`` are on the raw
    values; raw PSNR and SSIM need ``data_range`` for float images (else NaN).
    SSIM uses 7-pixel windows in every axis, or 7x7 windows on each z-slice of
    stacks thinner than 7 slices; channels are scored one by one, their MSE
    pooled and SSIM averaged (``ssim_window`` says which).
    """
    from biakit.errors import DataError
    from biakit.io import file_key

    rows, views = [], []
    for gt_path, pred_path in pairs:
        gt, gt_axes = _read_checked(gt_path, axes)
        pred, _ = _read_checked(pred_path, axes, (gt_path, gt.shape, gt_axes))
        gts, preds = _channels(gt, gt_axes), _channels(pred, gt_axes)
        row: dict[str, Any] = {"image": gt_path.name, "prediction": pred_path.name}
        if inputs is not None:
            hint = " (up-sample super-resolution inputs first)"
            raw, _ = _read_checked(inputs[gt_path], axes, (gt_path, gt.shape, gt_axes), hint)
        try:
            care, maps = _care(gts, preds)
            row |= {f"{k}_care": care[k] for k in CARE_COLUMNS}
            if inputs is not None:
                source = _care(gts, _channels(raw, gt_axes))[0]
                row["input"] = inputs[gt_path].name
                row |= {f"input_{k}_care": source[k] for k in CARE_COLUMNS}
            row |= _raw(gts, preds, data_range)
        except ValueError as err:
            raise DataError(f"{gt_path}: {err}") from None
        rows.append(row)
        ssim_view, where = _middle(np.mean([m.ssim_map for m in maps], axis=0))
        error_view = _middle(np.mean([m.squared_error for m in maps], axis=0))[0]
        mse, ssim, psnr = care["mse"], care["ssim"], care["psnr"]
        views.append(MapView(file_key(gt_path), ssim_view, error_view, where, ssim, mse, psnr))
    return pd.DataFrame(rows), views


def restoration_summary(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation (``ddof=1``) of every numeric column, over images.

    Infinite PSNRs (perfect images) give an infinite mean and a NaN deviation.
    """
    numeric = per_image.select_dtypes("number")
    with np.errstate(invalid="ignore"):
        means = {f"{c}_mean": numeric[c].mean() for c in numeric}
        stds = {f"{c}_std": numeric[c].std(ddof=1) for c in numeric}
    return pd.DataFrame([{"images": len(per_image)} | means | stds])
