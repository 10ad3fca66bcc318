"""Image restoration metrics (denoising, deconvolution, super-resolution).

``psnr``, ``ssim`` and ``nrmse`` give the numbers of
``skimage.metrics.peak_signal_noise_ratio``, ``structural_similarity`` and
``normalized_root_mse`` on the same inputs, always computed in float64.
The data range (the ``L`` in PSNR and in SSIM's constants) must be explicit
for floating-point and signed-integer images; for unsigned integer and
boolean images it defaults to the dtype's maximum (255 for ``uint8``).

:func:`psnr_care` is the CARE evaluation (Weigert et al., Nat. Methods 2018;
CSBDeep): the ground truth is percentile-normalised, the prediction is
affinely rescaled to minimise its MSE against it (:func:`normalize_minmse`),
and the PSNR is taken on the results.

:func:`restoration_maps` gives the quality-control maps ZeroCostDL4Mic shows
(per-pixel SSIM, squared error) after the same normalisation, with the PSNR,
SSIM and NRMSE they average to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "RestorationMetrics",
    "normalize_minmse",
    "nrmse",
    "psnr",
    "psnr_care",
    "restoration_metrics",
    "ssim",
]


def _pair(gt: Any, pred: Any) -> tuple[np.ndarray, np.ndarray]:
    g, p = np.asarray(gt), np.asarray(pred)
    if g.shape != p.shape:
        raise ValueError(
            f"gt and pred must have the same shape, got gt {g.shape} and pred {p.shape}"
        )
    for name, arr in (("gt", g), ("pred", p)):
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real-valued image, got dtype {arr.dtype}")
        if arr.size == 0:
            raise ValueError(f"{name} is empty (shape {arr.shape})")
    return g, p


def _data_range(g: np.ndarray, p: np.ndarray, data_range: float | None) -> float:
    if data_range is not None:
        value = float(data_range)
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"data_range must be a finite number > 0, got {data_range!r}")
        return value
    kinds = {g.dtype.kind, p.dtype.kind}
    if kinds & {"f", "i"}:
        raise ValueError(
            f"data_range is required for floating-point or signed-integer images (got gt "
            f"{g.dtype}, pred {p.dtype}); pass the intensity range, e.g. data_range=1.0 for "
            "images scaled to [0, 1] or data_range=gt.max() - gt.min()"
        )
    if g.dtype == bool:
        return 1.0
    return float(np.iinfo(g.dtype).max)


def _mse(g: np.ndarray, p: np.ndarray) -> float:
    diff = g.astype(np.float64) - p.astype(np.float64)
    return float(np.mean(diff * diff))


def psnr(gt: Any, pred: Any, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio ``10 log10(data_range**2 / mse)`` in dB.

    Parameters
    ----------
    gt, pred : array_like
        Ground truth and restored image (same shape, 2D, 3D or any).
    data_range : float, optional
        Intensity range ``L``; required for float and signed-integer images,
        otherwise the maximum of the unsigned dtype.

    Returns
    -------
    float
        PSNR in dB; ``inf`` when the images are identical.

    Raises
    ------
    ValueError
        On a shape mismatch, empty images, or a missing / non-positive data range.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((4, 4))
    >>> pred = np.full((4, 4), 0.1)
    >>> round(psnr(gt, pred, data_range=1.0), 6)
    20.0
    """
    g, p = _pair(gt, pred)
    rng = _data_range(g, p, data_range)
    err = _mse(g, p)
    return float("inf") if err == 0 else float(10 * np.log10(rng * rng / err))


