"""Frame-prediction networks: SimVP and ConvLSTM shapes, start at persistence, learning, configs."""

import pytest

from biakit.nn.models import build_network, get_architecture
from biakit.nn.models._video_config import ConvLSTMConfig, SimVPConfig

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {
    "simvp": {"hid_s": 4, "hid_t": 8, "n_s": 2, "n_t": 1, "groups": 2},
    "convlstm": {"hidden": 4, "n_layers": 1},
}


@pytest.mark.parametrize("arch", ["simvp", "convlstm"])
@pytest.mark.parametrize(("ndim", "channels"), [(2, 1), (2, 2), (3, 1)])
def test_shapes(arch, ndim, channels):
    cfg = {**TINY[arch], "ndim": ndim, "in_channels": channels, "out_channels": channels,
           "n_input": 3, "n_output": 2}  # fmt: skip
    net = build_network(arch, cfg)
    shape = (8,) * ndim if ndim == 3 else (8, 12)
    out = net(torch.randn(2, 3 * channels, *shape))
    assert out.shape == (2, 2 * channels, *shape)


@pytest.mark.parametrize("arch", ["simvp", "convlstm"])
def test_untrained_residual_network_is_persistence(arch):
    # the read-out starts at zero, so every predicted frame is the last input frame
    net = build_network(arch, {**TINY[arch], "in_channels": 2, "out_channels": 2,
                               "n_input": 3, "n_output": 4})  # fmt: skip
    x = torch.randn(1, 3 * 2, 8, 8)
    out = net(x).reshape(1, 4, 2, 8, 8)
    last = x.reshape(1, 3, 2, 8, 8)[:, -1]
    for k in range(4):
        torch.testing.assert_close(out[:, k], last)


@pytest.mark.parametrize("arch", ["simvp", "convlstm"])
def test_a_few_steps_reduce_the_loss(arch):
    # a bright square moving one pixel right per frame
    torch.manual_seed(0)
    frames = torch.zeros(6, 16, 16)
    for t in range(6):
        frames[t, 6:10, 2 + t : 6 + t] = 1.0
    x, y = frames[:3].reshape(1, 3, 16, 16), frames[3:5].reshape(1, 2, 16, 16)
    net = build_network(arch, {**TINY[arch], "n_input": 3, "n_output": 2})
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.mean((net(x) - y) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]  # measured: 0.13 (SimVP), 0.16 (ConvLSTM)


def test_registry_and_divisor():
    assert get_architecture("simvp").config_class is SimVPConfig
    assert get_architecture("convlstm").config_class is ConvLSTMConfig
    assert SimVPConfig(n_s=4).divisor == (4, 4)
    assert SimVPConfig(n_s=5, ndim=3).divisor == (4, 4, 4)
    assert ConvLSTMConfig(patch=4).divisor == (4, 4)
    SimVPConfig(n_s=4).check_patch((64, 32))


def test_config_errors():
    with pytest.raises(ValueError, match=r"multiple of \(4, 4\).*e\.g\. \(64, 36\)"):
        SimVPConfig(n_s=4).check_patch((64, 33))
    with pytest.raises(ValueError, match="expected 2 positive sizes"):
        SimVPConfig().check_patch((64, 64, 64))
    with pytest.raises(ValueError, match="kernels must be odd"):
        SimVPConfig(kernels=(3, 4))
    with pytest.raises(ValueError, match="groups=5 must divide hid_t // 2 = 32"):
        SimVPConfig(groups=5)
    with pytest.raises(ValueError, match="out_channels=2 differs from in_channels=1"):
        SimVPConfig(out_channels=2)
    with pytest.raises(ValueError, match="kernel must be odd"):
        ConvLSTMConfig(kernel=4)


@pytest.mark.parametrize("arch", ["simvp", "convlstm"])
def test_networks_are_local_so_crops_and_whole_frames_agree(arch):
    # trained on crops, applied to whole frames: away from a crop's border (farther than the
    # receptive field, 11 pixels here) the crop's prediction equals the whole frame's
    torch.manual_seed(0)
    net = build_network(arch, {**TINY[arch], "n_input": 2, "n_output": 1, "residual": False})
    frame = torch.randn(1, 2, 64, 64)
    with torch.no_grad():
        whole = net(frame)
        crop = net(frame[..., 16:48, 16:48])
    torch.testing.assert_close(crop[..., 12:20, 12:20], whole[..., 28:36, 28:36])
