"""The small ResNet classifier: shapes (2D / 3D, channels, sizes), config checks, registry."""

import pytest
from pydantic import ValidationError

torch = pytest.importorskip("torch")

from biakit.nn.models import build_network, get_architecture  # noqa: E402
from biakit.nn.models._resnet import ResNetSmall  # noqa: E402
from biakit.nn.models._resnet_config import ResNetConfig  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(
    ("cfg", "shape"),
    [
        ({"ndim": 2, "out_channels": 3}, (2, 1, 32, 32)),
        ({"ndim": 2, "in_channels": 3, "out_channels": 5}, (2, 3, 17, 40)),
        ({"ndim": 3, "out_channels": 2, "stages": (1, 2)}, (2, 1, 8, 12, 12)),
        ({"ndim": 2, "out_channels": 4, "norm": "group", "dropout": 0.2}, (3, 1, 16, 16)),
    ],
)
def test_logits_shape_any_input_size(cfg, shape):
    net = ResNetSmall(ResNetConfig(base_filters=4, **cfg)).eval()
    out = net(torch.randn(*shape))
    assert out.shape == (shape[0], cfg["out_channels"])


def test_global_pooling_makes_logits_translation_tolerant():
    """A constant image gives the same logits whatever its size (global average pooling)."""
    net = ResNetSmall(ResNetConfig(base_filters=4, out_channels=2, norm="group")).eval()
    with torch.no_grad():
        a = net(torch.ones(1, 1, 16, 16))
        b = net(torch.ones(1, 1, 32, 32))
    # border effects of the zero padding shrink with size, the centre is identical
    assert torch.allclose(a, b, atol=0.5)


def test_stages_downsample_and_widen():
    cfg = ResNetConfig(base_filters=8, stages=(1, 1, 2), out_channels=2)
    net = ResNetSmall(cfg)
    assert cfg.widths == (8, 16, 32)
    assert cfg.divisor == (8, 8)  # stem stride 2, then two stride-2 stages
    feats = net.blocks(net.stem(torch.zeros(1, 1, 16, 16)))
    assert feats.shape == (1, 32, 2, 2)
    assert len(net.blocks) == 4
    full = ResNetSmall(ResNetConfig(base_filters=8, stages=(1, 1), stem_stride=1, out_channels=2))
    assert full.blocks(full.stem(torch.zeros(1, 1, 16, 16))).shape == (1, 16, 8, 8)


def test_registry_builds_resnet_small():
    arch = get_architecture("resnet_small")
    assert arch.version == 1 and arch.config_class is ResNetConfig
    net = build_network("resnet_small", {"ndim": 2, "out_channels": 3, "base_filters": 2})
    assert isinstance(net, ResNetSmall)


def test_config_errors():
    with pytest.raises(ValidationError, match="stages must hold"):
        ResNetConfig(stages=())
    with pytest.raises(ValidationError, match="stages must hold"):
        ResNetConfig(stages=(1, 0))
    with pytest.raises(ValidationError, match="greater than or equal to 2"):
        ResNetConfig(out_channels=1)
    cfg = ResNetConfig(stages=(1, 1, 1))
    with pytest.raises(ValueError, match="expected 2 sizes"):
        cfg.check_patch((8, 8, 8))
    with pytest.raises(ValueError, match="smaller than the network's down-sampling"):
        cfg.check_patch((4, 8))
    cfg.check_patch((8, 8))


def test_forward_checks_input():
    net = ResNetSmall(ResNetConfig(base_filters=2, in_channels=2))
    with pytest.raises(ValueError, match=r"expected \(B, 2, Y, X\)"):
        net(torch.zeros(1, 1, 8, 8))
