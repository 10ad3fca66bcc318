"""Output safety: never replace an input, --overwrite replaces only biakit's own outputs."""

import json
from pathlib import Path

import pytest

from biakit._outputs import (
    MANIFEST,
    check_outputs,
    is_inside,
    record_outputs,
    recorded_outputs,
    table_files,
)


def test_record_and_read_back(tmp_path):
    assert recorded_outputs(tmp_path) == set()
    record_outputs(tmp_path, [tmp_path / "a.tif", tmp_path / "sub" / "b.tif", Path("c.tif")])
    assert recorded_outputs(tmp_path) == {"a.tif"}  # only files directly in the folder
    record_outputs(tmp_path, [tmp_path / "z.csv"])
    data = json.loads((tmp_path / MANIFEST).read_text())
    assert data == {"written_by": "biakit", "files": ["a.tif", "z.csv"]}


def test_a_damaged_record_counts_as_empty(tmp_path):
    (tmp_path / MANIFEST).write_text("{not json")
    assert recorded_outputs(tmp_path) == set()
    (tmp_path / MANIFEST).write_text('{"files": 3}')
    assert recorded_outputs(tmp_path) == set()


def test_output_equal_to_an_input_is_refused(tmp_path):
    a = tmp_path / "a.tif"
    a.write_bytes(b"x")
    with pytest.raises(FileExistsError, match=r"a\.tif: output would replace an input file"):
        check_outputs([a], [tmp_path / "." / "a.tif"], overwrite=True)


def test_output_inside_an_input_folder_is_refused(tmp_path):
    with pytest.raises(FileExistsError, match=r"would replace an input file; choose another -o"):
        check_outputs([tmp_path], [tmp_path / "x.tif"], overwrite=False, option="-o")


def test_existing_output_needs_overwrite_and_a_record(tmp_path):
    out = tmp_path / "x_labels.tif"
    out.write_bytes(b"ground truth")
    with pytest.raises(FileExistsError, match=r"x_labels\.tif: output exists; pass --overwrite"):
        check_outputs([], [out], overwrite=False)
    with pytest.raises(FileExistsError, match=r"exists and was not written by biakit"):
        check_outputs([], [out], overwrite=True)
    record_outputs(tmp_path, [out])
    check_outputs([], [out], overwrite=True)  # now it is biakit's own


def test_two_outputs_with_one_name_are_refused(tmp_path):
    with pytest.raises(FileExistsError, match=r"two inputs give this output name"):
        check_outputs([], [tmp_path / "a.tif", tmp_path / "a.tif"], overwrite=False)


def test_a_folder_is_replaced_only_when_biakit_wrote_it(tmp_path):
    (tmp_path / "x.zarr").mkdir()
    with pytest.raises(FileExistsError, match=r"not written by biakit"):
        check_outputs([], [tmp_path / "x.zarr"], overwrite=True)
    record_outputs(tmp_path, [tmp_path / "x.zarr"])  # e.g. a CTC result folder biakit wrote
    check_outputs([], [tmp_path / "x.zarr"], overwrite=True)
    with pytest.raises(FileExistsError, match=r"output exists"):
        check_outputs([], [tmp_path / "x.zarr"], overwrite=False)


def test_helpers(tmp_path):
    assert [p.name for p in table_files(tmp_path / "t.csv")] == ["t.csv", "t.units.json"]
    assert is_inside(tmp_path / "a" / "b", tmp_path) and not is_inside(tmp_path, tmp_path / "a")
