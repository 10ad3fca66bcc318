"""UNet module: shapes for every option, errors, parameter count, init, learning, determinism."""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pydantic import ValidationError  # noqa: E402

from biakit.nn.models import UNet, UNetConfig, count_parameters, unet  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny tensors: one intra-op thread avoids OpenMP spin-waiting on shared cores.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


OPTIONS = list(
    itertools.product(
        ["batch", "group", "instance", "none"],
        [False, True],
        [False, True],
        ["transposed", "interpolation"],
    )
)


def _run(cfg, shape, batch=2):
    model = UNet(cfg)
    x = torch.randn(batch, cfg.in_channels, *shape)
    out = model(x)
    assert out.shape == (batch, cfg.out_channels, *shape)
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"
    return model, out


@pytest.mark.parametrize(("norm", "residual", "attention", "upsampling"), OPTIONS)
def test_shapes_2d_all_options(norm, residual, attention, upsampling):
    cfg = UNetConfig(
        ndim=2, in_channels=2, out_channels=3, depth=2, base_filters=4, norm=norm,
        residual=residual, attention=attention, upsampling=upsampling, dropout=0.1,
    )  # fmt: skip
    _run(cfg, (16, 24))


@pytest.mark.parametrize(("norm", "residual", "attention", "upsampling"), OPTIONS[::3])
def test_shapes_3d_options(norm, residual, attention, upsampling):
    cfg = UNetConfig(
        ndim=3, in_channels=1, out_channels=2, depth=2, base_filters=4, norm=norm,
        residual=residual, attention=attention, upsampling=upsampling,
    )  # fmt: skip
    _run(cfg, (8, 8, 12))


@pytest.mark.parametrize("upsampling", ["transposed", "interpolation"])
def test_anisotropic_z_pool_shapes(upsampling):
    # Z = 6 is not a multiple of 2**depth = 4 but is of 2**(number of True) = 2.
    cfg = UNetConfig(ndim=3, depth=2, base_filters=4, z_pool=(False, True), upsampling=upsampling)
    _run(cfg, (6, 8, 8))
    flat = UNetConfig(ndim=3, depth=2, base_filters=4, z_pool=(False, False), attention=True)
    _run(flat, (3, 8, 8))
    iso = UNetConfig(ndim=3, depth=2, base_filters=4)
    with pytest.raises(ValueError, match="patch size 6 along Z is not a multiple of 4"):
        UNet(iso)(torch.zeros(1, 1, 6, 8, 8))


def test_pool_kernels_are_anisotropic():
    model = UNet(UNetConfig(ndim=3, depth=2, base_filters=4, z_pool=(False, True)))
    assert [d.pool.kernel_size for d in model.downs] == [(1, 2, 2), (2, 2, 2)]
    assert [u.conv.stride for u in model.ups] == [(1, 2, 2), (2, 2, 2)]


def test_forward_errors():
    model = unet(depth=2, base_filters=4, in_channels=2)
    with pytest.raises(ValueError, match=r"expected \(batch, 2, Y, X\) for this 2D U-Net"):
        model(torch.zeros(1, 1, 16, 16))
    with pytest.raises(ValueError, match=r"input has shape \(2, 16, 16\)"):
        model(torch.zeros(2, 16, 16))
    with pytest.raises(ValueError, match="patch size 18 along X is not a multiple of 4"):
        model(torch.zeros(1, 2, 16, 18))


def test_config_from_mapping_and_type_error():
    model = UNet({"depth": 1, "base_filters": 4})
    assert isinstance(model.config, UNetConfig) and model.config.depth == 1
    cfg = UNetConfig(depth=1, base_filters=4)
    assert UNet(cfg).config is cfg
    with pytest.raises(TypeError, match="config must be a UNetConfig or a mapping, got int"):
        UNet(3)
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        unet(depth=1, base_filter=4)


def test_factory_passes_fields():
    model = unet(ndim=3, in_channels=2, out_channels=5, depth=1, base_filters=4, norm="group")
    cfg = model.config
    assert (cfg.ndim, cfg.in_channels, cfg.out_channels, cfg.norm) == (3, 2, 5, "group")


