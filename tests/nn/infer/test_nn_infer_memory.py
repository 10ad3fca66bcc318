"""Automatic tile sizes from the free memory: geometry, memory probe, exactness of the result."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from biakit.nn.infer import _memory, predict_tiled, predict_tiled_scaled  # noqa: E402
from biakit.nn.infer._memory import (  # noqa: E402
    auto_tile_shape,
    bytes_per_voxel,
    free_memory,
    tile_for_model,
    tiles_and_batch,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _unet(depth=2, seed=0):
    from biakit.nn.models import UNet, UNetConfig

    torch.manual_seed(seed)
    net = UNet(UNetConfig(depth=depth, base_filters=2, out_channels=1)).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return net


def _whole(net, image):
    with torch.no_grad():
        return net(torch.from_numpy(image[None]))[0].numpy()


def _tiles_of(net, image, **kwargs):
    totals = []
    out = predict_tiled(net, image, progress=lambda done, total: totals.append(total), **kwargs)
    return out, totals[-1]


# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("divisor", [(1, 1), (4, 4), (16, 16), (4, 8)])
@pytest.mark.parametrize("free", [10**6, 10**8, 10**10])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_tile_respects_divisor_and_memory_cap(divisor, free, batch_size):
    shape, overlap, per_voxel = (3000, 2500), (10, 12), 1000.0
    tile = auto_tile_shape(
        shape, divisor, overlap, per_voxel, batch_size=batch_size, free_bytes=free
    )
    padded = [-(-n // d) * d for n, d in zip(shape, divisor)]
    smallest = [-(-(2 * h + d) // d) * d for h, d in zip(overlap, divisor)]
    assert all(t % d == 0 for t, d in zip(tile, divisor))
    assert all(s <= t <= p for s, t, p in zip(smallest, tile, padded))
    budget = free / 4 / batch_size / per_voxel  # voxels one tile may have
    if tile != tuple(smallest):  # the smallest valid tile is taken even when over budget
        assert math.prod(tile) <= budget
        # and no divisor step more fits (the tile is not needlessly small)
        assert math.prod(t + d for t, d in zip(tile, divisor)) > min(budget, 2048**2)
    else:
        assert budget < math.prod(t + d for t, d in zip(tile, divisor))


def test_tile_cap_small_image_and_thin_axis():
    # huge free memory: capped, and never larger than the padded image
    assert auto_tile_shape((100, 70), (8, 8), (4, 4), 100.0, free_bytes=10**15) == (104, 72)
    big = auto_tile_shape((9000, 9000), (1, 1), (4, 4), 1.0, free_bytes=10**15)
    assert big == (2048, 2048)
    capped = auto_tile_shape((9000, 9000), (1, 1), (4, 4), 1.0, free_bytes=10**15, max_voxels=100)
    assert capped == (10, 10)
    # a thin axis is taken whole and the budget goes to the others
    assert auto_tile_shape(
        (8, 1000, 1000), (1, 4, 4), (2, 5, 5), 1.0, free_bytes=4 * 8 * 200**2
    ) == (8, 200, 200)


def test_free_memory_cpu_and_cuda(monkeypatch, tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  1000 kB\nMemAvailable:    2048 kB\n")
    assert _memory._meminfo_available(str(meminfo)) == 2048 * 1024
    meminfo.write_text("MemTotal:  1000 kB\n")
    assert _memory._meminfo_available(str(meminfo)) is None
    assert _memory._meminfo_available(str(tmp_path / "missing")) is None
    assert free_memory("cpu") > 0 and free_memory(torch.device("cpu")) > 0
    monkeypatch.setattr(_memory, "_meminfo_available", lambda: None)
    assert free_memory("cpu") > 0  # psutil, os.sysconf or the 2 GiB fallback
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (123, 456))
    assert free_memory("cuda") == 123 and free_memory(torch.device("cuda", 0)) == 123


def test_bytes_per_voxel_counts_distinct_activations_and_restores_model():
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 8, 3, padding=1), torch.nn.ReLU(inplace=True), torch.nn.Conv2d(8, 3, 1)
    )
    net.train()
    # input 2 + conv 8 (the in-place ReLU returns the same tensor) + 3 channels, float32, x2
    assert bytes_per_voxel(net, 2, (4, 4), "cpu") == 2.0 * 4 * (2 + 8 + 3)
    assert net.training  # mode restored
    assert tile_for_model(
        net, 2, (500, 500), (1, 1), (2, 2), "cpu", free=lambda d: 4 * 104 * 400
    ) == (20, 20)
    fallback = _memory.FALLBACK_BYTES_PER_VOXEL * 4
    assert tile_for_model(
        None, 1, (500, 500), (1, 1), (2, 2), "cpu", runnable=False, out_scale=4,
        free=lambda d: int(4 * fallback * 100),
    ) == (10, 10)  # fmt: skip


def test_bytes_per_voxel_probes_each_network_once_per_layout():
    """Frame-by-frame predictions call the tiler per frame; the forward probe runs once."""
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.Conv2d(8, 1, 1))
    calls = []
    net.register_forward_pre_hook(lambda module, inputs: calls.append(inputs[0].shape))
    first = bytes_per_voxel(net, 1, (4, 4), "cpu")
    assert bytes_per_voxel(net, 1, (4, 4), "cpu") == first and len(calls) == 1
    assert bytes_per_voxel(net, 1, (8, 8), "cpu") == first and len(calls) == 2  # new divisor
    net.double()  # another dtype: activations twice the size, probed again
    assert bytes_per_voxel(net, 1, (4, 4), "cpu") == 2 * first and len(calls) == 3
    other = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, padding=1))
    assert bytes_per_voxel(other, 1, (4, 4), "cpu") != first  # per network


def test_fewer_larger_tiles_and_a_batch_that_fits(monkeypatch):
    """The budget of one batch goes to one large tile first (less overlap), then to the
    batch; the tile shrinks to the least pixels that need no more tiles."""
    from biakit.nn.infer import plan_tiles

    net = _unet()
    monkeypatch.setattr(_memory, "bytes_per_voxel", lambda *a, **k: 1000.0)
    budget = lambda side: lambda device: int(4 * 1000 * side**2)  # noqa: E731  one batch
    args = (net, 1, (1024, 1024), (4, 4), (23, 23), "cpu")
    tile, batch = tiles_and_batch(*args, batch_size=4, blending="gaussian", free=budget(1128))
    assert tile == (1024, 1024) and batch == 1  # the whole image: one tile, no overlap
    tile, batch = tiles_and_batch(*args, batch_size=4, blending="gaussian", free=budget(2048))
    assert tile == (1024, 1024) and batch == 4  # the budget holds four of them
    # 564 px fit: an axis takes 3 tiles whether 564 or 440 px long; 440 is computed
    tile, batch = tiles_and_batch(*args, batch_size=4, blending="gaussian", free=budget(564))
    assert tile == (440, 440) and batch == 1
    before = plan_tiles((1024, 1024), (564, 564), (23, 23), (4, 4))
    after = plan_tiles((1024, 1024), tile, (23, 23), (4, 4))
    assert after.n_tiles == before.n_tiles == 9 and math.prod(tile) < 0.61 * 564**2


# --------------------------------------------------------------------------- prediction


def test_automatic_tiles_follow_free_memory(monkeypatch):
    net = _unet(depth=2)
    image = np.random.default_rng(1).random((1, 150, 130), dtype=np.float32)
    whole = _whole(net, np.pad(image, ((0, 0), (0, 2), (0, 2)), mode="reflect"))[:, :150, :130]
    per_voxel = bytes_per_voxel(net, 1, (4, 4), "cpu")
    monkeypatch.setattr(_memory, "free_memory", lambda device: int(4 * 2 * per_voxel * 64**2))
    out, n_tiles = _tiles_of(net, image, batch_size=2, blending="none")
    assert n_tiles > 4  # the memory cap forced tiling: (64 - 2 * 23) core pixels per tile
    np.testing.assert_allclose(out, whole, atol=1e-5)
    monkeypatch.setattr(_memory, "free_memory", lambda device: 10**12)
    out, n_tiles = _tiles_of(net, image)
    assert n_tiles == 1
    np.testing.assert_allclose(out, whole, atol=1e-5)


def test_2048_image_automatic_tiles_equal_whole_image(monkeypatch):
    net = _unet(depth=2, seed=3)
    image = np.random.default_rng(2).random((1, 2048, 2048), dtype=np.float32)
    whole = _whole(net, image)
    # 256 MiB free: tiles of about 450^2 pixels, not the whole image
    monkeypatch.setattr(_memory, "free_memory", lambda device: 256 * 1024**2)
    out, n_tiles = _tiles_of(net, image)  # default Gaussian blending, no tiling parameter
    assert n_tiles > 1
    assert out.shape == (1, 2048, 2048) and np.abs(out - whole).max() < 1e-4


def test_scaled_prediction_automatic_core(monkeypatch):
    from biakit.nn.models import EDSRConfig, EDSRLite

    torch.manual_seed(0)
    net = EDSRLite(EDSRConfig(scale=2, n_features=4, n_blocks=1)).eval()
    image = np.random.default_rng(3).random((1, 60, 50), dtype=np.float32)
    whole = _whole(net, image)
    per_voxel = bytes_per_voxel(net, 1, (1, 1), "cpu")
    monkeypatch.setattr(_memory, "free_memory", lambda device: int(4 * per_voxel * 24**2))
    out = predict_tiled_scaled(net, image)
    np.testing.assert_allclose(out, whole, atol=1e-5)
    core = _scaled_core(net, image)
    assert all(c < n for c, n in zip(core, image.shape[1:]))  # several tiles
    monkeypatch.setattr(_memory, "free_memory", lambda device: 10**12)
    assert _scaled_core(net, image) == (60, 50)  # one tile: the whole image


def _scaled_core(net, image):
    from biakit.nn.infer._scaled import _auto_core

    cfg = net.config
    return _auto_core(net, 1, image.shape[1:], cfg.halo, cfg.factors, torch.device("cpu"))


def test_automatic_tiles_3d(monkeypatch):
    from biakit.nn.models import UNet, UNetConfig

    torch.manual_seed(1)
    net = UNet(UNetConfig(ndim=3, depth=1, base_filters=2, out_channels=1)).eval()
    image = np.random.default_rng(4).random((1, 12, 60, 52), dtype=np.float32)
    whole = _whole(net, image)
    per_voxel = bytes_per_voxel(net, 1, (2, 2, 2), "cpu")
    monkeypatch.setattr(_memory, "free_memory", lambda device: int(4 * per_voxel * 24**3))
    out, n_tiles = _tiles_of(net, image)  # one 24^3 tile per batch fits
    assert n_tiles > 1
    np.testing.assert_allclose(out, whole, atol=1e-5)


# --------------------------------------------------------------------------- default blending


def test_auto_blending_cuts_exact_tiles_and_cross_fades_the_rest():
    from biakit.nn.infer._predict import resolve_blending
    from biakit.nn.models import UNetConfig

    cfg = UNetConfig(depth=2)
    smaller = tuple(h - 1 for h in cfg.halo)
    assert resolve_blending(cfg, "auto", cfg.halo) == "none"  # exact tiles: no cross-fade
    assert resolve_blending(cfg, "auto", smaller) == "gaussian"  # context cut short
    assert resolve_blending(UNetConfig(depth=2, norm="group"), "auto", cfg.halo) == "gaussian"
    assert resolve_blending(cfg, "linear", cfg.halo) == "linear"  # a choice is kept


def test_exact_tiles_are_cut_not_cross_faded(monkeypatch):
    """By default a local U-Net's tiles are cut (no quarter-core cross-fade): fewer,
    smaller tiles for the same output. 2048^2 with room for 1192^2 tiles: four tiles of
    1048^2 (1.05x the pixels) instead of four of 1192^2 (1.36x)."""
    net = _unet(depth=2)
    monkeypatch.setattr(_memory, "bytes_per_voxel", lambda *a, **k: 1000.0)
    args = (net, 1, (2048, 2048), (4, 4), (23, 23), "cpu")
    free = lambda device: 4 * 1000 * 1192**2  # noqa: E731  one tile of 1192^2
    assert tiles_and_batch(*args, batch_size=4, blending="gaussian", free=free)[0] == (1192,) * 2
    assert tiles_and_batch(*args, batch_size=4, blending="none", free=free)[0] == (1048,) * 2
    # 3D, a 64 x 512 x 512 stack in 64 x 256 x 256 tiles (halo 23, divisor 4): both take
    # 9 tiles, cut ones 64 x 204 x 204 (1.43x the voxels), cross-faded 64 x 232 x 232 (1.85x)
    from biakit.nn.infer import plan_tiles
    from biakit.nn.infer._tiling import fit_tile_shape

    shape, halo, div = (64, 512, 512), (23,) * 3, (4,) * 3
    for blending, side, ratio in (("none", 204, 1.43), ("gaussian", 232, 1.85)):
        tile = fit_tile_shape(shape, (64, 256, 256), halo, div, blending)
        plan = plan_tiles(shape, tile, halo, div, blending)
        assert tile == (64, side, side) and plan.n_tiles == 9
        assert plan.n_tiles * math.prod(tile) / math.prod(shape) == pytest.approx(ratio, abs=0.01)

    monkeypatch.undo()
    image = np.random.default_rng(4).random((1, 300, 260), dtype=np.float32)
    whole = _whole(net, image)
    per_voxel = bytes_per_voxel(net, 1, (4, 4), "cpu")
    monkeypatch.setattr(_memory, "free_memory", lambda device: int(4 * per_voxel * 128**2))
    out, n_tiles = _tiles_of(net, image)  # defaults: "auto" blending
    faded, n_faded = _tiles_of(net, image, blending="gaussian")
    assert 1 < n_tiles < n_faded
    np.testing.assert_allclose(out, whole, atol=1e-5)
    np.testing.assert_allclose(out, faded, atol=1e-5)
