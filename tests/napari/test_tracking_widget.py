"""Tracking widget: labels time-lapse in, Tracks layer with divisions, relabelled masks, table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biakit.errors import ConfigError, ParameterError


@pytest.fixture(scope="module")
def lineage():
    from biakit.data import synthetic_lineage

    return synthetic_lineage(8, (64, 64), n_cells=4, division_probability=0.15, enter_rate=0,
                             seed=1)  # fmt: skip


def test_track_labels_to_tracks_layer_and_table(make_napari_viewer, lineage, tmp_path,
                                                screenshot):  # fmt: skip
    from biakit.napari._tracking_widget import TrackingWidget

    viewer = make_napari_viewer()
    viewer.add_image(lineage.images, name="movie")
    viewer.add_labels(lineage.masks.astype(np.int32), name="masks", scale=(1.0, 0.5, 0.5))
    widget = TrackingWidget(viewer)
    viewer.window.add_dock_widget(widget, name="biakit tracking")
    widget.source.select("masks")
    widget.intensity.select("movie")
    widget.set_option("max_gap", 1)
    job = widget.run()
    assert job.done and job.error is None, job.error
    truth = lineage.table  # L B E P of the simulation: 12 tracks, 4 divisions
    assert sorted(map(tuple, widget.result.table.tolist())) == sorted(map(tuple, truth.tolist()))
    tracks = viewer.layers["masks tracks"]
    expected_parents = {int(lab): [int(p)] for lab, _, _, p in truth.tolist() if p > 0}
    assert {k: list(v) for k, v in tracks.graph.items()} == expected_parents
    np.testing.assert_allclose(tracks.scale, (1.0, 0.5, 0.5))
    # every track id of the Tracks layer paints its frames' objects in the relabelled masks
    painted = viewer.layers["masks tracked"].data
    for track_id, t, y, x in tracks.data[:20]:
        assert painted[int(t), round(y), round(x)] == track_id
    # the table: one row per track, physical units from the layer scale; saved as CSV
    table = widget.table.frame
    assert len(table) == len(truth) and "mean_intensity" in table.columns
    saved = pd.read_csv(widget.save_table(tmp_path / "tracks.csv"))
    assert len(saved) == len(truth)
    assert "4 division(s)" in widget.progress.status.text()
    viewer.dims.set_point(0, 5)
    screenshot(viewer, "tracking")
    # errors name the option and the layer
    with pytest.raises(ParameterError, match="not a linker option"):
        widget.set_option("max_jump", 3)
    widget.set_option("max_gap", "-1")
    with pytest.raises(ConfigError, match="max_gap"):
        widget.config()
    widget.set_option("max_gap", 1)
    viewer.add_labels(np.zeros((5, 2, 8, 8, 8), np.int32), name="5d")
    widget.source.select("5d")
    with pytest.raises(ConfigError, match="4 spatial axes"):
        widget.run()
    widget.source.select("masks")
    viewer.add_image(np.zeros((2, 8, 8)), name="short")
    widget.intensity.select("short")
    with pytest.raises(ParameterError, match="intensities: shape"):
        widget.run()
    _check_points(viewer, widget, lineage)


def _check_points(viewer, widget, lineage):
    """A points time-lapse: tracks, no relabelled masks."""
    from biakit.track import detections_from_labels

    graph = detections_from_labels(lineage.masks)
    viewer.add_points(np.column_stack([graph.t, graph.coords]), name="spots")
    widget.intensity.setCurrentIndex(0)
    widget.source.select("spots")
    job = widget.run()
    assert job.done and job.error is None, job.error
    assert "spots tracked" not in viewer.layers  # points: no masks to relabel
    assert len(viewer.layers["spots tracks"].data) == len(graph.t)
    assert widget.result.n_tracks >= len(np.unique(lineage.masks[0])) - 1
