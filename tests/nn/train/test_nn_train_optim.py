"""make_optimizer's fused updates equal PyTorch's per-tensor reference updates."""

import copy

import pytest
import torch

from biakit.nn.train import TrainConfig, make_optimizer
from biakit.nn.train._optim import _fusable


def _net() -> torch.nn.Module:
    # no bias before the batch norm: its gradient is rounding noise (zero in exact
    # arithmetic), which Adam's normalised step turns into lr-sized, path-dependent moves
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.Conv2d(4, 1, 1),
    ).to(memory_format=torch.channels_last)  # fmt: skip


def _reference(name: str, params: list, cfg: TrainConfig) -> torch.optim.Optimizer:
    """PyTorch's plain per-tensor loop (``foreach=False``), the textbook update."""
    kw = {"lr": cfg.lr, "weight_decay": cfg.weight_decay, "foreach": False}
    if name == "adam":
        return torch.optim.Adam(params, **kw)
    if name == "adamw":
        return torch.optim.AdamW(params, **kw)
    return torch.optim.SGD(params, momentum=cfg.momentum, nesterov=True, **kw)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_fused_update_equals_per_tensor_update(name):
    cfg = TrainConfig(optimizer=name, lr=1e-2, weight_decay=1e-2)
    fast_net, ref_net = _net(), _net()
    fast = make_optimizer(fast_net.parameters(), cfg)
    ref = _reference(name, list(ref_net.parameters()), cfg)
    assert fast.defaults["fused"] is True
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    for _ in range(20):
        for net, opt in ((fast_net, fast), (ref_net, ref)):
            opt.zero_grad(set_to_none=True)
            ((net(x) - x) ** 2).mean().backward()
            opt.step()
    for a, b in zip(fast_net.parameters(), ref_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    moved = max(
        float((a - b).abs().max().detach())
        for a, b in zip(fast_net.parameters(), _net().parameters())
    )
    assert moved > 1e-3  # the comparison is not vacuous: the weights did change


def test_fused_training_is_deterministic():
    cfg = TrainConfig(optimizer="adamw", lr=1e-2)
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    runs = []
    for _ in range(2):
        net = _net()
        opt = make_optimizer(net.parameters(), cfg)
        for _ in range(5):
            opt.zero_grad(set_to_none=True)
            ((net(x) - x) ** 2).mean().backward()
            opt.step()
        runs.append([p.detach().clone() for p in net.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_fusable_only_for_float_parameters_on_cpu_or_cuda():
    assert _fusable(list(_net().parameters()))
    assert not _fusable([])
    assert not _fusable([torch.zeros(2, dtype=torch.int64)])
    meta = torch.nn.Parameter(torch.zeros(2, device="meta"))
    assert not _fusable([meta])
    opt = make_optimizer([meta], TrainConfig(optimizer="adamw"))
    assert not opt.defaults.get("fused")  # PyTorch's default implementation there


def test_fused_state_round_trips_through_state_dict():
    cfg = TrainConfig(optimizer="adamw", lr=1e-2)
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    net = _net()
    opt = make_optimizer(net.parameters(), cfg)

    def step(n: torch.nn.Module, o: torch.optim.Optimizer) -> None:
        o.zero_grad(set_to_none=True)
        ((n(x) - x) ** 2).mean().backward()
        o.step()

    for _ in range(3):
        step(net, opt)
    twin = copy.deepcopy(net)
    twin_opt = make_optimizer(twin.parameters(), cfg)
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    for _ in range(3):
        step(net, opt)
        step(twin, twin_opt)
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), twin.parameters()))
