"""numba's ``njit`` with an on-disk cache when one can be written (private)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba


def njit_cached(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(cache=True, **options)``, or without the cache where none can be written.

    numba stores compiled kernels beside the source (``__pycache__``) or, when
    that folder is read-only, in the user's cache folder (``NUMBA_CACHE_DIR``
    overrides both). If no folder is writable, numba refuses ``cache=True``
    at import; the kernels are then compiled once per process instead.

    Examples
    --------
    >>> @njit_cached(fastmath=True)
    ... def twice(x):
    ...     return 2 * x
    >>> twice(21)
    42
    """

    def decorate(fn: Callable[..., Any]) -> Any:
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return numba.njit(**options)(fn)

    return decorate
