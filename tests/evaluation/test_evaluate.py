import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi

from biakit.cli import main
from biakit.data import synthetic_nuclei, synthetic_spots
from biakit.evaluation import evaluate_folders, file_key, pair_files
from biakit.io import ImageMeta, write_image
from biakit.metrics import confusion_metrics, match_instances, match_points, psnr, psnr_care


def _labels_pair(seed):
    s = synthetic_nuclei((64, 64), n_objects=6, touching=0.0, seed=seed)
    pred = ndi.grey_erosion(s.labels, size=3) if seed % 2 else np.roll(s.labels, 2, axis=1)
    return s.labels.astype(np.int32), pred.astype(np.int32)


@pytest.fixture
def instance_dirs(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    pairs = {}
    for seed in (0, 1):
        g, p = _labels_pair(seed)
        write_image(gt / f"img{seed}.tif", g, ImageMeta("YX"))
        write_image(pred / f"img{seed}_labels.tif", p, ImageMeta("YX"))
        pairs[f"img{seed}.tif"] = (g, p)
    return gt, pred, pairs


def test_pairing_by_name_and_suffix(tmp_path):
    from pathlib import Path

    assert file_key(Path("x/a.ome.tif")) == "a"
    pairs = pair_files([Path("a.tif"), Path("b.tif")], [Path("b_pred.tif"), Path("a.tif")])
    assert [(g.name, p.name) for g, p in pairs] == [("a.tif", "a.tif"), ("b.tif", "b_pred.tif")]
    with pytest.raises(ValueError, match=r"unpaired files: no prediction for c\.tif"):
        pair_files([Path("a.tif"), Path("c.tif")], [Path("a.tif")])
    with pytest.raises(ValueError, match=r"no ground truth for z\.tif"):
        pair_files([Path("a.tif")], [Path("a.tif"), Path("z.tif")])


def test_instance_evaluation_equals_direct_matching(tmp_path, instance_dirs):
    gt, pred, pairs = instance_dirs
    report = evaluate_folders("instance", gt, pred, tmp_path / "out", thresholds=[0.5, 0.75])
    for name, (g, p) in pairs.items():
        for m in match_instances(g, p, thresh=[0.5, 0.75]):
            row = report.per_image[
                (report.per_image.image == name) & (report.per_image.thresh == m.thresh)
            ]
            assert int(row.tp.iloc[0]) == m.tp and row.f1.iloc[0] == pytest.approx(m.f1)
    # pooled: summed counts
    s50 = report.summary[report.summary.thresh == 0.5].iloc[0]
    tp = report.per_image[report.per_image.thresh == 0.5].tp.sum()
    assert s50.tp == tp
    names = {p.name for p in report.files}
    assert names == {"per_image.csv", "summary.csv", "metrics_vs_iou.png"}
    assert len(pd.read_csv(tmp_path / "out" / "per_image.csv", comment="#")) == 4


def test_semantic_evaluation(tmp_path):
    rng = np.random.default_rng(0)
    g = rng.integers(0, 3, (32, 32)).astype(np.uint8)
    p = np.where(rng.random((32, 32)) < 0.8, g, rng.integers(0, 3, (32, 32))).astype(np.uint8)
    write_image(tmp_path / "gt" / "a.tif", g, ImageMeta("YX"))
    write_image(tmp_path / "pred" / "a.tif", p, ImageMeta("YX"))
    report = evaluate_folders("semantic", tmp_path / "gt", tmp_path / "pred", tmp_path / "out")
    ref = confusion_metrics(g, p, average="macro")
    assert report.per_image.f1.iloc[0] == pytest.approx(ref.f1)
    assert report.summary.iou.iloc[0] == pytest.approx(ref.iou)
    assert (tmp_path / "out" / "confusion_matrix.png").stat().st_size > 1000


def test_detection_evaluation(tmp_path):
    s = synthetic_spots((64, 64), n_spots=10, seed=0)
    pred = s.points[:8] + 0.5
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    pd.DataFrame(s.points, columns=["y", "x"]).to_csv(tmp_path / "gt" / "a.csv", index=False)
    pd.DataFrame(pred, columns=["axis-0", "axis-1"]).to_csv(
        tmp_path / "pred" / "a.csv", index=False
    )
    report = evaluate_folders("detection", tmp_path / "gt", tmp_path / "pred", tmp_path / "out")
    ref = match_points(s.points, pred, tolerance=3.0)
    assert report.summary.tp.iloc[0] == ref.tp == 8
    assert report.summary.recall.iloc[0] == pytest.approx(0.8)
    assert (tmp_path / "out" / "metrics_vs_tolerance.png").exists()


def test_restoration_evaluation_and_data_range(tmp_path):
    rng = np.random.default_rng(1)
    clean = rng.random((32, 32)).astype(np.float32)
    noisy = (clean + 0.1 * rng.standard_normal((32, 32))).astype(np.float32)
    write_image(tmp_path / "gt" / "a.tif", clean, ImageMeta("YX"))
    write_image(tmp_path / "pred" / "a.tif", noisy, ImageMeta("YX"))
    # float images without a data range: raw PSNR / SSIM are left empty, CARE's are given
    report = evaluate_folders("restoration", tmp_path / "gt", tmp_path / "pred")
    assert np.isnan(report.per_image.psnr.iloc[0]) and np.isnan(report.per_image.ssim.iloc[0])
    assert report.per_image.psnr_care.iloc[0] == pytest.approx(psnr_care(clean, noisy))
    report = evaluate_folders("restoration", tmp_path / "gt", tmp_path / "pred", data_range=1.0)
    assert report.per_image.psnr.iloc[0] == pytest.approx(psnr(clean, noisy, data_range=1.0))


def test_shape_mismatch_names_both_files(tmp_path):
    write_image(tmp_path / "gt" / "a.tif", np.zeros((8, 8), np.uint8), ImageMeta("YX"))
    write_image(tmp_path / "pred" / "a.tif", np.zeros((8, 9), np.uint8), ImageMeta("YX"))
    with pytest.raises(
        ValueError, match=r"shape mismatch: .*gt/a\.tif is \(8, 8\) but .*pred/a\.tif"
    ):
        evaluate_folders("instance", tmp_path / "gt", tmp_path / "pred")


def test_unknown_task():
    with pytest.raises(ValueError, match=r"unknown task 'panoptic'; valid tasks"):
        evaluate_folders("panoptic", ".", ".")


def test_cli_evaluate(tmp_path, instance_dirs, capsys):
    gt, pred, _ = instance_dirs
    args = ["evaluate", "--task", "instance", "--gt", str(gt), "--pred", str(pred)]
    assert main([*args, "-o", str(tmp_path / "o")]) == 0
    assert "panoptic_quality" in capsys.readouterr().out
    assert main([*args, "-o", str(tmp_path / "o")]) == 2  # refuses to overwrite
    assert "output exists" in capsys.readouterr().err
    (pred / "img1_labels.tif").unlink()
    assert main([*args, "-o", str(tmp_path / "o2")]) == 2
    assert "no prediction for" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"thresholds": [0.0]}, r"thresholds"),
        ({"thresholds": [0.5, 1.5]}, r"thresholds"),
        ({"thresholds": [float("nan")]}, r"thresholds"),
        ({"thresholds": []}, r"thresholds: expected at least one IoU threshold"),
        ({"average": "median"}, r"average must be one of auto, binary, .*got 'median'"),
        ({"tolerance": -1.0}, r"tolerance"),
        ({"tolerance": float("nan")}, r"tolerance"),
        ({"data_range": 0.0}, r"data_range"),
    ],
)
def test_nonsense_parameters_are_refused_before_reading(tmp_path, kwargs, match):
    from biakit.errors import ParameterError

    with pytest.raises(ParameterError, match=match):
        evaluate_folders("instance", tmp_path / "missing", tmp_path / "missing", **kwargs)


