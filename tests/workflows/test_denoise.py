"""The denoising workflow: N2V / N2V2 / structN2V / CARE / N2N on tiny data, the contract."""

import numpy as np
import pytest

from biakit.cli import main
from biakit.data import noisy_clean_pair
from biakit.errors import ConfigError, DataError
from biakit.io import ImageMeta, read_image, write_image
from biakit.workflows import (
    DenoiseConfig,
    Denoiser,
    load_model,
    parse_workflow_config,
    workflow_for,
)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pair(shape=(48, 48), seed=0, level=0.2):
    return noisy_clean_pair(shape, noise="gaussian", level=level, seed=seed)


@pytest.fixture(scope="module")
def n2v(denoise_tiny):
    """A tiny N2V model trained for one epoch on one noisy image."""
    noisy, _ = _pair()
    den = Denoiser(DenoiseConfig(**denoise_tiny))
    den.train([noisy])
    return den


@pytest.mark.parametrize("algorithm", ["n2v", "n2v2", "structn2v", "care", "n2n"])
def test_each_algorithm_trains_and_predicts(algorithm, denoise_tiny):
    noisy, clean = _pair()
    den = Denoiser(DenoiseConfig(algorithm=algorithm, **denoise_tiny))
    targets = None if den.config.self_supervised else [clean]
    history = den.train([noisy], targets)
    assert len(history) == 1 and np.isfinite(history["train_loss"]).all()
    maps = den.predict_maps(noisy)
    assert maps.shape == (1, 48, 48) and maps.dtype == np.float32
    assert den.predict(noisy).shape == (48, 48)
    assert den.training["algorithm"] == algorithm


def test_denoising_starts_from_pytorch_default_init(denoise_tiny):
    """Denoising networks start from PyTorch's init (N2V / CARE: +1-2 dB after the same steps,
    issue 11); segmentation keeps Kaiming-normal; an explicit choice wins."""
    from biakit.workflows import SemanticConfig

    assert DenoiseConfig().model.init == "torch"
    assert DenoiseConfig(algorithm="care").network_config(2).init == "torch"
    assert DenoiseConfig(model={"init": "kaiming"}).model.init == "kaiming"
    assert SemanticConfig().model.init == "kaiming"
    with pytest.raises(ConfigError, match="init"):
        parse_workflow_config({"task": "denoise", "model": {"init": "xavier"}})
    from biakit.nn.models import build_network

    torch.manual_seed(0)
    head = build_network("unet", DenoiseConfig(**denoise_tiny).network_config(1)).head
    bound = 1 / np.sqrt(head.in_channels)  # PyTorch's Kaiming-uniform(a=sqrt(5)) bound
    assert 0 < head.weight.abs().max().item() <= bound


def test_n2v2_network_and_defaults():
    from biakit.nn.models import UNetConfig

    cfg = DenoiseConfig(algorithm="n2v2", patch_shape=(32, 32))
    assert cfg.replacement == "median" and DenoiseConfig().replacement == "uniform"
    if "skip_top" in UNetConfig.model_fields:
        assert cfg.model.skip_top is False and cfg.model.pool == "blur"
    assert cfg.masking().replacement == "median"
    s = DenoiseConfig(algorithm="structn2v", patch_shape=(32, 32))
    assert s.struct_axis == -1 and s.masking().struct_length == 5
    assert DenoiseConfig().model.depth == 2 and DenoiseConfig().model.base_filters == 32


def test_3d_and_multichannel(denoise_tiny):
    noisy, _ = _pair((12, 24, 24))
    cfg = DenoiseConfig(**{**denoise_tiny, "patch_shape": (8, 16, 16)})
    den = Denoiser(cfg)
    den.train([noisy])
    assert den.predict(noisy).shape == (12, 24, 24)
    two = np.stack([_pair(seed=1)[0], 3 * _pair(seed=2)[0]])  # (C, Y, X)
    den2 = Denoiser(DenoiseConfig(algorithm="care", **denoise_tiny))
    den2.train([two], [two + 1])
    assert den2.network_config.out_channels == 2
    assert den2.predict(two).shape == (2, 48, 48)
    stats = den2.training["normalization"]
    assert len(stats["input"]["offset"]) == 2
    assert stats["target"]["offset"] == pytest.approx(np.add(stats["input"]["offset"], 1))


