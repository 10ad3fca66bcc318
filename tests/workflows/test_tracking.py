"""The tracking workflow: predict, calibrate, evaluate, save/load, disk outputs."""

import numpy as np
import pytest

from biakit.data import degrade_detections, synthetic_lineage
from biakit.errors import ConfigError, DataError
from biakit.io import read_ctc, read_geff, read_tracks_csv, validate_ctc, write_timelapse
from biakit.metrics import tracking_metrics
from biakit.workflows import Tracker, TrackingConfig, load_model, parse_workflow_config


@pytest.fixture(scope="module")
def movie():
    return synthetic_lineage(12, (128, 128), n_cells=8, division_probability=0.05, seed=3)


def test_perfect_detections_are_tracked_exactly(movie):
    result = Tracker().predict(movie.masks)
    assert validate_ctc(result.masks, result.table) == []
    scores = tracking_metrics(movie.masks, movie.table, result.masks, result.table)
    assert scores.tra > 0.99 and scores.ct > 0.85
    assert abs(result.n_divisions - movie.n_divisions) <= 1 and movie.n_divisions > 1


def test_missed_detections_are_filled_so_tracks_stay_whole(movie):
    degraded = degrade_detections(movie.masks, miss_rate=0.05, jitter=1.0, seed=0)
    filled = Tracker().predict(degraded)
    holes = Tracker(TrackingConfig(fill_gaps=False)).predict(degraded)
    for result in (filled, holes):
        assert validate_ctc(result.masks, result.table) == []
    ct_filled = tracking_metrics(movie.masks, movie.table, filled.masks, filled.table).ct
    ct_holes = tracking_metrics(movie.masks, movie.table, holes.masks, holes.table).ct
    assert ct_filled > ct_holes


def test_points_recover_the_true_links(movie):
    from biakit.track import from_ctc

    truth = from_ctc(movie.masks, movie.table)
    points = np.column_stack([truth.t, truth.coords])
    result = Tracker(TrackingConfig(fill_gaps=False)).predict(points=points)
    assert result.masks is None

    def links(g):  # (frame, position) pairs: independent of node order
        key = [(int(t), *np.round(c, 6).tolist()) for t, c in zip(g.t, g.coords)]
        return {(key[a], key[b]) for a, b in g.edges.tolist()}

    true, found = links(truth), links(result.graph)
    assert len(true & found) / len(true) > 0.95 and len(true & found) / len(found) > 0.95


def test_calibration_learns_cut_offs_from_annotations_and_survives_save(movie, tmp_path):
    tracker = Tracker(TrackingConfig(spacing=0.5))
    learned = tracker.train([movie.masks], [movie.table])
    # independent truth: the largest drift-free one-frame step of the ground truth, in um
    from biakit.track import from_ctc

    g = from_ctc(movie.masks, movie.table)
    src, dst = g.edges.T
    one = (g.out_degree()[src] == 1) & (g.t[dst] == g.t[src] + 1)
    step = (g.coords[dst[one]] - g.coords[src[one]]) * 0.5
    largest = np.linalg.norm(step - step.mean(0), axis=1).max()
    assert learned["max_speed"] == pytest.approx(1.25 * largest)
    assert learned["divisions"] is True and learned["split_distance"] > 0
    folder = tracker.save(tmp_path / "tracker")
    loaded = load_model(folder)
    assert isinstance(loaded, Tracker) and loaded.thresholds == tracker.thresholds
    a, b = tracker.predict(movie.masks), loaded.predict(movie.masks)
    np.testing.assert_array_equal(a.table, b.table)


def test_calibration_keeps_what_the_user_set(movie):
    tracker = Tracker(TrackingConfig(linking={"divisions": False}))
    assert "divisions" not in tracker.train([movie.masks], [movie.table])


def test_evaluate_matches_the_metric_function(movie):
    tracker = Tracker()
    result = tracker.predict(movie.masks)
    ev = tracker.evaluate([result, (result.masks, result.table)], [(movie.masks, movie.table)] * 2)
    direct = tracking_metrics(movie.masks, movie.table, result.masks, result.table)
    assert ev.task == "tracking" and len(ev.per_image) == 2
    assert ev.summary.iloc[0]["TRA"] == pytest.approx(direct.tra)


def test_predict_to_disk_writes_valid_ctc_tables_plots_and_geff(movie, tmp_path):
    write_timelapse(tmp_path / "cells.tif", movie.masks.astype(np.uint16), axes="TYX")
    write_timelapse(tmp_path / "raw.tif", movie.images, axes="TYX")
    before = (tmp_path / "cells.tif").read_bytes()
    report = Tracker().predict_to_disk(tmp_path / "cells.tif", tmp_path / "out",
                                       images=[tmp_path / "raw.tif"])  # fmt: skip
    assert not report.failures
    names = sorted(p.name for p in report.outcomes[0].outputs)
    suffixes = [".geff", "_RES", "_lineage.png", "_track_table.csv", "_track_table.units.json",
                "_tracks.csv", "_tracks.gif"]  # fmt: skip
    assert names == ["cells" + s for s in suffixes]
    masks, table = read_ctc(tmp_path / "out" / "cells_RES")
    assert validate_ctc(masks, table) == []
    assert tracking_metrics(movie.masks, movie.table, masks, table).tra > 0.99
    data, parents, _ = read_tracks_csv(tmp_path / "out" / "cells_tracks.csv")
    assert set(parents) == {int(lab) for lab, *_, p in table.tolist() if p > 0}
    assert read_geff(tmp_path / "out" / "cells.geff").n_nodes == len(data)
    assert (tmp_path / "cells.tif").read_bytes() == before
    with pytest.raises(FileExistsError, match="output exists"):
        Tracker().predict_to_disk(tmp_path / "cells.tif", tmp_path / "out")
    again = Tracker().predict_to_disk(tmp_path / "cells.tif", tmp_path / "out", overwrite=True)
    assert not again.failures


def test_a_bad_movie_fails_alone(movie, tmp_path):
    write_timelapse(tmp_path / "good.tif", movie.masks.astype(np.uint16), axes="TYX")
    write_timelapse(tmp_path / "raw.tif", movie.images, axes="TYX")
    report = Tracker(TrackingConfig(outputs={"movie": "none", "geff": False})).predict_to_disk(
        [tmp_path / "raw.tif", tmp_path / "good.tif"], tmp_path / "out"
    )
    assert len(report.failures) == 1 and "expected label images" in report.failures[0].error
    assert report.outcomes[1].n_objects == len(Tracker().predict(movie.masks).table) > 0


def test_config_errors_are_one_line():
    with pytest.raises(ConfigError, match=r"linking.max_gapp: unknown key"):
        parse_workflow_config({"task": "tracking", "linking": {"max_gapp": 1}})
    with pytest.raises(ConfigError, match=r"spacing"):
        parse_workflow_config({"task": "tracking", "spacing": [1.0, -1.0]})
    with pytest.raises(DataError, match="expected a 2D time-lapse"):
        Tracker().predict(np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match="1 movie"):
        Tracker().train([np.zeros((2, 4, 4), np.uint8)], [])
