"""Per-track table: every column checked against hand-computed values."""

import json

import numpy as np
import pandas as pd
import pytest

from biakit.errors import DataError, ParameterError
from biakit.measure import write_table
from biakit.track import TRACK_COLUMNS, TrackGraph, to_ctc, track_table

# Lineage A (frames 0-2) divides into B (3-4) and C (3); C is lost in frame 4 and
# found again in frame 5 as D (a gap link, not a division). E (0-2) walks out at x=0.
T = [0, 1, 2, 3, 3, 4, 5, 0, 1, 2]
YX = [[10, 10], [13, 14], [16, 18], [16, 13], [16, 23], [16, 13], [20, 23],
      [30, 5], [30, 3], [30, 1]]  # fmt: skip
AREA = [100, 110, 120, 50, 60, 52, 64, 40, 40, 40]
INTENSITY = [1.0, 2.0, 3.0, 5.0, 7.0, 5.0, 9.0, 1.0, 1.0, 1.0]
EDGES = [[0, 1], [1, 2], [2, 3], [2, 4], [3, 5], [4, 6], [7, 8], [8, 9]]
NODE_TRACK = [1, 1, 1, 2, 3, 2, 4, 5, 5, 5]
TABLE = [[1, 0, 2, 0], [2, 3, 4, 1], [3, 3, 3, 1], [4, 5, 5, 3], [5, 0, 2, 0]]


def _graph(**features):
    feats = {"area": AREA, "mean_intensity": INTENSITY} if not features else features
    return TrackGraph(t=T, coords=YX, edges=EDGES, features=feats)


def _table(**kw):
    kw.setdefault("shape", (6, 40, 40))
    return track_table(_graph(), NODE_TRACK, TABLE, spacing=0.5, frame_interval=10.0, **kw)


def test_hand_computed_lineage_and_motion():
    df = _table(unit="um", time_unit="min").set_index("track_id")
    nan = np.nan
    expected = {  # A, B, C, D, E
        "lineage_id": [1, 1, 1, 1, 5],
        "parent_id": [0, 1, 1, 3, 0],
        "generation": [0, 1, 1, 1, 0],  # D follows C through a gap: same generation
        "n_children": [2, 0, 1, 0, 0],
        "start_frame": [0, 3, 3, 5, 0],
        "end_frame": [2, 4, 3, 5, 2],
        "length": [3, 2, 1, 1, 3],
        "n_detections": [3, 2, 1, 1, 3],
        "duration": [20.0, 10.0, 0.0, 0.0, 20.0],
        "path_length": [5.0, 0.0, 0.0, 0.0, 2.0],  # A: two 3-4-5 steps of 5 px at 0.5 um
        "mean_speed": [0.25, 0.0, nan, nan, 0.1],
        "net_displacement": [5.0, 0.0, 0.0, 0.0, 2.0],
        "straightness": [1.0, nan, nan, nan, 1.0],
        "start_y": [5.0, 8.0, 8.0, 10.0, 15.0],
        "end_x": [9.0, 6.5, 11.5, 11.5, 0.5],
        "mean_area": [27.5, 12.75, 15.0, 16.0, 10.0],  # pixels x 0.25 um^2
        "mean_intensity": [2.0, 5.0, 7.0, 9.0, 1.0],
        "divides": [True, False, False, False, False],
        "ends_at_border": [False, False, False, False, True],
        "fate": ["divides", "lost", "continues", "movie_end", "leaves"],
    }
    for column, values in expected.items():
        got = df.loc[[1, 2, 3, 4, 5], column].tolist()
        if isinstance(values[0], str | bool):
            assert got == values, column
        else:
            np.testing.assert_allclose(got, values, err_msg=column)
    assert "start_z" not in df.columns
    units = df.attrs["units"]
    assert units["mean_speed"] == "um/min" and units["mean_area"] == "um^2"
    assert units["duration"] == "min" and units["straightness"] == ""
    assert set(df.reset_index().columns) <= set(TRACK_COLUMNS)


def test_same_rows_from_to_ctc_numbering():
    """to_ctc numbers segments by first frame; the measurements follow the segments."""
    g = _graph()
    node_track, table = to_ctc(g)
    ours = track_table(g, node_track, table, spacing=0.5, frame_interval=10.0, shape=(6, 40, 40))
    hand = _table()
    key = ["start_frame", "start_y", "start_x"]
    a = ours.sort_values(key).reset_index(drop=True).drop(columns=["track_id", "lineage_id"])
    b = hand.sort_values(key).reset_index(drop=True).drop(columns=["track_id", "lineage_id"])
    b["parent_id"] = a["parent_id"]  # parent labels differ by numbering only
    pd.testing.assert_frame_equal(a, b)


def test_table_row_order_does_not_matter():
    shuffled = [TABLE[i] for i in (3, 0, 4, 2, 1)]
    df = track_table(_graph(), NODE_TRACK, shuffled, spacing=0.5, frame_interval=10.0)
    assert df["track_id"].tolist() == [4, 1, 5, 3, 2]
    assert df["lineage_id"].tolist() == [1, 1, 5, 1, 1]
    np.testing.assert_allclose(df["path_length"], [0.0, 5.0, 2.0, 0.0, 0.0])


