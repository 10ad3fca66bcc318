"""The demo's report on tiny stand-in data: error counts, overlays, footnotes, training text."""

import numpy as np
import pandas as pd
import pytest

import biakit.demo._classical as classical
from biakit.demo import (
    Comparison,
    DemoData,
    MethodResult,
    comparison_figure,
    error_table,
    iter_demo,
    rows_to_frame,
    training_sentence,
    write_report,
)
from biakit.demo._report import _table_html
from biakit.metrics import ErrorCounts, instance_errors, match_instances_dataset
from biakit.pipeline import Pipeline


def _truth():
    y = np.zeros((48, 48), np.int64)
    y[4:14, 4:14], y[20:30, 4:14], y[20:30, 14:24], y[34:44, 30:44] = 1, 2, 3, 4
    return y


def _result(name, truths, preds, **notes):
    scores = dict(zip((0.5, 0.75), match_instances_dataset(truths, preds, thresh=[0.5, 0.75])))
    errors = [instance_errors(t, p) for t, p in zip(truths, preds)]
    return MethodResult(name, scores, preds, 1.0, notes, errors)


@pytest.fixture
def comparison():
    truth = _truth()
    image = (truth > 0) + 0.1 * np.random.default_rng(0).standard_normal(truth.shape)
    merged = truth.copy()
    merged[merged == 3] = 2  # 2 and 3 merged into one object
    merged[19:31, 13:15] = 2
    missed = np.where(truth == 4, 0, truth)
    summary = {  # as Trainer.summary (biakit.nn.train._report.training_summary)
        "stop_reason": "max_time", "epochs_done": 3, "epochs_planned": 200, "steps": 24,
        "message": "training stopped by the time budget (18 s) after 3 of 200 epochs "
        "(24 steps, 18 s, the last one cut short)",
    }  # fmt: skip
    results = [
        _result("classical pipeline", [truth], [merged]),
        _result("pixel classifier", [truth], [truth], painted_fraction=0.01),
        _result("deep (instance U-Net)", [truth], [missed], epochs=3, training=summary),
    ]
    return Comparison(DemoData([], [], [(image, truth)]), results, None)


def _tiny_cases():
    def with_truth():
        truth = _truth()
        return (truth > 0).astype(float), truth, (1.0, 1.0)

    def in_3d():
        truth = np.stack([_truth()] * 4)
        return (truth > 0).astype(float), truth, (2.0, 1.0, 1.0)

    def no_truth():
        return (_truth() > 0).astype(float), None, (1.0, 1.0)

    pipe = Pipeline([{"step": "threshold", "method": "otsu"}, {"step": "label"}])
    return [
        ("tiny 2D", with_truth, pipe),
        ("tiny 3D", in_3d, pipe),
        ("skimage coins", no_truth, pipe),
    ]


def test_error_table_and_training_sentence(comparison):
    table = error_table(comparison).set_index("method")
    assert table.loc["classical pipeline", "true positive"] == 2
    assert table.loc["classical pipeline", "merged (true objects)"] == "1 (2)"
    assert table.loc["deep (instance U-Net)", "missed"] == 1
    assert table.loc["pixel classifier", "false positive"] == 0
    text = training_sentence(comparison.results[-1], 0.3)
    assert text.startswith(
        "Training stopped by the time budget (18 s) after 3 of 200 epochs (24 steps, 18 s, "
        "the last one cut short). That is 2% of the planned schedule"
    )
    plain = MethodResult("deep", {}, [], 1.0, {"epochs": 4})
    assert training_sentence(plain, 2) == "The U-Net trained for 4 epochs (time budget 2 min)."
    ran = {"stop_reason": "epochs", "message": "training ran all 5 epochs (9 steps, 0 s)"}
    done = MethodResult("deep", {}, [], 1.0, {"training": ran})
    assert training_sentence(done, 1) == "Training ran all 5 epochs (9 steps, 0 s)."


def test_classical_cases_write_truth_found_and_error_overlays(tmp_path, monkeypatch):
    monkeypatch.setattr(classical, "demo_cases", _tiny_cases)
    rows = list(iter_demo(tmp_path))
    two, three, coins = rows
    # 2 and 3 touch: found as one object of IoU 0.5 with 2 (inclusive: a match), 3 missed
    assert two.errors == ErrorCounts(tp=3, missed=1, n_true=4, n_pred=3)
    assert two.f1_50 == pytest.approx(6 / 7) and three.errors == two.errors
    for row in (two, three):
        assert row.truth_overlay.is_file() and row.error_overlay.is_file() and row.note is None
    assert two.error_overlay.name == "tiny_2D_errors.png"
    assert coins.errors is None and coins.error_overlay is None and coins.truth_overlay is None
    assert coins.overlay.is_file() and "without a label image" in coins.note
    assert coins.n_true == 24 and np.isnan(rows_to_frame(rows).loc[2, "f1@0.5"])


def test_report_shows_everything(tmp_path, monkeypatch, comparison):
    monkeypatch.setattr(classical, "demo_cases", _tiny_cases)
    rows = list(iter_demo(tmp_path / "classical"))
    report = write_report(tmp_path, comparison, rows, minutes=0.3)
    text = report.read_text()
    assert (tmp_path / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    assert "<img src='comparison.png'" in text
    for name in ("tiny_2D_truth", "tiny_2D_overlay", "tiny_2D_errors", "tiny_3D_errors",
                 "skimage_coins_overlay"):  # fmt: skip
        assert f"<img src='classical/{name}.png'" in text
    assert "Training stopped by the time budget (18 s) after 3 of 200 epochs" in text
    assert "merged: 1 (2 true objects)" not in text  # pooled counts are in the table
    assert "<td>1 (2)</td>" in text and "class='sw'" in text
    assert "<td>–<sup>1</sup></td>" in text and "without a label image" in text
    assert "pixel classifier: 1.00% of the training pixels painted" in text


def test_nan_cells_get_a_footnote():
    frame = pd.DataFrame({"case": ["a", "b", "c"], "f1": [0.5, float("nan"), None]})
    text = _table_html(frame, {1: "no truth"})
    assert "<td>0.500</td>" in text and text.count("<sup>1</sup>") == 1
    assert "<td>–<sup>2</sup></td>" in text
    assert "<li>no truth</li><li>not computed for this row</li>" in text


def test_figure_is_written(tmp_path, comparison):
    path = comparison_figure(comparison, tmp_path / "c.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
