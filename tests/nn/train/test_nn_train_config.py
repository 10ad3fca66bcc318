import math

import pytest
import torch

from biakit.nn.device import available_devices, pick_device
from biakit.nn.train import TrainConfig, WarmupCosine, make_optimizer, make_scheduler, resolve_amp

# ---------------------------------------------------------------- TrainConfig


def test_defaults_and_mode():
    cfg = TrainConfig()
    assert (cfg.epochs, cfg.optimizer, cfg.schedule, cfg.loss, cfg.accumulate) == (
        50,
        "adamw",
        "cosine",
        "ce",
        1,
    )
    assert cfg.resolved_mode == "min"
    assert TrainConfig(monitor="val_dice").resolved_mode == "max"
    assert TrainConfig(monitor="val_dice", monitor_mode="min").resolved_mode == "min"
    assert TrainConfig.model_validate(cfg.model_dump(mode="json")) == cfg


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 3, "warmup_epochs": 3}, r"warmup_epochs \(3\) must be smaller than epochs"),
        ({"schedule": "onecycle", "warmup_epochs": 1}, "one-cycle has its own warm-up"),
        ({"schedule": "plateau", "warmup_epochs": 1}, "not supported with schedule='plateau'"),
        ({"amp": "fp16", "device": "cpu"}, "amp='fp16' is not available on device='cpu'"),
        ({"amp": "bf16", "device": "mps"}, "amp='bf16' is not available on device='mps'"),
        ({"accumulate": 0}, r"accumulate\n.*greater than or equal to 1"),
        ({"batch_size": 0}, r"batch_size\n.*greater than or equal to 1"),
        ({"lr": 0}, r"lr\n.*greater than 0"),
        ({"optimizer": "lion"}, r"optimizer\n.*'adamw', 'adam' or 'sgd'"),
        ({"loss": "mse", "class_weights": [1, 2]}, "class_weights are not used by loss='mse'"),
        ({"class_weights": [1, -1]}, "expected non-negative numbers"),
        ({"device": "gpu"}, "device='gpu' is not understood"),
        ({"monitor": "dice"}, "monitor='dice': expected 'val_loss'"),
        ({"epoch": 3}, r"epoch\n.*Extra inputs are not permitted"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


# ---------------------------------------------------------------- devices


def test_pick_device_cpu_and_auto():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")
    assert pick_device("auto").type == available_devices()[0].split(":")[0]


def test_pick_device_errors(monkeypatch):
    with pytest.raises(ValueError, match="device='tpu' is not understood"):
        pick_device("tpu")
    with pytest.raises(ValueError, match="'auto' takes no index"):
        pick_device("auto:1")
    with pytest.raises(ValueError, match="use 'cpu' without an index"):
        pick_device("cpu:1")
    with pytest.raises(TypeError, match=r"device must be a str or torch.device, got int"):
        pick_device(0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"device='cuda' is not available.*available: cpu"):
        pick_device("cuda")
    with pytest.raises(ValueError, match=r"device='mps' is not available.*available: cpu"):
        pick_device("mps")
    assert pick_device("auto") == torch.device("cpu")


def test_pick_device_cuda_index(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert pick_device("auto") == torch.device("cuda")
    assert pick_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ValueError, match=r"device='cuda:2' is not available.*cuda:0, cuda:1"):
        pick_device("cuda:2")


def test_resolve_amp(monkeypatch):
    from biakit.nn.train import _precision

    cpu, cuda, mps = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
    monkeypatch.setattr(_precision, "cpu_bf16_native", lambda: False)
    assert resolve_amp("auto", cpu) is None
    assert resolve_amp("none", cpu) is None
    with pytest.raises(ValueError, match="amp='bf16' on the CPU needs native bfloat16"):
        resolve_amp("bf16", cpu)
    monkeypatch.setattr(_precision, "cpu_bf16_native", lambda: True)
    assert resolve_amp("auto", cpu) is torch.bfloat16
    assert resolve_amp("bf16", cpu) is torch.bfloat16
    assert resolve_amp("none", cpu) is None
    assert resolve_amp("auto", mps) is None
    with pytest.raises(ValueError, match="amp='fp16' needs a CUDA device, but training runs on"):
        resolve_amp("fp16", cpu)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_amp("auto", cuda) is torch.bfloat16
    assert resolve_amp("fp16", cuda) is torch.float16
    assert resolve_amp("none", cuda) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_amp("auto", cuda) is torch.float16
    with pytest.raises(ValueError, match="amp='bf16' is not supported by this GPU"):
        resolve_amp("bf16", cuda)


# ---------------------------------------------------------------- optimisers and schedules


def _lrs(cfg, steps_per_epoch):
    opt = make_optimizer(torch.nn.Linear(2, 1).parameters(), cfg)
    sched = make_scheduler(opt, cfg, steps_per_epoch)
    out = []
    for _ in range(cfg.epochs * steps_per_epoch):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    return out


def test_optimizers():
    params = list(torch.nn.Linear(2, 1).parameters())
    assert type(make_optimizer(params, TrainConfig(optimizer="adam"))) is torch.optim.Adam
    assert type(make_optimizer(params, TrainConfig(optimizer="adamw"))) is torch.optim.AdamW
    sgd = make_optimizer(params, TrainConfig(optimizer="sgd", lr=0.1))
    assert (sgd.defaults["momentum"], sgd.defaults["nesterov"], sgd.defaults["lr"]) == (
        0.9,
        True,
        0.1,
    )


def test_warmup_cosine_curve_matches_formula():
    cfg = TrainConfig(epochs=5, warmup_epochs=2, lr=0.1, optimizer="sgd")
    spe = 3
    w, total = 2 * spe, 5 * spe
    expected = [
        0.1 * (s + 1) / w if s < w else 0.1 * 0.5 * (1 + math.cos(math.pi * (s - w) / (total - w)))
        for s in range(total)
    ]
    assert _lrs(cfg, spe) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert WarmupCosine(0, 4)(0) == 1.0


def test_constant_schedule_with_and_without_warmup():
    assert _lrs(TrainConfig(epochs=2, schedule="none", lr=0.2), 2) == [0.2] * 4
    warm = _lrs(TrainConfig(epochs=3, schedule="none", warmup_epochs=1, lr=0.2), 2)
    assert warm == pytest.approx([0.1, 0.2, 0.2, 0.2, 0.2, 0.2])


def test_onecycle_curve():
    lrs = _lrs(TrainConfig(epochs=4, schedule="onecycle", lr=0.1), 25)
    assert lrs[0] == pytest.approx(0.1 / 25)  # PyTorch default div_factor
    assert max(lrs) == pytest.approx(0.1, rel=1e-3)
    assert int(np_argmax(lrs)) == pytest.approx(0.3 * 100, abs=1)  # peak after 30% of the steps
    assert lrs[-1] < 1e-5


def np_argmax(values):
    return max(range(len(values)), key=values.__getitem__)


def test_plateau_scheduler_type():
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    sched = make_scheduler(opt, TrainConfig(schedule="plateau", monitor="val_iou"), 4)
    assert isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert sched.mode == "max"
    with pytest.raises(ValueError, match="steps_per_epoch must be >= 1, got 0"):
        make_scheduler(opt, TrainConfig(), 0)


def test_cpu_bf16_native_reads_the_probes(monkeypatch):
    from biakit.nn.train._precision import cpu_bf16_native

    for bf16, amx, expected in ((False, False, False), (True, False, True), (False, True, True)):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=bf16: v, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v, raising=False)
        assert cpu_bf16_native() is expected
