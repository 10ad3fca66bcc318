from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import biakit.evaluation._plots as plots
from biakit.cli import main
from biakit.errors import DataError, ParameterError
from biakit.evaluation import evaluate_folders
from biakit.io import ImageMeta, is_side_output, write_image

PNG = b"\x89PNG\r\n\x1a\n"


def _care(gt, pred):
    """CARE's normalisation by hand: percentiles of gt, least-squares fit of pred."""
    lo, hi = np.percentile(gt.astype(float), [0.1, 99.9])
    gt_n = (gt - lo) / (hi - lo)
    a, b = np.polyfit(pred.ravel().astype(float), gt_n.ravel(), 1)
    return gt_n, a * pred.astype(float) + b


@pytest.fixture
def folders(tmp_path):
    """Clean images, noisy inputs and ``*_denoised.tif`` predictions (float32, 2D)."""
    rng = np.random.default_rng(0)
    images = {}
    for name in ("a", "b"):
        yy, xx = np.mgrid[:32, :40]
        clean = (100 + 80 * np.sin(xx / 5.0) * np.cos(yy / 7.0)).astype(np.float32)
        noisy = (clean + 30 * rng.standard_normal(clean.shape)).astype(np.float32)
        denoised = (0.5 * clean + 0.5 * noisy + 3).astype(np.float32)
        write_image(tmp_path / "clean" / f"{name}.tif", clean, ImageMeta("YX"))
        write_image(tmp_path / "noisy" / f"{name}.tif", noisy, ImageMeta("YX"))
        write_image(tmp_path / "out" / f"{name}_denoised.tif", denoised, ImageMeta("YX"))
        images[f"{name}.tif"] = (clean, noisy, denoised)
    return tmp_path, images


def _cli(root, *extra):
    return [
        "evaluate", "--task", "restoration", "--gt", str(root / "clean"),
        "--pred", str(root / "out"), *extra,
    ]  # fmt: skip


def test_cli_end_to_end_numbers_and_maps(folders, capsys):
    root, images = folders
    ev = root / "eval"
    assert main([*_cli(root, "--input", str(root / "noisy")), "-o", str(ev)]) == 0
    printed = capsys.readouterr().out
    assert "psnr_care_mean" in printed and "need --data-range" in printed
    table = pd.read_csv(ev / "per_image.csv", comment="#").set_index("image")
    assert list(table.index) == ["a.tif", "b.tif"]
    for name, (clean, noisy, denoised) in images.items():
        row = table.loc[name]
        assert row.prediction == name.replace(".tif", "_denoised.tif") and row.input == name
        gt_n, pred_n = _care(clean, denoised)
        mse = np.mean((gt_n - pred_n) ** 2)
        assert row.psnr_care == pytest.approx(10 * np.log10(1 / mse), abs=1e-4)
        assert row.nrmse_care == pytest.approx(np.sqrt(mse), rel=1e-4)
        ssim_ref = structural_similarity(gt_n, pred_n, data_range=1.0)
        assert row.ssim_care == pytest.approx(ssim_ref, abs=1e-5)
        gt_n, in_n = _care(clean, noisy)
        assert row.input_psnr_care == pytest.approx(
            peak_signal_noise_ratio(gt_n, in_n, data_range=1.0), abs=1e-4
        )
        assert row.input_psnr_care < row.psnr_care  # the denoiser helped
        assert np.isnan(row.psnr) and row.mse == pytest.approx(np.mean((clean - denoised) ** 2))
    summary = pd.read_csv(ev / "summary.csv", comment="#")
    assert summary.images[0] == 2
    assert summary.psnr_care_mean[0] == pytest.approx(table.psnr_care.mean())
    for key in ("a", "b"):
        for end in ("_ssim_map.png", "_error_map.png"):
            path = ev / f"{key}{end}"
            assert path.read_bytes()[:8] == PNG and path.stat().st_size > 2000
            assert is_side_output(path)


def test_output_in_the_prediction_folder_is_not_reread(folders):
    root, _ = folders
    out = root / "out"
    first = evaluate_folders("restoration", root / "clean", out, out)
    assert {p.name for p in first.files} >= {"a_ssim_map.png", "b_error_map.png", "summary.csv"}
    again = evaluate_folders("restoration", root / "clean", out, out, overwrite=True)
    assert again.per_image.prediction.tolist() == ["a_denoised.tif", "b_denoised.tif"]
    pd.testing.assert_frame_equal(first.per_image, again.per_image)


