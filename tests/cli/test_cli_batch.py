"""Batch verbs go on past bad files; outputs are safe; evaluate reads what biakit writes."""

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biakit.errors import ImageReadError
from biakit.io import ImageMeta, read_image, write_image


def _three_images_one_bad(ws: Path, blob) -> Path:
    folder = ws / "many"
    for name in ("a", "c"):
        write_image(folder / f"{name}.tif", blob(), ImageMeta("YX"))
    (folder / "b.tif").write_bytes(b"II*\x00 truncated")
    return folder


def test_pipeline_run_goes_on_past_a_bad_file(workspace, cli, tools):
    _three_images_one_bad(workspace, tools.blob_image)
    result = cli("pipeline", "run", "p.yaml", "-i", "many", "-o", "out")
    assert result.code == 2
    assert result.out.strip() == "2 image(s), 2 object(s); results in out"
    lines = result.err_lines
    assert len(lines) == 2
    assert lines[0].startswith("FAILED many/b.tif: ") and "b.tif" not in lines[0][15:]
    assert lines[1] == "biakit: error: 1 of 3 file(s) failed (listed above)"
    names = sorted(p.name for p in (workspace / "out").iterdir())
    assert names == [
        ".biakit-outputs.json", "a_labels.tif", "a_overlay.png", "c_labels.tif",
        "c_overlay.png", "measurements.csv", "measurements.units.json", "summary.csv",
        "summary.units.json",
    ]  # fmt: skip
    assert list(pd.read_csv(workspace / "out" / "summary.csv")["image"]) == ["a.tif", "c.tif"]


def test_pipeline_run_with_every_file_bad_writes_nothing(workspace, cli):
    (workspace / "bad").mkdir()
    for name in ("x", "y"):
        (workspace / "bad" / f"{name}.tif").write_bytes(b"")
    result = cli("pipeline", "run", "p.yaml", "-i", "bad", "-o", "out")
    assert result.code == 2 and result.out == ""
    assert result.err_lines[-1] == "biakit: error: 2 of 2 file(s) failed (listed above)"
    assert not (workspace / "out").exists()


def test_pixel_predict_goes_on_past_a_bad_file(workspace, cli, tools, pixel_model_dir):
    tools.copy_model(pixel_model_dir, workspace / "pm")
    _three_images_one_bad(workspace, tools.blob_image)
    result = cli("pixel", "predict", "pm", "-i", "many", "-o", "out", "--probabilities")
    assert result.code == 2
    assert result.out.strip() == "2 image(s) classified; results in out"
    assert result.err_lines[0].startswith("FAILED many/b.tif: ")
    names = sorted(p.name for p in (workspace / "out").iterdir() if not p.name.startswith("."))
    assert names == [
        "a_labels.tif", "a_overlay.png", "a_probabilities.tif",
        "c_labels.tif", "c_overlay.png", "c_probabilities.tif",
    ]  # fmt: skip


def test_run_batch_lets_bugs_through():
    from biakit.cli._batch import run_batch

    def bug(path):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_batch([Path("a.tif")], bug, "x")


def test_finish_batch_with_one_file_is_one_line():
    from biakit.cli._batch import Failure, finish_batch
    from biakit.errors import UserError

    finish_batch([], 3)
    with pytest.raises(UserError, match=r"^a\.tif: cannot read$"):
        finish_batch([Failure(Path("a.tif"), "cannot read")], 1)


def test_evaluate_reads_a_pipeline_run_output_folder(workspace, cli, tools):
    """The issue's case: `evaluate --pred OUT` on the folder `pipeline run` wrote."""
    from biakit.data import synthetic_nuclei

    for seed in (0, 1):
        s = synthetic_nuclei((48, 48), n_objects=3, touching=0.0, seed=seed)
        write_image(workspace / "imgs" / f"n{seed}.tif", s.image, ImageMeta("YX"))
        write_image(workspace / "truth" / f"n{seed}.tif", s.labels.astype(np.uint16))
    assert cli("pipeline", "run", "p.yaml", "-i", "imgs", "-o", "seg").code == 0
    assert (workspace / "seg" / "n0_overlay.png").exists()  # side outputs are there
    result = cli("evaluate", "--task", "instance", "--gt", "truth", "--pred", "seg", "-o", "ev")
    assert result.code == 0, result.err
    per_image = pd.read_csv(workspace / "ev" / "per_image.csv")
    assert set(per_image["image"]) == {"n0.tif", "n1.tif"}
    assert (per_image[per_image.thresh == 0.5]["n_true"] == 3).all()
    # and again with --overwrite: replaces only its own outputs
    again = cli("evaluate", "--task", "instance", "--gt", "truth", "--pred", "seg", "-o", "ev",
                "--overwrite")  # fmt: skip
    assert again.code == 0, again.err


