"""Global and local intensity thresholds (2D and 3D) built on scikit-image's algorithms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from skimage import filters

from biakit.blocks import GLOBAL, declare_halo
from biakit.segment._common import check_image, check_number

GLOBAL_METHODS: tuple[str, ...] = ("otsu", "li", "triangle", "yen", "mean", "manual")
LOCAL_METHODS: tuple[str, ...] = ("niblack", "sauvola", "adaptive")

_SKIMAGE_GLOBAL = {
    "otsu": filters.threshold_otsu,
    "li": filters.threshold_li,
    "triangle": filters.threshold_triangle,
    "yen": filters.threshold_yen,
    "mean": filters.threshold_mean,
}


def _check_method(method: Any, valid: tuple[str, ...]) -> str:
    if not isinstance(method, str) or method.lower() not in valid:
        raise ValueError(f"method must be one of {', '.join(map(repr, valid))}; got {method!r}")
    return method.lower()


def threshold_value(image: Any, method: str = "otsu", *, value: float | None = None) -> float:
    """Global threshold of ``image`` computed with one of scikit-image's algorithms.

    Parameters
    ----------
    image : ndarray
        2D or 3D grayscale image (boolean images are treated as 0/1).
    method : {"otsu", "li", "triangle", "yen", "mean", "manual"}
        Algorithm: Otsu's between-class variance, Li's minimum cross entropy,
        the triangle method, Yen's maximum correlation, the mean intensity, or
        ``"manual"`` (returns ``value``).
    value : float, optional
        The threshold for ``method="manual"`` (required there, refused otherwise).

    Returns
    -------
    threshold : float
        Pixels strictly above it are foreground. A constant image returns its
        constant value (so nothing is foreground).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[0, 0, 10], [0, 10, 10]], dtype=float)
    >>> 0 <= threshold_value(image, "otsu") < 10
    True
    """
    method = _check_method(method, GLOBAL_METHODS)
    if method == "manual":
        if value is None:
            raise ValueError('method="manual" needs value=<threshold>; got value=None')
        return check_number(value, "value", minimum=-np.inf)
    if value is not None:
        raise ValueError(f'value is only used with method="manual"; got method={method!r}')
    arr = check_image(image)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    lo, hi = arr.min(), arr.max()
    if lo == hi:
        return float(lo)
    return float(_SKIMAGE_GLOBAL[method](arr))


def _threshold_halo(ndim: int, method: str = "otsu", **_: Any) -> tuple[int, ...] | str:
    return (0,) * ndim if method == "manual" else GLOBAL


@declare_halo(_threshold_halo)
def threshold(image: Any, method: str = "otsu", *, value: float | None = None) -> np.ndarray:
    """Foreground mask ``image > threshold_value(image, method)``.

    Parameters
    ----------
    image : ndarray
        2D or 3D grayscale image.
    method : {"otsu", "li", "triangle", "yen", "mean", "manual"}
        See :func:`threshold_value`.
    value : float, optional
        Threshold for ``method="manual"``.

    Returns
    -------
    mask : ndarray of bool
        Same shape as ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> threshold(np.array([[1.0, 5.0], [2.0, 9.0]]), "manual", value=4).astype(int)
    array([[0, 1],
           [0, 1]])
    """
    t = threshold_value(image, method, value=value)
    arr = check_image(image)
    return np.asarray(arr > t)


def _window(window_size: Any, ndim: int) -> tuple[int, ...]:
    sizes = (window_size,) * ndim if np.isscalar(window_size) else tuple(window_size)
    if len(sizes) != ndim or any(
        isinstance(w, bool) or not isinstance(w, int | np.integer) or w < 1 or w % 2 == 0
        for w in sizes
    ):
        raise ValueError(
            f"window_size must be an odd positive int or {ndim} odd positive ints, "
            f"got {window_size!r}"
        )
    return tuple(int(w) for w in sizes)


def _local_halo(
    ndim: int, method: str = "niblack", window_size: int | Sequence[int] = 15, **_: Any
) -> tuple[int, ...]:
    sizes = _window(window_size, ndim)
    if method == "adaptive":
        # skimage's Gaussian: sigma = (w - 1) / 6, truncated at 4 sigma (scipy's default)
        return tuple(max(w // 2, int(4.0 * (w - 1) / 6.0 + 0.5)) for w in sizes)
    return tuple(w // 2 for w in sizes)


@declare_halo(_local_halo)
def threshold_local(
    image: Any,
    method: str = "niblack",
    *,
    window_size: int | Sequence[int] = 15,
    k: float | None = None,
    offset: float = 0.0,
    r: float | None = None,
) -> np.ndarray:
    """Locally adaptive threshold mask ``image > T(x) - offset`` (2D and 3D).

    Parameters
    ----------
    image : ndarray
        2D or 3D grayscale image.
    method : {"niblack", "sauvola", "adaptive"}
        ``"niblack"``: ``T = m - k s``; ``"sauvola"``: ``T = m (1 + k (s / r - 1))``,
        with ``m`` and ``s`` the mean and standard deviation in the window
        (:func:`skimage.filters.threshold_niblack` / ``threshold_sauvola``);
        ``"adaptive"``: ``T`` is the Gaussian-weighted local mean with
        ``sigma = (window_size - 1) / 6`` (:func:`skimage.filters.threshold_local`).
    window_size : int or sequence of int
        Odd window size (per axis, or one for all axes), in pixels.
    k : float, optional
        Weight of the standard deviation (niblack, sauvola; default 0.2).
        Not used by ``"adaptive"``.
    offset : float
        Constant subtracted from the local threshold.
    r : float, optional
        Sauvola's dynamic range of the standard deviation (default: half the
        range of the image dtype, as in scikit-image).

    Returns
    -------
    mask : ndarray of bool
        Same shape as ``image``. The halo for block-wise use is
        ``window_size // 2`` (``ceil``-ed Gaussian support for ``"adaptive"``);
        run it with ``apply_blockwise(..., boundary="none")`` to match the
        whole-image result exactly at the outer border.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:32, :32]
    >>> image = xx / 32.0 + (((yy // 4) + (xx // 4)) % 2)  # checkerboard on a ramp
    >>> mask = threshold_local(image, "adaptive", window_size=9)
    >>> bool(mask[0, 4]), bool(mask[0, 0])
    (True, False)
    """
    method = _check_method(method, LOCAL_METHODS)
    arr = check_image(image)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    sizes = _window(window_size, arr.ndim)
    offset = check_number(offset, "offset", minimum=-np.inf)
    if method == "adaptive":
        if k is not None or r is not None:
            raise ValueError(f'k and r are not used by method="adaptive"; got k={k!r}, r={r!r}')
        t = filters.threshold_local(arr, sizes, method="gaussian", offset=0.0)
    elif method == "niblack":
        if r is not None:
            raise ValueError(f'r is only used by method="sauvola"; got r={r!r}')
        kk = 0.2 if k is None else check_number(k, "k", minimum=-np.inf)
        t = filters.threshold_niblack(arr, sizes, k=kk)
    else:
        kk = 0.2 if k is None else check_number(k, "k", minimum=-np.inf)
        rr = None if r is None else check_number(r, "r", minimum=0.0, inclusive=False)
        t = filters.threshold_sauvola(arr, sizes, k=kk, r=rr)
    return np.asarray(arr > t - offset)