def test_3d_maps_show_the_middle_slice(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    clean = rng.integers(100, 4000, (9, 16, 16)).astype(np.uint16)
    pred = np.clip(clean + rng.normal(0, 200, clean.shape), 0, 65535).astype(np.uint16)
    write_image(tmp_path / "gt" / "s.tif", clean, ImageMeta("ZYX"))
    write_image(tmp_path / "pred" / "s_restored.tif", pred, ImageMeta("ZYX"))
    figures, save = {}, plots._save

    def keep(fig, path):
        figures[Path(path).name] = [ax.get_title() for ax in fig.axes], len(fig.axes)
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    report = evaluate_folders("restoration", tmp_path / "gt", tmp_path / "pred", tmp_path / "ev")
    row = report.per_image.iloc[0]
    gt_n, pred_n = _care(clean, pred)
    assert row.ssim_care == pytest.approx(structural_similarity(gt_n, pred_n, data_range=1), 1e-6)
    assert row.psnr == pytest.approx(peak_signal_noise_ratio(clean, pred), abs=1e-6)  # uint16
    titles, n_axes = figures["s_ssim_map.png"]
    assert n_axes == 2  # image and colour bar
    assert f"mean SSIM {row.ssim_care:.4f}" in titles[0] and "z 5 of 9 (middle slice)" in titles[0]
    titles, _ = figures["s_error_map.png"]
    assert f"PSNR {row.psnr_care:.2f} dB" in titles[0] and "z 5 of 9" in titles[0]


def test_ssim_window_of_thin_and_thick_stacks(tmp_path):
    rng = np.random.default_rng(2)
    for name, depth in (("thin", 4), ("thick", 8)):
        clean = rng.random((depth, 12, 12)).astype(np.float32)
        write_image(tmp_path / "gt" / f"{name}.tif", clean, ImageMeta("ZYX"))
        pred = (clean + 0.1 * rng.standard_normal(clean.shape)).astype(np.float32)
        write_image(tmp_path / "pred" / f"{name}_sr.tif", pred, ImageMeta("ZYX"))
    report = evaluate_folders("restoration", tmp_path / "gt", tmp_path / "pred", data_range=1.0)
    windows = dict(zip(report.per_image.image, report.per_image.ssim_window))
    assert windows == {"thick.tif": "7x7x7", "thin.tif": "7x7 per z-slice"}
    assert report.per_image.ssim.notna().all() and report.per_image.ssim_care.notna().all()


@pytest.mark.parametrize("axes", ["CYX", "YXC"])
def test_channels_are_normalised_one_by_one(tmp_path, axes):
    rng = np.random.default_rng(3)
    clean = np.stack([rng.random((16, 16)), 1000 * rng.random((16, 16)) + 500])  # CYX
    pred = clean + np.array([0.05, 90.0])[:, None, None] * rng.standard_normal(clean.shape)
    order = (0, 1, 2) if axes == "CYX" else (1, 2, 0)
    write_image(tmp_path / "gt" / "m.tif", clean.transpose(order), ImageMeta(axes))
    write_image(tmp_path / "pred" / "m_denoised.tif", pred.transpose(order), ImageMeta(axes))
    row = evaluate_folders("restoration", tmp_path / "gt", tmp_path / "pred").per_image.iloc[0]
    pairs = [_care(g, p) for g, p in zip(clean, pred)]
    mse = np.mean([np.mean((g - p) ** 2) for g, p in pairs])
    assert row.psnr_care == pytest.approx(10 * np.log10(1 / mse), abs=1e-6)
    ssims = [structural_similarity(g, p, data_range=1.0) for g, p in pairs]
    assert row.ssim_care == pytest.approx(np.mean(ssims), abs=1e-6)
    assert row.ssim_window == "7x7 per channel"


def test_prediction_with_the_channels_elsewhere_is_transposed_to_the_truth(tmp_path):
    """An RGB PNG truth reads YXC; biakit writes its restoration CYX: the same image."""
    import skimage.io

    rng = np.random.default_rng(4)
    clean = (rng.random((20, 24, 3)) * 255).astype(np.uint8)  # YXC
    pred = clean.astype(np.float32) + rng.normal(0, 5, clean.shape).astype(np.float32)
    (tmp_path / "gt").mkdir()
    skimage.io.imsave(tmp_path / "gt" / "rgb.png", clean, check_contrast=False)
    write_image(tmp_path / "pred" / "rgb_denoised.tif", pred.transpose(2, 0, 1), ImageMeta("CYX"))
    row = evaluate_folders("restoration", tmp_path / "gt", tmp_path / "pred").per_image.iloc[0]
    assert row.mse == pytest.approx(np.mean((clean - pred.astype(np.float64)) ** 2), rel=1e-6)
    # another shape, not only another order, is still refused with both file names
    write_image(tmp_path / "pred" / "rgb_denoised.tif", pred[:, :20].transpose(2, 0, 1),
                ImageMeta("CYX"), overwrite=True)  # fmt: skip
    with pytest.raises(DataError, match=r"rgb\.png is \(20, 24, 3\) but .*rgb_denoised\.tif"):
        evaluate_folders("restoration", tmp_path / "gt", tmp_path / "pred")


def test_blank_ground_truth_does_not_stop_the_evaluation(tmp_path):
    for name, value in (("z", 0), ("w", 9)):
        gt = np.full((12, 12), value, np.uint8)
        write_image(tmp_path / "gt" / f"{name}.tif", gt, ImageMeta("YX"))
        write_image(tmp_path / "pred" / f"{name}_denoised.tif", gt + 1, ImageMeta("YX"))
    report = evaluate_folders("restoration", tmp_path / "gt", tmp_path / "pred")
    assert report.summary.psnr_care_mean[0] == np.inf and np.isnan(report.summary.psnr_care_std[0])
    row = report.per_image.set_index("image").loc["z.tif"]
    assert np.isnan(row.nrmse) and row.psnr == pytest.approx(10 * np.log10(255**2))
    # CARE's normalisation forgives the constant offset: the prediction is perfect up to it
    assert row.psnr_care == np.inf and row.ssim_care == pytest.approx(1.0)


def test_existing_outputs_are_refused_before_work(folders):
    root, _ = folders
    ev = root / "eval"
    ev.mkdir()
    (ev / "b_error_map.png").write_bytes(PNG)
    with pytest.raises(FileExistsError, match=r"b_error_map\.png: output exists"):
        evaluate_folders("restoration", root / "clean", root / "out", ev)
    assert sorted(p.name for p in ev.iterdir()) == ["b_error_map.png"]
    with pytest.raises(FileExistsError, match=r"b_error_map\.png: exists and was not written"):
        evaluate_folders("restoration", root / "clean", root / "out", ev, overwrite=True)


def test_input_errors(folders, tmp_path):
    root, _ = folders
    with pytest.raises(ParameterError, match=r"inputs .* is used only by task 'restoration'"):
        evaluate_folders("instance", root / "clean", root / "out", inputs=root / "noisy")
    write_image(root / "small" / "a.tif", np.zeros((16, 20), np.float32), ImageMeta("YX"))
    write_image(root / "small" / "b.tif", np.zeros((16, 20), np.float32), ImageMeta("YX"))
    bad = r"clean/a\.tif is \(32, 40\) but .*small/a\.tif is \(16, 20\); .*up-sample"
    with pytest.raises(DataError, match=bad):
        evaluate_folders("restoration", root / "clean", root / "out", inputs=root / "small")
    (root / "noisy" / "b.tif").unlink()
    with pytest.raises(DataError, match=r"inputs .*noisy: unpaired files: .*clean/b\.tif"):
        evaluate_folders("restoration", root / "clean", root / "out", inputs=root / "noisy")


def test_image_smaller_than_the_ssim_window_names_the_file(tmp_path):
    write_image(tmp_path / "gt" / "t.tif", np.ones((5, 30), np.float32), ImageMeta("YX"))
    write_image(tmp_path / "pred" / "t_sr.tif", np.ones((5, 30), np.float32), ImageMeta("YX"))
    with pytest.raises(DataError, match=r"gt/t\.tif: win_size 7 exceeds the image extent"):
        evaluate_folders("restoration", tmp_path / "gt", tmp_path / "pred")
