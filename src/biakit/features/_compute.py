"""compute_features: the filter bank evaluated into one preallocated, features-last array."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from biakit.features import _local
from biakit.features._deriv import EIG, GAUSS, GRAD, LAP, SOBEL
from biakit.features._eig import _eig_rows
from biakit.features._gauss import gaussian_nd, reflect_index
from biakit.features._spec import FeatureSpec, FilterSpec

_FUSED = {"gaussian": GAUSS, "sobel": SOBEL, "gradient_magnitude": GRAD, "laplacian": LAP,
          "hessian": EIG}  # fmt: skip
_DERIV = ("gradient_magnitude", "laplacian", "hessian")
STACK_FRACTION = 0.25
"""Smoothed images kept at once are limited to this fraction of the output's size."""


def radius(sigma_px: float, truncate: float) -> int:
    """Return scipy's Gaussian kernel radius in pixels."""
    return int(truncate * sigma_px + 0.5)


def check_spacing(spacing: Sequence[float] | None, ndim: int) -> tuple[float, ...]:
    """Validate ``spacing`` (one positive value per spatial axis); None means 1.0."""
    if spacing is None:
        return (1.0,) * ndim
    sp = tuple(float(s) for s in np.atleast_1d(spacing))
    if len(sp) != ndim:
        raise ValueError(
            f"spacing {sp} has {len(sp)} entries but the image has {ndim} spatial axes"
        )
    if any(not s > 0 for s in sp):
        raise ValueError(f"spacing must be positive, got {sp}")
    return sp


