"""Quality-control maps of restored images: per-pixel SSIM and squared error.

As CARE's and ZeroCostDL4Mic's quality control show them, after CARE's
normalisation; see :func:`restoration_maps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biakit.metrics.restoration import (
    _data_range,
    _pair,
    _percentile_normalize,
    _ssim_map,
    normalize_minmse,
)


@dataclass(frozen=True, eq=False)
class RestorationMaps:
    """Quality-control maps of one image pair (see :func:`restoration_maps`).

    Attributes
    ----------
    ssim_map : numpy.ndarray
        Per-pixel SSIM, same shape as the images, borders included (as
        ``structural_similarity(..., full=True)``).
    squared_error : numpy.ndarray
        ``(gt - pred)**2`` per pixel, on the compared (normalised) images.
    gt, pred : numpy.ndarray
        The compared images (after normalisation when it was asked for).
    data_range : float
        Intensity range used for SSIM and PSNR (1.0 after normalisation).
    crop : int
        Border width left out of the mean SSIM (``(win_size - 1) // 2``; in Y
        and X only when computed slice-wise).
    mse, psnr, ssim, nrmse : float
        Mean of ``squared_error``; PSNR; mean of ``ssim_map`` without the
        border; ``sqrt(mse) / data_range``.
    """

    ssim_map: np.ndarray = field(repr=False)
    squared_error: np.ndarray = field(repr=False)
    gt: np.ndarray = field(repr=False)
    pred: np.ndarray = field(repr=False)
    data_range: float
    crop: int
    mse: float
    psnr: float
    ssim: float
    nrmse: float

    def as_dict(self) -> dict[str, float]:
        """Return the scalar metrics (``mse``, ``psnr``, ``ssim``, ``nrmse``) as a dict."""
        return {k: float(getattr(self, k)) for k in ("mse", "psnr", "ssim", "nrmse")}


def restoration_maps(
    gt: Any,
    pred: Any,
    *,
    normalize: bool = True,
    pmin: float = 0.1,
    pmax: float = 99.9,
    data_range: float | None = None,
    slicewise: bool = False,
    **ssim_kwargs: Any,
) -> RestorationMaps:
    """SSIM map and squared-error map of a restored image, after CARE's normalisation.

    With ``normalize`` (default), the images are compared as CARE and
    ZeroCostDL4Mic's quality control do: the ground truth is mapped to
    ``(gt - P_pmin) / (P_pmax - P_pmin)`` (percentiles of ``gt``) and the
    prediction rescaled by :func:`normalize_minmse`; the data range is then
    1.0, so ``psnr`` equals :func:`psnr_care` and ``nrmse`` is the RMSE in
    units of the ground truth's percentile range. Without ``normalize`` the raw
    values are compared (``data_range`` as in :func:`psnr`).

    Parameters
    ----------
    gt, pred : array_like
        Ground truth and restored image, 2D or 3D, same shape.
    normalize : bool
        Apply CARE's normalisation first.
    pmin, pmax : float
        Percentiles of the ground-truth normalisation.
    data_range : float, optional
        Intensity range for SSIM and PSNR; 1.0 with ``normalize``.
    slicewise : bool
        For a 3D stack: SSIM with 2D windows on each z-slice (axis 0), for
        stacks thinner than the window; the mean SSIM is over all slices. The
        normalisation is over the whole stack either way.
    **ssim_kwargs
        Window and constants passed to :func:`ssim` (``win_size``,
        ``gaussian_weights``, ``sigma``, ``use_sample_covariance``, ``k1``, ``k2``);
        ZeroCostDL4Mic uses ``gaussian_weights=True, use_sample_covariance=False``.

    Returns
    -------
    RestorationMaps
        The maps, the compared images and the scalar metrics.

    Raises
    ------
    ValueError
        On a shape mismatch, empty images, a missing data range (raw float
        images), bad percentiles or SSIM window, ``slicewise`` on a non-3D image.
    TypeError
        On an unknown SSIM option.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.random.default_rng(0).random((16, 16))
    >>> maps = restoration_maps(gt, 2 * gt + 1)
    >>> maps.ssim_map.shape, round(maps.ssim, 6), round(maps.nrmse, 6)
    ((16, 16), 1.0, 0.0)
    """
    g, p = _pair(gt, pred)
    if normalize:
        x = _percentile_normalize(g, pmin, pmax)
        y = normalize_minmse(p, x)
        rng = 1.0 if data_range is None else _data_range(x, y, data_range)
    else:
        x, y = g.astype(np.float64), p.astype(np.float64)
        rng = _data_range(g, p, data_range)
    options = {
        "win_size": None,
        "gaussian_weights": False,
        "sigma": 1.5,
        "use_sample_covariance": True,
        "k1": 0.01,
        "k2": 0.03,
    }
    unknown = sorted(set(ssim_kwargs) - set(options))
    if unknown:
        raise TypeError(f"unknown SSIM options {unknown}; valid: {sorted(options)}")
    options |= ssim_kwargs
    if slicewise and x.ndim != 3:
        raise ValueError(f"slicewise needs a 3D stack, got an image of shape {x.shape}")
    if slicewise:
        planes = [_ssim_map(a, b, rng, **options) for a, b in zip(x, y)]
        s, crop = np.stack([m for m, _ in planes]), planes[0][1]
        inner = (slice(None), *(slice(crop, n - crop) for n in s.shape[1:]))
    else:
        s, crop = _ssim_map(x, y, rng, **options)
        inner = tuple(slice(crop, n - crop) for n in s.shape)
    sq = (x - y) ** 2
    mse = float(sq.mean())
    return RestorationMaps(
        ssim_map=s,
        squared_error=sq,
        gt=x,
        pred=y,
        data_range=rng,
        crop=crop,
        mse=mse,
        psnr=float("inf") if mse == 0 else float(10 * np.log10(rng * rng / mse)),
        ssim=float(s[inner].mean()),
        nrmse=float(np.sqrt(mse) / rng),
    )