def ssim(
    gt: Any,
    pred: Any,
    *,
    data_range: float | None = None,
    win_size: int | None = None,
    gaussian_weights: bool = False,
    sigma: float = 1.5,
    use_sample_covariance: bool = True,
    k1: float = 0.01,
    k2: float = 0.03,
) -> float:
    """Mean structural similarity index (Wang et al. 2004), as scikit-image.

    ``S = (2 ux uy + C1)(2 vxy + C2) / ((ux² + uy² + C1)(vx + vy + C2))`` with
    local means ``u`` and (co)variances ``v`` over a window, ``C1 = (k1 L)²``,
    ``C2 = (k2 L)²``; the mean of ``S`` is taken after cropping
    ``(win_size - 1) // 2`` pixels at every border.  Filters use reflect
    padding, as ``skimage.metrics.structural_similarity``.

    Parameters
    ----------
    gt, pred : array_like
        Ground truth and restored image, 2D or 3D (no channel axis: loop over
        channels yourself).
    data_range : float, optional
        Intensity range ``L`` (see :func:`psnr`).
    win_size : int, optional
        Odd window side (default 7, or 11 with ``gaussian_weights``, as
        scikit-image); no larger than the smallest image side.
    gaussian_weights : bool
        Gaussian window (``sigma``, truncated at 3.5 sigma) instead of uniform.
    sigma : float
        Standard deviation of the Gaussian window.
    use_sample_covariance : bool
        Normalise (co)variances by ``N - 1`` (``N = win_size**ndim``) instead of ``N``.
    k1, k2 : float
        Stabilising constants.

    Returns
    -------
    float
        Mean SSIM (1.0 for identical images).

    Raises
    ------
    ValueError
        On a shape mismatch, missing data range, even or too large ``win_size``.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.random.default_rng(0).random((16, 16))
    >>> ssim(gt, gt, data_range=1.0)
    1.0
    """
    g, p = _pair(gt, pred)
    rng = _data_range(g, p, data_range)
    s, pad = _ssim_map(g, p, rng, win_size, gaussian_weights, sigma, use_sample_covariance, k1, k2)
    return float(s[tuple(slice(pad, n - pad) for n in s.shape)].mean())


def _ssim_map(
    g: np.ndarray,
    p: np.ndarray,
    rng: float,
    win_size: int | None,
    gaussian_weights: bool,
    sigma: float,
    use_sample_covariance: bool,
    k1: float,
    k2: float,
) -> tuple[np.ndarray, int]:
    """Per-pixel SSIM (borders included, as scikit-image's ``full=True``) and the border width."""
    if win_size is None:
        win_size = 2 * int(3.5 * sigma + 0.5) + 1 if gaussian_weights else 7
    if int(win_size) != win_size or win_size < 1 or win_size % 2 == 0:
        raise ValueError(f"win_size must be an odd positive integer, got {win_size!r}")
    if min(g.shape) < win_size:
        raise ValueError(
            f"win_size {win_size} exceeds the image extent {g.shape}; pass an odd win_size "
            "no larger than the smallest image side"
        )
    if min(k1, k2, sigma) < 0:
        raise ValueError(f"k1, k2 and sigma must be >= 0, got {k1}, {k2}, {sigma}")
    x, y = g.astype(np.float64), p.astype(np.float64)
    if gaussian_weights:

        def filt(a: np.ndarray) -> np.ndarray:
            return ndi.gaussian_filter(a, sigma, truncate=3.5, mode="reflect")
    else:

        def filt(a: np.ndarray) -> np.ndarray:
            return ndi.uniform_filter(a, size=win_size)

    n_win = win_size**g.ndim
    cov_norm = n_win / (n_win - 1) if use_sample_covariance else 1.0
    ux, uy = filt(x), filt(y)
    vx = cov_norm * (filt(x * x) - ux * ux)
    vy = cov_norm * (filt(y * y) - uy * uy)
    vxy = cov_norm * (filt(x * y) - ux * uy)
    c1, c2 = (k1 * rng) ** 2, (k2 * rng) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return s, (win_size - 1) // 2


def nrmse(
    gt: Any, pred: Any, *, normalization: Literal["euclidean", "min-max", "mean"] = "euclidean"
) -> float:
    """Normalised root mean squared error ``sqrt(mse) / denom``, as scikit-image.

    ``denom`` is ``sqrt(mean(gt**2))`` (``"euclidean"``), ``gt.max() - gt.min()``
    (``"min-max"``) or ``gt.mean()`` (``"mean"``).

    Raises
    ------
    ValueError
        For an unknown ``normalization`` or a zero denominator.

    Examples
    --------
    >>> nrmse([1.0, 1.0], [1.0, 0.0], normalization="mean")
    0.7071067811865476
    """
    g, p = _pair(gt, pred)
    options = ("euclidean", "min-max", "mean")
    if normalization not in options:
        raise ValueError(f"normalization must be one of {list(options)}, got {normalization!r}")
    gf = g.astype(np.float64)
    if normalization == "euclidean":
        denom = float(np.sqrt(np.mean(gf * gf)))
    elif normalization == "min-max":
        denom = float(gf.max() - gf.min())
    else:
        denom = float(gf.mean())
    if denom == 0:
        raise ValueError(
            f"nrmse with normalization={normalization!r} is undefined: its gt term is 0"
        )
    return float(np.sqrt(_mse(g, p)) / denom)


