"""Noise2Void blind-spot masking: fraction, stratification, replacements, struct lines, loss."""

import numpy as np
import pytest

from biakit.errors import ParameterError
from biakit.nn.targets import N2VDataset, N2VMasking, n2v_loss, n2v_mask, stratified_coords

torch = pytest.importorskip("torch")


def _patch(shape=(1, 64, 64), seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def test_fraction_and_stratification():
    coords = stratified_coords((200, 200), 0.01, np.random.default_rng(0))
    assert len(coords) == 400  # 20 x 20 boxes of 10 x 10, all inside
    boxes = {tuple(c // 10) for c in coords}
    assert len(boxes) == 400  # exactly one pixel per box
    _, mask = n2v_mask(_patch((1, 256, 256)), N2VMasking(), seed=3)
    assert abs(mask.mean() - 0.002) < 0.0005  # CAREamics' 0.198 %


def test_3d_fraction():
    masked, mask = n2v_mask(_patch((2, 20, 30, 30)), N2VMasking(mask_fraction=0.01), seed=0)
    assert mask.shape == (20, 30, 30) and abs(mask.mean() - 0.01) < 0.003
    assert np.array_equal(masked[:, ~mask], _patch((2, 20, 30, 30))[:, ~mask])


def test_uniform_takes_a_neighbour_value():
    patch = np.arange(64 * 64, dtype=np.float32).reshape(1, 64, 64)  # every value unique
    masked, mask = n2v_mask(patch, N2VMasking(mask_fraction=0.01), seed=1)
    for y, x in zip(*np.nonzero(mask)):
        value = int(masked[0, y, x])
        sy, sx = divmod(value, 64)
        assert (sy, sx) != (y, x)
        assert abs(sy - y) <= 5 and abs(sx - x) <= 5


def test_median_is_the_window_median_without_centre():
    patch = _patch((2, 40, 40), seed=4)
    masked, mask = n2v_mask(patch, N2VMasking(mask_fraction=0.01, replacement="median"), seed=2)
    for y, x in zip(*np.nonzero(mask)):
        for c in range(2):
            win = patch[c, max(y - 5, 0) : y + 6, max(x - 5, 0) : x + 6].astype(np.float64)
            cy, cx = y - max(y - 5, 0), x - max(x - 5, 0)
            values = np.delete(win.ravel(), cy * win.shape[1] + cx)
            assert masked[c, y, x] == pytest.approx(np.median(values), abs=1e-6)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_struct_mask_is_a_line(axis):
    patch = _patch((1, 64, 64), seed=5)
    masking = N2VMasking(mask_fraction=0.002, struct_axis=axis, struct_length=7)
    masked, mask = n2v_mask(patch, masking, seed=6)
    changed = masked[0] != patch[0]
    expected = np.zeros_like(mask)
    for p in zip(*np.nonzero(mask)):
        for s in range(-3, 4):
            q = list(p)
            q[axis] += s
            if 0 <= q[axis] < 64:
                expected[tuple(q)] = True
    assert not np.any(changed & ~expected)  # nothing changes off the lines
    assert changed.sum() >= 0.9 * expected.sum()  # random values differ (almost) everywhere
    assert mask.sum() < expected.sum()  # the loss sees only the centres


def test_seeds_are_reproducible():
    patch = _patch()
    a = n2v_mask(patch, seed=7)
    b = n2v_mask(patch, seed=7)
    c = n2v_mask(patch, seed=8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_cached_geometry_matches_a_direct_computation():
    """The box grid and window offsets are cached (read-only); draws stay those of the formula."""
    from biakit.nn.targets._n2v import _window_offsets

    offsets = _window_offsets(2, 1)
    assert not offsets.flags.writeable and len(offsets) == 8 and not np.any(np.all(offsets == 0, 1))
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    coords = stratified_coords((20, 30), 0.01, rng_a)
    box = 10.0  # 1 / 0.01 pixels per box in 2D: 10 x 10 boxes, a 2 x 3 grid
    gy, gx = np.meshgrid(np.arange(2), np.arange(3), indexing="ij")
    grid = np.stack([gy.ravel(), gx.ravel()], 1).astype(float)
    expected = np.floor((grid + rng_b.random(grid.shape)) * box).astype(np.int64)
    np.testing.assert_array_equal(coords, expected)
    np.testing.assert_array_equal(
        stratified_coords((20, 30), 0.01, np.random.default_rng(5)), coords
    )


def test_loss_only_on_masked_pixels():
    out = torch.zeros(2, 1, 8, 8)
    target = torch.zeros(2, 2, 8, 8)
    target[:, 0] = 5.0  # big errors everywhere ...
    target[0, 0, 3, 3], target[0, 1, 3, 3] = 2.0, 1.0  # ... but only this pixel counts
    assert float(n2v_loss(out, target)) == pytest.approx(4.0)
    empty = n2v_loss(out.requires_grad_(), torch.zeros(2, 2, 8, 8))
    assert empty.detach().item() == 0.0 and empty.requires_grad


def test_huber_loss_is_squared_then_linear_with_a_bounded_gradient():
    """By hand: residuals 0.5 and 4 with delta 1 give 0.25 and 2*1*4 - 1 = 7 (mean 3.625);
    the gradient of the outlier is 2 * delta, not 2 * residual."""
    out = torch.zeros(1, 1, 2, 2, requires_grad=True)
    target = torch.zeros(1, 2, 2, 2)
    target[0, 0, 0, 0], target[0, 0, 1, 1] = 0.5, 4.0
    target[0, 1, 0, 0] = target[0, 1, 1, 1] = 1.0
    loss = n2v_loss(out, target, huber=1.0)
    assert float(loss.detach()) == pytest.approx((0.25 + 7.0) / 2)
    loss.backward()
    assert out.grad[0, 0, 1, 1].item() == pytest.approx(-2.0 / 2)  # -2 * delta / 2 pixels
    assert out.grad[0, 0, 0, 0].item() == pytest.approx(-2 * 0.5 / 2)  # squared part
    same = n2v_loss(out, target, huber=10.0).detach()
    assert float(same) == pytest.approx(float(n2v_loss(out, target).detach()))


def test_masked_prediction_never_sees_its_own_value():
    """Gradient check with a real U-Net: the original value of a masked pixel reaches the
    loss only through the target, never through the network's input."""
    from biakit.nn.models import UNet, UNetConfig

    torch.manual_seed(0)
    net = UNet(UNetConfig(ndim=2, depth=2, base_filters=4, out_channels=1)).eval()
    patch = _patch((1, 64, 64), seed=9)
    masking = N2VMasking(mask_fraction=0.004)
    masked, mask = n2v_mask(patch, masking, seed=10)
    ys, xs = np.nonzero(mask)
    y, x = int(ys[0]), int(xs[0])
    # 1. the masked input does not depend on the pixel's original value
    bumped = patch.copy()
    bumped[0, y, x] += 100.0
    masked2, mask2 = n2v_mask(bumped, masking, seed=10)
    assert np.array_equal(mask, mask2)
    # (only another masked pixel drawing (y, x) as its uniform replacement could change;
    # the stratified grid makes that rare, and it does not happen with this seed)
    assert np.array_equal(masked, masked2)
    # 2. autograd: d output[y, x] / d original[y, x] = 0; d loss / d original[y, x] comes
    #    only from the target term, -2 (output - original) / n
    raw = torch.tensor(patch[None], requires_grad=True)
    fixed = torch.tensor(masked[None])
    where = torch.tensor(mask[None, None])
    net_input = torch.where(where, fixed, raw)
    output = net(net_input)
    (grad_out,) = torch.autograd.grad(output[0, 0, y, x], raw, retain_graph=True)
    assert float(grad_out[0, 0, y, x]) == 0.0
    target = torch.cat([raw, where.float()], dim=1)
    loss = n2v_loss(output, target)
    (grad_loss,) = torch.autograd.grad(loss, raw)
    expected = (-2.0 * (output[0, 0, y, x] - raw[0, 0, y, x]) / mask.sum()).detach()
    assert float(grad_loss[0, 0, y, x]) == pytest.approx(float(expected), rel=1e-5)
    # 3. the prediction at (y, x) is unchanged when its original value changes
    with torch.no_grad():
        again = net(torch.tensor(masked2[None]))
    assert float(again[0, 0, y, x]) == pytest.approx(output[0, 0, y, x].item(), abs=1e-6)


def test_dataset_reproducible_per_epoch():
    x = torch.rand(4, 1, 32, 32)
    ds = N2VDataset(list(zip(x, x)), N2VMasking(mask_fraction=0.01), seed=3)
    a, ta = ds[1]
    b, _ = ds[1]
    assert torch.equal(a, b) and torch.equal(ta[0], x[1][0])
    assert ta[1].sum() > 0 and torch.equal(a[0][ta[1] == 0], x[1][0][ta[1] == 0])
    ds.set_epoch(1)
    assert not torch.equal(ds[1][0], a)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mask_fraction": 0.0}, "mask_fraction must be in"),
        ({"replacement": "mean"}, "replacement must be"),
        ({"radius": 0}, "radius must be"),
        ({"struct_axis": 0, "struct_length": 4}, "struct_length must be odd"),
    ],
)
def test_masking_errors(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        N2VMasking(**kwargs)


def test_call_errors():
    with pytest.raises(ParameterError, match="channel-first"):
        n2v_mask(np.zeros((8, 8)))
    with pytest.raises(ParameterError, match="struct_axis=2 is not a spatial axis"):
        n2v_mask(_patch(), N2VMasking(struct_axis=2, struct_length=3))
    with pytest.raises(ParameterError, match="n2v_loss needs a target"):
        n2v_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))
