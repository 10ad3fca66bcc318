"""Progress display, step counting and the run summary of the Trainer."""

import io
import json

import pytest
from rich.console import Console

from biakit.nn.train import TrainConfig, Trainer
from biakit.nn.train._report import EpochProgress, training_summary


def _cfg(**kw):
    base = {"epochs": 3, "batch_size": 4, "device": "cpu", "plot_every": 0, "lr": 1e-2}
    return TrainConfig(**{**base, "amp": "none", **kw})


def test_steps_and_summary_of_a_full_run(tmp_path, blobs, make_net, capsys):
    trainer = Trainer(make_net(), _cfg(accumulate=2), blobs(12), output_dir=tmp_path)
    history = trainer.fit(progress=False)  # 3 batches, accumulate 2 -> 2 steps per epoch
    assert list(history["steps"]) == [2, 4, 6] and trainer.steps == 6
    summary = history.attrs["summary"]
    assert summary == trainer.summary
    assert summary["stop_reason"] == "epochs" and summary["steps"] == 6
    assert (summary["epochs_done"], summary["epochs_planned"]) == (3, 3)
    assert summary["seconds"] == pytest.approx(history["epoch_time"].sum())
    assert summary["message"].startswith("training ran all 3 epochs (6 steps, ")
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert capsys.readouterr().err == ""  # progress off: nothing shown


def test_time_budget_line_is_shown_and_recorded(tmp_path, blobs, make_net, capsys):
    cfg = _cfg(epochs=50, max_time=1e-3)
    trainer = Trainer(make_net(), cfg, blobs(16), output_dir=tmp_path / "a")
    trainer.fit(progress=True)
    err = capsys.readouterr().err
    # cut after the first optimiser step
    expected = "training stopped by the time budget (0 s) after 1 of 50 epochs (1 step, "
    assert expected in err and "the last one cut short)" in err
    assert err.count("\n") == 2  # the epoch line and the stop line
    assert err.startswith("epoch 1/50  train_loss ") and "ETA 0:00 (time budget)" in err
    assert trainer.summary["stop_reason"] == "max_time" and trainer.summary["last_epoch_cut_short"]
    quiet = Trainer(make_net(), cfg, blobs(16), output_dir=tmp_path / "b")
    quiet.fit(progress=False)
    assert capsys.readouterr().err == ""
    assert quiet.summary["message"].startswith("training stopped by the time budget (0 s)")


def test_epoch_lines_show_losses_and_eta(tmp_path, blobs, make_net, capsys):
    trainer = Trainer(make_net(), _cfg(), blobs(8), blobs(4), output_dir=tmp_path)
    trainer.fit(progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("train_loss " in line and "val_loss " in line for line in lines)
    assert "ETA " in lines[0] and "ETA " not in lines[2]  # nothing left after the last


def test_early_stopping_sentence_and_resumed_steps(tmp_path, blobs, make_net, capsys):
    cfg = _cfg(epochs=6, early_stopping=1, monitor="val_score", monitor_mode="max")
    trainer = Trainer(
        make_net(), cfg, blobs(8), blobs(4), output_dir=tmp_path,
        metrics=lambda logits, target: {"score": 1.0},
    )  # fmt: skip
    trainer.fit(progress=True)
    assert trainer.summary["message"].startswith(
        "training stopped early after 2 of 6 epochs (4 steps, "
    )
    assert trainer.summary["message"].endswith(
        "val_score did not improve for 1 epoch; best at epoch 1"
    )
    assert "training stopped early" in capsys.readouterr().err
    resumed = Trainer.resume(
        make_net(), _cfg(epochs=8), blobs(8), blobs(4), output_dir=tmp_path,
        metrics=lambda logits, target: {"score": 1.0},
    )  # fmt: skip
    assert resumed.steps == 4
    resumed.fit(progress=False)
    assert resumed.steps == 16 and resumed.summary["steps"] == 16


def test_summary_sentences_and_durations():
    rows = [{"epoch": 7, "steps": 1234, "epoch_time": 180.0}]
    s = training_summary(rows, stop_reason="max_time", epochs=30, max_time=180.0)
    assert s["message"] == (
        "training stopped by the time budget (3 min) after 7 of 30 epochs (1,234 steps, 3 min)"
    )
    rows = [{"epoch": 2, "steps": 20, "epoch_time": 75.0}, {"epoch": 3, "steps": 30}]
    s = training_summary(rows, stop_reason="max_time", epochs=9, max_time=150, cut_short=True)
    assert s["message"].endswith(
        "(2.5 min) after 3 of 9 epochs (30 steps, 75 s, the last one cut short)"
    )
    s = training_summary(
        [{"epoch": 1, "epoch_time": 9000.0}], stop_reason=None, epochs=2, max_time=None
    )
    assert s["message"] == "training was interrupted after 1 of 2 epochs (0 steps, 2.5 h)"
    assert training_summary([], stop_reason="epochs", epochs=1, max_time=None)["epochs_done"] == 0


def test_rich_bars_on_a_terminal():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with EpochProgress(True, 2, max_time=1e6, console=console) as bar:
        bar.start_epoch(1, 2)
        bar.advance(0.5)
        bar.advance(0.25)
        bar.end_epoch({"epoch": 1, "train_loss": 0.375, "epoch_time": 0.1})
        bar.finish({"stop_reason": "max_time", "message": "training stopped by the budget"})
    text = out.getvalue()
    assert "epoch 1/2  train_loss 0.375  0.1 s  ETA " in text
    assert "training stopped by the budget" in text
    silent = EpochProgress(False, 2)
    with silent as bar:  # disabled: every call is a no-op
        bar.start_epoch(1, 2)
        bar.advance(1.0)
        bar.end_epoch({"epoch": 1})
        bar.finish({"stop_reason": "max_time", "message": "x"})


def test_plain_lines_within_long_epochs():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    with EpochProgress(True, 3, console=console, line_every=0.0) as bar:
        bar.start_epoch(2, 4)
        bar.advance(0.5)
        bar.advance(0.25)
    assert out.getvalue().splitlines() == [
        "epoch 2/3  batch 1/4  loss 0.5",
        "epoch 2/3  batch 2/4  loss 0.25",
    ]
