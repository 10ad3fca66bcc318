"""N2V2 options of the U-Net: ``skip_top=False`` and ``pool="blur"`` (Hoeck 2022).

Independent truth: a hand-computed 1D blur-pool, constant images staying constant,
hand-counted parameters, and state-dict fingerprints of the release before the options
existed (so that saved weights keep loading).
"""

import hashlib

import pytest

torch = pytest.importorskip("torch")

from biakit.nn.models import UNet, UNetConfig, count_parameters, unet  # noqa: E402
from biakit.nn.models._layers import BlurPool  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N2V2 = {"skip_top": False, "pool": "blur"}
VARIANTS = [{"skip_top": False}, {"pool": "blur"}, N2V2]


def _run(cfg, shape, batch=2):
    model = UNet(cfg)
    x = torch.randn(batch, cfg.in_channels, *shape, requires_grad=True)
    out = model(x)
    assert out.shape == (batch, cfg.out_channels, *shape)
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"
    assert x.grad.abs().sum() > 0
    return model


def _fingerprint(model):
    text = ";".join(f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items())
    return len(model.state_dict()), hashlib.sha256(text.encode()).hexdigest()[:16]


def test_defaults_keep_the_first_release_network():
    cfg = UNetConfig()
    assert cfg.skip_top is True and cfg.pool == "max"
    # Fingerprints of the state dicts written by the release before skip_top / pool.
    assert _fingerprint(UNet(cfg)) == (118, "1e163793f5942905")
    aniso = UNetConfig(ndim=3, depth=2, base_filters=4, z_pool=(False, True), attention=True,
                       residual=True, upsampling="interpolation")  # fmt: skip
    assert _fingerprint(UNet(aniso)) == (108, "1a0c792f86431537")
    assert all(type(d.pool) is torch.nn.MaxPool2d for d in UNet(UNetConfig(depth=2)).downs)


def test_old_config_without_new_fields_loads_with_defaults():
    old = {"ndim": 2, "depth": 2, "base_filters": 4, "norm": "batch", "upsampling": "transposed"}
    cfg = UNetConfig.model_validate(old)
    assert (cfg.skip_top, cfg.pool) == (True, "max")
    again = UNetConfig.model_validate_json(UNetConfig(depth=2, **N2V2).model_dump_json())
    assert (again.skip_top, again.pool) == (False, "blur")


@pytest.mark.parametrize("kwargs", VARIANTS)
@pytest.mark.parametrize("upsampling", ["transposed", "interpolation"])
def test_shapes_and_gradients_2d(kwargs, upsampling):
    cfg = UNetConfig(ndim=2, in_channels=2, out_channels=3, depth=2, base_filters=4,
                     attention=True, residual=True, upsampling=upsampling, **kwargs)  # fmt: skip
    _run(cfg, (16, 24))


@pytest.mark.parametrize("kwargs", VARIANTS)
def test_shapes_and_gradients_3d(kwargs):
    _run(UNetConfig(ndim=3, depth=2, base_filters=4, **kwargs), (8, 8, 12))
    aniso = UNetConfig(ndim=3, depth=2, base_filters=4, z_pool=(False, True), norm="group",
                       upsampling="interpolation", **kwargs)  # fmt: skip
    _run(aniso, (6, 8, 8))
    flat = UNetConfig(ndim=3, depth=2, base_filters=2, z_pool=(False, False), **kwargs)
    _run(flat, (3, 8, 8), batch=1)


def test_blur_pool_hand_computed_1d():
    # Varies along X only. Stride-1 max (window 2): m[-1..7] = 0 4 4 0 8 8 0 0 0;
    # out[j] = (m[2j-1] + 2 m[2j] + m[2j+1]) / 4 = 3, 3, 6, 0 (plain max-pool: 4, 0, 8, 0).
    row = torch.tensor([0.0, 4, 0, 0, 8, 0, 0, 0])
    out = BlurPool(2, (2, 2))(row.expand(1, 1, 6, 8))
    assert out.shape == (1, 1, 3, 4)
    torch.testing.assert_close(out, torch.tensor([3.0, 3, 6, 0]).expand(1, 1, 3, 4))
    # Along Y in 3D with Z not pooled: the same numbers, Z untouched.
    col = row.view(1, 1, 1, 8, 1).expand(1, 2, 3, 8, 4)
    out3 = BlurPool(3, (1, 2, 2))(col)
    assert out3.shape == (1, 2, 3, 4, 2)
    torch.testing.assert_close(
        out3, torch.tensor([3.0, 3, 6, 0]).view(1, 1, 1, 4, 1).expand_as(out3)
    )


