import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import TensorDataset

from biakit.nn.train import TrainConfig, Trainer


def _cfg(**kw):
    base = {"epochs": 2, "batch_size": 4, "device": "cpu", "plot_every": 0, "lr": 1e-2}
    base["amp"] = "none"  # exact float32 arithmetic: several tests compare weights
    return TrainConfig(**{**base, **kw})


def test_tiny_net_learns_blobs(tmp_path, blobs, make_net):
    def accuracy(logits, target):
        return {"acc": float((logits.argmax(1) == target).float().mean())}

    cfg = _cfg(epochs=8, optimizer="adam", warmup_epochs=1, loss="ce_dice", lr=2e-2)
    trainer = Trainer(
        make_net(), cfg, blobs(24), blobs(8, seed=99), output_dir=tmp_path, metrics=accuracy
    )
    history = trainer.fit(progress=False)
    assert isinstance(history, pd.DataFrame)
    assert list(history["epoch"]) == list(range(1, 9))
    assert history["val_loss"].iloc[-1] < 0.5 * history["val_loss"].iloc[0]
    assert history["train_loss"].iloc[-1] < 0.5 * history["train_loss"].iloc[0]
    assert history["val_acc"].iloc[-1] > 0.9
    assert (history["samples_per_s"] > 0).all() and (history["train_samples"] == 24).all()
    assert trainer.stop_reason == "epochs"
    assert trainer.train_ds.epochs_seen == list(range(8))  # set_epoch called before each epoch
    assert set(trainer.val_ds.epochs_seen) == {0}  # validation set stays fixed


def test_outputs_written(tmp_path, blobs, make_net):
    trainer = Trainer(
        make_net(), _cfg(epochs=3, plot_every=2), blobs(8), blobs(4), output_dir=tmp_path
    )
    records = list(trainer.iter_fit(progress=True))
    assert not torch.are_deterministic_algorithms_enabled()  # global flag restored afterwards
    assert [r["epoch"] for r in records] == [1, 2, 3]
    csv = pd.read_csv(tmp_path / "metrics.csv")
    assert list(csv["epoch"]) == [1, 2, 3]
    assert {"train_loss", "val_loss", "lr", "samples_per_s", "epoch_time", "elapsed"} <= set(csv)
    np.testing.assert_allclose(csv["val_loss"], [r["val_loss"] for r in records])
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "best.pt").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_accumulation_equals_larger_batch(tmp_path):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(16, 1, 4, 4, generator=gen)
    y = 2 * x + 0.5 + 0.1 * torch.randn(16, 1, 4, 4, generator=gen)
    ds = TensorDataset(x, y)
    weights = []
    for batch, acc in ((4, 2), (8, 1)):
        torch.manual_seed(0)
        model = torch.nn.Conv2d(1, 1, 3, padding=1)
        cfg = _cfg(batch_size=batch, accumulate=acc, loss="mse", optimizer="sgd", schedule="none")
        trainer = Trainer(model, cfg, ds, output_dir=tmp_path / f"b{batch}")
        trainer.fit(progress=False)
        assert trainer.optimizer.state_dict()["state"]  # momentum buffers exist
        weights.append(model.state_dict())
    for key in weights[0]:
        torch.testing.assert_close(weights[0][key], weights[1][key], atol=1e-6, rtol=0)
    assert not torch.equal(weights[0]["weight"], torch.nn.Conv2d(1, 1, 3).weight)


def _scripted(values):
    """Metric that returns values[epoch] (validation set = one batch per epoch)."""
    calls = []

    def metrics(logits, target):
        calls.append(1)
        return {"score": values[len(calls) - 1]}

    return metrics


def test_early_stopping_on_scripted_metric(tmp_path, blobs, make_net):
    script = [5.0, 4.0, 4.5, 4.2, 4.0, 3.0, 2.0]
    cfg = _cfg(epochs=7, early_stopping=3, monitor="val_score", monitor_mode="min")
    trainer = Trainer(
        make_net(), cfg, blobs(4), blobs(4), output_dir=tmp_path, metrics=_scripted(script)
    )
    history = trainer.fit(progress=False)
    assert list(history["val_score"]) == [5.0, 4.0, 4.5, 4.2, 4.0]  # 4.0 again is no improvement
    assert trainer.stop_reason == "early_stopping"
    assert (trainer.best_epoch, trainer.best_value) == (2, 4.0)
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["epoch"] == 2 and best["best_value"] == 4.0