def normalize_minmse(pred: Any, gt: Any) -> np.ndarray:
    """Affine rescaling ``a * pred + b`` with the least mean squared error to ``gt``.

    ``a = cov(pred, gt) / var(pred)`` and ``b = mean(gt) - a * mean(pred)``
    (ordinary least squares), as CSBDeep's ``normalize_minmse(x, target)``
    except that CSBDeep adds ``1e-10`` to ``var(pred)``; a constant ``pred``
    gives ``a = 0``, ``b = mean(gt)`` here.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([0.0, 1.0, 2.0])
    >>> normalize_minmse(3 * gt + 7, gt).round(12).tolist()
    [0.0, 1.0, 2.0]
    """
    g, p = _pair(gt, pred)
    x, t = p.astype(np.float64), g.astype(np.float64)
    xc = x - x.mean()
    var = float(np.mean(xc * xc))
    a = float(np.mean(xc * (t - t.mean()))) / var if var > 0 else 0.0
    return a * x + (t.mean() - a * x.mean())


def psnr_care(
    gt: Any, pred: Any, *, pmin: float = 0.1, pmax: float = 99.9, data_range: float = 1.0
) -> float:
    """PSNR after CARE's normalisation of ground truth and prediction.

    Procedure (float64 throughout):

    1. ``gt_n = (gt - P_pmin(gt)) / (P_pmax(gt) - P_pmin(gt) + 1e-20)`` with
       ``P_q`` the ``q``-th percentile (``np.percentile``, linear), as CSBDeep's
       ``normalize(gt, pmin, pmax)``;
    2. ``pred_n = normalize_minmse(pred, gt_n)``;
    3. ``psnr(gt_n, pred_n, data_range=data_range)``; the default range 1.0 is
       the span the percentiles are mapped to.

    The result does not change under ``pred -> a * pred + b``, so networks
    that predict in another intensity scale are compared fairly.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.random.default_rng(0).random((32, 32))
    >>> noisy = gt + 0.1 * np.random.default_rng(1).standard_normal(gt.shape)
    >>> bool(np.isclose(psnr_care(gt, noisy), psnr_care(gt, 5 * noisy + 3)))
    True
    """
    g, p = _pair(gt, pred)
    gt_n = _percentile_normalize(g, pmin, pmax)
    return psnr(gt_n, normalize_minmse(p, gt_n), data_range=data_range)


def _percentile_normalize(g: np.ndarray, pmin: float, pmax: float) -> np.ndarray:
    """CSBDeep's ``normalize(gt, pmin, pmax)`` in float64 (no clipping)."""
    if not 0 <= pmin < pmax <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= pmin < pmax <= 100, got {pmin}, {pmax}")
    lo, hi = np.percentile(g.astype(np.float64), [pmin, pmax])
    return (g.astype(np.float64) - lo) / (hi - lo + 1e-20)


@dataclass(frozen=True, slots=True)
class RestorationMetrics:
    """All restoration metrics of one image pair (see :func:`restoration_metrics`)."""

    data_range: float
    mse: float
    mae: float
    psnr: float
    ssim: float
    nrmse: float

    def as_dict(self) -> dict[str, float]:
        """Return the metrics as a plain dict."""
        return {name: float(getattr(self, name)) for name in self.__dataclass_fields__}


def restoration_metrics(
    gt: Any, pred: Any, *, data_range: float | None = None, **ssim_kwargs: Any
) -> RestorationMetrics:
    """MSE, MAE, PSNR, SSIM and NRMSE (euclidean) of a restored image.

    Parameters
    ----------
    gt, pred : array_like
        Ground truth and restored image.
    data_range : float, optional
        Intensity range for PSNR and SSIM (see :func:`psnr`).
    **ssim_kwargs
        Passed to :func:`ssim` (``win_size``, ``gaussian_weights``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.linspace(0, 1, 64).reshape(8, 8)
    >>> m = restoration_metrics(gt, gt + 0.1, data_range=1.0)
    >>> round(m.psnr, 6), round(m.mae, 6)
    (20.0, 0.1)
    """
    g, p = _pair(gt, pred)
    rng = _data_range(g, p, data_range)
    return RestorationMetrics(
        data_range=rng,
        mse=_mse(g, p),
        mae=float(np.mean(np.abs(g.astype(np.float64) - p.astype(np.float64)))),
        psnr=psnr(g, p, data_range=rng),
        ssim=ssim(g, p, data_range=rng, **ssim_kwargs),
        nrmse=nrmse(g, p),
    )
