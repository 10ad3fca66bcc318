"""Run a blocking library call (training, prediction) so that a widget sees its progress.

The workflows' ``train`` and ``predict`` are plain blocking calls; the library calls
:func:`biakit.cancel.check_cancelled` once per training batch and per batch of
tiles. :func:`iter_call` runs such a call in a helper thread and turns those
checks into progress: the helper's cancel token counts how often it is asked
(one tick per batch) and also answers "cancelled" when the caller's token (the
widget's job) is set. The generator yields ``{"done": ticks, "total": ..., "text":
...}`` records (what :class:`~biakit.napari._widgets_common.ProgressRow` shows)
plus whatever ``poll`` finds, and returns the call's result.

:func:`iter_train` trains a *new* workflow object that way, in memory, through the
workflow's own :meth:`~biakit.workflows.NetworkWorkflow.iter_train`: it yields each
epoch's record as soon as the trainer has written its checkpoint, then returns the
trained workflow. Cancelled or failed training leaves the caller's current model
untouched: nothing is swapped before training has finished.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from biakit.cancel import cancellable, is_cancelled

__all__ = ["iter_call", "iter_train"]

_DONE = object()


class _TickToken:
    """A cancel token that counts the library's checks and defers to the caller's token."""

    def __init__(self, stops: tuple[threading.Event, ...], parent: contextvars.Context,
                 ticks: queue.Queue) -> None:  # fmt: skip
        self.stops, self.parent, self.ticks = stops, parent, ticks

    def is_set(self) -> bool:
        self.ticks.put(1)
        return any(s.is_set() for s in self.stops) or self.parent.run(is_cancelled)


def iter_call(
    func: Callable[..., Any],
    *args: Any,
    total: int | None = None,
    what: str = "batch",
    poll: Callable[[], list[dict[str, Any]]] | None = None,
    cancel: threading.Event | None = None,
    interval: float = 0.05,
    **kwargs: Any,
) -> Iterator[dict[str, Any]]:
    """Run ``func(*args, **kwargs)`` in a helper thread; yield progress; return its result.

    Parameters
    ----------
    func : callable
        A blocking library call that checks cancellation (training, tiled prediction).
    *args, **kwargs
        Passed to ``func``.
    total : int, optional
        Expected number of checks (batches), for the progress bar.
    what : str
        Name of one check in the progress text ("batch", "tile batch").
    poll : callable, optional
        Called every ``interval`` seconds; each dict it returns is yielded as is.
    cancel : threading.Event, optional
        A second cancel flag (set from any thread, e.g. a widget's cancel button).
    interval : float
        Seconds between looks at the helper's progress.

    Yields
    ------
    dict
        ``{"done", "total", "text"}`` when the call made progress, and ``poll``'s records.

    Raises
    ------
    biakit.cancel.Cancelled
        When the caller's cancel token was set (the call stops at its next check).

    Examples
    --------
    >>> def work(n):
    ...     from biakit.cancel import check_cancelled
    ...     for _ in range(n):
    ...         check_cancelled()
    ...     return "finished"
    >>> gen = iter_call(work, 3, total=3)
    >>> records = []
    >>> while True:
    ...     try:
    ...         records.append(next(gen))
    ...     except StopIteration as stop:
    ...         result = stop.value
    ...         break
    >>> result, records[-1]["done"]
    ('finished', 3)
    """
    stop, ticks, events = threading.Event(), queue.Queue(), queue.Queue()
    stops = (stop,) if cancel is None else (stop, cancel)
    token = _TickToken(stops, contextvars.copy_context(), ticks)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            with cancellable(token):
                box["result"] = func(*args, **kwargs)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc
        finally:
            events.put(_DONE)

    thread = threading.Thread(target=target, name="biakit-work", daemon=True)
    thread.start()
    done, shown, finished = 0, 0, False
    try:
        while not finished:
            if is_cancelled():
                stop.set()
            try:
                finished = events.get(timeout=interval) is _DONE
            except queue.Empty:
                pass
            while not ticks.empty():
                done += ticks.get_nowait()
            yield from poll() if poll is not None else ()
            if done != shown:
                shown = done
                bound = max(total or 0, done)
                yield {"done": done, "total": bound or None, "text": f"{what} {done}/{bound}"}
    finally:
        if not finished:
            stop.set()
        thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("result")


def iter_train(
    make_workflow: Callable[[], Any],
    train_args: tuple,
    train_kwargs: dict[str, Any] | None = None,
    *,
    cancel: threading.Event | None = None,
) -> Iterator[dict[str, Any]]:
    """Train a new workflow; yield batch progress and each epoch's record; return the workflow.

    Parameters
    ----------
    make_workflow : callable
        Returns the untrained workflow (e.g. ``lambda: workflow_for(config)``).
    train_args : tuple
        Positional arguments of its ``train`` (images, targets, ...).
    train_kwargs : dict, optional
        Keyword arguments of ``train`` (``class_names``, ...).
    cancel : threading.Event, optional
        Stops training at its next batch when set (as the caller's cancel token does).

    Yields
    ------
    dict
        Progress ``{"done", "total", "text"}`` per batch and the epoch records
        (``epoch``, ``epochs``, ``train_loss``, ``val_loss``, ``val_<metric>``, ...).
    """
    from biakit.workflows._network import epoch_listener

    workflow = make_workflow()
    cfg = workflow.config
    epochs = int(cfg.train.epochs)
    batches = -(-int(getattr(cfg, "samples_per_epoch", 0) or 0) // int(cfg.train.batch_size))
    found: queue.Queue = queue.Queue()

    def train() -> None:  # in iter_call's helper thread: its tick token reaches the trainer
        with epoch_listener(found.put):
            workflow.train(*train_args, **(train_kwargs or {}))

    def records() -> list[dict[str, Any]]:
        out = []
        while not found.empty():
            out.append(found.get_nowait())
        return out

    yield from iter_call(train, total=epochs * batches or None, poll=records, cancel=cancel)
    yield from records()  # the last epoch, if it came just before the end
    return workflow
