"""Super-resolution workflow: tiling, degradation pairs, scale, persistence, quality."""

import numpy as np
import pytest

from biakit.data import low_high_resolution_pair
from biakit.errors import DataError
from biakit.io import ImageMeta, read_image, write_image
from biakit.nn.datasets import ScaledPairDataset, degrade
from biakit.workflows import SuperResolutionConfig, SuperResolver, load_model

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {
    "patch_shape": (16, 16),
    "samples_per_epoch": 8,
    "model": {"n_features": 8, "n_blocks": 2},
    "train": {"epochs": 1, "batch_size": 4, "device": "cpu", "plot_every": 0, "amp": "none"},
}


def _highs(n=3, shape=(64, 64)):
    return [low_high_resolution_pair(shape, seed=s)[1] for s in range(n)]


@pytest.fixture(scope="module")
def trained():
    sr = SuperResolver(SuperResolutionConfig(**TINY))
    sr.train(_highs())
    return sr


def test_degrade_bins_blurs_and_adds_seeded_noise():
    high = np.arange(36, dtype=float).reshape(1, 6, 6)
    low = degrade(high, (3, 2), sigma=0)
    np.testing.assert_allclose(low[0], high[0].reshape(2, 3, 3, 2).mean(axis=(1, 3)))
    blurred = degrade(high, (2, 2))  # default sd = factor / 2: a linear ramp is unchanged inside
    assert blurred.shape == (1, 3, 3)
    a, b = (degrade(high, (2, 2), gaussian_noise=0.1, seed=s) for s in (1, 1))
    np.testing.assert_array_equal(a, b)
    assert degrade(np.zeros((1, 5, 5)), (2, 2)).shape == (1, 2, 2)  # cropped to multiples
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        degrade(high, (2, 2), sigma=-1)


def test_pair_dataset_aligns_low_and_high_patches():
    high = np.random.default_rng(0).random((1, 32, 48)).astype(np.float32)
    low = degrade(high, (2, 2), sigma=0)
    ds = ScaledPairDataset([low], [high], (8, 8), (2, 2), samples_per_epoch=5, flip=True, seed=3)
    for i in range(5):
        x, y = ds[i]
        # with no blur the low patch is exactly the 2x2 mean of the high patch, flips included
        np.testing.assert_allclose(x[0].numpy(), y[0].numpy().reshape(8, 2, 8, 2).mean(axis=(1, 3)),
                                   rtol=1e-5)  # fmt: skip
    with pytest.raises(DataError, match=r"high image 0 has spatial shape \(32, 48\); expected"):
        ScaledPairDataset([low], [high], (8, 8), (4, 4))


def test_tiled_prediction_equals_whole_image(trained):
    from biakit.nn.infer import predict_tiled_scaled

    image = np.random.default_rng(1).random((1, 70, 53)).astype(np.float32)
    whole = predict_tiled_scaled(trained.model, image, tile_shape=(70, 53), device="cpu")
    tiled = predict_tiled_scaled(trained.model, image, tile_shape=(16, 24), device="cpu")
    assert whole.shape == (1, 140, 106)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)


def test_output_keeps_the_input_intensity_scale(trained):
    low = degrade(_highs(1)[0][None], (2, 2))[0]
    a = trained.predict(low)
    b = trained.predict(1000 * low + 50)
    assert a.shape == (64, 64)
    np.testing.assert_allclose(b, 1000 * a + 50, rtol=1e-3, atol=0.5)


def test_save_load_and_predict_to_disk(trained, tmp_path):
    folder = trained.save(tmp_path / "m")
    loaded = load_model(folder)
    low = np.random.default_rng(2).random((24, 20)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(low), trained.predict(low), atol=1e-5)
    write_image(tmp_path / "in" / "a.tif", low, ImageMeta("YX", (0.2, 0.2), unit="micrometer"))
    report = loaded.predict_to_disk(tmp_path / "in", tmp_path / "out")
    assert not report.failures
    out, meta = read_image(tmp_path / "out" / "a_sr.tif")
    assert out.shape == (48, 40) and meta.spacing == pytest.approx((0.1, 0.1))
    assert (tmp_path / "out" / "a_overlay.png").exists()