def test_blur_pool_keeps_constants_and_channels_apart():
    x = torch.ones(1, 3, 8, 8, dtype=torch.float64) * torch.tensor([1.0, -2.0, 5.0]).view(
        1, 3, 1, 1
    )
    out = BlurPool(2, (2, 2)).double()(x)
    torch.testing.assert_close(out, x[..., ::2, ::2])  # no border darkening, depthwise


def test_blur_kernel_is_fixed_buffer_outside_state_dict():
    model = UNet(UNetConfig(ndim=3, depth=2, base_filters=4, z_pool=(False, True), **N2V2))
    pools = [d.pool for d in model.downs]
    assert [tuple(p.kernel.shape) for p in pools] == [(1, 1, 1, 3, 3), (1, 1, 3, 3, 3)]
    assert pools[1].kernel.sum().item() == pytest.approx(1.0)
    assert [n for n, _ in model.named_buffers() if "kernel" in n] == [
        "downs.0.pool.kernel",
        "downs.1.pool.kernel",
    ]
    assert not any("kernel" in n for n, _ in model.named_parameters())
    assert not any("kernel" in k for k in model.state_dict())
    model.double()
    assert pools[0].kernel.dtype == torch.float64  # buffers follow dtype / device moves


def test_blur_kernel_is_not_trained():
    torch.manual_seed(0)
    model = unet(depth=2, base_filters=4, **N2V2)
    before = model.downs[0].pool.kernel.clone()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(2, 1, 16, 16)).square().mean().backward()
        opt.step()
    assert torch.equal(model.downs[0].pool.kernel, before)
    assert model.downs[0].pool.kernel.grad is None


def test_parameter_counts():
    # Blur-pool has no parameters; without the top skip the finest decoder's first conv
    # takes 4 instead of 8 channels: 4 * 4 * 9 = 144 weights fewer (1650 hand-counted).
    assert count_parameters(unet(depth=1, base_filters=4, norm="none")) == 1650
    assert count_parameters(unet(depth=1, base_filters=4, norm="none", pool="blur")) == 1650
    assert count_parameters(unet(depth=1, base_filters=4, norm="none", skip_top=False)) == 1506
    for kw in ({}, {"attention": True, "residual": True}):
        plain = unet(ndim=3, depth=2, base_filters=4, z_pool=(False, True), **kw)
        blur = unet(ndim=3, depth=2, base_filters=4, z_pool=(False, True), pool="blur", **kw)
        assert count_parameters(blur) == count_parameters(plain)


def test_blur_state_dict_is_interchangeable_with_max():
    torch.manual_seed(0)
    plain = unet(depth=2, base_filters=4, attention=True)
    blur = unet(depth=2, base_filters=4, attention=True, pool="blur")
    assert _fingerprint(blur) == _fingerprint(plain)
    blur.load_state_dict(plain.state_dict())  # strict


def test_no_top_skip_drops_top_gate_and_halves_top_decoder_input():
    model = unet(depth=2, base_filters=4, attention=True, skip_top=False)
    assert isinstance(model.gates[0], torch.nn.Identity)
    assert not isinstance(model.gates[1], torch.nn.Identity)
    assert model.decoders[0].conv1.in_channels == 4 and model.decoders[1].conv1.in_channels == 16
    assert not any(k.startswith("gates.0.") for k in model.state_dict())


def test_no_top_skip_network_recomposed_by_hand():
    # Without the top skip the network is head(decoder(up(bottleneck(down(encoder(x)))))):
    # the top encoder's features reach the output only through the down path.
    torch.manual_seed(0)
    model = unet(depth=1, base_filters=4, norm="none", skip_top=False).eval()
    x = torch.randn(1, 1, 8, 8)
    seen = []
    model.encoders[0].register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        out = model(x)
    down = model.downs[0](seen[0])
    with torch.no_grad():
        again = model.head(model.decoders[0](model.ups[0](model.bottleneck(down), (8, 8))))
    torch.testing.assert_close(out, again)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pool": "avg"}, "pool"),
        ({"skip_top": "maybe"}, "skip_top"),
    ],
)
def test_validation_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UNetConfig(**kwargs)


@pytest.mark.parametrize(
    ("ndim", "factors", "match"),
    [
        (2, (2, 3), r"one factor of 1 or 2 per spatial axis \(2\), got \(2, 3\)"),
        (3, (2, 2), r"per spatial axis \(3\), got \(2, 2\)"),
    ],
)
def test_blur_pool_errors(ndim, factors, match):
    with pytest.raises(ValueError, match=match):
        BlurPool(ndim, factors)
