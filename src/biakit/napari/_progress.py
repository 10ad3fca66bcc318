"""The progress row of the widgets: bar, status text and cancel button running work.

:class:`ProgressRow` starts library work through
:func:`biakit.napari._threading.start_work` and shows the records biakit's
progress generators yield (``(done, total)`` tuples, epoch records, ``{"done",
"total", "text"}`` dicts, text).

Qt is imported with the module: import this file only from widget code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from biakit.cancel import Cancelled
from biakit.errors import ParameterError
from biakit.napari._threading import Job, start_work

__all__ = ["ProgressRow", "notify_error"]

log = logging.getLogger(__name__)


class ProgressRow(QWidget):
    """Progress bar, status text and cancel button; :meth:`run` starts work with them.

    Signals
    -------
    progressed(done, total)
        Emitted after each progress record (tests connect to it to cancel mid-way).
    """

    progressed = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar, self.status = QProgressBar(), QLabel("")
        self.cancel_button = QPushButton("Cancel")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.bar, self.status, self.cancel_button):
            row.addWidget(widget)
        self.job: Job | None = None
        self._cancel_asked = False
        self.last_error: BaseException | None = None

    @property
    def busy(self) -> bool:
        """True while work started by :meth:`run` is running."""
        return self.cancel_button.isEnabled()

    def run(
        self,
        func: Callable[..., Any],
        *args: Any,
        on_yield: Callable[[Any], None] | None = None,
        on_done: Callable[[Any], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_finish: Callable[[], None] | None = None,
        text: str = "working",
        **kwargs: Any,
    ) -> Job:
        """Run ``func(*args, **kwargs)`` through ``start_work`` with this row's progress and cancel.

        Each yielded record goes to :meth:`report` then ``on_yield``. Errors are shown
        in the status text and as a napari notification unless ``on_error`` is given.
        ``on_finish`` runs last, whatever the outcome.

        Raises
        ------
        ParameterError
            While earlier work of this row is still running (one job per row).
        """
        if self.busy:
            raise ParameterError(
                f"busy: {self.status.text() or 'earlier work'} is running; wait or press Cancel"
            )
        self._cancel_asked, self.last_error = False, None
        self.cancel_button.setEnabled(True)
        self.status.setText(text)
        self.bar.setRange(0, 0)  # busy until the first record

        def yielded(record: Any) -> None:
            self.report(record)
            if on_yield is not None:
                on_yield(record)
            if self._cancel_asked and self.job is None:
                raise Cancelled()  # synchronous mode: stop the work from its callback

        def cancelled() -> None:
            self.status.setText("cancelled")
            if on_cancel is not None:
                on_cancel()

        def errored(exc: BaseException) -> None:
            self.last_error = exc
            self.status.setText(f"error: {exc}")
            if on_error is not None:
                on_error(exc)
            else:
                notify_error(exc)

        def finished() -> None:
            self.cancel_button.setEnabled(False)
            self.bar.setRange(0, 1)
            self.bar.setValue(1 if not self._cancel_asked else 0)
            self.job = None
            if on_finish is not None:
                on_finish()

        job = start_work(func, *args, on_yield=yielded, on_done=on_done, on_error=errored,
                         on_cancel=cancelled, on_finish=finished, **kwargs)  # fmt: skip
        self.job = None if job.done else job
        return job

    def report(self, record: Any) -> None:
        """Show a progress record: ``(done, total, ...)``, a dict (``epoch``, ``done``), text."""
        done, total, text = _parse_record(record)
        if total:
            self.bar.setRange(0, int(total))
            self.bar.setValue(int(done))
        if text:
            self.status.setText(text)
        self.progressed.emit(int(done or 0), int(total or 0))

    def cancel(self) -> None:
        """Ask the running work to stop at its next check (batch, tile or block)."""
        self._cancel_asked = True
        self.status.setText("cancelling")
        if self.job is not None:
            self.job.cancel()


def _parse_record(record: Any) -> tuple[int | None, int | None, str]:
    """``(done, total, text)`` from the progress records biakit's generators yield."""
    if (
        isinstance(record, tuple)
        and len(record) >= 2
        and all(isinstance(v, (int, np.integer)) for v in record[:2])
    ):
        return int(record[0]), int(record[1]), f"{int(record[0])}/{int(record[1])}"
    if isinstance(record, dict):
        if "epoch" in record:
            loss = record.get("train_loss")
            text = f"epoch {record['epoch']}" + (f", loss {loss:.4g}" if loss is not None else "")
            return int(record["epoch"]), record.get("epochs"), text
        if "done" in record:
            return int(record["done"]), record.get("total"), str(record.get("text", ""))
    if isinstance(record, str):
        return None, None, record
    return None, None, ""


def notify_warning(message: str) -> None:
    """Show a warning as a napari notification (logged when napari cannot show it)."""
    try:
        from napari.utils.notifications import show_warning

        show_warning(message)
    except Exception:  # pragma: no cover - no napari notification manager
        log.warning("%s", message)


def notify_error(exc: BaseException) -> None:
    """Show an error as a napari notification (logged when napari cannot show it)."""
    try:
        from napari.utils.notifications import show_error

        show_error(str(exc))
    except Exception:  # pragma: no cover - no napari notification manager
        log.error("%s", exc)
