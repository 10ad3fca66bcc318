"""write_table, summarize and every error path of the measure package."""

import json

import numpy as np
import pandas as pd
import pytest

from biakit.errors import DataError, ParameterError
from biakit.measure import measure_objects, summarize, write_table
from biakit.measure._table import sidecar_path


@pytest.fixture
def table():
    labels = np.zeros((10, 10), dtype=int)
    labels[0:2, 0:2] = 1  # 4 px
    labels[4:7, 4:7] = 5  # 9 px
    labels[8:10, 0:4] = 9  # 8 px
    return measure_objects(labels, np.ones((10, 10)), spacing=(0.5, 0.5), unit="um")


def test_write_table_roundtrip_and_units(tmp_path, table):
    path = write_table(table, tmp_path / "cells.csv")
    back = pd.read_csv(path)
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["unit"] == "um" and meta["spacing"] == [0.5, 0.5]
    assert meta["columns"]["area"] == "um^2"
    assert meta["columns"]["integrated_intensity"] == "intensity*um^2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.csv", "cells.units.json"]


def test_write_table_refuses_overwrite(tmp_path, table):
    path = tmp_path / "cells.csv"
    write_table(table, path)
    with pytest.raises(FileExistsError, match=r"already exists; pass overwrite=True"):
        write_table(table.head(1), path)
    assert len(pd.read_csv(path)) == 3
    write_table(table.head(1), path, overwrite=True)
    assert len(pd.read_csv(path)) == 1


def test_write_table_plain_frame_infers_units(tmp_path):
    df = pd.DataFrame({"label": [1], "volume": [8.0], "custom": ["a"]})
    write_table(df, tmp_path / "t.csv", units={"custom": "note"})
    meta = json.loads((tmp_path / "t.units.json").read_text())
    assert meta["columns"] == {"label": "", "volume": "pixel^3", "custom": "note"}


def test_write_table_errors(tmp_path):
    with pytest.raises(TypeError, match=r"df must be a pandas\.DataFrame, got dict"):
        write_table({"a": [1]}, tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


def test_write_table_creates_missing_folders(tmp_path, table):
    path = write_table(table, tmp_path / "new" / "deeper" / "x.csv")
    assert len(pd.read_csv(path)) == 3
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.csv", "x.units.json"]


def test_write_table_refuses_existing_sidecar(tmp_path, table):
    path = tmp_path / "cells.csv"
    sidecar_path(path).write_text("{}")
    with pytest.raises(FileExistsError, match=r"cells\.units\.json already exists"):
        write_table(table, path)
    assert not path.exists() and sidecar_path(path).read_text() == "{}"


def test_summarize(table):
    s = summarize(table)
    assert s["count"] == 3 and s["size_column"] == "area" and s["unit"] == "um^2"
    areas = np.array([4, 9, 8]) * 0.25
    assert s["total_size"] == pytest.approx(areas.sum())
    assert s["mean_size"] == pytest.approx(areas.mean())
    assert s["median_size"] == pytest.approx(2.0)
    assert s["std_size"] == pytest.approx(areas.std())
    assert (s["min_size"], s["max_size"]) == (1.0, 2.25)
    assert s["means"]["solidity"] == 1.0 and "centroid_y" not in s["means"]
    json.dumps(s)  # plain Python types


def test_summarize_empty_and_errors():
    s = summarize(measure_objects(np.zeros((4, 4, 4), dtype=int)))
    assert s["count"] == 0 and s["size_column"] == "volume" and np.isnan(s["mean_size"])
    with pytest.raises(TypeError, match=r"df must be a pandas\.DataFrame, got list"):
        summarize([1, 2])


I4 = np.ones((4, 4))
ERRORS = [
    ({"labels": I4 * 1.5}, DataError, r"labels hold non-integer values \(e\.g\. 1\.5\)"),
    ({"labels": I4.astype(str)}, DataError, r"labels have dtype <U"),
    ({"labels": I4.astype(bool)}, DataError, r"integer label image.*got dtype bool"),
    ({"labels": np.ones(4, int)}, DataError, r"labels has 1 dimension\(s\).*expected 2 or 3"),
    ({"labels": -I4.astype(int)}, DataError, r"labels have negative values \(minimum -1\)"),
    ({"spacing": (1.0, 1.0, 1.0)}, ParameterError, r"spacing has 3 value\(s\).* 2 spatial axes"),
    ({"spacing": (1.0, 0.0)}, ParameterError, r"spacing must be positive finite numbers"),
    ({"intensity": np.ones((4, 5))}, ValueError, r"intensity shape \(4, 5\) does not match"),
    ({"intensity": np.ones((3, 4, 4)), "channel_axis": -1}, ValueError, r"does not match labels"),
    ({"intensity": I4, "channel_axis": 2}, ValueError, r"channel_axis=2 is out of range"),
    ({"channel_axis": 0}, ValueError, r"channel_axis=0 was given but intensity is None"),
    ({"intensity": np.full((4, 4), "a")}, TypeError, r"intensity must be numeric"),
    ({"properties": ["volume"]}, ValueError, r"unknown properties \['volume'\] for a 2D"),
    ({"properties": "mean_intensity"}, ValueError, r"need an intensity image; pass intensity="),
    ({"mesh_smoothing": -1}, ValueError, r"mesh_smoothing must be an integer >= 0"),
]


@pytest.mark.parametrize(("kwargs", "exc", "match"), ERRORS)
def test_measure_objects_errors(kwargs, exc, match):
    kwargs = {"labels": np.ones((4, 4), dtype=int), **kwargs}
    with pytest.raises(exc, match=match):
        measure_objects(**kwargs)


def test_float_labels_and_scalar_spacing_follow_the_shared_rule():
    labels = np.zeros((6, 7), dtype=np.int32)
    labels[1:3, 1:5], labels[4:6, 2:7] = 3, 8
    ref = measure_objects(labels, spacing=(0.5, 0.5))
    pd.testing.assert_frame_equal(measure_objects(labels.astype(np.float32), spacing=0.5), ref)


def test_3d_only_property_names():
    with pytest.raises(ValueError, match=r"unknown properties \['perimeter'\] for a 3D"):
        measure_objects(np.ones((3, 3, 3), dtype=int), properties=["perimeter"])
