import csv

import numpy as np
import pytest

from biakit.data import synthetic_lineage
from biakit.errors import DataError, ParameterError
from biakit.io import read_tracks_csv, write_tracks_csv
from biakit.track import napari_tracks, to_ctc


@pytest.fixture(scope="module")
def tracks():
    s = synthetic_lineage(10, (64, 64), n_cells=5, radius=(4, 6), division_probability=0.1,
                          enter_rate=0.3, seed=0)  # fmt: skip
    node_track, table = to_ctc(s.graph)
    data, graph = napari_tracks(s.graph, node_track, table)
    return s, data, graph, table


def test_round_trip_napari_data(tmp_path, tracks):
    s, data, graph, table = tracks
    assert graph  # the sequence has divisions
    area = s.graph.features["area"][np.lexsort((s.graph.t, to_ctc(s.graph)[0]))]
    path = write_tracks_csv(tmp_path / "t.csv", data, graph, properties={"area": area})
    back, back_graph, props = read_tracks_csv(path)
    np.testing.assert_array_equal(back, data)  # exact: shortest round-trip floats
    assert back_graph == graph
    np.testing.assert_array_equal(props["area"], area)
    # the parent column says, for each row, the parent of its track (the CTC P column)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["track_id", "t", "y", "x", "parent", "area"]
    parent_of = {int(r[0]): int(r[3]) for r in table}
    assert all(int(r["parent"]) == parent_of[int(r["track_id"])] for r in rows)


def test_3d_merges_and_order(tmp_path):
    data = np.array([[5, 1, 1.0, 2.0, 3.0], [2, 0, 0.5, 0.25, 0.125], [5, 0, 1.0, 2.0, 2.5]])
    path = write_tracks_csv(tmp_path / "m.csv", data, {5: [2, 3], 9: 4})
    lines = path.read_text().splitlines()
    assert lines[0] == "track_id,t,z,y,x,parent"
    assert lines[1:] == ["2,0,0.5,0.25,0.125,0", "5,0,1.0,2.0,2.5,2;3", "5,1,1.0,2.0,3.0,2;3"]
    back, graph, props = read_tracks_csv(path)
    assert back.shape == (3, 5) and back[:, 0].tolist() == [2, 5, 5] and graph == {5: [2, 3]}
    assert props == {}
    empty = write_tracks_csv(tmp_path / "e.csv", np.zeros((0, 4)))
    back, graph, _ = read_tracks_csv(empty)
    assert back.shape == (0, 4) and graph == {}


def test_foreign_column_names(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("# exported\nID,Frame,Y,X,Parent,name\n3,2,1.5,2,,a\n3,1,1,2,0,b\n")
    data, graph, props = read_tracks_csv(path)
    assert data.tolist() == [[3, 1, 1, 2], [3, 2, 1.5, 2]] and graph == {}
    assert props["name"].tolist() == ["b", "a"]


def test_write_errors(tmp_path):
    with pytest.raises(ParameterError, match="data: expected rows"):
        write_tracks_csv(tmp_path / "a.csv", np.zeros((2, 3)))
    with pytest.raises(ParameterError, match="integers >= 0"):
        write_tracks_csv(tmp_path / "a.csv", [[1.5, 0, 1, 1]])
    with pytest.raises(ParameterError, match="graph: expected"):
        write_tracks_csv(tmp_path / "a.csv", [[1, 0, 1, 1]], {"x": ["y"]})
    with pytest.raises(ParameterError, match=r"properties\['area'\]: expected 1 values"):
        write_tracks_csv(tmp_path / "a.csv", [[1, 0, 1, 1]], properties={"area": [1, 2]})
    write_tracks_csv(tmp_path / "a.csv", [[1, 0, 1, 1]])
    with pytest.raises(FileExistsError, match="already exists"):
        write_tracks_csv(tmp_path / "a.csv", [[1, 0, 1, 1]], overwrite=False)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty file"),
        ("track_id,t,y\n1,0,2\n", "no 'x' column"),
        ("t,y,x\n0,1,2\n", "no 'id' column"),
        ("track_id,t,y,x\n1,zero,2,3\n", "not a number"),
        ("track_id,t,y,x\n1,0.5,2,3\n", "integers >= 0"),
        ("track_id,t,y,x,parent\n1,0,2,3,p\n", "line 2: parent 'p'"),
        ("track_id,t,y,x,parent\n2,0,2,3,1\n2,1,2,3,4\n", "line 3: track 2 has parent"),
    ],
)
def test_read_errors(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        read_tracks_csv(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        read_tracks_csv(tmp_path / "nope.csv")
