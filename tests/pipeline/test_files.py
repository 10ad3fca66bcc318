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
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp leftovers


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
    with pytest.raises(FileExistsError, match=r"would overwrite an input"):
        run_files(Pipeline.default(), paths, folder, overwrite=True)


def test_output_names_strip_ome_suffixes(tmp_path):
    names = output_paths(tmp_path / "cells.ome.tif", tmp_path)
    assert names["labels"].name == "cells_labels.tif"
    assert output_paths(tmp_path / "x.ome.zarr", tmp_path)["overlay"].name == "x_overlay.png"
