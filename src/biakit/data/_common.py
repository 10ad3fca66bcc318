"""Shared helpers of the synthetic generators: argument checks, random streams, noise."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biakit.validation import check_spacing

SeedLike = int | np.random.Generator | None

_AXES = {2: "YX", 3: "ZYX"}


def as_shape(shape: Sequence[int], name: str = "shape", ndims: tuple[int, ...] = (2, 3)) -> tuple:
    """Validate a spatial shape: 2 (``YX``) or 3 (``ZYX``) positive integers."""
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of integers, got {shape!r}") from None
    if len(out) not in ndims:
        want = " or ".join(f"{n} ({_AXES.get(n, '?')})" for n in ndims)
        raise ValueError(f"{name} must have {want} entries, got {out} with {len(out)}")
    if any(s < 1 for s in out) or any(int(s) != s for s in shape):
        raise ValueError(f"{name} must contain positive integers, got {tuple(shape)}")
    return out


def axes_for(ndim: int) -> str:
    """Axes string of a 2D or 3D spatial image."""
    return _AXES[ndim]


def as_spacing(spacing: float | Sequence[float] | None, ndim: int) -> tuple[float, ...]:
    """Apply :func:`biakit.validation.check_spacing`, with ``None`` meaning 1.0 everywhere."""
    return check_spacing(spacing, ndim) or (1.0,) * ndim


def as_per_axis(value: float | Sequence[float], ndim: int, name: str) -> tuple[float, ...]:
    """Return a non-negative scalar or one value per axis as a tuple of ``ndim`` floats."""
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim != 1 or arr.size not in (1, ndim):
        raise ValueError(f"{name} must be a number or {ndim} numbers, got {value!r}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got {value!r}")
    return tuple(float(v) for v in np.broadcast_to(arr, (ndim,)))


def as_range(
    value: float | Sequence[float], name: str, *, low: float = 0.0, inclusive: bool = False
) -> tuple[float, float]:
    """Return a ``(lo, hi)`` range (a scalar means ``lo == hi``) with ``low < lo <= hi``.

    With ``inclusive``, ``lo == low`` is allowed too.
    """
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim != 1 or arr.size not in (1, 2):
        raise ValueError(f"{name} must be a number or a (low, high) pair, got {value!r}")
    lo, hi = float(arr[0]), float(arr[-1])
    ok_low = lo >= low if inclusive else lo > low
    if not (np.isfinite(lo) and np.isfinite(hi)) or not ok_low or not lo <= hi:
        relation = "<=" if inclusive else "<"
        raise ValueError(f"{name} must satisfy {low:g} {relation} low <= high, got {value!r}")
    return lo, hi


def check_number(value: float, name: str, *, low: float = 0.0, strict: bool = False) -> float:
    """Return a finite number ``>= low`` (``> low`` when ``strict``)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    ok = out > low if strict else out >= low
    if not np.isfinite(out) or not ok:
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {relation} {low}, got {value!r}")
    return out


def check_count(value: int, name: str, *, low: int = 0) -> int:
    """Return an integer ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def streams(seed: SeedLike, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``seed``.

    Independent streams keep, for example, the object layout unchanged when
    only the noise parameters change.
    """
    if isinstance(seed, np.random.Generator):
        seq = np.random.SeedSequence(int(seed.integers(2**63)))
    elif seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        seq = np.random.SeedSequence(seed)
    else:
        raise TypeError(f"seed must be an int, a numpy Generator or None, got {seed!r}")
    return [np.random.default_rng(s) for s in seq.spawn(n)]


def add_noise(
    clean: np.ndarray,
    rng: np.random.Generator,
    poisson_photons: float | None,
    gaussian_noise: float,
) -> np.ndarray:
    """Shot noise then read noise: ``Poisson(clean * p) / p + N(0, gaussian_noise**2)``.

    ``poisson_photons=None`` skips the Poisson step; ``gaussian_noise=0`` the
    Gaussian one.  Returns float32.
    """
    out = clean.astype(np.float64)
    if poisson_photons is not None:
        out = rng.poisson(np.clip(out, 0, None) * poisson_photons) / poisson_photons
    if gaussian_noise > 0:
        out = out + rng.normal(0.0, gaussian_noise, size=out.shape)
    return out.astype(np.float32)


def check_noise(poisson_photons: float | None, gaussian_noise: float) -> tuple[float | None, float]:
    """Validate the two noise parameters shared by the generators."""
    if poisson_photons is not None:
        poisson_photons = check_number(poisson_photons, "poisson_photons", strict=True)
    return poisson_photons, check_number(gaussian_noise, "gaussian_noise")
