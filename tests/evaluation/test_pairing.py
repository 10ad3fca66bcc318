from pathlib import Path

import numpy as np
import pytest

import biakit.evaluation
import biakit.io
from biakit.errors import DataError
from biakit.evaluation import evaluate_folders
from biakit.io import ImageMeta, file_key, is_side_output, pair_files, write_image
from biakit.pipeline import output_paths


def _names(pairs):
    return [(g.name, p.name) for g, p in pairs]


def test_moved_to_io_and_reexported():
    assert biakit.evaluation.pair_files is biakit.io.pair_files
    assert biakit.evaluation.file_key is biakit.io.file_key
    from biakit.evaluation._pairing import pair_files as old

    assert old is pair_files


def test_file_key_and_suffixes():
    assert file_key(Path("x/a.ome.tif")) == "a" and file_key(Path("a.OME.TIFF")) == "a"
    assert file_key(Path("a.ome.zarr")) == "a" and file_key(Path("noext")) == "noext"
    gt = [Path(f"gt/{n}.tif") for n in "abcdef"]
    pred = [Path(f"p/a{s}.tif") for s in ("",)] + [
        Path(f"p/{n}{s}.tif")
        for n, s in zip("bcdef", ("_labels", "_pred", "_prediction", "_mask", "_points"))
    ]
    assert [p.name for _, p in pair_files(gt, pred)] == [p.name for p in pred]


def test_side_outputs_of_biakit_are_ignored():
    names = [
        "a_labels.tif", "a_overlay.png", "a_overlay.jpg", "a_maps.tif", "a_probabilities.tif",
        "a_uncertainty.tif", "measurements.csv", "summary.csv", "per_image.csv",
        "test_metrics.csv", "feature_importances.png",
    ]  # fmt: skip
    side = [n for n in names if is_side_output(Path(n))]
    assert side == names[1:]
    pairs = pair_files([Path("gt/a.tif")], [Path("out") / n for n in names])
    assert _names(pairs) == [("a.tif", "a_labels.tif")]


def test_restoration_outputs_pair_and_quality_maps_are_side_outputs():
    gt = [Path(f"clean/{n}.tif") for n in "abcd"]
    pred = [Path(f"out/{n}.tif") for n in ("a_denoised", "b_restored", "c_sr", "d")]
    maps = [Path(f"out/{n}{end}") for n in "abcd" for end in ("_ssim_map.png", "_error_map.png")]
    assert not any(is_side_output(p) for p in pred)
    assert all(is_side_output(p) for p in maps)
    assert is_side_output(Path("ev/a_denoised_ssim_map.png"))
    pairs = pair_files(gt, [*pred, *maps, Path("out/per_image.csv"), Path("out/summary.csv")])
    assert [p.name for _, p in pairs] == [p.name for p in pred]
    # a ground truth whose name ends like a suffix keeps its own prediction
    assert _names(pair_files([Path("g/x_sr.tif")], [Path("p/x_sr_denoised.tif")])) == [
        ("x_sr.tif", "x_sr_denoised.tif")
    ]
    with pytest.raises(DataError, match=r"two predictions pair with .*a_sr\.tif"):
        pair_files([Path("g/a.tif")], [Path("p/a_denoised.tif"), Path("p/a_sr.tif")])


def test_side_output_named_like_ground_truth_is_kept():
    pairs = pair_files([Path("gt/x_overlay.png")], [Path("p/x_overlay.png")])
    assert _names(pairs) == [("x_overlay.png", "x_overlay.png")]


def test_every_name_biakit_writes_pairs_back():
    for name in ("cell.tif", "cell.ome.tif", "cell.ome.zarr", "cell.png"):
        outputs = output_paths(Path("in") / name, Path("out"))
        stem = outputs["labels"].name[: -len("_labels.tif")]
        written = [*outputs.values(), Path("out") / f"{stem}_maps.tif"]
        written += [Path("out") / f"{stem}_probabilities.tif", Path("out") / "measurements.csv"]
        assert _names(pair_files([Path("gt") / name], written)) == [(name, "cell_labels.tif")]


@pytest.mark.parametrize(
    ("gt", "pred", "match"),
    [
        (["a.tif", "a.png"], ["a.tif"], r"ground truth names are ambiguous: a.tif and a.png"),
        (["a.tif"], ["a_pred.tif", "a_labels.tif"], r"two predictions pair with .*a_labels"),
        (["a.tif", "c.tif"], ["a.tif"], r"unpaired files: no prediction for c\.tif; files pair"),
        (["a.tif"], ["a.tif", "z.tif"], r"no ground truth for z\.tif"),
        ([f"{i}.tif" for i in range(7)], [], r"no prediction for 0.tif.*4.tif \(and 2 more\)"),
        ([], [f"{i}.tif" for i in range(6)], r"no ground truth for .* \(and 1 more\)"),
    ],
)
def test_pairing_errors(gt, pred, match):
    with pytest.raises(DataError, match=match):
        pair_files([Path(g) for g in gt], [Path(p) for p in pred])


def test_evaluate_reads_an_output_folder_as_written(tmp_path):
    labels = np.zeros((12, 12), np.int32)
    labels[2:6, 2:6], labels[7:11, 6:10] = 1, 2
    write_image(tmp_path / "gt" / "a.tif", labels, ImageMeta("YX"))
    out = tmp_path / "out"
    write_image(out / "a_labels.tif", labels, ImageMeta("YX"))
    write_image(out / "a_overlay.png", np.zeros((12, 12, 3), np.uint8), ImageMeta("YXC"))
    write_image(out / "a_maps.tif", np.zeros((2, 12, 12), np.float32), ImageMeta("CYX"))
    (out / "measurements.csv").write_text("image,label\na.tif,1\n")
    report = evaluate_folders("instance", tmp_path / "gt", out, thresholds=[0.5])
    assert report.per_image.f1.tolist() == [1.0]
