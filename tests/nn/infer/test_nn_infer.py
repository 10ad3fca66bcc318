"""Tiled inference: exactness against whole-image prediction, blending, lazy I/O, TTA, errors."""

import sys
from dataclasses import dataclass

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from biakit.nn.infer import iter_predict_tiled, plan_tiles, predict_tiled  # noqa: E402
from biakit.nn.infer._tiling import read_tile, reflect_index  # noqa: E402


@dataclass(frozen=True)
class Cfg:
    ndim: int
    divisor: tuple
    halo: tuple
    out_channels: int
    in_channels: int = 1


def _init(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 if p.ndim > 1 else 0.1))
    return model


class ConvNet(nn.Module):
    """Three 3x3 convolutions: receptive field radius 3, divisor 1."""

    def __init__(self, ndim=2, out=2, seed=0):
        super().__init__()
        conv = nn.Conv2d if ndim == 2 else nn.Conv3d
        self.body = nn.Sequential(
            conv(1, 4, 3, padding=1),
            nn.Tanh(),
            conv(4, 4, 3, padding=1),
            nn.Tanh(),
            conv(4, out, 3, padding=1),
        )
        self.config = Cfg(ndim, (1,) * ndim, (3,) * ndim, out)
        _init(self, seed)

    def forward(self, x):
        return self.body(x)


class PoolNet(nn.Module):
    """Mini U-Net with ``levels`` 2x max-pool / nearest up-sampling stages and skips.

    Divisor 2**levels; receptive field radius (measured by impulses) 5 for one level,
    13 for two.
    """

    def __init__(self, ndim=2, levels=2, out=2, seed=0):
        super().__init__()
        conv = nn.Conv2d if ndim == 2 else nn.Conv3d
        self.pool = nn.MaxPool2d(2) if ndim == 2 else nn.MaxPool3d(2)
        self.down = nn.ModuleList(
            [conv(1 if i == 0 else 4, 4, 3, padding=1) for i in range(levels + 1)]
        )
        self.up = nn.ModuleList([conv(8, 4, 3, padding=1) for _ in range(levels)])
        self.head = conv(4, out, 1)
        self.levels = levels
        self.config = Cfg(ndim, (2**levels,) * ndim, ({1: 5, 2: 13}[levels],) * ndim, out)
        _init(self, seed)

    def forward(self, x):
        skips = []
        for i, c in enumerate(self.down):
            x = torch.tanh(c(x))
            if i < self.levels:
                skips.append(x)
                x = self.pool(x)
        for c in self.up:
            x = nn.functional.interpolate(x, scale_factor=2, mode="nearest")
            x = torch.tanh(c(torch.cat([x, skips.pop()], 1)))
        return self.head(x)


def _symmetrise(model):
    """Average every kernel over flips and Y/X transposes: a flip/rotation-equivariant net."""
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim >= 4:
                k = p.clone()
                k = (k + k.flip(-1)) / 2
                k = (k + k.flip(-2)) / 2
                if p.ndim == 5:
                    k = (k + k.flip(-3)) / 2
                p.copy_((k + k.transpose(-1, -2)) / 2)
    return model


