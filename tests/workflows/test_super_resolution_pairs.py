"""Super-resolution training pairs: geometry of augmentation and of the up-sampling grids."""

import numpy as np
import pytest

from biakit.errors import DataError
from biakit.nn.datasets import ScaledPairDataset, degrade
from biakit.workflows import IsotropicConfig, SuperResolutionConfig, SuperResolver

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _ramp(shape, dy=1.0, dx=100.0):
    y, x = np.mgrid[: shape[0], : shape[1]]
    return (dy * y + dx * x)[None].astype(np.float32)


def _row_steps(ds, n):
    """Step between the first two pixels of the first row of each low patch."""
    return [float(ds[i][0][0, 0, 1] - ds[i][0][0, 0, 0]) for i in range(n)]


def test_rotate90_keeps_pairs_exact_and_draws_quarter_turns():
    high = np.random.default_rng(0).random((1, 40, 48)).astype(np.float32)
    low = degrade(high, (2, 2), sigma=0)
    ds = ScaledPairDataset([low], [high], (8, 8), (2, 2), samples_per_epoch=24, rotate90=True)
    for i in range(24):
        x, y = ds[i]  # the low patch stays the 2x2 mean of the high patch after any turn
        np.testing.assert_allclose(x[0].numpy(), y[0].numpy().reshape(8, 2, 8, 2).mean(axis=(1, 3)),
                                   rtol=1e-5)  # fmt: skip
    # on a ramp (+2 per low pixel down, +200 across) a quarter turn puts the +-2 step in rows
    high = _ramp((40, 48))
    low = degrade(high, (2, 2), sigma=0)
    turned = ScaledPairDataset([low], [high], (8, 8), (2, 2), samples_per_epoch=40,
                               flip=False, rotate90=True)  # fmt: skip
    steps = set(np.round(_row_steps(turned, 40)))
    assert steps == {200.0, -200.0, 2.0, -2.0}  # 0, 90, 180 and 270 degrees all drawn
    plain = ScaledPairDataset([low], [high], (8, 8), (2, 2), samples_per_epoch=40, flip=False)
    assert set(np.round(_row_steps(plain, 40))) == {200.0}


def test_rotate90_draws_half_turns_only_where_a_quarter_turn_would_swap_unequal_axes():
    high = _ramp((48, 12))
    low = degrade(high, (4, 1), sigma=0)  # an axial (4, 1) restoration: rows are the z axis
    ds = ScaledPairDataset([low], [high], (6, 6), (4, 1), samples_per_epoch=40,
                           flip=False, rotate90=True)  # fmt: skip
    assert set(np.round(_row_steps(ds, 40))) == {100.0, -100.0}  # 0 and 180 degrees
    x, y = ds[0]
    assert tuple(x.shape) == (1, 6, 6) and tuple(y.shape) == (1, 24, 6)
    high = _ramp((40, 48))
    rect = ScaledPairDataset([degrade(high, (2, 2), sigma=0)], [high], (4, 8), (2, 2),
                             samples_per_epoch=20, flip=False, rotate90=True)  # fmt: skip
    assert all(tuple(rect[i][0].shape) == (1, 4, 8) for i in range(20))


def test_residual_upsampling_and_cubic_baseline_sit_on_the_degradation_grid():
    # a low pixel is the mean of a 2x2 block, centred between its high pixels: a linear
    # ramp binned and interpolated back must come out unchanged away from the borders
    high = _ramp((48, 64), dy=0.5, dx=0.25)
    low = degrade(high, (2, 2), sigma=0)
    up = torch.nn.functional.interpolate(
        torch.from_numpy(low)[None], scale_factor=2, mode="bilinear", align_corners=False
    )[0].numpy()
    np.testing.assert_allclose(up[0, 2:-2, 2:-2], high[0, 2:-2, 2:-2], atol=1e-4)
    sr = SuperResolver(SuperResolutionConfig(scale=2))  # the spline's border error decays
    np.testing.assert_allclose(sr._cubic(low)[0, 20:-20, 20:-20], high[0, 20:-20, 20:-20],
                               atol=1e-4)  # fmt: skip
    shifted = np.roll(high, 1, axis=2)  # a one-pixel shift is detected by the same check
    assert not np.allclose(up[0, 2:-2, 2:-2], shifted[0, 2:-2, 2:-2], atol=1e-2)