def test_n2v_improves_psnr():
    """A short N2V training (32 steps) on a synthetic noisy image beats the noisy input."""
    from biakit.metrics import psnr

    noisy, clean = _pair((128, 128), level=0.3)
    cfg = DenoiseConfig(
        patch_shape=(32, 32), samples_per_epoch=64, mask_fraction=0.05, val_fraction=0.0,
        model={"depth": 2, "base_filters": 8},
        train={"epochs": 4, "batch_size": 8, "lr": 0.004, "device": "cpu", "plot_every": 0},
    )  # fmt: skip
    den = Denoiser(cfg)
    den.train([noisy])
    restored = den.predict(noisy)
    assert psnr(clean, restored, data_range=1.0) > psnr(clean, noisy, data_range=1.0) + 3.0
    ev = den.evaluate([noisy], [clean])
    row = ev.summary.iloc[0]
    assert row["psnr"] > row["input_psnr"] + 1.5 and row["ssim"] > row["input_ssim"]
    assert list(ev.per_image.columns[:1]) == ["image"] and ev.metrics.psnr == row["psnr"]
    assert ev.headline().startswith("PSNR ")


class _Identity(torch.nn.Module):
    """A 'network' returning its (normalised) input: shows the de-normalisation alone."""

    def __init__(self, config):
        super().__init__()
        self.config = config

    def forward(self, x):
        return x


def test_outputs_denormalised_with_target_statistics(denoise_tiny):
    """CARE targets on another scale/offset than the inputs: outputs land on the targets'."""
    noisy, clean = _pair(seed=3)
    target = 1000.0 * clean + 200.0  # clean images in other units than the noisy ones
    den = Denoiser(DenoiseConfig(algorithm="care", norm_scope="dataset", **denoise_tiny))
    den.train([noisy], [target])
    stats = den.training["normalization"]
    assert stats["target"]["offset"][0] == pytest.approx(target.mean(), rel=1e-5)
    assert stats["target"]["scale"][0] == pytest.approx(target.std(), rel=1e-4)
    assert stats["input"]["offset"][0] == pytest.approx(noisy.mean(), rel=1e-5)
    den.model = _Identity(den.network_config)
    out = den.predict(noisy)
    mu_in, sd_in = stats["input"]["offset"][0], stats["input"]["scale"][0]
    mu_out, sd_out = stats["target"]["offset"][0], stats["target"]["scale"][0]
    expected = (noisy - mu_in) / sd_in * sd_out + mu_out
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-3)
    assert abs(out.mean() - target.mean()) < 0.05 * target.std()  # clean scale, not noisy


def test_per_image_scope_normalises_targets_with_their_image(denoise_tiny):
    """CARE pairs in the image scope: each target in its own image's frame (hand-computed)."""
    noisy, clean = _pair(seed=3)
    target = 1000.0 * clean + 200.0
    den = Denoiser(DenoiseConfig(algorithm="care", **denoise_tiny))
    assert den.config.norm_scope == "image"
    xs, ys = den._normalized([noisy[None], 3 * noisy[None] + 7], [target[None], target[None]])
    mu, sd = noisy.mean(), noisy.std()
    np.testing.assert_allclose(xs[0][0], (noisy - mu) / sd, atol=1e-4)
    np.testing.assert_allclose(ys[0][0], (target - mu) / sd, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(ys[1][0], (target - 3 * mu - 7) / (3 * sd), rtol=1e-4, atol=1e-2)
    den.train([noisy], [target])
    den.model = _Identity(den.network_config)
    np.testing.assert_allclose(den.predict(noisy), noisy, atol=1e-4)  # back in its own frame


def test_per_image_scope_follows_gain_offset_and_bit_depth(denoise_tiny):
    """``predict(a x + b) == a predict(x) + b``: 8-bit, 16-bit and float copies of one scene.

    Dataset statistics fail this (the network sees intensities it was not trained on).
    """
    noisy, _ = _pair((64, 64), seed=4)
    raw16 = np.round(1000 + 2000 * (noisy - noisy.min())).astype(np.uint16)
    longer = {**denoise_tiny["train"], "epochs": 3}
    trained = {**denoise_tiny, "samples_per_epoch": 16, "train": longer}
    den = Denoiser(DenoiseConfig(**trained))
    den.train([raw16])
    ref = den.predict(raw16).astype(np.float64)
    for a, b in [(3.0, 500.0), (0.01, 0.0), (1 / 65535, -0.5)]:
        out = den.predict(raw16.astype(np.float64) * a + b).astype(np.float64)
        np.testing.assert_allclose((out - b) / a, ref, rtol=1e-3)  # bf16 where native
    lo, hi = float(raw16.min()), float(raw16.max())
    assert ref.std() > (hi - lo) / 255  # the output varies by more than one 8-bit step
    raw8 = np.round((raw16 - lo) * 255 / (hi - lo)).astype(np.uint8)  # quantised: +-0.5 grey
    back = den.predict(raw8).astype(np.float64) * (hi - lo) / 255 + lo
    err = np.sqrt(np.mean((back - ref) ** 2))
    assert err < 0.5 * (hi - lo) / 255  # under half the 8-bit grey step
    dataset = Denoiser(DenoiseConfig(norm_scope="dataset", **trained))
    dataset.train([raw16])
    out8 = dataset.predict(raw8).astype(np.float64) * (hi - lo) / 255 + lo
    assert np.sqrt(np.mean((out8 - dataset.predict(raw16)) ** 2)) > 10 * err


def test_dataset_level_statistics_pool_all_images():
    from biakit.nn.datasets import Normalizer
    from biakit.workflows.denoise import dataset_stats

    ims = [np.zeros((1, 4, 4)), np.full((1, 4, 8), 3.0)]
    z = dataset_stats(Normalizer(kind="zscore"), ims)
    assert z.offset == pytest.approx((2.0,)) and z.scale[0] == pytest.approx(np.sqrt(2), 1e-5)
    p = dataset_stats(Normalizer(kind="percentile", low=0, high=100), ims)
    assert p.offset == (0.0,) and p.scale[0] == pytest.approx(3.0)
    r = dataset_stats(Normalizer(kind="range", value_range=(0, 10)), ims)
    assert r.scale == (10.0,)


def test_tiled_equals_whole(n2v):
    """256 x 256 in small tiles (overlap = the receptive field) equals one whole tile."""
    image = _pair((256, 256), seed=5)[0]
    whole = n2v.predict_maps(image, tile_shape=(256, 256))
    tiled = n2v.predict_maps(image, tile_shape=(64, 64))
    assert np.abs(whole - tiled).max() < 1e-4
    assert np.abs(n2v.predict_maps(image) - whole).max() < 1e-4  # automatic tiles


def test_save_load_round_trip(n2v, tmp_path):
    noisy, _ = _pair(seed=6)
    n2v.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, Denoiser) and loaded.config == n2v.config
    assert loaded.training["normalization"] == n2v.training["normalization"]
    np.testing.assert_array_equal(loaded.predict(noisy), n2v.predict(noisy))
    again = Denoiser.load(tmp_path / "m")
    np.testing.assert_array_equal(again.predict_maps(noisy), n2v.predict_maps(noisy))