def test_pairs_3d_anisotropic_and_errors():
    cfg = SuperResolutionConfig(
        scale=(4, 1, 1), patch_shape=(4, 8, 8), samples_per_epoch=2,
        model={"architecture": "rcan_lite", "n_features": 8, "n_groups": 1, "n_blocks": 1},
        train={"epochs": 1, "batch_size": 2, "device": "cpu", "plot_every": 0},
    )  # fmt: skip
    high = np.random.default_rng(0).random((16, 12, 12)).astype(np.float32)
    low = degrade(high[None], (4, 1, 1))[0]
    sr = SuperResolver(cfg)
    sr.train([low, low], [high, high])
    assert sr.predict(low).shape == (16, 12, 12)
    with pytest.raises(DataError, match=r"targets\[0\]: spatial shape \(8, 12, 12\)"):
        SuperResolver(cfg).train([low], [high[:8]])
    with pytest.raises(DataError, match="got 1 image"):
        SuperResolver(cfg).train([low], [high, high])
    with pytest.raises(ValueError, match=r"model\.scale=.* differs from scale"):
        SuperResolutionConfig(scale=2, model={"scale": 4})


@pytest.mark.slow
def test_learns_to_beat_cubic_interpolation():
    cfg = SuperResolutionConfig(
        scale=2, patch_shape=(24, 24), samples_per_epoch=64,
        model={"n_features": 16, "n_blocks": 2},
        train={"epochs": 12, "batch_size": 8, "lr": 2e-3, "device": "cpu", "plot_every": 0},
    )  # fmt: skip
    sr = SuperResolver(cfg)
    sr.train(_highs(4, (96, 96)))
    test_high = [low_high_resolution_pair((96, 96), seed=s)[1] for s in (10, 11)]
    test_low = [degrade(h[None], (2, 2))[0] for h in test_high]
    scores = sr.evaluate(test_low, test_high)
    assert scores.summary["psnr"].iloc[0] > scores.summary["cubic_psnr"].iloc[0] + 0.5, (
        scores.summary
    )


def test_command_line_round_trip(tmp_path, capsys):
    from biakit.cli import main

    for i, high in enumerate(_highs(2)):
        write_image(tmp_path / "high" / f"h{i}.tif", high, ImageMeta("YX"))
    low = degrade(_highs(1)[0][None], (2, 2))[0]
    write_image(tmp_path / "test_low" / "h0.tif", low, ImageMeta("YX"))
    write_image(tmp_path / "test_high" / "h0.tif", _highs(1)[0], ImageMeta("YX"))
    (tmp_path / "sr.yaml").write_text(
        "task: super_resolution\nscale: 2\noutput: model\npatch_shape: [16, 16]\n"
        "samples_per_epoch: 4\ndata: {high: high, test_low: test_low, test_high: test_high}\n"
        "model: {n_features: 4, n_blocks: 1}\ntrain: {epochs: 1, batch_size: 2}\n"
    )
    assert main(["train", str(tmp_path / "sr.yaml")]) == 0
    assert "test set: PSNR" in capsys.readouterr().out
    assert (tmp_path / "model" / "test_metrics.csv").exists()
    code = main(["predict", str(tmp_path / "model"), "-i", str(tmp_path / "test_low"),
                 "-o", str(tmp_path / "pred")])  # fmt: skip
    assert code == 0
    out, _ = read_image(tmp_path / "pred" / "h0_sr.tif")
    assert out.shape == (64, 64)


def test_follows_gain_offset_and_bit_depth(trained):
    """Per-image statistics: ``predict(a x + b) == a predict(x) + b``, 8-bit copies alike."""
    low = degrade(_highs(1)[0][None], (2, 2))[0].astype(np.float64)
    ref = trained.predict(low).astype(np.float64)
    for a, b in [(3.0, 500.0), (1 / 255, -0.2)]:
        out = trained.predict(low * a + b).astype(np.float64)
        np.testing.assert_allclose((out - b) / a, ref, atol=1e-4 * np.ptp(ref))
    lo, hi = low.min(), low.max()
    low8 = np.round((low - lo) * 255 / (hi - lo)).astype(np.uint8)
    back = trained.predict(low8).astype(np.float64) * (hi - lo) / 255 + lo
    assert np.sqrt(np.mean((back - ref) ** 2)) < 0.5 * (hi - lo) / 255  # half an 8-bit step