def whole(model, image, transform=None):
    """Reference: the model on the whole image reflect-padded to the divisor, then cropped."""
    spatial = image.shape[1:]
    div = model.config.divisor
    pad = [(0, 0)] + [(0, -(-n // d) * d - n) for n, d in zip(spatial, div)]
    padded = np.pad(np.asarray(image, np.float32), pad, mode="reflect")
    with torch.no_grad():
        y = model.eval()(torch.from_numpy(padded[None]))[0].numpy()
    return y[(slice(None), *(slice(0, n) for n in spatial))]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # tiny tiles run fastest on one thread; several threads thrash on a busy machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rand(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("size", [1, 2, 5, 9])
def test_reflect_index_matches_numpy_pad(size):
    a = np.arange(size)
    expected = np.pad(a, (0, 3 * size + 7), mode="reflect")
    assert np.array_equal(reflect_index(np.arange(expected.size), size), expected)


@pytest.mark.parametrize("blending", ["none", "linear", "gaussian"])
def test_plan_is_partition_of_unity(blending):
    plan = plan_tiles((101, 37), (32, 16), (5, 3), (8, 4), blending=blending)
    total = np.zeros((101, 37))
    count = np.zeros((101, 37), int)
    for tile in plan.tiles():
        assert all(s % d == 0 for s, d in zip(tile.start, (8, 4)))
        total[tile.write] += plan.weight(tile)
        count[tile.write] += 1
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    if blending == "none":
        assert count.max() == 1
    else:  # cross-fading needs real overlap
        assert count.max() > 1
    for ax, (tile, halo) in zip(plan.axes, ((32, 5), (16, 3))):
        for k, w in enumerate(ax.weights):
            if k > 0:
                assert not w[:halo].any()  # interior context gets no weight
            if k < len(ax.starts) - 1:
                assert not w[tile - halo :].any()


def test_read_tile_reads_only_its_box():
    class Recorder:
        def __init__(self, array):
            self.array, self.shape, self.ndim, self.reads = array, array.shape, array.ndim, []

        def __getitem__(self, key):
            block = self.array[key]
            self.reads.append(block.shape)
            return block

    image = rand((1, 70, 45))
    rec = Recorder(image)
    out = predict_tiled(ConvNet(), rec, tile_shape=16, blending="none", device="cpu")
    np.testing.assert_allclose(out, whole(ConvNet(), image), atol=1e-5)
    assert len(rec.reads) == plan_tiles((70, 45), (16, 16), (3, 3), (1, 1), "none").n_tiles
    assert max(max(r[1:]) for r in rec.reads) <= 16
    # a tile hanging over the end is reflected like numpy.pad
    tile = read_tile(image, (0, 40), (1, 16))
    np.testing.assert_array_equal(
        tile, np.pad(image, [(0, 0), (0, 0), (0, 11)], "reflect")[:, :1, 40:56]
    )


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("shape", [(64, 64), (45, 71), (13, 100)])
@pytest.mark.parametrize("tile", [12, 20, 32])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_tiled_equals_whole_2d_conv(shape, tile, batch_size):
    model, image = ConvNet(), rand((1, *shape))
    out = predict_tiled(
        model, image, tile_shape=tile, batch_size=batch_size, blending="none", device="cpu"
    )
    assert out.dtype == np.float32 and out.shape == (2, *shape)
    np.testing.assert_allclose(out, whole(model, image), atol=1e-5, rtol=0)


@pytest.mark.parametrize("shape", [(45, 71), (10, 13)])
@pytest.mark.parametrize("tile", [(40, 40), (48, 36)])
@pytest.mark.parametrize("blending", ["none", "linear", "gaussian"])
def test_tiled_equals_whole_2d_pooling(shape, tile, blending):
    # divisor 4: tiles start on the pooling grid; overlap = receptive field -> exact,
    # also for the blended modes (context gets weight 0, weights sum to one)
    model, image = PoolNet(levels=2), rand((1, *shape), seed=1)
    out = predict_tiled(model, image, tile_shape=tile, batch_size=2, blending=blending)
    np.testing.assert_allclose(out, whole(model, image), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("model", "tile"), [(ConvNet(ndim=3), (8, 12, 16)), (PoolNet(ndim=3, levels=1), (16, 14, 16))]
)
@pytest.mark.parametrize("blending", ["none", "gaussian"])
def test_tiled_equals_whole_3d(model, tile, blending):
    image = rand((1, 19, 30, 27), seed=2)
    out = predict_tiled(model, image, tile_shape=tile, batch_size=4, blending=blending)
    np.testing.assert_allclose(out, whole(model, image), atol=1e-5, rtol=0)


def test_bf16_autocast_is_close_to_float32(monkeypatch):
    import torch

    from biakit.nn.train import _precision

    if not torch.cpu._is_avx512_bf16_supported():  # emulated bf16 would still run, slowly
        monkeypatch.setattr(_precision, "cpu_bf16_native", lambda: True)
    model, image = PoolNet(levels=2), rand((1, 45, 71), seed=1)
    exact = predict_tiled(model, image, tile_shape=40, blending="none", device="cpu")
    fast = predict_tiled(model, image, tile_shape=40, blending="none", device="cpu", amp="auto")
    assert fast.dtype == np.float32 and not np.array_equal(fast, exact)  # bf16 really ran
    error, scale = np.abs(fast - exact), np.abs(exact).max()  # bf16: 8-bit mantissa
    assert error.max() < 0.05 * scale and error.mean() < 0.005 * scale


class NaNInAutocast(nn.Module):
    """``inner``, but NaN wherever it runs in reduced precision (an intermittent fault)."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.config, self.poisoned = inner, inner.config, 0

    def forward(self, x):
        y = self.inner(x)
        if torch.is_autocast_enabled("cpu"):
            self.poisoned += 1
            return y * float("nan")
        return y


def test_a_non_finite_bf16_tile_is_predicted_again_in_float32(monkeypatch):
    from biakit.nn.train import _precision

    monkeypatch.setattr(_precision, "cpu_bf16_native", lambda: True)
    model, image = NaNInAutocast(ConvNet(ndim=3)), rand((1, 9, 20, 18), seed=3)
    out = predict_tiled(model, image, tile_shape=(8, 12, 12), device="cpu", amp="auto")
    assert model.poisoned > 0  # 3D networks run in bf16 under "auto"
    np.testing.assert_allclose(out, whole(model.inner, image), atol=1e-5, rtol=0)
    # a NaN in the input is the data's, not precision's: it is not recomputed
    image[0, 4, 10, 9] = np.nan
    model.poisoned = 0
    out = predict_tiled(model, image, tile_shape=(8, 12, 12), device="cpu", amp="auto")
    assert np.isnan(out).sum() > 7**3 and model.poisoned > 0  # beyond the receptive field


def test_default_tile_shape_and_small_image():
    model = PoolNet(levels=2)
    for shape in [(300, 290), (7, 5)]:
        image = rand((1, *shape), seed=3)
        np.testing.assert_allclose(predict_tiled(model, image), whole(model, image), atol=1e-5)


def test_too_little_overlap_is_not_exact():
    # the exactness tests have power: less context than the receptive field breaks them
    model, image = PoolNet(levels=2), rand((1, 64, 64), seed=4)
    out = predict_tiled(model, image, tile_shape=32, overlap=4, blending="none")
    assert np.abs(out - whole(model, image)).max() > 1e-3


@pytest.mark.parametrize(("blending", "factor"), [("linear", 0.2), ("gaussian", 0.02)])
def test_blending_is_seamless_when_overlap_too_small(blending, factor):
    # no context (overlap 0 < receptive field 3): "none" shows steps at the tile edges,
    # cross-fading hides them (exact when the overlap covers the field, tested above)
    model, image = ConvNet(seed=5), rand((1, 96, 96), seed=5)
    ref = whole(model, image)

    def step(out):  # largest jump of the error between neighbouring pixels
        return max(np.abs(np.diff(out - ref, axis=a)).max() for a in (1, 2))

    cut = predict_tiled(model, image, tile_shape=32, overlap=0, blending="none")
    assert step(cut) > 0.3 * np.ptp(ref)  # visible seams
    out = predict_tiled(model, image, tile_shape=32, overlap=0, blending=blending)
    assert np.abs(out - ref).max() < factor * np.abs(cut - ref).max()
    assert step(out) < factor * step(cut)


# --------------------------------------------------------------------------- lazy I/O


def test_dask_and_zarr_inputs():
    da = pytest.importorskip("dask.array")
    zarr = pytest.importorskip("zarr")
    model, image = PoolNet(levels=2), rand((1, 50, 61), seed=6)
    ref = whole(model, image)
    lazy = da.from_array(image, chunks=(1, 16, 16))
    np.testing.assert_allclose(predict_tiled(model, lazy, tile_shape=32), ref, atol=1e-5)
    z = zarr.create_array(
        store=zarr.storage.MemoryStore(), shape=image.shape, chunks=(1, 16, 16), dtype="float32"
    )
    z[...] = image
    np.testing.assert_allclose(predict_tiled(model, z, tile_shape=32), ref, atol=1e-5)


@pytest.mark.parametrize("blending", ["none", "gaussian"])
def test_zarr_and_numpy_output(blending):
    zarr = pytest.importorskip("zarr")
    model, image = PoolNet(levels=2), rand((1, 50, 61), seed=7)
    ref = whole(model, image)
    z = zarr.create_array(
        store=zarr.storage.MemoryStore(), shape=(2, 50, 61), chunks=(2, 16, 16), dtype="float32"
    )
    z[...] = 7.0  # stale content must not leak into the result
    result = predict_tiled(model, image, tile_shape=32, out=z, blending=blending)
    assert result is z
    np.testing.assert_allclose(z[...], ref, atol=1e-5)
    buf = np.full((2, 50, 61), 7.0, np.float32)
    assert predict_tiled(model, image, tile_shape=32, out=buf, blending=blending) is buf
    np.testing.assert_allclose(buf, ref, atol=1e-5)


# --------------------------------------------------------------------------- TTA


def _d4_reference(model, image):
    """Independent TTA truth: the 8 rotations/reflections of the whole image, mapped back."""
    preds = []
    for k in range(4):
        for flip in (False, True):
            x = np.flip(image, -1) if flip else image
            x = np.ascontiguousarray(np.rot90(x, k, axes=(-2, -1)))
            y = whole(model, x)
            y = np.rot90(y, -k, axes=(-2, -1))
            preds.append(np.flip(y, -1) if flip else y)
    return np.mean(preds, axis=0)


def test_tta_inverse_mapping_matches_whole_image_d4():
    model, image = PoolNet(levels=2, seed=8), rand((1, 40, 52), seed=8)
    out = predict_tiled(model, image, tile_shape=32, blending="none", tta=True)
    np.testing.assert_allclose(out, _d4_reference(model, image), atol=1e-5)
    assert np.abs(out - whole(model, image)).max() > 1e-3  # TTA changed something


@pytest.mark.parametrize("model", [_symmetrise(ConvNet(seed=9)), _symmetrise(PoolNet(seed=9))])
@pytest.mark.parametrize("tile", [(32, 32), (32, 48)])
def test_tta_on_equivariant_model_changes_nothing(model, tile):
    image = rand((1, 45, 58), seed=9)
    plain = predict_tiled(model, image, tile_shape=tile, blending="linear")
    np.testing.assert_allclose(
        predict_tiled(model, image, tile_shape=tile, blending="linear", tta=True),
        plain,
        atol=1e-5,
    )


def test_tta_3d_equivariant():
    model, image = _symmetrise(ConvNet(ndim=3, seed=10)), rand((1, 12, 20, 20), seed=10)
    out = predict_tiled(model, image, tile_shape=(8, 16, 16), blending="none", tta=True)
    np.testing.assert_allclose(out, whole(model, image), atol=1e-5)


@pytest.mark.parametrize("tile, n_all", [((32, 32), 8), ((32, 48), 8), ((8, 16, 16), 16)])
def test_tta_prefixes_are_subgroups(tile, n_all):
    from biakit.nn.infer import tta_transforms
    from biakit.nn.infer._tta import apply

    x = rand((1, 1, *tile), seed=11)
    ts = tta_transforms(tile, (1,) * len(tile), True)
    assert len(ts) == n_all == len({apply(t, x).tobytes() for t in ts})  # all distinct
    for n in (1, 2, 4, 8, 16):
        if n > n_all:
            continue
        prefix = tta_transforms(tile, (1,) * len(tile), n)
        assert prefix == ts[:n]
        images = {apply(t, x).tobytes() for t in prefix}
        for t in prefix:  # closed under composition: averaging them is invariant
            for u in prefix:
                assert apply(u, apply(t, x)).tobytes() in images
    if len(tile) == 2:  # four: the quarter turns (of oblong tiles too)
        turns = {np.ascontiguousarray(np.rot90(x, k, axes=(-2, -1))).tobytes() for k in range(4)}
        assert {apply(t, x).tobytes() for t in tta_transforms(tile, (1, 1), 4)} == turns
    with pytest.raises(ValueError, match="tta"):
        tta_transforms(tile, (1,) * len(tile), 0)
    if len(tile) == 2:  # Y and X with other divisors: no swaps, the four flips
        flips = tta_transforms(tile, (1, 2), True)
        assert len(flips) == 4 and not any(t.transpose for t in flips)


@pytest.mark.parametrize("tile", [32, (32, 48)])
def test_tta_four_turns_matches_reference(tile):
    model, image = PoolNet(levels=2, seed=12), rand((1, 40, 52), seed=12)
    out = predict_tiled(model, image, tile_shape=tile, blending="none", tta=4)
    ref = [np.rot90(whole(model, np.ascontiguousarray(np.rot90(image, k, axes=(-2, -1)))),
                    -k, axes=(-2, -1)) for k in range(4)]  # fmt: skip
    np.testing.assert_allclose(out, np.mean(ref, axis=0), atol=1e-5)


# --------------------------------------------------------------------------- API details


def test_progress_callback_and_generator():
    model, image = ConvNet(), rand((1, 40, 40))
    calls = []
    predict_tiled(
        model,
        image,
        tile_shape=16,
        overlap=1,
        blending="none",
        batch_size=4,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(4, 9), (8, 9), (9, 9)]
    gen = iter_predict_tiled(model, image, tile_shape=16, overlap=1, blending="none", batch_size=5)
    steps = []
    with pytest.raises(StopIteration) as stop:
        while True:
            steps.append(next(gen))
    assert steps == [(5, 9), (9, 9)]
    expected = predict_tiled(model, image, tile_shape=16, overlap=1, blending="none")
    np.testing.assert_allclose(stop.value.value, expected, atol=1e-5)


def test_activations():
    model, image = PoolNet(levels=2, out=3), rand((1, 37, 41), seed=11)
    logits = whole(model, image)
    soft = predict_tiled(model, image, tile_shape=32, activation="softmax")
    np.testing.assert_allclose(soft.sum(axis=0), 1.0, atol=1e-5)
    expected = np.exp(logits) / np.exp(logits).sum(axis=0)
    np.testing.assert_allclose(soft, expected, atol=1e-5)
    sig = predict_tiled(model, image, tile_shape=32, activation="sigmoid", blending="none")
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-logits)), atol=1e-5)


def test_model_state_restored_and_device_fallback(monkeypatch):
    model, image = ConvNet(), rand((1, 20, 20))
    model.train()
    monkeypatch.setitem(sys.modules, "biakit.nn.device", None)  # import fails -> fallback
    out = predict_tiled(model, image, tile_shape=16, device="auto")
    assert model.training
    np.testing.assert_allclose(out, whole(model, image), atol=1e-5)
    out = predict_tiled(model, image, tile_shape=16, device="cpu")
    np.testing.assert_allclose(out, whole(model, image), atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"image": np.zeros((32, 32))}, ValueError, r"a 2D model expects \(C, Y, X\)"),
        ({"image": np.zeros((1, 4, 32, 32))}, ValueError, "2 spatial axes"),
        ({"image": np.zeros((3, 32, 32))}, ValueError, "3 channels .* expects 1"),
        ({"image": [[[0.0]]]}, TypeError, "image must be a NumPy, Dask or Zarr array"),
        (
            {"tile_shape": 30},
            ValueError,
            r"tile_shape\[0\] = 30 \(axis Y\).*divisor 4; use 28 or 32",
        ),
        ({"tile_shape": (32, 2)}, ValueError, r"tile_shape\[1\] = 2 \(axis X\).*; use 4"),
        ({"tile_shape": (32, 32, 32)}, ValueError, "tile_shape must be a number or 2 numbers"),
        ({"overlap": -1}, ValueError, "overlap must be >= 0"),
        ({"overlap": 15}, ValueError, "too small for overlap 15.*at least 2 \\* overlap"),
        ({"blending": "max"}, ValueError, "blending must be one of"),
        ({"activation": "relu"}, ValueError, "activation must be one of"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"batch_size": 2.0}, TypeError, "batch_size must be an int"),
        ({"out": np.zeros((2, 8, 8), np.float32)}, ValueError, r"out has shape \(2, 8, 8\)"),
        ({"out": np.zeros((2, 64, 64), np.int32)}, ValueError, "floating dtype"),
        ({"device": "tpu"}, ValueError, "device='tpu' is not understood"),
        ({"amp": "fp8"}, ValueError, "amp must be 'none', 'auto', 'bf16' or 'fp16'"),
        ({"amp": "fp16", "device": "cpu"}, ValueError, "amp='fp16' needs a CUDA device"),
    ],
)
def test_errors(kwargs, error, match):
    args = {"image": np.zeros((1, 64, 64), np.float32), "tile_shape": 32, **kwargs}
    with pytest.raises(error, match=match):
        predict_tiled(PoolNet(levels=2), args.pop("image"), **args)


def test_model_without_config_and_wrong_out_channels():
    with pytest.raises(TypeError, match=r"needs a .config .*missing ndim, divisor, halo\)"):
        predict_tiled(nn.Conv2d(1, 1, 3), np.zeros((1, 8, 8)))
    model = ConvNet(out=2)
    model.config = Cfg(2, (1, 1), (3, 3), 5)
    with pytest.raises(ValueError, match=r"returned 2 channels .* out_channels=5"):
        predict_tiled(model, np.zeros((1, 8, 8)), tile_shape=8)


def test_export_onnx_without_onnx_says_how_to_install(monkeypatch, tmp_path):
    from biakit.nn.infer import export_onnx

    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match="needs the 'onnx' package"):
        export_onnx(ConvNet(), tmp_path / "x.onnx", (1, 1, 16, 16))