def test_side_outputs_in_the_prediction_folder_are_ignored(tmp_path, instance_dirs):
    gt, pred, _ = instance_dirs
    for name in ("img0_overlay.png", "img1_overlay.png"):
        write_image(pred / name, np.zeros((64, 64, 3), np.uint8), ImageMeta("YXC"))
    write_image(pred / "img0_probabilities.tif", np.zeros((2, 64, 64), np.float32))
    report = evaluate_folders("instance", gt, pred, thresholds=[0.5])
    assert set(report.per_image["image"]) == {"img0.tif", "img1.tif"}


def test_overwrite_replaces_only_its_own_outputs(tmp_path, instance_dirs):
    gt, pred, _ = instance_dirs
    out = tmp_path / "out"
    evaluate_folders("instance", gt, pred, out, thresholds=[0.5])
    evaluate_folders("instance", gt, pred, out, thresholds=[0.5], overwrite=True)
    (out / "notes.csv").write_text("mine\n")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "summary.csv").write_text("my,own\n")
    with pytest.raises(FileExistsError, match=r"summary\.csv: exists and was not written by"):
        evaluate_folders("instance", gt, pred, foreign, thresholds=[0.5], overwrite=True)
    assert (foreign / "summary.csv").read_text() == "my,own\n"


def test_labels_are_checked(tmp_path):
    write_image(tmp_path / "gt" / "a.tif", np.full((8, 8), -1, np.int16), ImageMeta("YX"))
    write_image(tmp_path / "pred" / "a.tif", np.zeros((8, 8), np.uint8), ImageMeta("YX"))
    with pytest.raises(ValueError, match=r"gt/a\.tif.*negative values"):
        evaluate_folders("instance", tmp_path / "gt", tmp_path / "pred")


def test_axes_reach_the_reader(tmp_path):
    import tifffile

    labels = np.zeros((2, 3, 8, 8), np.uint16)
    labels[:, :, 2:6, 2:6] = 1
    for side in ("gt", "pred"):
        (tmp_path / side).mkdir()
        tifffile.imwrite(tmp_path / side / "a.tif", labels, photometric="minisblack")
    report = evaluate_folders(
        "instance", tmp_path / "gt", tmp_path / "pred", thresholds=[0.5], axes="TZYX"
    )
    assert report.per_image["f1"].iloc[0] == 1.0