def test_early_stopping_max_mode_and_min_delta(tmp_path, blobs, make_net):
    script = [0.5, 0.55, 0.56, 0.7, 0.71, 0.72]
    cfg = _cfg(epochs=6, early_stopping=2, monitor="val_score", min_delta=0.05)
    trainer = Trainer(
        make_net(), cfg, blobs(4), blobs(4), output_dir=tmp_path, metrics=_scripted(script)
    )
    history = trainer.fit(progress=False)
    # 0.55 is not > 0.5 + 0.05; 0.56 is; 0.7 is; 0.71 and 0.72 are not -> stop after epoch 6
    assert len(history) == 6 and trainer.best_epoch == 4
    assert trainer.stop_reason == "early_stopping"


def test_plateau_reduces_lr_per_epoch(tmp_path, blobs, make_net):
    cfg = _cfg(
        epochs=5, schedule="plateau", plateau_patience=1, monitor="val_score", monitor_mode="min"
    )
    metrics = _scripted([1.0, 2.0, 3.0, 4.0, 5.0])
    trainer = Trainer(make_net(), cfg, blobs(4), blobs(4), output_dir=tmp_path, metrics=metrics)
    lrs = list(trainer.fit(progress=False)["lr"])
    # 2 bad epochs (> patience 1) after epoch 3 -> halved from epoch 4, again after epoch 5
    assert lrs == pytest.approx([1e-2, 1e-2, 1e-2, 5e-3, 5e-3])
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-3)


def test_cosine_schedule_stepped_per_optimizer_step(tmp_path, blobs, make_net):
    cfg = _cfg(epochs=3, warmup_epochs=1, accumulate=2)
    trainer = Trainer(make_net(), cfg, blobs(12), output_dir=tmp_path)  # 3 batches -> 2 steps
    history = trainer.fit(progress=False)
    assert trainer.steps_per_epoch == 2 and trainer.scheduler.last_epoch == 6
    assert history["lr"].iloc[0] == pytest.approx(1e-2 * 2 / 2)  # end of warm-up
    assert trainer.monitor == "train_loss"  # no validation set


def test_max_time_stops(tmp_path, blobs, make_net):
    trainer = Trainer(make_net(), _cfg(epochs=50, max_time=1e-3), blobs(16), output_dir=tmp_path)
    history = trainer.fit(progress=False)
    assert len(history) == 1 and trainer.stop_reason == "max_time"
    assert history["train_samples"].iloc[0] == 4  # cut after the first optimiser step
    assert (tmp_path / "last.pt").is_file()


def test_cosine_schedule_follows_the_time_budget(tmp_path, blobs, make_net, monkeypatch):
    from types import SimpleNamespace

    import biakit.nn.train._trainer as trainer_module

    clock = iter(range(0, 10_000, 10))  # every reading of the trainer's clock: 10 s later
    fake = SimpleNamespace(perf_counter=lambda: float(next(clock)))
    monkeypatch.setattr(trainer_module, "time", fake)
    cfg = _cfg(epochs=1000, max_time=200.0)  # step-wise the schedule would barely start
    trainer = Trainer(make_net(), cfg, blobs(16), output_dir=tmp_path)
    trainer.fit(progress=False)
    fn = trainer.scheduler.lr_lambdas[0]
    assert 0.5 < fn.time_progress <= 1.0
    assert trainer.optimizer.param_groups[0]["lr"] < 0.5 * cfg.lr  # decayed by time, not steps


