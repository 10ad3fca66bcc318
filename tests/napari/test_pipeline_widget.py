"""Classical pipeline widget: form from the registry, preview, whole-image run, table, YAML."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biakit.errors import ConfigError


def _image():
    """Two rectangles and a disc on a dark background: three objects, known areas."""
    image = np.zeros((64, 80), np.float32)
    image[8:20, 8:20] = 1.0  # 144 px
    image[30:40, 50:70] = 1.0  # 200 px
    yy, xx = np.mgrid[:64, :80]
    image[(yy - 48) ** 2 + (xx - 20) ** 2 <= 36] = 1.0  # 113 px
    return image


def _widget(make_napari_viewer, image=None, **kwargs):
    from biakit.napari._pipeline_widget import PipelineWidget

    viewer = make_napari_viewer()
    layer = viewer.add_image(_image() if image is None else image, name="img", **kwargs)
    widget = PipelineWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Classical pipeline")
    widget.steps = [{"step": "threshold", "method": "otsu"}]
    widget._refresh_steps(select=0)
    return viewer, layer, widget


def test_run_whole_image_labels_and_measurements(make_napari_viewer, tmp_path, screenshot):
    from skimage.measure import label, regionprops_table

    viewer, _, widget = _widget(make_napari_viewer, scale=(0.5, 0.25))
    widget.run()
    labels = viewer.layers["img labels"]
    truth = label(_image() > 0.5)
    assert labels.data.max() == 3
    np.testing.assert_array_equal(labels.data > 0, truth > 0)
    assert tuple(labels.scale) == (0.5, 0.25)
    table = widget.table.frame
    expected = regionprops_table(truth, properties=("area",))["area"] * 0.5 * 0.25
    np.testing.assert_allclose(np.sort(table["area"]), np.sort(expected))
    assert widget.table.rowCount() == 3
    assert list(labels.features["index"]) == list(table["label"])
    out = widget.save_csv(tmp_path / "m.csv")
    np.testing.assert_allclose(np.sort(pd.read_csv(out)["area"]), np.sort(expected))
    viewer.window.resize(1400, 820)
    viewer.reset_view()
    screenshot(viewer, "pipeline")


def test_form_from_registry_yaml_and_errors(make_napari_viewer, tmp_path):
    from biakit.pipeline import Pipeline, step_names

    viewer, _, widget = _widget(make_napari_viewer)
    choices = [widget.step_choice.itemText(i) for i in range(widget.step_choice.count())]
    assert choices == step_names()
    widget.step_choice.setCurrentText("remove_small_objects")
    widget.add_step()
    assert widget.steps[1] == {"step": "remove_small_objects"}
    assert set(widget.form.editors) == {"min_size", "connectivity"}
    widget.form.set_value("min_size", "100")
    assert widget.steps[1] == {"step": "remove_small_objects", "min_size": 100}
    widget.form.set_value("min_size", "not a number")
    assert "min_size" in widget.form.error.text()
    assert widget.steps[1]["min_size"] == 100  # the bad value was not taken
    widget.run()  # the disc (113 px) and the squares are all above 100 px
    assert viewer.layers["img labels"].data.max() == 3
    widget.form.set_value("min_size", "150")
    widget.run()  # only the 200 px rectangle is left
    assert np.unique(viewer.layers["img labels"].data).tolist() == [0, 1]
    widget.move_step(-1)
    assert [s["step"] for s in widget.steps] == ["remove_small_objects", "threshold"]
    widget.remove_step()
    assert [s["step"] for s in widget.steps] == ["threshold"]
    # Literal parameters get a choice, bool parameters a check box
    widget.step_choice.setCurrentText("tophat")
    widget.add_step()
    widget.form.set_value("kind", "black")
    assert widget.steps[1] == {"step": "tophat", "kind": "black"}
    widget.step_choice.setCurrentText("normalize_percentile")
    widget.add_step()
    widget.form.set_value("clip", "true")
    assert widget.steps[-1] == {"step": "normalize_percentile", "clip": True}
    # YAML round trip, and errors of bad files
    widget.steps = [{"step": "gaussian", "sigma": 2.0}, {"step": "threshold", "method": "li"}]
    path = widget.save_yaml(tmp_path / "p.yaml")
    assert Pipeline.from_yaml(path).steps == widget.pipeline().steps
    widget.steps = []
    widget.load_yaml(path)
    assert widget.steps == [
        {"step": "gaussian", "sigma": 2.0},
        {"step": "threshold", "method": "li"},
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - step: blur\n")
    with pytest.raises(ConfigError, match="unknown step 'blur'"):
        widget.load_yaml(bad)
    with pytest.raises(ConfigError, match=r"nothing\.yaml: config file not found"):
        widget.load_yaml(tmp_path / "nothing.yaml")
    # user mistakes are shown in the widget, not raised into napari
    widget.steps = [{"step": "fill_holes"}]
    widget.run()
    assert "no earlier step made one" in str(widget.progress.last_error)
    assert widget.progress.status.text().startswith("error: step 1 ('fill_holes')")
    viewer.layers.clear()
    widget.run()
    assert widget.message.text() == "error: image: choose an image layer first (none is open)"


def test_preview_of_current_slice_and_timelapse(make_napari_viewer):
    volume = np.stack([np.zeros((64, 80), np.float32), _image(), _image()[::-1]])
    viewer, _, widget = _widget(make_napari_viewer, image=volume, scale=(2.0, 0.5, 0.5))
    viewer.dims.set_current_step(0, 1)
    widget.preview()
    preview = viewer.layers["img preview"]
    assert preview.data.shape[0] == 1  # one slice, placed at z = 1
    assert preview.translate[0] == pytest.approx(2.0)
    np.testing.assert_array_equal(preview.data[0] > 0, _image() > 0.5)
    viewer.scene.camera.zoom *= 8  # only part of the slice on screen
    widget.preview()
    preview = viewer.layers["img preview"]
    assert preview.data.shape[1] < 64 and preview.data.shape[2] < 80
    # a time-lapse is segmented frame by frame; the table has a frame column
    movie = np.stack([_image(), _image()[:, ::-1]])
    viewer.add_image(movie, name="movie", metadata={"axes": "TYX"})
    widget.image.select("movie")
    widget.run()
    labels = viewer.layers["movie labels"].data
    assert labels.shape == movie.shape and labels[0].max() == labels[1].max() == 3
    assert widget.table.frame["frame"].tolist() == [0, 0, 0, 1, 1, 1]
