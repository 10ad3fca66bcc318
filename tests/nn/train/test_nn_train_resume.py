import random

import numpy as np
import pandas as pd
import pytest
import torch

from biakit.nn.train import (
    TrainConfig,
    Trainer,
    get_rng_state,
    load_checkpoint,
    seed_everything,
    set_rng_state,
)

EPOCHS, STOP_AFTER = 4, 2


def _cfg(**kw):
    base = {
        "epochs": EPOCHS,
        "batch_size": 4,
        "lr": 1e-2,
        "optimizer": "adamw",
        "warmup_epochs": 1,
        "loss": "ce_dice",
        "device": "cpu",
        "plot_every": 0,
    }
    return TrainConfig(**{**base, **kw})


def _data(blobs):
    # noise from the global torch and NumPy generators: resume must restore their states
    return blobs(12, torch_noise=0.2, numpy_noise=0.2), blobs(4, seed=7)


def _mean_fg(logits, target):
    return {"fg": float(logits.softmax(1)[:, 1].mean())}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_gives_identical_weights(tmp_path, blobs, make_net):
    """MUST-SHOW: N epochs straight == k epochs, new Trainer object, resume to N (torch.equal)."""
    cfg = _cfg()
    straight = Trainer(make_net(), cfg, *_data(blobs), output_dir=tmp_path / "a", metrics=_mean_fg)
    history_a = straight.fit(progress=False)

    first = Trainer(make_net(), cfg, *_data(blobs), output_dir=tmp_path / "b", metrics=_mean_fg)
    run = first.iter_fit()
    for record in run:
        if record["epoch"] == STOP_AFTER:
            break  # "interrupt"
    run.close()
    del first, run
    random.random(), np.random.rand(), torch.rand(3)  # noqa: NPY002 (the RNGs move on)

    # a fresh model with different initial weights, a fresh Trainer and fresh datasets
    resumed = Trainer.resume(
        make_net(seed=123), cfg, *_data(blobs), output_dir=tmp_path / "b", metrics=_mean_fg
    )
    assert resumed.epoch == STOP_AFTER
    history_b = resumed.fit(progress=False)

    _assert_same_state(straight.model.state_dict(), resumed.model.state_dict())
    pd.testing.assert_frame_equal(
        history_a.drop(columns=["samples_per_s", "epoch_time", "elapsed"]),
        history_b.drop(columns=["samples_per_s", "epoch_time", "elapsed"]),
    )
    opt_a, opt_b = straight.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    for k in opt_a:
        for name in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(opt_a[k][name], opt_b[k][name])
    assert straight.scheduler.last_epoch == resumed.scheduler.last_epoch
    assert len(pd.read_csv(tmp_path / "b" / "metrics.csv")) == EPOCHS


def test_resume_with_stored_config_and_from_best(tmp_path, blobs, make_net):
    cfg = _cfg(epochs=3, warmup_epochs=0, schedule="plateau", optimizer="sgd")
    Trainer(make_net(), cfg, *_data(blobs), output_dir=tmp_path).fit(progress=False)
    longer = cfg.model_copy(update={"epochs": 4})
    trainer = Trainer.resume(make_net(), longer, *_data(blobs), output_dir=tmp_path)
    assert trainer.epoch == 3 and len(trainer.fit(progress=False)) == 4
    stored = Trainer.resume(make_net(), None, *_data(blobs), output_dir=tmp_path)
    assert stored.cfg == longer and stored.epoch == 4
    assert stored.fit(progress=False)["epoch"].tolist() == [1, 2, 3, 4]  # nothing left to do
    best = Trainer.resume(
        make_net(), None, *_data(blobs), output_dir=tmp_path, checkpoint="best.pt"
    )
    assert best.epoch == best.best_epoch


def test_resume_after_early_stop_does_not_train(tmp_path, blobs, make_net):
    cfg = _cfg(epochs=5, early_stopping=1, monitor="val_fg", monitor_mode="max")
    values = iter([0.5, 0.4])

    def scripted(logits, target):
        return {"fg": next(values)}

    trainer = Trainer(make_net(), cfg, *_data(blobs), output_dir=tmp_path, metrics=scripted)
    assert len(trainer.fit(progress=False)) == 2
    again = Trainer.resume(make_net(), cfg, *_data(blobs), output_dir=tmp_path, metrics=scripted)
    assert len(again.fit(progress=False)) == 2 and again.stop_reason == "early_stopping"


def test_checkpoint_loads_with_weights_only(tmp_path, blobs, make_net):
    cfg = _cfg(epochs=2, warmup_epochs=0, schedule="onecycle")
    trainer = Trainer(make_net(), cfg, *_data(blobs), output_dir=tmp_path, metrics=_mean_fg)
    trainer.fit(progress=False)
    for name in ("last.pt", "best.pt"):
        state = torch.load(tmp_path / name, weights_only=True)
        assert {"model", "optimizer", "scheduler", "scaler", "epoch", "best_value", "history"} <= (
            set(state)
        )
        assert state["config"] == cfg.model_dump(mode="json")
        assert set(state["rng"]) == {"python", "numpy", "torch", "cuda", "loader"}
        assert isinstance(state["rng"]["torch"], torch.Tensor)
        assert isinstance(state["rng"]["loader"], torch.Tensor)
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["epoch"] == 2 and len(last["history"]) == 2
    _assert_same_state(last["model"], trainer.model.state_dict())


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing.pt does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other.pt is not a biakit training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_rng_state_round_trip():
    seed_everything(3)
    gen = torch.Generator().manual_seed(5)
    state = get_rng_state(gen)
    first = (random.random(), np.random.rand(), torch.rand(2), torch.rand(2, generator=gen))  # noqa: NPY002
    seed_everything(99)
    gen.manual_seed(0)
    set_rng_state(state, gen)
    again = (random.random(), np.random.rand(), torch.rand(2), torch.rand(2, generator=gen))  # noqa: NPY002
    assert first[:2] == again[:2]
    assert torch.equal(first[2], again[2]) and torch.equal(first[3], again[3])