def test_workers_are_seeded_and_reproducible(tmp_path, blobs, make_net):
    weights = []
    for run in range(2):
        ds = blobs(8, numpy_noise=0.5)
        trainer = Trainer(
            make_net(), _cfg(epochs=1, num_workers=2), ds, output_dir=tmp_path / str(run)
        )
        trainer.fit(progress=False)
        weights.append(trainer.model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_trainer_errors(tmp_path, blobs, make_net):
    net = make_net()
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got str"):
        Trainer("net", _cfg(), blobs(4), output_dir=tmp_path)
    with pytest.raises(TypeError, match="train_ds must be a map-style dataset, got int"):
        Trainer(net, _cfg(), 3, output_dir=tmp_path)
    with pytest.raises(ValueError, match="train_ds is empty"):
        Trainer(net, _cfg(), blobs(0), output_dir=tmp_path)
    with pytest.raises(ValueError, match="fewer than batch_size=4 with drop_last=True"):
        Trainer(net, _cfg(drop_last=True), blobs(3), output_dir=tmp_path)
    with pytest.raises(ValueError, match="monitor='val_dice' needs a validation set"):
        Trainer(net, _cfg(monitor="val_dice"), blobs(4), output_dir=tmp_path)
    with pytest.raises(ValueError, match=r"epochs\n.*greater than or equal to 1"):
        Trainer(net, {"epochs": 0}, blobs(4), output_dir=tmp_path)
    trainer = Trainer(net, _cfg(monitor="val_dice"), blobs(4), blobs(4), output_dir=tmp_path)
    with pytest.raises(ValueError, match="monitor='val_dice' is not among the recorded values"):
        trainer.fit(progress=False)
    trainer = Trainer(
        net, _cfg(), TensorDataset(torch.zeros(4, 1, 4, 4)), output_dir=tmp_path / "a"
    )
    with pytest.raises(TypeError, match=r"datasets must return \(image, target\) pairs"):
        trainer.fit(progress=False)


def test_non_finite_loss_raises(tmp_path, blobs, make_net):
    trainer = Trainer(
        make_net(), _cfg(), blobs(4), output_dir=tmp_path, loss_fn=lambda p, t: p.sum() * np.nan
    )
    with pytest.raises(FloatingPointError, match="training loss is nan at epoch 1, batch 1"):
        trainer.fit(progress=False)


def test_existing_checkpoint_is_not_overwritten(tmp_path, blobs, make_net):
    Trainer(make_net(), _cfg(epochs=1), blobs(4), output_dir=tmp_path).fit(progress=False)
    with pytest.raises(FileExistsError, match="holds a checkpoint already; continue it with"):
        Trainer(make_net(), _cfg(epochs=1), blobs(4), output_dir=tmp_path)
    Trainer(make_net(), _cfg(epochs=1), blobs(4), output_dir=tmp_path, overwrite=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_fp16_without_cuda_raises(tmp_path, blobs, make_net):
    with pytest.raises(ValueError, match="amp='fp16' needs a CUDA device, but training runs on"):
        Trainer(make_net(), _cfg(device="auto", amp="fp16"), blobs(4), output_dir=tmp_path)


def test_grad_clip_bounds_the_update(tmp_path):
    ds = TensorDataset(torch.ones(4, 1, 2, 2), 100 * torch.ones(4, 1, 2, 2))
    torch.manual_seed(0)
    model = torch.nn.Conv2d(1, 1, 1)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    cfg = _cfg(
        epochs=1,
        loss="mse",
        optimizer="sgd",
        momentum=0.0,
        weight_decay=0.0,
        schedule="none",
        lr=0.5,
        grad_clip=0.01,
    )
    Trainer(model, cfg, ds, output_dir=tmp_path).fit(progress=False)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert float((after - before).norm()) == pytest.approx(0.5 * 0.01, rel=1e-4)


def test_autocast_branch_runs(tmp_path, blobs, make_net):
    # bf16 autocast also exists on CPU: exercises the mixed-precision code path without a GPU
    trainer = Trainer(make_net(), _cfg(epochs=1), blobs(4), blobs(4), output_dir=tmp_path)
    trainer.amp_dtype = torch.bfloat16
    history = trainer.fit(progress=False)
    assert np.isfinite(history["train_loss"]).all() and np.isfinite(history["val_loss"]).all()
    assert not trainer.scaler.is_enabled()


def test_channels_last_layout_for_3d_on_cpu(tmp_path):
    from biakit.nn.models import UNet, UNetConfig

    torch.manual_seed(0)
    net = UNet(UNetConfig(ndim=3, in_channels=1, out_channels=2, depth=1, base_filters=2))
    ds = TensorDataset(torch.randn(4, 1, 4, 8, 8), torch.randint(0, 2, (4, 4, 8, 8)))
    trainer = Trainer(net, _cfg(epochs=1, amp="none"), ds, output_dir=tmp_path)
    assert trainer.memory_format == torch.channels_last_3d
    weight = next(p for p in trainer.model.parameters() if p.dim() == 5)
    assert weight.is_contiguous(memory_format=torch.channels_last_3d)
    x, _ = trainer._to_device((ds.tensors[0][:2], ds.tensors[1][:2]))
    assert x.is_contiguous(memory_format=torch.channels_last_3d)
    assert np.isfinite(trainer.fit(progress=False)["train_loss"]).all()
    off = Trainer(net, _cfg(epochs=1, channels_last=False), ds, output_dir=tmp_path / "b")
    assert off.memory_format == torch.contiguous_format


def test_channels_last_layout_for_2d_on_cpu(tmp_path):
    from biakit.nn.models import UNet, UNetConfig

    torch.manual_seed(0)
    net = UNet(UNetConfig(ndim=2, in_channels=1, out_channels=2, depth=1, base_filters=2))
    ds = TensorDataset(torch.randn(4, 1, 8, 8), torch.randint(0, 2, (4, 8, 8)))
    trainer = Trainer(net, _cfg(epochs=1), ds, output_dir=tmp_path)
    assert trainer.memory_format == torch.channels_last
    x, _ = trainer._to_device((ds.tensors[0][:2], ds.tensors[1][:2]))
    assert x.is_contiguous(memory_format=torch.channels_last)
    # a network without a U-Net config keeps PyTorch's layout
    plain = Trainer(torch.nn.Conv2d(1, 2, 1), _cfg(epochs=1), ds, output_dir=tmp_path / "b")
    assert plain.memory_format == torch.contiguous_format


def test_no_curves_for_a_throw_away_folder(tmp_path, blobs, make_net):
    trainer = Trainer(make_net(), _cfg(epochs=1, plot_every=1), blobs(8), output_dir=tmp_path,
                      plots=False)  # fmt: skip
    trainer.fit(progress=False)
    assert (tmp_path / "last.pt").is_file() and not (tmp_path / "curves.png").exists()


@pytest.fixture
def bf16(monkeypatch):
    """bf16 autocast on any CPU (emulated where not native: these tests check the guards)."""
    monkeypatch.setattr("biakit.nn.train._precision.cpu_bf16_native", lambda: True)


class _Poisoned(torch.nn.Module):
    """A network whose output (``"output"``) or gradients (``"grads"``) are NaN in autocast."""

    def __init__(self, net, where):
        super().__init__()
        self.net, self.where, self.calls = net, where, 0

    def forward(self, x):
        out = self.net(x)
        if not torch.is_autocast_enabled("cpu"):
            return out
        self.calls += 1
        return out * float("inf") if self.where == "output" else _NaNGradient.apply(out)


class _NaNGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("nan")


def test_a_non_finite_autocast_loss_is_redone_in_float32(tmp_path, blobs, make_net, bf16):
    cfg = _cfg(epochs=1, amp="bf16")
    trainer = Trainer(_Poisoned(make_net(), "output"), cfg, blobs(8), output_dir=tmp_path)
    history = trainer.fit(progress=False)
    assert np.isfinite(history["train_loss"].iloc[0]) and trainer.float32_retries == 2


def test_non_finite_bf16_gradients_are_redone_in_float32(tmp_path, blobs, make_net, bf16):
    ds, net = blobs(8), make_net(dropout=0.0)  # no dropout: the redo draws no other mask
    trainer = Trainer(_Poisoned(net, "grads"), _cfg(epochs=1, amp="bf16"), ds, output_dir=tmp_path)
    assert trainer.amp_dtype is torch.bfloat16
    history = trainer.fit(progress=False)
    assert trainer.float32_retries == 2 and trainer.steps == 2 and trainer.skipped_steps == 0
    assert all(torch.isfinite(p).all() for p in net.parameters())
    # the redone steps are float32 steps: the same weights as a float32 run
    reference = make_net(dropout=0.0)
    Trainer(reference, _cfg(epochs=1), ds, output_dir=tmp_path / "f32").fit(progress=False)
    for got, want in zip(net.parameters(), reference.parameters()):
        torch.testing.assert_close(got, want)
    assert np.isfinite(history["train_loss"].iloc[0])


def test_an_accumulated_step_with_non_finite_bf16_gradients_is_skipped(
    tmp_path, blobs, make_net, bf16
):
    net = make_net()
    before = [p.detach().clone() for p in net.parameters()]
    cfg = _cfg(epochs=1, amp="bf16", accumulate=2)
    trainer = Trainer(_Poisoned(net, "grads"), cfg, blobs(8), output_dir=tmp_path)
    trainer.fit(progress=False)
    assert trainer.skipped_steps == 1 and trainer.steps == 1 and trainer.float32_retries == 0
    for got, want in zip(net.parameters(), before):
        torch.testing.assert_close(got, want, rtol=0, atol=0)  # no update from a NaN group


def test_repeated_non_finite_autocast_batches_fall_back_to_float32(tmp_path, blobs, make_net, bf16):
    poisoned = _Poisoned(make_net(), "grads")
    trainer = Trainer(poisoned, _cfg(epochs=2, amp="bf16"), blobs(16), output_dir=tmp_path)
    trainer.fit(progress=False)  # 8 batches: the first 3 are redone, then float32 throughout
    assert trainer.float32_retries == 3 and trainer.amp_dtype is None and poisoned.calls == 3


def test_auto_precision_uses_bf16_for_3d_networks_too(bf16):
    from biakit.nn.train import resolve_amp

    cpu = torch.device("cpu")
    assert resolve_amp("auto", cpu) is torch.bfloat16  # 2D and 3D alike; guarded in use
    assert resolve_amp("none", cpu) is None
