"""Cooperative cancellation of long work (training, tiled prediction, block loops).

A front end (a napari worker's cancel button, a server request) runs library code
inside :func:`cancellable` with a token it can set from another thread; the
library calls :func:`check_cancelled` at safe points (each training batch, each
batch of tiles, each block) and stops there with :class:`Cancelled`. Nothing is
written half-way: a workflow replaces its model only when training finishes, so
cancelled training keeps the previous model, and outputs are written atomically.

The token is any object with ``is_set()`` (a :class:`threading.Event`). It lives in
a context variable, so it applies to the thread (or task) that entered the block
and to nothing else; code outside any :func:`cancellable` block never stops.

Examples
--------
>>> import threading
>>> token = threading.Event()
>>> with cancellable(token):
...     check_cancelled()  # not set: returns
...     token.set()
...     try:
...         check_cancelled()
...     except Cancelled as stop:
...         print(stop)
cancelled
>>> check_cancelled()  # outside the block nothing is checked
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["CancelToken", "Cancelled", "cancellable", "check_cancelled", "is_cancelled"]


class CancelToken(Protocol):
    """What :func:`cancellable` needs: a flag another thread may set."""

    def is_set(self) -> bool:
        """Return True once cancellation was requested."""


class Cancelled(Exception):
    """Raised by :func:`check_cancelled` when the current token is set."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


_TOKEN: contextvars.ContextVar[CancelToken | None] = contextvars.ContextVar(
    "biakit_cancel_token", default=None
)


@contextmanager
def cancellable(token: CancelToken | None) -> Iterator[None]:
    """Make ``token`` the cancellation flag for library code run inside the block.

    Parameters
    ----------
    token : object with ``is_set()``, or None
        Usually a :class:`threading.Event`; None disables checking inside the block.
    """
    if token is not None and not callable(getattr(token, "is_set", None)):
        raise TypeError(f"token: expected an object with is_set() (threading.Event), got {token!r}")
    reset = _TOKEN.set(token)
    try:
        yield
    finally:
        _TOKEN.reset(reset)


def is_cancelled() -> bool:
    """Return True when the token of the current :func:`cancellable` block is set."""
    token = _TOKEN.get()
    return token is not None and bool(token.is_set())


def check_cancelled() -> None:
    """Raise :class:`Cancelled` when the current token is set; a cheap no-op otherwise."""
    if is_cancelled():
        raise Cancelled()