def test_rerun_with_overwrite_replaces_own_outputs(workspace, cli):
    assert cli("pipeline", "run", "p.yaml", "-i", "img", "-o", "out").code == 0
    again = cli("pipeline", "run", "p.yaml", "-i", "img", "-o", "out")
    assert again.code == 2 and "pass --overwrite" in again.err
    assert cli("pipeline", "run", "p.yaml", "-i", "img", "-o", "out", "--overwrite").code == 0
    recorded = json.loads((workspace / "out" / ".biakit-outputs.json").read_text())["files"]
    assert "a_labels.tif" in recorded and "summary.csv" in recorded


def test_unicode_paths_work(workspace, cli, tools):
    folder = workspace / "données" / "画像 set"
    write_image(folder / "cellule 1.tif", tools.blob_image(), ImageMeta("YX"))
    out = workspace / "résultats"
    result = cli("pipeline", "run", "p.yaml", "-i", str(folder), "-o", str(out))
    assert result.code == 0, result.err
    labels, _ = read_image(out / "cellule 1_labels.tif")
    assert int(np.asarray(labels).max()) == 1
    assert cli("info", str(folder / "cellule 1.tif")).code == 0


@pytest.mark.parametrize("where", ["mkstemp", "rename"])
def test_permission_denied_on_output_is_one_line(workspace, cli, monkeypatch, where):
    # root ignores file modes: the refusal is simulated where a temporary file is made
    # or where it is renamed into place
    def denied(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", str(dir or (workspace / "ro")))

    before = sorted(p.name for p in workspace.iterdir())
    if where == "mkstemp":
        monkeypatch.setattr(tempfile, "mkstemp", denied)
    else:
        monkeypatch.setattr(os, "replace", denied)
        monkeypatch.setattr(os, "rename", denied)
    result = cli("pipeline", "run", "p.yaml", "-i", "img/a.tif", "-o", "ro")
    assert result.code == 2
    assert len(result.err_lines) == 1
    assert "Permission denied" in result.err and "ro" in result.err
    assert sorted(p.name for p in workspace.iterdir() if p.name != "ro") == before
    left = (
        sorted(p.name for p in (workspace / "ro").glob("*")) if (workspace / "ro").exists() else []
    )
    assert left == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_output_folder(workspace, cli):
    ro = workspace / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        result = cli("pipeline", "run", "p.yaml", "-i", "img/a.tif", "-o", "ro")
    finally:
        ro.chmod(0o755)
    assert result.code == 2 and len(result.err_lines) == 1 and "ro" in result.err
    assert list(ro.iterdir()) == []


def test_axes_option_reads_a_4d_tiff(workspace, cli):
    import tifffile

    tifffile.imwrite(
        workspace / "t4.tif", np.zeros((2, 3, 16, 16), np.uint16), photometric="minisblack"
    )
    result = cli("info", "t4.tif", "--axes", "TZYX")
    assert result.code == 0, result.err
    assert "axes: TZYX" in result.out


def test_convert_between_datasets_of_one_hdf5_file(workspace, cli):
    write_image("x.h5:/raw", np.ones((4, 4), np.uint8), ImageMeta("YX"))
    result = cli("convert", "x.h5:/raw", "x.h5:/copy")
    assert result.code == 0, result.err
    assert np.asarray(read_image("x.h5:/copy")[0]).sum() == 16
    assert cli("convert", "x.h5:/raw", "x.h5:/raw", "--overwrite").code == 2


def test_pixel_train_overwrite_replaces_only_a_model_folder(workspace, cli):
    args = ["pixel", "train", "--images", "img", "--scribbles", "scrib", "--trees", "3"]
    assert cli(*args, "-o", "m").code == 0
    assert cli(*args, "-o", "m").code == 2
    assert cli(*args, "-o", "m", "--overwrite").code == 0
    result = cli(*args, "-o", "gt", "--overwrite")
    assert result.code == 2 and "not a pixel-classifier model folder" in result.err
    assert (workspace / "gt" / "a.tif").exists()


def test_image_read_errors_keep_their_type():
    assert issubclass(ImageReadError, ValueError)