def test_load_refuses_a_model_without_statistics(n2v, tmp_path):
    import json

    from biakit.errors import ModelFileError

    n2v.save(tmp_path / "m")
    manifest = tmp_path / "m" / "model.json"
    data = json.loads(manifest.read_text())
    del data["training"]["normalization"]["target"]
    manifest.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=r"training\.normalization is missing or invalid"):
        load_model(tmp_path / "m")


def test_train_with_output_dir_and_resume(tmp_path, denoise_tiny):
    noisy, _ = _pair(seed=7)
    cfg = DenoiseConfig(**{**denoise_tiny, "train": {**denoise_tiny["train"], "epochs": 2}})
    Denoiser(cfg).train([noisy], output_dir=tmp_path / "m")
    assert (tmp_path / "m" / "weights.pt").exists()
    with pytest.raises(FileExistsError, match="holds a model"):
        Denoiser(cfg).train([noisy], output_dir=tmp_path / "m")
    assert workflow_for(cfg).task == "denoise"


def test_predict_to_disk_keeps_axes_and_spacing(n2v, tmp_path):
    noisy, _ = _pair(seed=8)
    write_image(tmp_path / "in" / "a.tif", noisy, ImageMeta("YX", (0.5, 0.25)))
    report = n2v.predict_to_disk(tmp_path / "in", tmp_path / "out")
    assert not report.failures
    out, meta = read_image(tmp_path / "out" / "a_denoised.tif")
    assert out.dtype == np.float32 and out.shape == (48, 48)
    assert meta.axes == "YX" and meta.spacing == pytest.approx((0.5, 0.25))
    np.testing.assert_allclose(out, n2v.predict(noisy), atol=1e-6)
    overlay, _ = read_image(tmp_path / "out" / "a_overlay.png")
    assert overlay.shape[:2] == (48, 100)


def test_side_by_side_3d_uses_middle_slice():
    from biakit.workflows.denoise import side_by_side

    a = np.zeros((1, 5, 6, 6))
    a[0, 2] = 1.0
    picture = side_by_side(a, a)
    assert picture.shape == (6, 16) and picture[0, 0] == 0  # flat slice: no contrast


CONFIG = """\
task: denoise
algorithm: {algorithm}
data:
  images: {root}/noisy
{targets}  test_images: {root}/noisy
  test_targets: {root}/clean
output: {root}/model
patch_shape: [32, 32]
samples_per_epoch: 4
mask_fraction: 0.02
model: {{depth: 1, base_filters: 4}}
train: {{epochs: 1, batch_size: 2, plot_every: 0}}
"""


