"""Background correction: rolling ball (exact and fast shrink mode) and top-hat filters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy import ndimage as ndi

from biakit.blocks import GLOBAL, declare_halo
from biakit.preprocess._morphology import closing, nonflat_erosion, opening
from biakit.preprocess._validate import as_image, ellipsoid_footprint, to_pixels
from biakit.validation import check_positive, check_spacing

_TARGET_RADIUS = {2: 12.0, 3: 5.0}  # ball radius (pixels) left after shrinking, per ndim


def _shrink_factors(radius_px: np.ndarray, shrink: Any) -> tuple[int, ...]:
    ndim = radius_px.size
    if shrink is None:
        target = _TARGET_RADIUS[ndim]
        return tuple(max(1, int(r // target)) for r in radius_px)
    factors = np.broadcast_to(np.atleast_1d(np.asarray(shrink)), (ndim,))
    if np.any(factors < 1) or np.any(factors != np.round(factors)):
        raise ValueError(f"shrink must be a positive integer (or one per axis), got {shrink!r}")
    return tuple(int(f) for f in factors)


def _ball_costs(radius: float, spacing: np.ndarray, step: Sequence[int]) -> tuple[Any, Any]:
    """Offsets (in units of ``step`` pixels) inside the ball and their height drop."""
    half = [int(np.floor(radius / (s * k) + 1e-9)) for s, k in zip(spacing, step)]
    grids = np.meshgrid(*[np.arange(-h, h + 1) for h in half], indexing="ij")
    offsets = np.stack([g.ravel() for g in grids], axis=1)
    dist2 = np.sum((offsets * np.asarray(step) * spacing) ** 2, axis=1)
    inside = dist2 <= radius**2 * (1 + 1e-9)
    drop = radius - np.sqrt(np.clip(radius**2 - dist2[inside], 0, None))
    return offsets[inside], drop


def _check_radius(radius: float) -> None:
    check_positive(radius, name="radius")


def _check(image: Any, radius: float, spacing: Any, method: str) -> tuple[Any, Any, Any]:
    img = as_image(image)
    if method not in ("fast", "exact"):
        raise ValueError(f"method must be 'fast' or 'exact', got {method!r}")
    _check_radius(radius)
    sp = np.ones(img.ndim) if spacing is None else np.asarray(check_spacing(spacing, img.ndim))
    return img, sp, to_pixels(radius, spacing, img.ndim, "radius")


def _rolling_ball_halo(
    ndim: int,
    radius: float = 50.0,
    method: str = "fast",
    shrink: Any = None,
    spacing: Any = None,
    **_: Any,
) -> tuple[int, ...] | str:
    r_px = to_pixels(radius, spacing, ndim, "radius")
    if method == "fast" and any(f > 1 for f in _shrink_factors(r_px, shrink)):
        return GLOBAL  # the shrink grid is anchored to the image origin
    return tuple(int(np.floor(r + 1e-9)) for r in r_px)


@declare_halo(_rolling_ball_halo)
def estimate_background(
    image: np.ndarray,
    radius: float = 50.0,
    *,
    light_background: bool = False,
    method: Literal["fast", "exact"] = "fast",
    shrink: int | Sequence[int] | None = None,
    spacing: float | Sequence[float] | None = None,
) -> np.ndarray:
    """Rolling-ball background (the ball's apex under the intensity landscape).

    ``method="exact"`` equals ``skimage.restoration.rolling_ball(image, radius=radius)``
    (a non-flat erosion by the ball; outside the image is ignored). Like
    skimage, this is the apex of the ball centred at each pixel, not ImageJ's
    opening (erosion then dilation): a sloped background leaves a small
    constant offset (about ``radius * slope**2 / 2``) instead of exactly 0.
    ``method="fast"`` (default) uses the trick of ImageJ's "Subtract
    Background": the image is shrunk by a minimum over ``shrink``-sized cells,
    the exact ball (same radius and height, sampled on the coarse grid) is
    rolled on the small image, and the result is upsampled linearly and capped
    by the image. Errors are a fraction of the intensity change across one
    cell, so it suits smooth backgrounds; cost drops by ``shrink**(2*ndim)``.

    Parameters
    ----------
    image : ndarray
        2D or 3D single-channel image.
    radius : float
        Ball radius in pixels (physical units when ``spacing`` is given); the
        ball's height is in intensity units, as in skimage and ImageJ.
    light_background : bool
        Roll the ball over the surface from above instead (bright background).
    method : {"fast", "exact"}
        See above; "fast" falls back to "exact" when no shrinking is needed.
    shrink : int or sequence of int, optional
        Shrink factor per axis; default keeps about 12 px (2D) or 5 px (3D)
        of ball radius after shrinking.
    spacing : float or sequence of float, optional
        Physical pixel size per axis (a scalar: the same on every axis).

    Returns
    -------
    background : ndarray of float32
        Halo: ``radius`` pixels per axis for the exact method; GLOBAL for the
        fast one (its grid is anchored to the image origin).

    Raises
    ------
    ValueError
        If ``radius`` is not positive, ``method`` is unknown or ``shrink`` is
        not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.add.outer(0.02 * np.arange(64.0), np.zeros(64)).astype(np.float32)
    >>> bool(np.allclose(estimate_background(ramp, 20), ramp, atol=0.01))  # gentle slope
    True
    """
    img, sp, r_px = _check(image, radius, spacing, method)
    if light_background:
        return -estimate_background(-img, radius, method=method, shrink=shrink, spacing=spacing)
    factors = _shrink_factors(r_px, shrink) if method == "fast" else (1,) * img.ndim
    if all(f == 1 for f in factors):
        from skimage.restoration import rolling_ball as sk_rolling_ball

        half = [int(np.floor(r + 1e-9)) for r in r_px]
        offsets, drop = _ball_costs(float(radius), sp, (1,) * img.ndim)
        kernel = np.full([2 * h + 1 for h in half], np.inf, dtype=np.float32)
        kernel[tuple((offsets + np.asarray(half)).T)] = float(radius) - drop
        return sk_rolling_ball(img, kernel=kernel).astype(np.float32, copy=False)
    pads = [(0, (-n) % f) for n, f in zip(img.shape, factors)]
    padded = np.pad(img, pads, constant_values=np.inf)
    cells = []
    for n, f in zip(padded.shape, factors):
        cells += [n // f, f]
    small = padded.reshape(cells).min(axis=tuple(range(1, 2 * img.ndim, 2)))
    offsets, drop = _ball_costs(float(radius), sp, factors)
    bg_small = nonflat_erosion(small, offsets, drop)
    bg = ndi.zoom(bg_small, factors, order=1, mode="nearest", grid_mode=True)
    bg = bg[tuple(slice(0, n) for n in img.shape)]
    return np.minimum(bg, img)


@declare_halo(_rolling_ball_halo)
def rolling_ball(
    image: np.ndarray,
    radius: float = 50.0,
    *,
    light_background: bool = False,
    method: Literal["fast", "exact"] = "fast",
    shrink: int | Sequence[int] | None = None,
    spacing: float | Sequence[float] | None = None,
) -> np.ndarray:
    """Subtract a rolling-ball background; see :func:`estimate_background` for parameters.

    Returns
    -------
    corrected : ndarray of float32
        ``image - background`` (>= 0). With ``light_background=True``
        ``background - image`` (>= 0): dark objects on a bright background
        become bright objects on zero.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.add.outer(0.02 * np.arange(64.0), np.zeros(64)).astype(np.float32)
    >>> img[30:33, 30:33] += 10  # small spot on a ramp
    >>> out = rolling_ball(img, 10)
    >>> round(float(out[31, 31]), 1), round(float(out[5, 5]), 1)  # ball curvature: 9.8
    (9.8, 0.0)
    """
    img = as_image(image)
    bg = estimate_background(
        img,
        radius,
        light_background=light_background,
        method=method,
        shrink=shrink,
        spacing=spacing,
    )
    return bg - img if light_background else img - bg


def _tophat_footprint(ndim: int, radius: float, footprint: str, spacing: Any) -> np.ndarray:
    if footprint not in ("ball", "disk"):
        raise ValueError(f"footprint must be 'ball' or 'disk', got {footprint!r}")
    _check_radius(radius)
    return ellipsoid_footprint(radius, ndim, check_spacing(spacing, ndim), shape=footprint)


def _tophat_halo(
    ndim: int, radius: float = 5.0, footprint: str = "ball", spacing: Any = None, **_: Any
) -> tuple[int, ...]:
    return tuple(n - 1 for n in _tophat_footprint(ndim, radius, footprint, spacing).shape)


@declare_halo(_tophat_halo)
def tophat(
    image: np.ndarray,
    radius: float = 5.0,
    *,
    kind: Literal["white", "black"] = "white",
    footprint: Literal["ball", "disk"] = "ball",
    spacing: float | Sequence[float] | None = None,
) -> np.ndarray:
    """White (bright spots) or black (dark spots) top-hat with a ball or disk footprint.

    Equals ``skimage.morphology.white_tophat`` / ``black_tophat`` with
    ``disk(radius)`` / ``ball(radius)`` exactly, but the footprint is
    decomposed into rows along the last axis, each an O(N) 1D min/max filter,
    so the cost grows with the number of rows, not footprint pixels.

    Parameters
    ----------
    image : ndarray
        2D or 3D single-channel image.
    radius : float
        Footprint radius (physical units when ``spacing`` is given): structures
        narrower than the footprint are kept, larger ones removed.
    kind : {"white", "black"}
        ``image - opening`` (bright features) or ``closing - image`` (dark).
    footprint : {"ball", "disk"}
        ``"disk"`` acts plane by plane in 3D.
    spacing : float or sequence of float, optional
        Physical pixel size per axis (anisotropic ellipsoid footprint); a scalar is the same on
        every axis.

    Returns
    -------
    out : ndarray of float32
        Top-hat (>= 0). Halo: twice the footprint half-size per axis.

    Raises
    ------
    ValueError
        If ``kind`` or ``footprint`` is unknown or ``radius`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((32, 32), np.float32)
    >>> img[4:28, 4:28] = 5  # large plateau: removed
    >>> img[15, 15] = 9  # small spot on it: kept (9 - 5)
    >>> out = tophat(img, 3)
    >>> float(out[15, 15]), float(out[10, 10])
    (4.0, 0.0)
    """
    if kind not in ("white", "black"):
        raise ValueError(f"kind must be 'white' or 'black', got {kind!r}")
    img = as_image(image)
    fp = _tophat_footprint(img.ndim, radius, footprint, spacing)
    if kind == "white":
        return img - opening(img, fp)
    return closing(img, fp) - img
