"""Spectral measures of restoration artefacts: checkerboard (Nyquist) energy."""

from __future__ import annotations

from typing import Any

import numpy as np

from biakit.errors import DataError
from biakit.validation import check_finite, check_ndim

__all__ = ["nyquist_energy"]


def _nyquist_mask(n: int) -> np.ndarray:
    """1D mask of the highest-frequency FFT bins of an axis of length ``n``."""
    mask = np.zeros(n, dtype=bool)
    if n >= 2:
        mask[n // 2] = True  # k = n / 2 (even n) or k = +-(n - 1) / 2 (odd n) ...
        if n % 2:
            mask[n // 2 + 1] = True  # ... both of which are stored for odd n
    return mask


def nyquist_energy(image: Any) -> float:
    """Fraction of an image's AC spectral power at the Nyquist frequency of some axis.

    With ``P(k) = |FFT(x - mean(x))(k)|^2`` the power spectrum of the image minus its
    mean and ``N`` the frequencies ``k`` at which at least one axis (of length >= 2)
    is at its Nyquist frequency, ``k_i = n_i / 2`` (for an odd length, the two highest
    frequencies ``k_i = +-(n_i - 1) / 2``):

    ``nyquist_energy(x) = sum_{k in N} P(k) / sum_k P(k)``

    (0 for a constant image). By Parseval, the denominator is ``size * sum((x -
    mean)^2)``. A pure checkerboard ``(-1)^(y + x)``, or stripes alternating along one
    axis, give 1; a smooth image gives about 0; white noise gives
    ``1 - prod(1 - 1 / n_i)``, about ``ndim / n`` (the share of bins in ``N``). The
    pixel-period artefacts of blind-spot denoisers (checkerboards, Hoeck et al. 2022)
    land in ``N``.

    Parameters
    ----------
    image : array_like
        2D ``(Y, X)`` or 3D ``(Z, Y, X)`` real, finite image.

    Returns
    -------
    float
        In ``[0, 1]``.

    Raises
    ------
    DataError
        An image that is not 2D or 3D, not real-valued, or not finite.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:32, :32]
    >>> nyquist_energy(5.0 + (-1.0) ** (yy + xx))
    1.0
    >>> round(nyquist_energy(np.sin(2 * np.pi * xx / 32)), 6)
    0.0

    """
    check_ndim(image, (2, 3))
    arr = np.asarray(image)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"image must be real-valued, got dtype {arr.dtype}")
    check_finite(arr)
    x = arr.astype(np.float64)
    power = np.abs(np.fft.fftn(x - x.mean())) ** 2
    total = float(power.sum())
    if total <= 1e-20 * float(np.abs(x).max()) ** 2 * x.size**2:  # constant image
        return 0.0
    on = np.zeros(x.shape, dtype=bool)
    for axis, n in enumerate(x.shape):
        shape = [1] * x.ndim
        shape[axis] = n
        on |= _nyquist_mask(n).reshape(shape)
    return float(min(max(power[on].sum() / total, 0.0), 1.0))
