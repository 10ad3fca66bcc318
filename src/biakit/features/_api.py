"""Public entry points: compute_features, compute_features_at, compute_features_blockwise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from biakit.blocks import declare_halo
from biakit.features._compute import (
    _FUSED,
    STACK_FRACTION,
    _columns,
    _other,
    check_spacing,
    feature_halo,
)
from biakit.features._deriv import fused_features
from biakit.features._gauss import gaussian_nd
from biakit.features._spec import FeatureSpec

CROP_BYTES = 128 * 2**20  # feature stack of one cell of compute_features_at, at most


def _prepare(image: Any, channel_axis: int | None) -> np.ndarray:
    """Return ``(C, *spatial)`` with a validated spatial dimensionality."""
    arr = np.asarray(image)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"image must be numeric, got dtype {arr.dtype}")
    if channel_axis is None:
        arr = arr[np.newaxis]
    else:
        if not -arr.ndim <= channel_axis < arr.ndim:
            raise ValueError(
                f"channel_axis {channel_axis} is out of range for a {arr.ndim}-D image"
            )
        arr = np.moveaxis(arr, channel_axis, 0)
    if arr.ndim - 1 not in (2, 3):
        raise ValueError(
            f"image must have 2 or 3 spatial axes (plus channel_axis), got shape {np.shape(image)}"
        )
    return arr


def _fused_plan(spec: FeatureSpec, ndim: int) -> dict[float, np.ndarray]:
    plan: dict[float, np.ndarray] = {}
    for f, c0 in zip(spec.filters, _columns(spec, ndim)):
        if f.name not in _FUSED or (f.name not in ("gaussian", "sobel") and
                                    spec.derivatives == "gaussian"):  # fmt: skip
            continue
        step = ndim if f.name == "hessian" else 1
        for i, s in enumerate(f.sigmas):
            cols = plan.setdefault(s, np.full(5, -1, dtype=np.int64))
            cols[_FUSED[f.name]] = c0 + i * step
    return plan


def _compute_channel(
    img: np.ndarray, spec: FeatureSpec, sp: tuple, out: np.ndarray, offset: int
) -> None:
    """All features of one float32 channel into ``out[..., offset:offset + F1]``."""
    nd = img.ndim
    plan = {s: np.where(c >= 0, c + offset, -1) for s, c in _fused_plan(spec, nd).items()}
    if plan:
        padded = (*img.shape[:-1], img.shape[-1] + 4)
        vol = int(np.prod(padded)) * 4
        share = out.size * 4 * spec.n_features(1, ndim=nd) / out.shape[-1]
        k = max(1, min(len(plan), int(STACK_FRACTION * share / vol)))
        stack = np.empty((k, *padded), dtype=np.float32)
        scratch = [np.empty_like(img) for _ in range(nd - 1)]
        sigmas = sorted(plan)
        inv = np.array([1.0 / v for v in sp])
        for g0 in range(0, len(sigmas), k):
            group = sigmas[g0 : g0 + k]
            for i, s in enumerate(group):
                gaussian_nd(img, tuple(s / v for v in sp), (0,) * nd, spec.truncate,
                            stack[i], scratch, pad=2)  # fmt: skip
            cols = np.stack([plan[s] for s in group])
            fused_features(stack[: len(group)], out, cols, inv, spec.derivatives == "gradient")
        del stack, scratch
    for f, c0 in zip(spec.filters, _columns(spec, nd)):
        if f.name in ("gaussian", "sobel") or (f.name in _FUSED and spec.derivatives != "gaussian"):
            continue
        for c, arr in enumerate(_other(img, f, spec, sp), start=c0 + offset):
            out[..., c] = arr


def _check_out(out: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype=np.float32)
    if not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != shape:
        got = (getattr(out, "shape", None), getattr(out, "dtype", type(out).__name__))
        raise ValueError(f"out must be a float32 array of shape {shape}, got {got}")
    return out


@declare_halo(lambda ndim, spec, spacing=None, **_: feature_halo(spec, ndim, spacing))
def compute_features(
    image: Any,
    spec: FeatureSpec,
    *,
    spacing: Sequence[float] | None = None,
    channel_axis: int | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Evaluate a filter bank on a 2-D or 3-D image, features last.

    Parameters
    ----------
    image : array_like
        ``(Y, X)`` or ``(Z, Y, X)``, optionally with a channel axis.
    spec : FeatureSpec
        Filters and scales (see :func:`preset`).
    spacing : sequence of float, optional
        Physical pixel spacing per spatial axis; sigmas are then physical
        (``sigma_px = sigma / spacing`` per axis) and derivatives are per unit length.
    channel_axis : int, optional
        Axis of ``image`` holding channels; features of channel ``c`` are the
        ``c``-th block of ``spec.n_features()`` columns (names ``c{c}_...``).
    out : ndarray, optional
        Preallocated float32 array of shape ``(*spatial, n_features)`` to fill.

    Returns
    -------
    features : ndarray of float32
        ``(*spatial, n_features)``, C-contiguous unless ``out`` is not.

    Raises
    ------
    ValueError
        On a spatial dimensionality the spec or a filter does not support, a
        bad ``spacing``, ``channel_axis`` or ``out``.

    Examples
    --------
    >>> import numpy as np
    >>> from biakit.features import preset
    >>> img = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    >>> spec = preset("fast", ndim=2)
    >>> compute_features(img, spec).shape == (32, 32, spec.n_features())
    True

    """
    chans = _prepare(image, channel_axis)
    nd = chans.ndim - 1
    if spec.ndim is not None and spec.ndim != nd:
        raise ValueError(f"spec is for {spec.ndim}-D images but the image has {nd} spatial axes")
    spec.check_ndim(nd)
    sp = check_spacing(spacing, nd)
    n1 = spec.n_features(1, ndim=nd)
    out = _check_out(out, (*chans.shape[1:], n1 * chans.shape[0]))
    for c in range(chans.shape[0]):
        img = np.ascontiguousarray(chans[c], dtype=np.float32)
        _compute_channel(img, spec, sp, out, c * n1)
    return out


