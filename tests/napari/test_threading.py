"""Work off the GUI thread: progress row, cancellation, errors, and the real asynchronous path."""

from __future__ import annotations

import time

import numpy as np
import pytest

from biakit.cancel import check_cancelled
from biakit.errors import ParameterError


def _steps(n, pause=0.0):
    for i in range(n):
        check_cancelled()
        time.sleep(pause)
        yield i + 1, n
    return "finished"


def test_progress_row_synchronous(qtbot):
    from biakit.napari._widgets_common import ProgressRow

    row = ProgressRow()
    qtbot.addWidget(row)
    seen, results = [], []
    job = row.run(_steps, 4, on_yield=seen.append, on_done=results.append)
    assert job.done and results == ["finished"] and seen[-1] == (4, 4)
    assert (row.bar.maximum(), row.bar.value()) == (1, 1) and not row.busy
    cancelled = []
    row.progressed.connect(lambda done, total: row.cancel() if done == 2 else None)
    job = row.run(_steps, 10, on_yield=seen.append, on_cancel=lambda: cancelled.append(True))
    assert job.cancelled and cancelled == [True] and row.status.text() == "cancelled"
    assert seen[-1] == (2, 10)  # stopped at the first check after the cancel


def test_progress_row_errors(qtbot):
    from biakit.errors import ParameterError
    from biakit.napari._widgets_common import ProgressRow, _parse_record

    row = ProgressRow()
    qtbot.addWidget(row)

    def broken():
        yield 1, 2
        raise ParameterError("sigma: expected a positive number, got -1")

    errors = []
    job = row.run(broken, on_error=errors.append)
    assert isinstance(job.error, ParameterError) and errors == [job.error]
    assert row.status.text() == "error: sigma: expected a positive number, got -1"
    assert _parse_record({"epoch": 3, "epochs": 5, "train_loss": 0.25}) == (
        3,
        5,
        "epoch 3, loss 0.25",
    )
    assert _parse_record("reading") == (None, None, "reading")
    assert _parse_record(object()) == (None, None, "")


def test_asynchronous_worker_and_cancel_button(qtbot, asynchronous):
    from biakit.napari._widgets_common import ProgressRow

    row = ProgressRow()
    qtbot.addWidget(row)
    results = []
    job = row.run(_steps, 3, 0.01, on_done=results.append)
    assert not job.done and row.busy  # returned at once; the work runs in a thread
    qtbot.waitUntil(lambda: job.done, timeout=10000)
    assert results == ["finished"] and not row.busy
    cancelled = []
    job = row.run(_steps, 500, 0.01, on_cancel=lambda: cancelled.append(True))
    with pytest.raises(ParameterError, match="busy: working is running; wait or press Cancel"):
        row.run(_steps, 1, text="second")
    qtbot.waitUntil(lambda: row.bar.value() >= 1, timeout=10000)
    row.cancel_button.click()
    qtbot.waitUntil(lambda: job.done, timeout=10000)
    assert job.cancelled and cancelled == [True] and row.bar.value() < 500


def test_asynchronous_live_training(make_napari_viewer, qtbot, asynchronous):
    """A stroke starts training in a worker; the prediction appears when it returns."""
    from biakit.data import synthetic_nuclei, synthetic_scribbles
    from biakit.napari._pixel_widget import PixelClassifierWidget

    s = synthetic_nuclei((64, 64), n_objects=4, radius=(5, 8), seed=1)
    viewer = make_napari_viewer()
    viewer.add_image(s.image, name="img")
    widget = PixelClassifierWidget(viewer)
    widget.n_estimators.setValue(4)
    scribbles = widget.start()
    scribbles.data = synthetic_scribbles(s.mask.astype(np.uint8) + 1, fraction=0.03, seed=0)
    qtbot.waitUntil(lambda: "img prediction" in viewer.layers, timeout=20000)
    qtbot.waitUntil(lambda: not widget._busy, timeout=20000)
    prediction = viewer.layers["img prediction"].data
    assert set(np.unique(prediction)) == {1, 2}
    assert (prediction == 2)[s.mask].mean() > 0.8