def test_generations_count_divisions_only():
    # 1 divides into 2, 3; 2 divides into 4, 5; 5 continues through a gap as 6.
    table = [[1, 0, 0, 0], [2, 1, 1, 1], [3, 1, 1, 1], [4, 2, 2, 2], [5, 2, 2, 2], [6, 4, 4, 5]]
    t = [0, 1, 1, 2, 2, 4]
    g = TrackGraph(t=t, coords=np.zeros((6, 2)))
    df = track_table(g, [1, 2, 3, 4, 5, 6], table)
    assert df["generation"].tolist() == [0, 1, 1, 2, 2, 2]
    assert df["lineage_id"].tolist() == [1] * 6
    assert df["divides"].tolist() == [True, True, False, False, False, False]
    assert df["fate"].tolist() == ["divides", "divides", "lost", "lost", "continues", "movie_end"]


def test_3d_anisotropic_spacing():
    # One step of 1 voxel in z (2 um) and 1 in x (0.5 um); then 2 voxels in y (1 um).
    g = TrackGraph(t=[0, 1, 2], coords=[[1, 5, 5], [2, 5, 6], [2, 7, 6]], edges=[[0, 1], [1, 2]])
    df = track_table(g, [1, 1, 1], [[1, 0, 2, 0]], spacing=(2.0, 0.5, 0.5))
    step1 = np.hypot(2.0, 0.5)
    np.testing.assert_allclose(df["path_length"], [step1 + 1.0])
    np.testing.assert_allclose(df["net_displacement"], [np.linalg.norm([2.0, 1.0, 0.5])])
    np.testing.assert_allclose(df["mean_speed"], [(step1 + 1.0) / 2])
    assert df["start_z"].tolist() == [2.0] and df["end_z"].tolist() == [4.0]
    assert df.attrs["units"]["start_z"] == "pixel"


def test_points_sample_intensity_and_default_margin():
    image = np.zeros((3, 20, 20), np.float32)
    image[0, 10, 10], image[1, 10, 12], image[2, 10, 18] = 4.0, 6.0, 8.0
    g = TrackGraph(t=[0, 1, 2], coords=[[10.2, 9.8], [9.6, 12.4], [10, 18]], edges=[[0, 1], [1, 2]])
    df = track_table(g, [1, 1, 1], [[1, 0, 2, 0]], image=image)
    assert df["mean_intensity"].tolist() == [6.0]
    assert "mean_area" not in df.columns
    assert df["ends_at_border"].tolist() == [True]  # x = 18: 1 px from the edge, margin 2
    assert df["fate"].tolist() == ["movie_end"]  # ends in the last frame: not "leaves"
    df = track_table(g, [1, 1, 1], [[1, 0, 2, 0]], image=image, border_margin=0.5)
    assert df["ends_at_border"].tolist() == [False]


def test_without_shape_nothing_is_at_the_border():
    df = track_table(_graph(), NODE_TRACK, TABLE)
    assert not df["ends_at_border"].any()
    assert df["fate"].tolist() == ["divides", "lost", "continues", "movie_end", "lost"]


def test_empty():
    g = TrackGraph(t=np.zeros(0, int), coords=np.zeros((0, 2)))
    df = track_table(g, np.zeros(0, int), np.zeros((0, 4), int))
    assert len(df) == 0 and "mean_speed" in df.columns


def test_written_as_csv_with_units(tmp_path):
    df = _table(unit="um", time_unit="min")
    path = write_table(df, tmp_path / "tracks.csv")
    back = pd.read_csv(path)
    assert back["track_id"].tolist() == [1, 2, 3, 4, 5]
    assert back["fate"].tolist() == df["fate"].tolist()
    np.testing.assert_allclose(back["mean_speed"], df["mean_speed"])
    meta = json.loads((tmp_path / "tracks.units.json").read_text())
    assert meta["columns"]["mean_speed"] == "um/min" and meta["unit"] == "um"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"node_track": [1, 1]}, DataError, "node_track: expected one label per node"),
        ({"node_track": [9] * 10}, DataError, r"labels \[9\] have no row"),
        ({"table": [[1, 0, 2]]}, DataError, "table: expected rows 'L B E P'"),
        ({"table": [*TABLE, [1, 0, 0, 0]]}, DataError, "labels must be unique"),
        ({"table": [*TABLE[:4], [5, 0, 2, 7]]}, DataError, "parent 7, which has no row"),
        ({"frame_interval": 0.0}, ParameterError, "frame_interval must be a positive"),
        ({"border_margin": -1.0}, ParameterError, "border_margin must be a number >= 0"),
        ({"spacing": (1.0, 1.0, 1.0)}, ParameterError, "spacing has 3 value"),
        ({"shape": (6, 40)}, DataError, r"shape: expected a T\(Z\)YX movie with 2 spatial"),
        ({"shape": (3, 40, 40)}, DataError, "shape: has 3 frames but detections reach frame 5"),
        ({"image": np.zeros((6, 4, 4, 4))}, DataError, r"image: expected a T\(Z\)YX movie"),
    ],
)
def test_errors(kwargs, error, match):
    kwargs = dict(kwargs)
    args = {"node_track": NODE_TRACK, "table": TABLE}
    args.update({k: kwargs.pop(k) for k in list(kwargs) if k in args})
    with pytest.raises(error, match=match):
        track_table(_graph(), args["node_track"], args["table"], **kwargs)


def test_parent_cycle_and_wrong_graph_type():
    g = TrackGraph(t=[0, 1], coords=[[0, 0], [0, 0]])
    with pytest.raises(DataError, match="form a cycle"):
        track_table(g, [1, 2], [[1, 0, 0, 2], [2, 1, 1, 1]])
    with pytest.raises(TypeError, match="graph must be a TrackGraph, got dict"):
        track_table({}, [], [])
