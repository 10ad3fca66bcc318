"""Intensity and contrast: percentile normalisation, CLAHE, gamma, linear rescaling."""

from __future__ import annotations

from typing import Any

import numpy as np

from biakit.blocks import GLOBAL, declare_halo
from biakit.preprocess._validate import as_image


def _normalize_halo(
    ndim: int, low_value: float | None = None, high_value: float | None = None, **_: Any
) -> tuple[int, ...] | str:
    return GLOBAL if low_value is None or high_value is None else (0,) * ndim


@declare_halo(_normalize_halo)
def normalize_percentile(
    image: np.ndarray,
    low: float = 1.0,
    high: float = 99.8,
    *,
    clip: bool = False,
    eps: float = 1e-20,
    low_value: float | None = None,
    high_value: float | None = None,
) -> np.ndarray:
    """Percentile normalisation with CSBDeep/StarDist semantics.

    ``out = (image - p_low) / (p_high - p_low + eps)`` where ``p_low`` and
    ``p_high`` are the ``low``-th and ``high``-th percentiles of the image
    (``numpy.percentile``, linear interpolation), so ``p_low`` maps to 0 and
    ``p_high`` to (almost) 1.

    Parameters
    ----------
    image : ndarray
        2D or 3D single-channel image.
    low, high : float
        Percentiles in [0, 100], ``low < high``.
    clip : bool
        Clip the output to [0, 1].
    eps : float
        Added to the denominator (avoids division by zero on flat images).
    low_value, high_value : float, optional
        Precomputed intensities to use instead of the percentiles (e.g.
        computed once on a large image); with both given the halo is 0,
        otherwise GLOBAL.

    Returns
    -------
    out : ndarray of float32

    Raises
    ------
    ValueError
        If the percentiles are outside [0, 100] or ``low >= high``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.arange(101, dtype=np.float32).reshape(1, 101)
    >>> out = normalize_percentile(img, 10, 90)
    >>> float(out[0, 10]), round(float(out[0, 90]), 6)
    (0.0, 1.0)
    """
    img = as_image(image)
    if not (0 <= low < high <= 100):
        raise ValueError(
            f"percentiles must satisfy 0 <= low < high <= 100, got low={low}, high={high}"
        )
    lo = float(np.percentile(img, low)) if low_value is None else float(low_value)
    hi = float(np.percentile(img, high)) if high_value is None else float(high_value)
    out = ((img - np.float32(lo)) / np.float32(hi - lo + eps)).astype(np.float32, copy=False)
    return np.clip(out, 0, 1, out=out) if clip else out


@declare_halo(GLOBAL)
def clahe(
    image: np.ndarray,
    *,
    kernel_size: int | tuple[int, ...] | None = None,
    clip_limit: float = 0.01,
    nbins: int = 256,
) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation (2D and 3D).

    Wraps ``skimage.exposure.equalize_adapthist``, which first rescales the
    image to [0, 1] with its global minimum and maximum and interpolates
    between tile histograms; the halo is therefore GLOBAL (a block-wise run
    would need the global range and tile grid).

    Parameters
    ----------
    image : ndarray
        2D or 3D single-channel image.
    kernel_size : int or tuple of int, optional
        Tile size per axis; default 1/8 of the image size.
    clip_limit : float
        Histogram clip limit in [0, 1] (higher: more contrast).
    nbins : int
        Histogram bins.

    Returns
    -------
    out : ndarray of float32
        Values in [0, 1].

    Raises
    ------
    ValueError
        If ``clip_limit`` is outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(0).random((64, 64)).astype(np.float32) * 0.2
    >>> out = clahe(img)
    >>> bool(out.max() - out.min() > 0.5)
    True
    """
    from skimage.exposure import equalize_adapthist

    img = as_image(image)
    if not 0 <= clip_limit <= 1:
        raise ValueError(f"clip_limit must be in [0, 1], got {clip_limit!r}")
    if float(img.max()) == float(img.min()):
        return np.zeros_like(img)
    out = equalize_adapthist(img, kernel_size=kernel_size, clip_limit=clip_limit, nbins=nbins)
    return out.astype(np.float32, copy=False)


@declare_halo(0)
def gamma(image: np.ndarray, gamma: float = 1.0, *, gain: float = 1.0) -> np.ndarray:
    """Gamma correction ``gain * image ** gamma`` (like ``skimage.exposure.adjust_gamma``).

    Parameters
    ----------
    image : ndarray
        Non-negative 2D or 3D image (e.g. already normalised to [0, 1]).
    gamma : float
        Positive exponent; < 1 brightens dark regions, > 1 darkens them.
    gain : float
        Multiplier.

    Returns
    -------
    out : ndarray of float32

    Raises
    ------
    ValueError
        If ``gamma`` is not positive or the image has negative values.

    Examples
    --------
    >>> import numpy as np
    >>> gamma(np.array([[0.25, 1.0]]), 0.5)
    array([[0.5, 1. ]], dtype=float32)
    """
    img = as_image(image)
    if not gamma > 0:
        raise ValueError(f"gamma must be positive, got {gamma!r}")
    if img.size and float(img.min()) < 0:
        raise ValueError("gamma needs a non-negative image; normalise it first")
    return (np.float32(gain) * np.power(img, np.float32(gamma))).astype(np.float32, copy=False)


def _pair(value: Any, name: str) -> tuple[float, float]:
    arr = np.asarray(value, dtype=float)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)) or arr[0] == arr[1]:
        raise ValueError(
            f"{name} must be a pair (min, max) of distinct finite numbers, got {value!r}"
        )
    return float(arr[0]), float(arr[1])


def _rescale_halo(ndim: int, in_range: Any = "image", **_: Any) -> tuple[int, ...] | str:
    return GLOBAL if isinstance(in_range, str) else (0,) * ndim


@declare_halo(_rescale_halo)
def rescale_intensity(
    image: np.ndarray,
    in_range: tuple[float, float] | str = "image",
    out_range: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """Map ``in_range`` linearly onto ``out_range``, clipping outside values.

    Same result as ``skimage.exposure.rescale_intensity`` on float images.

    Parameters
    ----------
    image : ndarray
        2D or 3D single-channel image.
    in_range : (float, float) or "image"
        Input intensities mapped to ``out_range``; ``"image"`` uses the image's
        minimum and maximum (GLOBAL halo; with a pair the halo is 0).
    out_range : (float, float)
        Output intensities.

    Returns
    -------
    out : ndarray of float32

    Raises
    ------
    ValueError
        If a range is not a pair of distinct numbers, or ``in_range`` is an
        unknown string.

    Examples
    --------
    >>> import numpy as np
    >>> rescale_intensity(np.array([[0, 50, 100, 200]]), (0, 100), (0, 1))
    array([[0. , 0.5, 1. , 1. ]], dtype=float32)
    """
    img = as_image(image)
    if isinstance(in_range, str):
        if in_range != "image":
            raise ValueError(f"in_range must be 'image' or a pair (min, max), got {in_range!r}")
        lo, hi = float(img.min()), float(img.max())
        if lo == hi:
            return np.full_like(img, out_range[0])
    else:
        lo, hi = _pair(in_range, "in_range")
    olo, ohi = _pair(out_range, "out_range")
    out = (img.astype(np.float64) - lo) / (hi - lo)
    out = np.clip(out, 0, 1) * (ohi - olo) + olo
    return out.astype(np.float32)
