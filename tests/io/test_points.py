import numpy as np
import pytest

from biakit.errors import DataError, ParameterError
from biakit.io import read_points_csv, write_points_csv


def _csv(tmp_path, text, name="p.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_round_trip_2d_3d_and_empty(tmp_path):
    pts = np.array([[1.5, 2.0], [3.0, 4.25]])
    path = write_points_csv(tmp_path / "a.csv", pts, classes=[0, 1], scores=[0.5, 0.25])
    assert path.read_text().splitlines()[0] == "y,x,class,score"
    back, cls = read_points_csv(path)
    np.testing.assert_array_equal(back, pts)
    assert cls.tolist() == [0, 1] and cls.dtype == np.int64
    p3 = write_points_csv(tmp_path / "b.csv", [[1, 2, 3]], axes="zyx")
    assert read_points_csv(p3)[0].tolist() == [[1.0, 2.0, 3.0]] and read_points_csv(p3)[1] is None
    empty = read_points_csv(write_points_csv(tmp_path / "e.csv", [], axes="YX"))[0]
    assert empty.shape == (0, 2)


def test_letters_in_any_order_and_case(tmp_path):
    path = _csv(tmp_path, "X,Class,Z,id,y\n4,2,1,7,3\n\n")
    points, classes = read_points_csv(path)
    assert points.tolist() == [[1.0, 3.0, 4.0]] and classes.tolist() == [2]
    assert read_points_csv(path, ndim=2)[0].tolist() == [[3.0, 4.0]]  # z ignored when 2-D


def test_napari_points_layer_csv(tmp_path):
    two = _csv(tmp_path, "index,axis-0,axis-1\n0,10.5,20.0\n1,11.0,21.0\n")
    assert read_points_csv(two)[0].tolist() == [[10.5, 20.0], [11.0, 21.0]]
    three = _csv(tmp_path, "index,axis-0,axis-1,axis-2,label\n0,1,2,3,a\n", "b.csv")
    assert read_points_csv(three)[0].tolist() == [[1.0, 2.0, 3.0]]
    # time-lapse points: axis-0 is T; the spatial coordinates are the trailing columns
    four = _csv(tmp_path, "index,axis-0,axis-1,axis-2,axis-3\n0,5,1,2,3\n", "c.csv")
    assert read_points_csv(four, ndim=3)[0].tolist() == [[1.0, 2.0, 3.0]]
    assert read_points_csv(four, ndim=2)[0].tolist() == [[2.0, 3.0]]
    assert read_points_csv(three, ndim=2)[0].tolist() == [[2.0, 3.0]]
    shuffled = _csv(tmp_path, "axis-1,index,axis-0\n20,0,10\n", "d.csv")
    assert read_points_csv(shuffled)[0].tolist() == [[10.0, 20.0]]


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        ("", {}, r"p.csv: empty file; expected a header"),
        ("a,b\n1,2\n", {}, r"p.csv: missing column\(s\) y, x; found \['a', 'b'\]"),
        ("z,y\n1,2\n", {}, r"missing column\(s\) x"),
        ("y,x\n1,2\n", {"ndim": 3}, r"missing column\(s\) z"),
        ("y,x\n1,abc\n", {}, r"p.csv: cannot read the table .*columns found: \['y', 'x'\]"),
        ("y,x\n1\n", {}, r"cannot read the table"),
        ("y,x,class\n1,2,nan\n", {}, r"cannot read the table"),
        ("y,x\n1,nan\n", {}, r"p.csv: coordinates must be finite"),
        ("index,axis-0,axis-1,axis-2,axis-3\n0,1,2,3,4\n", {}, r"4 napari axis columns.*ndim="),
        (
            "index,axis-0,axis-2\n0,1,2\n",
            {},
            r"without gaps; found \['index', 'axis-0', 'axis-2'\]",
        ),
        ("index,axis-0\n0,1\n", {}, r"1 napari axis column\(s\) but 2-D points"),
        ("axis-0,axis-1\n0,1\n", {"ndim": 3}, r"2 napari axis column\(s\) but 3-D points"),
    ],
)
def test_read_errors_name_file_and_columns(tmp_path, text, kwargs, match):
    with pytest.raises(DataError, match=match):
        read_points_csv(_csv(tmp_path, text), **kwargs)


def test_read_missing_file_and_bad_ndim(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.csv: point table not found"):
        read_points_csv(tmp_path / "missing.csv")
    with pytest.raises(ParameterError, match="ndim must be 2 or 3, got 4"):
        read_points_csv(_csv(tmp_path, "y,x\n1,2\n"), ndim=4)


def test_write_errors(tmp_path):
    with pytest.raises(ParameterError, match="axes='ZYX' has 3 letters but points have 2"):
        write_points_csv(tmp_path / "c.csv", [[1, 2]], axes="ZYX")
    with pytest.raises(ParameterError, match="axes must be 'YX' or 'ZYX'"):
        write_points_csv(tmp_path / "c.csv", [[1, 2]], axes="XY")
    with pytest.raises(ParameterError, match="score values: got 2 for 1 points"):
        write_points_csv(tmp_path / "c.csv", [[1, 2]], scores=[1, 2])
    with pytest.raises(
        ParameterError, match=r"points must be an \(N, ndim\) array, got shape \(2,\)"
    ):
        write_points_csv(tmp_path / "c.csv", [1, 2])
    write_points_csv(tmp_path / "d.csv", [[1, 2]])
    with pytest.raises(FileExistsError, match="already exists"):
        write_points_csv(tmp_path / "d.csv", [[1, 2]], overwrite=False)
