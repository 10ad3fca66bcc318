"""The analytic receptive field / halo against the network itself.

Independent truth: (1) perturbation of a random network in eval mode; (2) an exact
empirical receptive field from a *monotone* float64 network (positive weights and
biases, constant positive input, so every ReLU is active, every interpolation weight
is positive and a max-pool output rises whenever any pixel of its window rises: an
output changes exactly when the perturbed pixel is structurally connected to it);
(3) a divisor-aligned tile with ``halo`` context equals the whole-image result.
"""

import pytest

torch = pytest.importorskip("torch")

from biakit.nn.models import UNet, UNetConfig  # noqa: E402

N2V2 = {"skip_top": False, "pool": "blur"}  # Hoeck 2022


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny tensors: one intra-op thread avoids OpenMP spin-waiting on shared cores.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _random_bn_eval(model):
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.normal_(0, 0.1, generator=gen)
            m.running_var.uniform_(0.5, 2.0, generator=gen)
    return model.eval()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ndim": 2, "upsampling": "transposed"},
        {"ndim": 2, "upsampling": "interpolation", "attention": True, "residual": True},
        {"ndim": 3, "z_pool": (False, True), "upsampling": "interpolation"},
        {"ndim": 2, "upsampling": "transposed", **N2V2},
        {"ndim": 2, "upsampling": "interpolation", "attention": True, "pool": "blur"},
        {"ndim": 3, "z_pool": (False, True), "upsampling": "interpolation", **N2V2},
    ],
)
def test_far_pixels_do_not_change_output_near_pixels_do(kwargs):
    torch.manual_seed(0)
    cfg = UNetConfig(depth=2, base_filters=4, dropout=0.2, **kwargs)
    model = _random_bn_eval(UNet(cfg))
    shape = (8, 64, 64) if cfg.ndim == 3 else (64, 64)
    x = torch.randn(1, 1, *shape)
    centre = tuple(s // 2 for s in shape)
    x2 = x.clone()
    x2[(0, 0, *centre)] += 10.0
    with torch.no_grad():
        diff = (model(x2) - model(x)).abs().amax(dim=(0, 1))
    far = torch.zeros(shape, dtype=torch.bool)
    for axis, (c, h) in enumerate(zip(centre, cfg.halo)):
        idx = torch.arange(shape[axis])
        view = [1] * cfg.ndim
        view[axis] = -1
        far |= ((idx - c).abs() > h).view(view).expand(shape)
    assert far.any()
    assert diff[far].max().item() < 1e-5  # farther than the halo along some axis
    assert diff[centre].item() > 1e-3  # the perturbed pixel itself
    near = tuple(c + 2 for c in centre)
    assert diff[near].item() > 1e-4


def _monotone(model):
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.fill_(0.1)
            else:
                p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) + 0.05)
    return model.eval()


def _empirical_extent(model, shape, axis, centre):
    """Min/max offset (input - output) along ``axis`` that changes outputs near ``centre``.

    Only inputs around both claimed ends are perturbed (a few pixels inside and outside).
    """
    div = model.config.divisor[axis]
    lo, hi = model.config.receptive_field[axis]
    outputs = range(centre, centre + div)  # every alignment on the pooling grid
    ends = [*range(lo - 2, lo + div), *range(hi - 1, hi + div + 2)]
    inputs = sorted({centre + e for e in ends})
    base = torch.ones(1, 1, *shape, dtype=torch.float64)
    batch = base.repeat(len(inputs), 1, *([1] * len(shape)))
    mid = [s // 2 for s in shape]
    for b, i in enumerate(inputs):
        index = list(mid)
        index[axis] = i
        batch[(b, 0, *index)] += 1.0
    with torch.no_grad():
        ref = model(base)[0, 0]
        out = model(batch)[:, 0]
    found_lo, found_hi = 0, 0
    for o in outputs:
        index = list(mid)
        index[axis] = o
        changed = out[(slice(None), *index)] != ref[tuple(index)]
        offsets = [i - o for i, c in zip(inputs, changed.tolist()) if c]
        found_lo, found_hi = min(found_lo, *offsets), max(found_hi, *offsets)
    return found_lo, found_hi


@pytest.mark.parametrize(
    ("kwargs", "shape", "axis"),
    [
        ({"ndim": 2, "upsampling": "transposed"}, (128, 64), 0),
        (
            {"ndim": 2, "upsampling": "interpolation", "attention": True, "residual": True},
            (128, 64),
            0,
        ),
        ({"ndim": 2, "depth": 3, "upsampling": "interpolation"}, (56, 200), 1),
        ({"ndim": 3, "z_pool": (False, True), "base_filters": 1}, (40, 48, 48), 0),
        ({"ndim": 2, "upsampling": "transposed", **N2V2}, (128, 64), 0),
        ({"ndim": 2, "upsampling": "interpolation", "pool": "blur"}, (64, 128), 1),
        ({"ndim": 2, "upsampling": "interpolation", "skip_top": False}, (128, 64), 0),
        ({"ndim": 2, "depth": 3, "attention": True, **N2V2}, (56, 224), 1),
        ({"ndim": 3, "z_pool": (False, True), "base_filters": 1, **N2V2}, (40, 16, 16), 0),
        (
            {
                "ndim": 3,
                "z_pool": (False, True),
                "base_filters": 1,
                "upsampling": "interpolation",
                **N2V2,
            },
            (8, 80, 16),
            1,
        ),
    ],
)
def test_receptive_field_is_exact(kwargs, shape, axis):
    cfg = UNetConfig(**{"depth": 2, "base_filters": 2, "norm": "none", **kwargs})
    torch.manual_seed(0)
    model = _monotone(UNet(cfg).double())
    extent = _empirical_extent(model, shape, axis, centre=shape[axis] // 2)
    assert extent == cfg.receptive_field[axis]


@pytest.mark.parametrize(
    ("kwargs", "shape", "start", "stop"),
    [
        ({"upsampling": "transposed"}, (80, 80), (8, 8), (72, 72)),
        ({"upsampling": "interpolation"}, (80, 80), (8, 8), (72, 72)),
        ({"upsampling": "transposed", **N2V2}, (80, 80), (8, 4), (72, 76)),
        ({"upsampling": "interpolation", **N2V2}, (80, 80), (4, 8), (76, 72)),
        (
            {"ndim": 3, "z_pool": (False, True), "upsampling": "interpolation", **N2V2},
            (36, 72, 72),
            (2, 4, 8),
            (34, 68, 72),
        ),
    ],
)
def test_aligned_tile_with_halo_context_equals_whole_image(kwargs, shape, start, stop):
    torch.manual_seed(0)
    cfg = UNetConfig(**{"depth": 2, "base_filters": 4, "attention": True, **kwargs})
    model = _random_bn_eval(UNet(cfg))
    assert all(a % d == 0 for a, d in zip(start, cfg.divisor))  # aligned origin
    x = torch.randn(1, 1, *shape)
    tile_region = (..., *(slice(a, b) for a, b in zip(start, stop)))
    with torch.no_grad():
        whole = model(x)
        tile = model(x[tile_region])
    keep = (..., *(slice(a + h, b - h) for a, b, h in zip(start, stop, cfg.halo)))
    inner = (..., *(slice(h, b - a - h) for a, b, h in zip(start, stop, cfg.halo)))
    assert all(b - a > 2 * h for a, b, h in zip(start, stop, cfg.halo))
    torch.testing.assert_close(tile[inner], whole[keep], atol=1e-5, rtol=0)
