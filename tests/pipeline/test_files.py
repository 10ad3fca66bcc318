import json

import numpy as np
import pandas as pd
import pytest

from biakit.data import synthetic_nuclei
from biakit.io import ImageMeta, read_image, write_image
from biakit.pipeline import Pipeline, output_paths, run_files


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    paths = []
    for seed in (0, 1):
        s = synthetic_nuclei((96, 96), n_objects=6, touching=0.0, seed=seed)
        path = folder / f"img{seed}.tif"
        write_image(path, s.image, ImageMeta("YX", (0.5, 0.5)))
        paths.append(path)
    return paths


def test_run_files_writes_labels_overlays_measurements(tmp_path, inputs):
    out = tmp_path / "out"
    before = [p.read_bytes() for p in inputs]
    results = run_files(Pipeline.default(), inputs, out)
    assert [r.n_objects for r in results] == [6, 6]
    labels, meta = read_image(out / "img0_labels.tif")
    assert meta.axes == "YX" and meta.spatial_spacing == (0.5, 0.5)
    assert int(np.asarray(labels).max()) == 6
    overlay, _ = read_image(out / "img0_overlay.png")
    assert overlay.shape == (96, 96, 3)
    table = pd.read_csv(out / "measurements.csv", comment="#")
    assert len(table) == 12 and set(table["image"]) == {"img0.tif", "img1.tif"}
    # areas are in physical units: 0.25 square micrometres per pixel
    pixels = np.bincount(np.asarray(labels).ravel())[1:]
    assert np.allclose(np.sort(table[table.image == "img0.tif"]["area"]), np.sort(pixels * 0.25))
    summary = pd.read_csv(out / "summary.csv", comment="#")
    assert list(summary["n_objects"]) == [6, 6]
    assert [p.read_bytes() for p in inputs] == before  # inputs untouched
    hidden = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert hidden == [".biakit-outputs.json"]  # no temp leftovers, only the record of outputs
    recorded = set(json.loads((out / ".biakit-outputs.json").read_text())["files"])
    assert recorded == {p.name for p in out.iterdir() if not p.name.startswith(".")}


def test_existing_outputs_refused_unless_overwrite(tmp_path, inputs):
    out = tmp_path / "out"
    run_files(Pipeline.default(), inputs, out)
    with pytest.raises(FileExistsError, match=r"img0_labels\.tif: output exists"):
        run_files(Pipeline.default(), inputs, out)
    run_files(Pipeline.default(), inputs, out, overwrite=True)


def test_output_never_replaces_an_input(tmp_path):
    folder = tmp_path / "in"
    image = np.zeros((16, 16), np.float32)
    write_image(folder / "a_labels.tif", image, ImageMeta("YX"))
    write_image(folder / "a.tif", image, ImageMeta("YX"))
    paths = [folder / "a.tif", folder / "a_labels.tif"]
    with pytest.raises(FileExistsError, match=r"a_labels\.tif: output would replace an input"):
        run_files(Pipeline.default(), paths, folder, overwrite=True)


def test_output_names_strip_ome_suffixes(tmp_path):
    names = output_paths(tmp_path / "cells.ome.tif", tmp_path)
    assert names["labels"].name == "cells_labels.tif"
    assert output_paths(tmp_path / "x.ome.zarr", tmp_path)["overlay"].name == "x_overlay.png"


def test_overwrite_never_replaces_a_file_biakit_did_not_write(tmp_path):
    # the case: `pipeline run -i d/x.tif -o d --overwrite` destroyed d/x_labels.tif
    d = tmp_path / "d"
    image = np.zeros((16, 16), np.uint8)
    image[4:10, 4:10] = 200
    write_image(d / "x.tif", image, ImageMeta("YX"))
    truth = np.ones((16, 16), np.uint16)
    write_image(d / "x_labels.tif", truth, ImageMeta("YX"))
    before = (d / "x_labels.tif").read_bytes()
    with pytest.raises(FileExistsError, match=r"x_labels\.tif: exists and was not written by"):
        run_files(Pipeline.default(), [d / "x.tif"], d, overwrite=True)
    assert (d / "x_labels.tif").read_bytes() == before
    assert sorted(p.name for p in d.iterdir()) == ["x.tif", "x_labels.tif"]  # no work done


def test_overwrite_replaces_outputs_of_an_earlier_run(tmp_path, inputs):
    out = tmp_path / "out"
    run_files(Pipeline.default(), inputs, out)
    first = (out / "img0_labels.tif").stat().st_mtime_ns
    run_files(Pipeline.default(), inputs, out, overwrite=True)
    assert (out / "img0_labels.tif").stat().st_mtime_ns >= first


def test_two_inputs_with_the_same_output_name_are_refused(tmp_path):
    image = np.zeros((16, 16), np.uint8)
    write_image(tmp_path / "a" / "x.tif", image, ImageMeta("YX"))
    write_image(tmp_path / "b" / "x.tif", image, ImageMeta("YX"))
    paths = [tmp_path / "a" / "x.tif", tmp_path / "b" / "x.tif"]
    with pytest.raises(FileExistsError, match=r"x_labels\.tif: two inputs give this output"):
        run_files(Pipeline.default(), paths, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_file_run_goes_on_after_a_failed_file(tmp_path, inputs):
    from biakit.errors import ImageReadError
    from biakit.pipeline._files import FileRun

    bad = inputs[0].parent / "bad.tif"
    bad.write_bytes(b"not a tiff")
    run = FileRun(Pipeline.default(), [bad, *inputs], tmp_path / "out")
    with pytest.raises(ImageReadError, match=r"bad\.tif"):
        run.process(bad)
    for path in inputs:
        run.process(path)
    run.finish()
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(summary["image"]) == ["img0.tif", "img1.tif"]
    assert not (tmp_path / "out" / "bad_labels.tif").exists()


def test_write_all_removes_what_it_wrote_when_a_write_fails(tmp_path):
    from biakit.errors import ImageWriteError
    from biakit.pipeline._files import write_all

    image = np.zeros((8, 8), np.uint8)
    todo = [
        (tmp_path / "a.tif", image, ImageMeta("YX")),
        (tmp_path / "b.png", np.zeros((2, 8, 8, 8), np.uint8), None),  # PNG cannot hold 4D
    ]
    with pytest.raises(ImageWriteError, match=r"b\.png"):
        write_all(todo, overwrite=False)
    assert list(tmp_path.iterdir()) == []
