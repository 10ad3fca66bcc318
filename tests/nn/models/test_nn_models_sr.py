"""Super-resolution networks: shapes, pixel shuffle, ICNR start, receptive field, registry."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from biakit.nn.models import (  # noqa: E402
    EDSRConfig,
    EDSRLite,
    RCANConfig,
    RCANLite,
    build_network,
    get_architecture,
    pixel_shuffle_nd,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(
    ("cls", "cfg", "shape", "expected"),
    [
        (EDSRLite, EDSRConfig(scale=2, n_features=8, n_blocks=2), (2, 1, 8, 12), (2, 1, 16, 24)),
        (EDSRLite, EDSRConfig(scale=4, n_features=8, n_blocks=1), (1, 1, 5, 7), (1, 1, 20, 28)),
        (
            RCANLite,
            RCANConfig(
                scale=2, n_features=8, n_groups=1, n_blocks=2, in_channels=2, out_channels=2
            ),
            (1, 2, 8, 8),
            (1, 2, 16, 16),
        ),
        (
            EDSRLite,
            EDSRConfig(ndim=3, scale=(4, 1, 1), n_features=4, n_blocks=1),
            (1, 1, 3, 8, 8),
            (1, 1, 12, 8, 8),
        ),
        (
            RCANLite,
            RCANConfig(
                ndim=3,
                scale=2,
                n_features=8,
                n_groups=1,
                n_blocks=1,
                residual_input=False,
                out_channels=3,
            ),
            (1, 1, 4, 4, 4),
            (1, 3, 8, 8, 8),
        ),
    ],
)
def test_output_shapes(cls, cfg, shape, expected):
    out = cls(cfg)(torch.randn(shape))
    assert tuple(out.shape) == expected


def test_pixel_shuffle_matches_torch_in_2d_and_places_voxels_in_3d():
    x = torch.randn(2, 8, 3, 5)
    assert torch.equal(pixel_shuffle_nd(x, (2, 2)), torch.nn.functional.pixel_shuffle(x, 2))
    # 3D, anisotropic factors: channel (c, i, j, k) goes to voxel (z*fz + i, y*fy + j, x*fx + k)
    fz, fy, fx = 3, 1, 2
    v = torch.arange(1 * 2 * fz * fy * fx * 2 * 2 * 2, dtype=torch.float32).reshape(
        1, 2 * fz * fy * fx, 2, 2, 2
    )
    out = pixel_shuffle_nd(v, (fz, fy, fx))
    assert out.shape == (1, 2, 6, 2, 4)
    for c in range(2):
        for i in range(fz):
            for k in range(fx):
                ch = c * fz * fy * fx + i * fy * fx + k
                np.testing.assert_array_equal(out[0, c, i::fz, 0::fy, k::fx], v[0, ch])


def test_icnr_starts_as_nearest_neighbour_upsampling():
    torch.manual_seed(0)
    net = EDSRLite(EDSRConfig(scale=2, n_features=4, n_blocks=1, residual_input=False))
    x = torch.randn(1, 4, 6, 6)
    up = pixel_shuffle_nd(net.upsample(x), (2, 2))
    # every 2x2 high-resolution cell holds one value: no checkerboard at initialisation
    cells = up.reshape(1, 4, 6, 2, 6, 2)
    assert torch.allclose(cells, cells[:, :, :, :1, :, :1].expand_as(cells), atol=1e-6)


def test_residual_input_adds_the_linear_interpolation():
    net = EDSRLite(EDSRConfig(scale=2, n_features=4, n_blocks=1))
    for p in net.tail.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(1, 1, 5, 6)
    expected = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear",
                                               align_corners=False)  # fmt: skip
    assert torch.allclose(net(x), expected, atol=1e-6)


@pytest.mark.parametrize("ndim", [2, 3])
def test_halo_bounds_the_receptive_field(ndim):
    cfg = EDSRConfig(ndim=ndim, scale=2, n_features=4, n_blocks=1)
    net = EDSRLite(cfg).eval()
    size = 2 * cfg.halo[0] + 3
    x = torch.randn(1, 1, *(size,) * ndim, requires_grad=True)
    centre = (size // 2) * 2  # a high-resolution pixel above the central low-resolution one
    out = net(x)
    out[(0, 0, *(centre,) * ndim)].backward()
    reach = torch.nonzero(x.grad[0, 0].abs() > 0)
    spread = (reach - size // 2).abs().max().item()
    assert 0 < spread <= cfg.halo[0]


def test_registry_builds_the_sr_networks_and_configs_check_their_inputs():
    assert get_architecture("edsr_lite").version == 1
    net = build_network("rcan_lite", {"n_features": 8, "n_groups": 1, "n_blocks": 1})
    assert isinstance(net, RCANLite) and not net.config.is_local
    with pytest.raises(ValueError, match=r"scale \(2, 2, 2\) has 3 factors; expected 2"):
        EDSRConfig(scale=(2, 2, 2))
    with pytest.raises(ValueError, match="residual_input needs in_channels == out_channels"):
        EDSRConfig(in_channels=1, out_channels=2)
    with pytest.raises(ValueError, match="scale must be positive integers"):
        RCANConfig(scale=0)
    with pytest.raises(TypeError, match="config must be an EDSRConfig, got RCANConfig"):
        EDSRLite(RCANConfig())
