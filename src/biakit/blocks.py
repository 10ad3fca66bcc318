"""Block-wise execution: halo declarations and ``dask.array.map_overlap`` plumbing.

Every per-pixel operation in biakit declares how much context (the *halo*) one
output pixel needs, as a function of its parameters.  With that halo the same
function gives the same result on a whole image and on blocks of a larger
image processed through :func:`dask.array.map_overlap`.

Operations that need the whole image (a global threshold, percentile
normalisation, connected components) declare ``GLOBAL`` instead; running them
block-wise raises a clear error rather than silently giving per-block results.

Examples
--------
>>> import numpy as np
>>> from scipy import ndimage as ndi
>>> @declare_halo(lambda ndim, sigma=1.0: (int(np.ceil(4 * sigma)),) * ndim)
... def smooth(image, sigma=1.0):
...     return ndi.gaussian_filter(image, sigma)
>>> get_halo(smooth, 2, sigma=2.0)
(8, 8)
>>> image = np.random.default_rng(0).random((64, 64))
>>> out = apply_blockwise(smooth, image, chunks=16, sigma=2.0)
>>> bool(np.allclose(out.compute(), smooth(image, sigma=2.0)))
True

"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

GLOBAL: Final = "global"
"""Halo marker for operations that need the whole image (not block-wise)."""

HaloFn = Callable[..., "tuple[int, ...] | Literal['global']"]


def declare_halo(halo: HaloFn | int | Literal["global"]) -> Callable[[F], F]:
    """Attach a halo declaration to a per-pixel function.

    Parameters
    ----------
    halo : callable, int or ``"global"``
        Either a callable ``halo(ndim, **params) -> tuple[int, ...]`` giving the
        context needed along each of the ``ndim`` array axes for the given
        keyword parameters, a constant integer halo for every axis, or
        :data:`GLOBAL` for operations that need the whole image.

    Returns
    -------
    decorator : callable
        Decorator storing the declaration on the function as ``__halo__``.

    """

    def decorator(func: F) -> F:
        func.__halo__ = halo  # type: ignore[attr-defined]
        return func

    return decorator


def get_halo(func: Callable[..., Any], ndim: int, **params: Any) -> tuple[int, ...] | str:
    """Return the halo ``func`` needs on an ``ndim``-dimensional block.

    Parameters
    ----------
    func : callable
        A function decorated with :func:`declare_halo`.
    ndim : int
        Number of array axes of the block.
    **params
        The keyword parameters ``func`` will be called with.

    Returns
    -------
    halo : tuple of int or ``"global"``
        Context per axis, or :data:`GLOBAL`.

    Raises
    ------
    TypeError
        If ``func`` declares no halo.

    """
    declared = getattr(func, "__halo__", None)
    name = getattr(func, "__name__", repr(func))
    if declared is None:
        raise TypeError(f"{name} declares no halo; decorate it with biakit.blocks.declare_halo")
    if declared == GLOBAL:
        return GLOBAL
    if isinstance(declared, int):
        return (int(declared),) * ndim
    value = declared(ndim, **params)
    if value == GLOBAL:
        return GLOBAL
    value = tuple(int(v) for v in value)
    if len(value) != ndim:
        raise ValueError(f"halo of {name} has {len(value)} entries for a {ndim}-D block")
    return value


def sigma_halo(sigma: float | Sequence[float], ndim: int, truncate: float = 4.0) -> tuple[int, ...]:
    """Halo of a Gaussian-type filter: ``ceil(truncate * sigma)`` per axis.

    Parameters
    ----------
    sigma : float or sequence of float
        Standard deviation in pixels, scalar or one per axis.
    ndim : int
        Number of axes.
    truncate : float
        Kernel radius in units of sigma (scipy's default is 4).

    Returns
    -------
    halo : tuple of int
        Pixels of context per axis.

    Examples
    --------
    >>> sigma_halo(1.5, 2)
    (6, 6)
    >>> sigma_halo((0.5, 2.0, 2.0), 3)
    (2, 8, 8)

    """
    sig = np.broadcast_to(np.asarray(sigma, dtype=float), (ndim,))
    return tuple(int(np.ceil(truncate * s)) for s in sig)


def apply_blockwise(
    func: Callable[..., np.ndarray],
    image: Any,
    *,
    chunks: int | Sequence[int] | None = None,
    boundary: str = "reflect",
    dtype: Any = None,
    **params: Any,
) -> Any:
    """Run a halo-declaring function block-wise on a (possibly lazy) image.

    Parameters
    ----------
    func : callable
        Per-pixel function ``func(block, **params) -> block`` decorated with
        :func:`declare_halo`; output has the block's shape.
    image : array_like or dask.array.Array
        Input image; NumPy arrays are wrapped with ``chunks``.
    chunks : int or sequence of int, optional
        Block shape for NumPy input (ignored for Dask input unless given).
    boundary : str
        How the outer image border is padded ("reflect" matches scipy.ndimage's
        default mode, "nearest" its ``mode="nearest"``).
    dtype : dtype, optional
        Output dtype; by default found by running ``func`` on a tiny block.
    **params
        Keyword parameters passed to ``func``.

    Returns
    -------
    out : dask.array.Array
        Lazy result; call ``.compute()`` or store it to Zarr.

    Raises
    ------
    ValueError
        If ``func`` needs the whole image (halo ``"global"``). Blocks smaller
        than the halo are merged by Dask so results stay exact.

    """
    import dask.array as da

    arr = (
        image
        if isinstance(image, da.Array)
        else da.from_array(np.asarray(image), chunks=chunks or "auto")
    )
    if chunks is not None and isinstance(image, da.Array):
        arr = arr.rechunk(chunks)
    halo = get_halo(func, arr.ndim, **params)
    name = getattr(func, "__name__", repr(func))
    if halo == GLOBAL:
        raise ValueError(
            f"{name} needs the whole image (global statistics) and cannot run block-wise; "
            "compute it on the full image or pass precomputed global parameters"
        )
    meta_dtype = dtype
    if meta_dtype is None:
        probe = np.zeros((max(2 * max(halo) + 1, 3),) * arr.ndim, dtype=arr.dtype)
        meta_dtype = np.asarray(func(probe, **params)).dtype
    return da.map_overlap(
        lambda block: func(block, **params),
        arr,
        depth=dict(enumerate(halo)),
        boundary=boundary,
        dtype=meta_dtype,
        trim=True,
    )


@dataclass(frozen=True)
class Block:
    """One block of a block-wise computation.

    Attributes
    ----------
    read : tuple of slice
        Region of the input to read: the block plus its halo, clipped to the image.
    write : tuple of slice
        Region of the output this block owns (blocks tile the image exactly once).
    crop : tuple of slice
        Where ``write`` lies inside the ``read`` region.
    """

    read: tuple[slice, ...]
    write: tuple[slice, ...]
    crop: tuple[slice, ...]


def iter_blocks(
    shape: Sequence[int], block_shape: Sequence[int], halo: Sequence[int]
) -> Iterator[Block]:
    """Tile ``shape`` into blocks and give each the halo it needs.

    Reading ``image[block.read]``, computing, and writing ``result[block.crop]``
    into ``out[block.write]`` reproduces the whole-image result for any
    operation whose context is within ``halo`` (at the image border the
    operation's own boundary rule applies, exactly as on the whole image).
    Works for NumPy, Dask, Zarr and HDF5 arrays alike.

    Examples
    --------
    >>> blocks = list(iter_blocks((10, 10), (4, 10), (2, 2)))
    >>> [b.write[0] for b in blocks]
    [slice(0, 4, None), slice(4, 8, None), slice(8, 10, None)]
    >>> blocks[1].read[0], blocks[1].crop[0]
    (slice(2, 10, None), slice(2, 6, None))
    """
    shape, block_shape, halo = tuple(shape), tuple(block_shape), tuple(halo)
    if not len(shape) == len(block_shape) == len(halo):
        raise ValueError(
            f"shape {shape}, block_shape {block_shape} and halo {halo} need the same length"
        )
    if any(b < 1 for b in block_shape) or any(h < 0 for h in halo):
        raise ValueError(f"block_shape must be >= 1 and halo >= 0, got {block_shape}, {halo}")
    starts = [range(0, n, b) for n, b in zip(shape, block_shape)]
    for corner in itertools.product(*starts):
        read, write, crop = [], [], []
        for start, n, b, h in zip(corner, shape, block_shape, halo):
            stop = min(start + b, n)
            lo, hi = max(start - h, 0), min(stop + h, n)
            read.append(slice(lo, hi))
            write.append(slice(start, stop))
            crop.append(slice(start - lo, stop - lo))
        yield Block(tuple(read), tuple(write), tuple(crop))