@pytest.mark.parametrize("algorithm", ["n2v", "care"])
def test_cli_train_and_predict(tmp_path, capsys, algorithm):
    for seed in range(2):
        noisy, clean = _pair(seed=seed)
        write_image(tmp_path / "noisy" / f"n{seed}.tif", noisy, ImageMeta("YX"))
        write_image(tmp_path / "clean" / f"n{seed}.tif", clean, ImageMeta("YX"))
    targets = f"  targets: {tmp_path}/clean\n" if algorithm == "care" else ""
    config = tmp_path / "train.yaml"
    config.write_text(CONFIG.format(root=tmp_path, algorithm=algorithm, targets=targets))
    assert main(["train", str(config)]) == 0
    assert "test set: PSNR" in capsys.readouterr().out
    assert (tmp_path / "model" / "test_per_image.csv").exists()
    pred = tmp_path / "pred"
    assert main(["predict", str(tmp_path / "model"), "-i", str(tmp_path / "noisy"),
                 "-o", str(pred)]) == 0  # fmt: skip
    out, meta = read_image(pred / "n0_denoised.tif")
    assert out.shape == (48, 48) and out.dtype == np.float32 and meta.axes == "YX"


def test_cli_config_errors(tmp_path, capsys):
    config = tmp_path / "train.yaml"
    text = CONFIG.format(root=tmp_path, algorithm="care", targets="")
    config.write_text(text)
    assert main(["train", str(config)]) == 2
    assert "data.targets is missing" in capsys.readouterr().err


def test_train_errors(denoise_tiny):
    noisy, clean = _pair()
    with pytest.raises(DataError, match="targets must be None for algorithm 'n2v'"):
        Denoiser(DenoiseConfig(**denoise_tiny)).train([noisy], [clean])
    care = Denoiser(DenoiseConfig(algorithm="care", **denoise_tiny))
    with pytest.raises(DataError, match="targets is missing: algorithm 'care' needs clean"):
        care.train([noisy])
    with pytest.raises(DataError, match=r"targets\[0\] has shape \(1, 40, 48\)"):
        care.train([noisy], [clean[:40]])
    with pytest.raises(DataError, match="got 2 image"):
        care.train([noisy, noisy], [clean])
    with pytest.raises(DataError, match="val_targets is missing"):
        care.train([noisy], [clean], val_images=[noisy])
    with pytest.raises(DataError, match="images must be a list"):
        care.train(noisy, [clean])
    with pytest.raises(DataError, match="images is empty"):
        care.train([], [])
    with pytest.raises(DataError, match=r"images\[1\] has 2 channel"):
        care.train([noisy, np.stack([noisy, noisy])], [clean, clean])
    with pytest.raises(DataError, match=r"images\[0\] has 2304 NaN"):
        care.train([np.full((48, 48), np.nan)], [clean])
    with pytest.raises(DataError, match=r"spatial shape \(48, 20\), smaller than patch_shape"):
        Denoiser(DenoiseConfig(**denoise_tiny)).train([noisy[:, :20]])
    with pytest.raises(RuntimeError, match="not trained"):
        care.predict(noisy)


def test_predict_and_evaluate_errors(n2v):
    noisy, clean = _pair()
    with pytest.raises(DataError, match=r"image has 2 channel.*time-lapse of single-channel"):
        n2v.predict_maps(np.stack([noisy, noisy]))
    with pytest.raises(DataError, match="got 1 image"):
        n2v.evaluate([noisy], [clean, clean])
    with pytest.raises(DataError, match=r"clean\[0\] has shape"):
        n2v.evaluate([noisy], [clean[:40]])


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"struct_axis": 0}, "struct_axis is used only by algorithm 'structn2v'"),
        ({"algorithm": "structn2v", "struct_axis": 2}, "struct_axis=2 is not a spatial axis"),
        ({"algorithm": "structn2v", "struct_length": 4}, "struct_length must be odd"),
        ({"train": {"loss": "mae"}}, "train.loss='mae' does not fit algorithm 'n2v'"),
        ({"algorithm": "care", "train": {"loss": "ce"}}, "use 'mse' or 'mae'"),
        ({"data": {"images": "a", "targets": "b"}}, "data.targets must be left out"),
        ({"algorithm": "n2n", "data": {"images": "a"}}, "data.targets is missing"),
        ({"data": {"images": "a", "test_images": "c"}}, "give both test_images and test_targets"),
        ({"mask_fraction": 0.0}, "mask_fraction"),
        ({"algorithm": "n3v"}, "algorithm"),
    ],
)
def test_config_errors(extra, match):
    with pytest.raises(ConfigError, match=match):
        parse_workflow_config({"task": "denoise", "patch_shape": [32, 32], **extra})


def test_config_round_trip_and_schema():
    from biakit.workflows import config_schema

    cfg = parse_workflow_config({"task": "denoise", "algorithm": "n2v2", "patch_shape": [32, 32]})
    again = parse_workflow_config(cfg.model_dump(mode="json"))
    assert again == cfg and again.model.out_channels == 1
    assert "DenoiseDataOptions" in config_schema("denoise")["$defs"]