def _groups(coords: np.ndarray, cell: int) -> dict[tuple[int, ...], np.ndarray]:
    keys = coords // cell
    order = np.lexsort(keys.T[::-1])
    keys_sorted = keys[order]
    breaks = np.flatnonzero(np.any(np.diff(keys_sorted, axis=0) != 0, axis=1)) + 1
    return {
        tuple(keys_sorted[idx[0]]): order[idx] for idx in np.split(np.arange(len(order)), breaks)
    }


def compute_features_at(
    image: Any,
    spec: FeatureSpec,
    coords: Any,
    *,
    spacing: Sequence[float] | None = None,
    channel_axis: int | None = None,
) -> np.ndarray:
    """Features at given pixels only, computed on crops around them (for sparse scribbles).

    Coordinates are grouped on a grid of cells (``max(32, 2 * halo, longest axis / 8)``
    pixels, smaller where a cell's features would exceed 128 MiB); each group's
    bounding box plus :func:`feature_halo` is cropped and filtered, so the values
    equal :func:`compute_features` on the whole image at those pixels.  When the
    crops would cover more than the image, the whole image is computed once instead.

    Parameters
    ----------
    image : array_like
        As for :func:`compute_features`.
    spec : FeatureSpec
        Filter bank.
    coords : array_like of int
        ``(n, ndim)`` spatial pixel coordinates.
    spacing, channel_axis
        As for :func:`compute_features`.

    Returns
    -------
    features : ndarray of float32
        ``(n, n_features)``, row ``i`` for ``coords[i]``.

    Examples
    --------
    >>> import numpy as np
    >>> from biakit.features import preset
    >>> img = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    >>> spec = preset("fast", ndim=2)
    >>> X = compute_features_at(img, spec, [[5, 5], [60, 10]])
    >>> bool(np.allclose(X[1], compute_features(img, spec)[60, 10]))
    True

    """
    chans = _prepare(image, channel_axis)
    shape = chans.shape[1:]
    nd = len(shape)
    pts = np.asarray(coords)
    if pts.ndim != 2 or pts.shape[1] != nd or pts.dtype.kind not in "iu":
        raise ValueError(f"coords must be an integer array of shape (n, {nd}), got {pts.shape}")
    if len(pts) and (pts.min() < 0 or np.any(pts.max(axis=0) >= shape)):
        raise ValueError(f"coords must lie inside the image of spatial shape {shape}")
    n_feat = spec.n_features(chans.shape[0], ndim=nd)
    result = np.empty((len(pts), n_feat), dtype=np.float32)
    if not len(pts):
        return result
    halo = np.array(feature_halo(spec, nd, spacing))
    boxes = []
    # Cells of up to an eighth of the longest axis (at most ~8**ndim crops: each crop costs
    # a few filter launches however small it is), as long as a cell's stack stays < 128 MiB.
    cap = int((CROP_BYTES / (4 * n_feat)) ** (1 / nd))
    cell = max(32, 2 * int(halo.max()), min(-(-max(shape) // 8), cap))
    for idx in _groups(pts, cell).values():
        lo = np.maximum(pts[idx].min(axis=0) - halo, 0)
        hi = np.minimum(pts[idx].max(axis=0) + halo + 1, shape)
        boxes.append((idx, lo, hi))
    if sum(np.prod(hi - lo) for _, lo, hi in boxes) >= np.prod(shape):
        feats = compute_features(chans, spec, spacing=spacing, channel_axis=0)
        return feats[tuple(pts.T)]
    for idx, lo, hi in boxes:
        crop = chans[(slice(None), *(slice(a, b) for a, b in zip(lo, hi)))]
        feats = compute_features(crop, spec, spacing=spacing, channel_axis=0)
        result[idx] = feats[tuple((pts[idx] - lo).T)]
    return result


def _min_chunks(chunks: tuple[int, ...], minimum: int) -> tuple[int, ...]:
    """Merge neighbouring chunks until every chunk holds at least ``minimum`` pixels."""
    out: list[int] = []
    for c in chunks:
        if out and out[-1] < minimum:
            out[-1] += c
        else:
            out.append(c)
    if len(out) > 1 and out[-1] < minimum:
        out[-2] += out.pop()
    return tuple(out)


def compute_features_blockwise(
    image: Any,
    spec: FeatureSpec,
    *,
    chunks: int | Sequence[int] | None = None,
    spacing: Sequence[float] | None = None,
) -> Any:
    """Lazy, block-wise :func:`compute_features` of a single-channel (Dask) image.

    Each block is padded by :func:`feature_halo` (``boundary="reflect"``, as
    the filters' own boundary), filtered and trimmed, so the result equals the
    whole-image computation.  Chunks smaller than the halo are enlarged.

    Parameters
    ----------
    image : array_like or dask.array.Array
        ``(Y, X)`` or ``(Z, Y, X)``.
    spec : FeatureSpec
        Filter bank.
    chunks : int or sequence of int, optional
        Spatial block shape (default: Dask's "auto" for NumPy input).
    spacing : sequence of float, optional
        Physical pixel spacing.

    Returns
    -------
    features : dask.array.Array
        float32 ``(*spatial, n_features)`` with one chunk along features.

    Examples
    --------
    >>> import numpy as np
    >>> from biakit.features import preset
    >>> img = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    >>> lazy = compute_features_blockwise(img, preset("fast", ndim=2), chunks=32)
    >>> lazy.shape
    (64, 64, 13)

    """
    import dask.array as da

    arr = image if isinstance(image, da.Array) else da.from_array(np.asarray(image))
    if chunks is not None:
        arr = arr.rechunk(chunks)
    nd = arr.ndim
    halo = feature_halo(spec, nd, spacing)
    arr = arr.rechunk(tuple(_min_chunks(c, h + 1) for c, h in zip(arr.chunks, halo)))
    n_feat = spec.n_features(1, ndim=nd)
    padded = da.overlap.overlap(arr, depth=dict(enumerate(halo)), boundary="reflect")
    trim = tuple(slice(h, -h if h else None) for h in halo)

    def block(b: np.ndarray) -> np.ndarray:
        return compute_features(b, spec, spacing=spacing)[trim]

    return padded.map_blocks(block, dtype=np.float32, chunks=(*arr.chunks, (n_feat,)), new_axis=nd)
