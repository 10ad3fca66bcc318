"""Compile the numba kernels of pixel classification ahead of the first call.

The first ``fit`` + ``predict`` of a fresh install compiles the filter-bank and
forest kernels (about 10 s on two cores); later processes load them from
numba's on-disk cache (about 1 s); importing scikit-learn takes about 1 s more.
:func:`warm_up` does all of it in a background thread as soon as
:class:`~biakit.pixel.PixelClassifier` is imported, so that
time overlaps with reading the image and painting. It only compiles (nothing
runs), so it is safe beside kernels running in other threads. Set the
environment variable ``BIAKIT_WARMUP=0`` to turn the automatic warm-up off.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

_LOG = logging.getLogger(__name__)
_STATE: dict[tuple[int, ...], threading.Thread] = {}  # warm-up thread per ndims
_STATE_LOCK = threading.Lock()


def _signatures(ndims: tuple[int, ...] = (2, 3)) -> list[tuple[Any, tuple[Any, ...]]]:
    """(dispatcher, argument types) of the kernels a 2D / 3D ``fast`` classifier uses.

    A ``None`` dispatcher stands for importing scikit-learn.
    """
    from numba import types

    from biakit.features import _deriv, _gauss
    from biakit.pixel import _forest_kernels as forest

    def arr(dtype: Any, ndim: int, readonly: bool = False) -> Any:
        return types.Array(dtype, ndim, "C", readonly=readonly)

    f32, i64, i32, f64 = types.float32, types.int64, types.int32, types.float64
    trees = (
        arr(f32, 2), arr(i64, 1, True), arr(i32, 1, True), arr(f32, 1, True),
        arr(i32, 1, True), arr(types.uint8, 1, True), arr(f32, 2), arr(f32, 2), arr(i64, 1), i64,
    )  # fmt: skip
    corr_last = (arr(f32, 2), arr(f32, 2), arr(f32, 1), arr(i64, 1), i64, i64, arr(i64, 1))
    corr_mid = (arr(f32, 3), arr(f32, 3), arr(f32, 1), arr(i64, 1), i64, i64)
    fused2 = (arr(f32, 3), arr(f32, 4), arr(i64, 2), arr(f64, 1), types.boolean, arr(i64, 2))
    fused3 = (arr(f32, 4), *fused2[1:], arr(i64, 2))
    jobs = [  # in order of need: features, then the forest
        (_gauss._corr_last, corr_last),
        (_gauss._corr_mid, corr_mid),
        *([(_deriv._fused2, fused2)] if 2 in ndims else []),
        *([(_deriv._fused3, fused3)] if 3 in ndims else []),
        (None, ()),
        (forest.predict_parallel, trees),
        (forest.predict_serial, trees),
    ]
    return jobs


def _compile(jobs: list[tuple[Any, tuple[Any, ...]]]) -> None:
    for dispatcher, signature in jobs:
        if dispatcher is None:  # importing scikit-learn (~1 s) is the other cost of a first fit
            try:
                import sklearn.ensemble  # noqa: F401
            except ImportError as err:
                _LOG.debug("warm-up could not import scikit-learn: %s", err)
            continue
        try:
            dispatcher.compile(signature)
        except Exception as err:  # a failed warm-up only costs time later
            _LOG.debug("warm-up of %s failed: %s", dispatcher, err)


def warm_up(ndims: tuple[int, ...] = (2, 3), *, background: bool = True) -> threading.Thread | None:
    """Compile (or load from numba's cache) the kernels of pixel classification.

    Parameters
    ----------
    ndims : tuple of int
        Image dimensionalities to prepare the filter bank for (2 and / or 3).
    background : bool
        Compile in a daemon thread and return at once (the default); the
        first kernel call then waits only for what is still compiling.
        ``False`` compiles before returning.

    Returns
    -------
    threading.Thread or None
        The warm-up thread (the same one on later calls with the same
        ``ndims``), or ``None`` when
        compiling in the foreground.

    Examples
    --------
    >>> thread = warm_up()
    >>> thread.join()  # optional: the kernels are now ready
    """
    if not ndims or set(ndims) - {2, 3}:
        raise ValueError(f"ndims must hold 2 and / or 3, got {ndims!r}")
    jobs = _signatures(tuple(ndims))  # import the kernel modules in the caller's thread
    if not background:
        _compile(jobs)
        return None
    key = tuple(sorted(set(ndims)))
    with _STATE_LOCK:
        if key not in _STATE:
            thread = threading.Thread(
                target=_compile, args=(jobs,), name="biakit-numba-warm-up", daemon=True
            )
            thread.start()
            _STATE[key] = thread
        return _STATE[key]


def warm_up_on_import() -> None:
    """Start :func:`warm_up` for 2D images in the background unless ``BIAKIT_WARMUP=0``."""
    if os.environ.get("BIAKIT_WARMUP", "1").strip() in ("0", "false", "no", "off"):
        return
    try:
        warm_up((2,), background=True)
    except Exception as err:  # never let the warm-up break an import
        _LOG.debug("numba warm-up not started: %s", err)