def _filter_halo(f: FilterSpec, spec: FeatureSpec, sp: tuple[float, ...]) -> np.ndarray:
    t = spec.truncate
    h = np.zeros(len(sp), dtype=int)
    for s in f.sigmas or (0.0,):
        px = np.array([s / v for v in sp])
        if f.name in ("gaussian", "sobel", *_DERIV):
            e = [radius(p, t) + 2 for p in px]
        elif f.name == "dog":
            big = max(max(pair) for pair in f.dog_pairs())
            e = [radius(big / v, t) for v in sp]
        elif f.name == "structure_tensor":
            outer = px * float(f.params["outer_ratio"])
            e = [radius(p, t) + 1 + radius(q, t) for p, q in zip(px, outer)]
        elif f.name == "gabor":
            e = [radius(p, min(t, 3.0)) for p in px]
        elif f.name == "membrane":
            e = [int(f.params["patch_size"]) // 2] * len(sp)
        elif f.name == "intensity":
            e = [0] * len(sp)
        else:  # local windows and neighbours
            e = list(_local.half_width(s, sp))
        h = np.maximum(h, e)
    return h


def feature_halo(
    spec: FeatureSpec, ndim: int, spacing: Sequence[float] | None = None
) -> tuple[int, ...]:
    """Context (pixels per spatial axis) one output pixel needs, so blocks equal the whole image.

    Parameters
    ----------
    spec : FeatureSpec
        The filter bank.
    ndim : int
        Number of spatial axes (2 or 3).
    spacing : sequence of float, optional
        Physical pixel spacing per spatial axis.

    Returns
    -------
    halo : tuple of int
        Largest kernel reach over all filters and scales: Gaussian radius
        ``int(truncate * sigma_px + 0.5)`` plus 2 for finite-difference stencils,
        inner + outer radius + 1 for the structure tensor, the window
        half-width for local statistics and neighbours, half the patch for
        membrane projections.

    Examples
    --------
    >>> from biakit.features import preset
    >>> feature_halo(preset("fast", ndim=3), 3, spacing=(3.0, 1.0, 1.0))
    (7, 18, 18)

    """
    sp = check_spacing(spacing, ndim)
    h = np.zeros(ndim, dtype=int)
    for f in spec.filters:
        h = np.maximum(h, _filter_halo(f, spec, sp))
    return tuple(int(v) for v in h)


def _columns(spec: FeatureSpec, ndim: int) -> list[int]:
    cols, c = [], 0
    for f in spec.filters:
        cols.append(c)
        c += len(f.names(ndim))
    return cols


def _smooth(img: np.ndarray, px: Sequence[float], orders: Sequence[int], t: float) -> np.ndarray:
    out = np.empty_like(img)
    scratch = [np.empty_like(img) for _ in range(2 if img.ndim > 2 else 1)]
    return gaussian_nd(img, tuple(px), tuple(orders), t, out, scratch)


def _unit(ndim: int, *axes: int) -> tuple[int, ...]:
    o = [0] * ndim
    for a in axes:
        o[a] += 1
    return tuple(o)


def _eigen(elems: list[np.ndarray]) -> np.ndarray:
    stack = np.stack([e.reshape(-1) for e in elems])
    d = 2 if len(elems) == 3 else 3
    res = np.empty((stack.shape[1], d), dtype=np.float32)
    _eig_rows(stack, res)
    return res.reshape((*elems[0].shape, d))


def _gradient(img: np.ndarray, s: float, spec: FeatureSpec, sp: tuple[float, ...]) -> list:
    nd, t = img.ndim, spec.truncate
    px = [s / v for v in sp]
    if spec.derivatives == "gaussian":
        return [_smooth(img, px, _unit(nd, a), t) / np.float32(sp[a]) for a in range(nd)]
    g = _smooth(img, px, (0,) * nd, t)
    grads = []
    for a in range(nd):
        idx = reflect_index(img.shape[a], 1)
        d = np.take(g, idx[2:], axis=a) - np.take(g, idx[:-2], axis=a)
        grads.append(d * np.float32(0.5 / sp[a]))
    return grads


def _gaussian_derivs(img, f, spec, sp) -> Iterator[np.ndarray]:
    """Yield gradient magnitude / Laplacian / Hessian eigenvalues from Gaussian derivatives."""
    nd, t = img.ndim, spec.truncate
    pairs = [(a, b) for a in range(nd) for b in range(a, nd)]
    for s in f.sigmas:
        px = [s / v for v in sp]
        if f.name == "gradient_magnitude":
            gr = _gradient(img, s, spec, sp)
            yield np.sqrt(sum(g * g for g in gr))
            continue
        if f.name == "laplacian":
            lap = [_smooth(img, px, _unit(nd, a, a), t) / np.float32(sp[a] ** 2) for a in range(nd)]
            yield sum(lap)
            continue
        h = [_smooth(img, px, _unit(nd, a, b), t) / np.float32(sp[a] * sp[b]) for a, b in pairs]
        ev = _eigen(h)
        for k in range(nd):
            yield ev[..., k]


def _structure_tensor(img, f, spec, sp) -> Iterator[np.ndarray]:
    """Eigenvalues of the smoothed outer product of the gradient.

    The image is reflect-padded by the whole reach first: products of
    gradients are not mirror-symmetric at the border (a derivative changes
    sign under reflection), so padding the products would differ from
    filtering a reflect-padded block.
    """
    nd, t = img.ndim, spec.truncate
    for s in f.sigmas:
        outer = [s * float(f.params["outer_ratio"]) / v for v in sp]
        pad = [radius(s / v, t) + 1 + radius(o, t) for v, o in zip(sp, outer)]
        big = np.ascontiguousarray(np.pad(img, [(p, p) for p in pad], mode="symmetric"))
        gr = _gradient(big, s, spec, sp)
        crop = tuple(slice(p, p + n) for p, n in zip(pad, img.shape))
        elems = [
            _smooth(np.ascontiguousarray(gr[a] * gr[b]), outer, (0,) * nd, t)[crop]
            for a in range(nd)
            for b in range(a, nd)
        ]
        ev = _eigen(elems)
        for k in range(nd):
            yield ev[..., k]


def _other(img: np.ndarray, f: FilterSpec, spec: FeatureSpec, sp) -> Iterator[np.ndarray]:
    """Features of the filters not handled by the fused kernel, one array at a time."""
    nd, t = img.ndim, spec.truncate
    if f.name == "intensity":
        yield img
    elif f.name in _DERIV:
        yield from _gaussian_derivs(img, f, spec, sp)
    elif f.name == "dog":
        for a, b in f.dog_pairs():
            ga = _smooth(img, [a / v for v in sp], (0,) * nd, t)
            ga -= _smooth(img, [b / v for v in sp], (0,) * nd, t)
            yield ga
    elif f.name == "structure_tensor":
        yield from _structure_tensor(img, f, spec, sp)
    elif f.name in ("mean", "variance", "min", "max", "median"):
        for s in f.sigmas:
            yield _local.local_stat(img, f.name, _local.half_width(s, sp))
    elif f.name == "entropy":
        for s in f.sigmas:
            yield _local.entropy(img, _local.half_width(s, sp), int(f.params["bins"]))
    elif f.name == "neighbours":
        for s in f.sigmas:
            yield from _local.neighbours(img, _local.half_width(s, sp))
    elif f.name == "gabor":
        yield from _local.gabor(img, f, sp, t)
    elif f.name == "membrane":
        p = f.params
        m = _local.membrane(img, int(p["patch_size"]), int(p["thickness"]), int(p["n_angles"]))
        for k in range(m.shape[-1]):
            yield m[..., k]