def test_count_parameters_hand_computed():
    # depth 1, base 4, no norm (convs with bias), 1 -> 2 channels:
    # enc 1->4: 40 + 148; bottleneck 4->8: 296 + 584; transposed 8->4 (2x2): 132;
    # dec 8->4: 292 + 148; head 4->2: 10.  Total 1650.
    model = unet(depth=1, base_filters=4, norm="none")
    assert count_parameters(model) == 1650
    model.head.weight.requires_grad_(False)
    assert count_parameters(model) == 1650 - 8
    assert count_parameters(model, trainable_only=False) == 1650


def test_group_norm_groups_in_model():
    model = unet(depth=1, base_filters=12, norm="group")
    groups = {
        m.num_channels: m.num_groups for m in model.modules() if isinstance(m, torch.nn.GroupNorm)
    }
    assert groups == {12: 6, 24: 8}


def test_kaiming_normal_init():
    torch.manual_seed(0)
    model = unet(depth=1, base_filters=32)
    w = model.decoders[0].conv2.weight  # 32 -> 32, fan_in = 288
    assert w.std().item() == pytest.approx(np.sqrt(2 / 288), rel=0.05)
    assert abs(w.mean().item()) < 0.01
    assert model.decoders[0].conv1.bias is None  # bias is redundant before batch norm
    assert unet(depth=1, base_filters=4, norm="none").decoders[0].conv1.bias.abs().sum() == 0


def test_torch_default_init():
    """``init="torch"`` keeps PyTorch's layer defaults: Kaiming-uniform with a = sqrt(5)."""
    torch.manual_seed(0)
    model = unet(depth=1, base_filters=32, norm="none", init="torch")
    w = model.decoders[0].conv2.weight  # 32 -> 32, fan_in = 288: U(-1/sqrt(288), 1/sqrt(288))
    bound = 1 / np.sqrt(288)
    assert w.abs().max().item() <= bound
    assert w.std().item() == pytest.approx(bound / np.sqrt(3), rel=0.05)
    b = model.decoders[0].conv2.bias
    assert b.abs().max().item() <= bound and b.abs().sum().item() > 0
    # the same seed builds the weights of PyTorch's own reset_parameters, layer by layer
    torch.manual_seed(1)
    model = unet(depth=1, base_filters=4, init="torch")
    ref = unet(depth=1, base_filters=4, init="kaiming")
    torch.manual_seed(1)
    for m in ref.modules():  # registration order = construction order
        if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d):
            m.reset_parameters()
    for (name, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(a, b), name


def test_init_option_validated():
    with pytest.raises(ValidationError, match="init"):
        UNetConfig(init="xavier")
    assert UNetConfig().init == "kaiming"


def test_determinism_with_manual_seed():
    x = torch.randn(1, 1, 16, 16)
    outs = []
    for seed in (3, 3, 4):
        torch.manual_seed(seed)
        model = unet(depth=2, base_filters=4, attention=True, residual=True).eval()
        with torch.no_grad():
            outs.append(model(x))
    assert torch.equal(outs[0], outs[1])
    assert not torch.allclose(outs[0], outs[2])


def test_eval_output_is_logits_without_activation():
    torch.manual_seed(0)
    model = unet(depth=1, base_filters=4, out_channels=2).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 1, 8, 8) * 5)
    assert out.min() < 0 or out.max() > 1  # not probabilities


def test_tiny_unet_overfits_one_image():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:32, :32]
    mask = ((yy - 12) ** 2 + (xx - 18) ** 2 < 49) | ((yy > 22) & (xx > 4) & (xx < 12))
    image = mask.astype(np.float32) + rng.normal(0, 0.3, mask.shape).astype(np.float32)
    x = torch.from_numpy(image)[None, None]
    y = torch.from_numpy(mask.astype(np.int64))[None]
    model = unet(depth=2, base_filters=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
    model.train()  # batch statistics, as during fitting
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.98
