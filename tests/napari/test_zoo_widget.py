"""Model-zoo widget: open a bioimage.io package or a biakit model folder, describe, run it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biakit.errors import ParameterError

DATA = Path(__file__).resolve().parents[1] / "data"


def test_package_and_model_folder(make_napari_viewer, screenshot):
    pytest.importorskip("bioimageio.core")
    from biakit.napari._zoo_widget import ModelZooWidget

    viewer = make_napari_viewer()
    widget = ModelZooWidget(viewer)
    viewer.window.add_dock_widget(widget, name="biakit model zoo")
    package = DATA / "bioimageio" / "plain_unet" / "v0_4.bioimageio.yaml"
    job = widget.open(package)
    assert job.done and job.error is None, job.error
    assert "plain pytorch unet" in widget.description.toPlainText()
    x = np.load(package.parent / "test_input.npy")[0, 0]
    viewer.add_image(x, name="raw")
    widget.run_on.select("raw")
    job = widget.run()
    assert job.done and job.error is None, job.error
    # the package's own expected output (bioimageio.core's, format 0.4: no halo padding)
    expected = np.load(package.parent / "test_output.npy")[0, 0]
    np.testing.assert_allclose(viewer.layers["raw prediction"].data, expected, atol=1e-4)
    screenshot(viewer, "zoo")
    # a biakit model folder, predicted tile by tile: the frozen release's result
    folder = DATA / "models" / "instance_v1"
    widget.open(folder)
    assert "task:    instance" in widget.description.toPlainText()
    frozen = np.load(folder / "expected.npz")
    viewer.add_image(frozen["image"], name="nuclei")
    widget.tile.setText("32")
    widget.run(viewer.layers["nuclei"])
    np.testing.assert_array_equal(viewer.layers["nuclei instance"].data, frozen["result"])


def test_errors(make_napari_viewer, tmp_path):
    from biakit.napari._zoo_widget import ModelZooWidget

    viewer = make_napari_viewer()
    widget = ModelZooWidget(viewer)
    with pytest.raises(ParameterError, match="open a package"):
        widget.run()
    with pytest.raises(ParameterError, match="give the path"):
        widget.open(" ")
    job = widget.open(tmp_path / "missing")
    assert isinstance(job.error, ParameterError) and "does not exist" in str(job.error)
    widget.open(DATA / "models" / "semantic_v1")
    viewer.add_image(np.zeros((32, 32), np.float32), name="x")
    widget.tile.setText("big")
    with pytest.raises(ParameterError, match="tile size: expected a whole number"):
        widget.run(viewer.layers["x"])
