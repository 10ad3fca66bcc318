"""Run library work off the GUI thread, with progress and a cancel button.

Every widget starts long work through :func:`start_work`: the work is a plain
function (or generator function) of the library; it runs in a napari thread worker
inside :func:`biakit.cancel.cancellable`, so pressing cancel stops it at the next
training batch, tile or block, and the widget's previous state (a trained model,
earlier layers) is kept. Generators report progress: each yielded value is passed to
``on_yield`` on the GUI thread.

Tests call :func:`set_synchronous` (or use the ``synchronous`` context manager):
work then runs at once in the calling thread, with the same callbacks and the same
cancellation, so widget tests need no event-loop waiting; one test keeps the real
asynchronous path.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from biakit.cancel import Cancelled, cancellable

__all__ = ["Job", "set_synchronous", "start_work", "synchronous"]

_SYNC = {"on": False}


def set_synchronous(on: bool) -> None:
    """Run all later work in the calling thread (tests) or in thread workers (default)."""
    _SYNC["on"] = bool(on)


@contextmanager
def synchronous(on: bool = True) -> Iterator[None]:
    """Context manager form of :func:`set_synchronous`; restores the previous mode."""
    before = _SYNC["on"]
    _SYNC["on"] = bool(on)
    try:
        yield
    finally:
        _SYNC["on"] = before


@dataclass
class Job:
    """Handle of started work: ``cancel()`` it, ask ``done`` / ``cancelled`` / ``error``."""

    token: threading.Event = field(default_factory=threading.Event)
    worker: Any = None
    done: bool = False
    cancelled: bool = False
    error: BaseException | None = None
    result: Any = None

    def cancel(self) -> None:
        """Ask the work to stop at its next check (batch, tile or block).

        Only the token is set: the work raises :class:`~biakit.cancel.Cancelled`
        at its next check, which ends the worker through ``on_cancel``. (napari's
        ``worker.quit()`` would abort between yields without closing the generator:
        no callback would run and the generator would be finalised later, from
        another thread, outside its cancel-token context.)
        """
        self.token.set()


def _drive(
    func: Callable[..., Any], args: tuple, kwargs: dict, job: Job, on_yield: Callable | None
) -> Iterator[Any]:
    """Run ``func`` under the job's cancel token, yielding what a generator yields."""
    with cancellable(job.token):
        if inspect.isgeneratorfunction(func):
            gen = func(*args, **kwargs)
            while True:
                if job.token.is_set():
                    gen.close()
                    raise Cancelled()
                try:
                    value = next(gen)
                except StopIteration as stop:
                    return stop.value
                yield value
        return func(*args, **kwargs)


def start_work(
    func: Callable[..., Any],
    *args: Any,
    on_yield: Callable[[Any], None] | None = None,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_cancel: Callable[[], None] | None = None,
    on_finish: Callable[[], None] | None = None,
    **kwargs: Any,
) -> Job:
    """Run ``func(*args, **kwargs)`` off the GUI thread; return its :class:`Job`.

    Parameters
    ----------
    func : callable or generator function
        Library work. A generator's yielded values go to ``on_yield`` (progress).
    *args, **kwargs
        Passed to ``func``.
    on_yield, on_done, on_error, on_cancel, on_finish : callable, optional
        GUI-thread callbacks: each yielded value; the return value; an exception
        other than cancellation; cancellation; always, last.

    Examples
    --------
    >>> def count(n):
    ...     for i in range(n):
    ...         yield i
    ...     return "finished"
    >>> seen = []
    >>> with synchronous():
    ...     job = start_work(count, 3, on_yield=seen.append)
    >>> seen, job.result, job.done
    ([0, 1, 2], 'finished', True)
    """
    job = Job()

    def finish_ok(value: Any) -> None:
        job.result, job.done = value, True
        if on_done is not None:
            on_done(value)

    def finish_error(exc: BaseException) -> None:
        job.done = True
        if isinstance(exc, Cancelled):
            job.cancelled = True
            if on_cancel is not None:
                on_cancel()
        else:
            job.error = exc
            if on_error is not None:
                on_error(exc)

    def finish() -> None:
        if on_finish is not None:
            on_finish()

    if _SYNC["on"]:
        _run_now(func, args, kwargs, job, on_yield, finish_ok, finish_error)
        finish()
        return job
    from napari.qt.threading import GeneratorWorker

    def body() -> Iterator[Any]:
        try:
            result = yield from _drive(func, args, kwargs, job, on_yield)
        except Cancelled:
            job.cancelled = True
            return _CANCELLED
        return result

    worker = GeneratorWorker(body)
    job.worker = worker
    if on_yield is not None:
        worker.yielded.connect(on_yield)
    worker.returned.connect(
        lambda value: finish_error(Cancelled()) if value is _CANCELLED else finish_ok(value)
    )
    worker.errored.connect(finish_error)
    worker.finished.connect(finish)
    worker.start()
    return job


_CANCELLED = object()


def _run_now(
    func: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    job: Job,
    on_yield: Callable | None,
    finish_ok: Callable[[Any], None],
    finish_error: Callable[[BaseException], None],
) -> None:
    """Run the work in the calling thread with the same callbacks and cancellation."""
    gen = _drive(func, args, kwargs, job, on_yield)
    try:
        while True:
            try:
                value = next(gen)
            except StopIteration as stop:
                finish_ok(stop.value)
                return
            if on_yield is not None:
                on_yield(value)
    except Exception as exc:
        gen.close()  # a callback raised: end the work here, inside its cancel-token context
        finish_error(exc)
