"""The tiny ViT classifier: shapes (2D / 3D, channels, sizes), position codes, config, registry."""

import math

import pytest
from pydantic import ValidationError

torch = pytest.importorskip("torch")

from biakit.nn.models import build_network, get_architecture  # noqa: E402
from biakit.nn.models._vit import ViTTiny, sincos_position_codes  # noqa: E402
from biakit.nn.models._vit_config import ViTConfig  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"embed_dim": 12, "depth": 1, "heads": 2}


@pytest.mark.parametrize(
    ("cfg", "shape"),
    [
        ({"ndim": 2, "out_channels": 3}, (2, 1, 16, 16)),
        ({"ndim": 2, "in_channels": 3, "out_channels": 5, "pool": "cls"}, (2, 3, 8, 20)),
        ({"ndim": 3, "out_channels": 2, "patch_size": 2}, (2, 1, 4, 6, 8)),
        ({"ndim": 2, "out_channels": 4, "dropout": 0.2, "patch_size": 8}, (3, 1, 16, 32)),
    ],
)
def test_logits_shape_any_multiple_of_the_patch(cfg, shape):
    net = ViTTiny(ViTConfig(**SMALL, **cfg)).eval()
    out = net(torch.randn(*shape))
    assert out.shape == (shape[0], cfg["out_channels"])


def test_position_codes_match_the_formula():
    """Hand-computed: 2D grid, dim 8 -> n = 2 frequencies 1 and 1/100 per axis."""
    codes = sincos_position_codes((2, 3), 8)
    # token 5 is (row 1, column 2): [sin(1), sin(.01), cos(1), cos(.01), sin(2), ...]
    expected = [math.sin(1), math.sin(0.01), math.cos(1), math.cos(0.01),
                math.sin(2), math.sin(0.02), math.cos(2), math.cos(0.02)]  # fmt: skip
    assert torch.allclose(codes[5], torch.tensor(expected), atol=1e-6)
    assert torch.allclose(codes[0], torch.tensor([0.0, 0, 1, 1, 0, 0, 1, 1]))
    assert len({tuple(c.tolist()) for c in codes}) == 6  # every position distinct
    padded = sincos_position_codes((2, 2, 2), 8)  # n = 1 per axis, 2 zero features
    assert padded.shape == (8, 8) and not padded[:, 6:].any()
    assert torch.allclose(padded[7, :6], torch.tensor([math.sin(1), math.cos(1)] * 3))
    with pytest.raises(ValueError, match="at least 6 for a 3D grid"):
        sincos_position_codes((2, 2, 2), 4)


def test_mean_pooling_ignores_token_order_without_positions():
    """Permuting patches changes the logits only through the position codes."""
    net = ViTTiny(ViTConfig(**SMALL, out_channels=2, patch_size=4)).eval()
    torch.nn.init.normal_(net.head.weight)
    x = torch.randn(1, 1, 8, 8)
    swapped = torch.cat([x[..., 4:], x[..., :4]], dim=-1)  # swap the two patch columns
    with torch.no_grad():
        a, b = net(x), net(swapped)
        net._codes = {(2, 2): torch.zeros(4, 12)}  # remove the positions
        c, d = net(x), net(swapped)
    assert not torch.allclose(a, b, atol=1e-4)
    assert torch.allclose(c, d, atol=1e-5)


def test_trains_on_a_separable_toy_problem():
    """Bright vs dark images: a few Adam steps separate them (the gradient flows)."""
    torch.manual_seed(0)
    net = ViTTiny(ViTConfig(**SMALL, out_channels=2, patch_size=4))
    x = torch.cat([torch.rand(8, 1, 8, 8), torch.rand(8, 1, 8, 8) + 1.0])
    y = torch.tensor([0] * 8 + [1] * 8)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
    assert (net.eval()(x).argmax(1) == y).all()


def test_registry_and_state_dict_roundtrip():
    arch = get_architecture("vit_tiny")
    assert (arch.id, arch.version, arch.config_class) == ("vit_tiny", 1, ViTConfig)
    net = build_network("vit_tiny", {**SMALL, "out_channels": 3, "pool": "cls"}).eval()
    again = build_network("vit_tiny", net.config.model_dump())
    again.load_state_dict(net.state_dict())
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(net(x), again.eval()(x))


def test_config_checks():
    cfg = ViTConfig(patch_size=4, ndim=3, embed_dim=12, heads=2)
    assert cfg.divisor == (4, 4, 4) and cfg.n_tokens((8, 8, 12)) == 12
    cfg.check_patch((8, 8, 12))
    with pytest.raises(ValidationError, match="multiple of heads"):
        ViTConfig(embed_dim=12, heads=5)
    with pytest.raises(ValidationError, match="at least 6 for the 3D"):
        ViTConfig(ndim=3, embed_dim=4, heads=2)
    with pytest.raises(ValueError, match=r"not a multiple of model\.patch_size=4"):
        cfg.check_patch((8, 8, 10))
    with pytest.raises(ValueError, match="expected 3 sizes"):
        cfg.check_patch((8, 8))


def test_forward_errors():
    net = ViTTiny(ViTConfig(**SMALL, patch_size=4))
    with pytest.raises(ValueError, match="expected \\(B, 1, Y, X\\)"):
        net(torch.zeros(1, 2, 8, 8))
    with pytest.raises(ValueError, match="multiples of patch_size=4"):
        net(torch.zeros(1, 1, 8, 10))