def test_training_honours_the_augment_options(monkeypatch):
    import biakit.nn.datasets as datasets

    seen = []

    class Recording(ScaledPairDataset):
        def __init__(self, *args, **kwargs):
            seen.append((kwargs["flip"], kwargs["rotate90"]))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(datasets, "ScaledPairDataset", Recording)
    cfg = SuperResolutionConfig(
        patch_shape=(8, 8), samples_per_epoch=2, val_fraction=0.0,
        augment={"flip": False, "rotate90": True}, model={"n_features": 4, "n_blocks": 1},
        train={"epochs": 1, "batch_size": 2, "device": "cpu", "plot_every": 0, "amp": "none"},
    )  # fmt: skip
    SuperResolver(cfg).train([np.random.default_rng(0).random((32, 32)).astype(np.float32)],
                             val_images=[np.zeros((16, 16), np.float32)])  # fmt: skip
    assert seen == [(False, True), (False, False)]  # validation patches are never augmented


@pytest.mark.parametrize("cls", [SuperResolutionConfig, IsotropicConfig])
def test_config_rejects_augmentations_that_break_the_pairs(cls):
    extra = {"factor": 4} if cls is IsotropicConfig else {}
    with pytest.raises(ValueError, match=r"augment: blur, rotation not supported for"):
        cls(augment={"blur": 1.0, "rotation": 30.0}, **extra)


def test_a_high_image_larger_by_a_remainder_is_cropped_to_its_low_one(tmp_path, capsys):
    """Low images made by floor division of odd sizes: the high image's extra row is cut."""
    from biakit.cli import main
    from biakit.io import ImageMeta, write_image
    from biakit.workflows.super_resolution import match_high

    rng = np.random.default_rng(0)
    high = rng.random((1, 33, 35)).astype(np.float32)  # 33 // 2 = 16, 35 // 2 = 17
    low = degrade(high[:, :32, :34], (2, 2))
    np.testing.assert_array_equal(match_high(low, high, (2, 2), "h"), high[:, :32, :34])
    for bad in (high[:, :31], np.pad(high, ((0, 0), (0, 1), (0, 0)))):  # short, or 2 rows over
        with pytest.raises(DataError, match=r"h: spatial shape .* expected \(32, 34\)"):
            match_high(low, bad, (2, 2), "h")
    cfg = SuperResolutionConfig(patch_shape=(8, 8), samples_per_epoch=4,
                                model={"n_features": 4, "n_blocks": 1},
                                train={"epochs": 1, "batch_size": 2, "device": "cpu",
                                       "plot_every": 0})  # fmt: skip
    sr = SuperResolver(cfg)
    sr.train([low[0]], [high[0]])
    odd = sr.evaluate([low[0]], [high[0]]).summary
    even = sr.evaluate([low[0]], [high[0, :32, :34]]).summary
    assert odd["psnr"].iloc[0] == pytest.approx(even["psnr"].iloc[0])
    # the command line names the file whose shape does not fit
    write_image(tmp_path / "low" / "a.tif", low[0], ImageMeta("YX"))
    write_image(tmp_path / "high" / "a.tif", high[0, :30], ImageMeta("YX"))
    (tmp_path / "sr.yaml").write_text(
        "task: super_resolution\noutput: model\npatch_shape: [8, 8]\nsamples_per_epoch: 4\n"
        "data: {low: low, high: high}\nmodel: {n_features: 4, n_blocks: 1}\n"
        "train: {epochs: 1, batch_size: 2}\n"
    )
    assert main(["train", str(tmp_path / "sr.yaml")]) == 2
    err = capsys.readouterr().err
    assert "high/a.tif: spatial shape (30, 35); expected (32, 34)" in err
