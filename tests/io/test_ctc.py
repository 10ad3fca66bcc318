import warnings

import numpy as np
import pytest
import tifffile
from ctc_metrics.metrics import valid as ctc_valid
from ctc_metrics.scripts.evaluate import evaluate_sequence
from ctc_metrics.scripts.validate import validate_sequence
from ctc_metrics.utils.filesystem import read_tracking_file

from biakit.data import synthetic_lineage
from biakit.errors import DataError
from biakit.io import (
    ImageReadError,
    ImageWriteError,
    ctc_digits,
    read_ctc,
    read_ctc_frames,
    read_ctc_table,
    read_timelapse,
    validate_ctc,
    write_ctc,
    write_ctc_frames,
    write_ctc_table,
    write_image,
    write_timelapse,
)


@pytest.fixture(scope="module")
def seq():
    return synthetic_lineage(12, (64, 64), n_cells=5, radius=(4, 6), division_probability=0.1,
                             enter_rate=0.3, seed=0)  # fmt: skip


@pytest.fixture(scope="module")
def seq3d():
    return synthetic_lineage(6, (12, 40, 40), n_cells=4, radius=(3, 4), sigma=(1, 2, 2),
                             division_probability=0.15, seed=0)  # fmt: skip


def _ctc_says_valid(masks, table):
    """py-ctcmetrics' validity (1/0) of in-memory data, as ``ctc_validate`` computes it.

    py-ctcmetrics fails an assertion on a parent that is not exactly one row of
    the table (e.g. -1): ``ctc_validate`` crashes, so the sequence is not valid.
    """
    labels = [np.unique(m)[np.unique(m) > 0].tolist() for m in masks]
    names = [f"mask{t:03d}.tif" for t in range(len(masks))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ctc_valid(names, np.asarray(table), labels)
        except AssertionError:
            return 0


def test_write_read_result_and_gt(tmp_path, seq):
    res = write_ctc(tmp_path / "01_RES", seq.masks, seq.table)
    names = sorted(p.name for p in res.iterdir())
    assert names == [f"mask{t:03d}.tif" for t in range(12)] + ["res_track.txt"]
    gt = write_ctc(tmp_path / "01_GT" / "TRA", seq.masks, seq.table, gt=True)
    assert (gt / "man_track011.tif").exists() and (gt / "man_track.txt").exists()
    for folder in (res, gt, gt.parent):
        masks, table = read_ctc(folder)
        np.testing.assert_array_equal(masks, seq.masks)
        np.testing.assert_array_equal(table, seq.table)
        assert masks.dtype == np.uint16
    # the files are what the CTC tools read
    np.testing.assert_array_equal(tifffile.imread(res / "mask003.tif"), seq.masks[3])
    np.testing.assert_array_equal(read_tracking_file(str(res / "res_track.txt")), seq.table)


def test_py_ctcmetrics_validates_and_scores_the_folders(tmp_path, seq):
    write_ctc(tmp_path / "01_RES", seq.masks, seq.table)
    write_ctc(tmp_path / "01_GT" / "TRA", seq.masks, seq.table, gt=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert validate_sequence(str(tmp_path / "01_RES"), threads=1)["Valid"] == 1
        scores = evaluate_sequence(
            str(tmp_path / "01_RES"), str(tmp_path / "01_GT"), ["TRA", "DET"], threads=1
        )
    assert scores["TRA"] == pytest.approx(1.0) and scores["DET"] == pytest.approx(1.0)


def test_3d_round_trip(tmp_path, seq3d):
    res = write_ctc(tmp_path / "02_RES", seq3d.masks, seq3d.table, spacing=(2.0, 0.5, 0.5))
    assert tifffile.imread(res / "mask000.tif").shape == (12, 40, 40)
    masks, table = read_ctc(res)
    np.testing.assert_array_equal(masks, seq3d.masks)
    np.testing.assert_array_equal(table, seq3d.table)
    assert validate_ctc(masks, table) == []


def test_raw_frames_round_trip(tmp_path, seq):
    out = write_ctc_frames(tmp_path / "01", seq.images)
    assert sorted(p.name for p in out.iterdir())[:2] == ["t000.tif", "t001.tif"]
    np.testing.assert_array_equal(read_ctc_frames(out), seq.images)


def test_digits_follow_ctc_naming(tmp_path):
    assert [ctc_digits(n) for n in (1, 92, 1000, 1001, 1764, 10001)] == [3, 3, 3, 4, 4, 5]
    folder = tmp_path / "01_RES"
    folder.mkdir()
    for t in range(2):  # a long sequence's names (4 digits) are read too
        write_image(folder / f"mask{t:04d}.tif", np.full((4, 4), 1, np.uint16))
    write_ctc_table(folder / "res_track.txt", [[1, 0, 1, 0]])
    assert read_ctc(folder)[0].shape == (2, 4, 4)


def test_overwrite_replaces_the_whole_folder(tmp_path, seq):
    res = write_ctc(tmp_path / "01_RES", seq.masks, seq.table)
    with pytest.raises(ImageWriteError, match="already exists"):
        write_ctc(res, seq.masks, seq.table)
    short = seq.masks[:5]
    table = seq.table[seq.table[:, 1] <= 4].copy()
    table[:, 2] = np.minimum(table[:, 2], 4)
    write_ctc(res, short, table, overwrite=True)
    assert not (res / "mask005.tif").exists()  # no stale frame of the longer sequence
    assert read_ctc(res)[0].shape[0] == 5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def _broken(seq):
    """Valid and deliberately broken (masks, table) pairs."""
    m, tab = seq.masks, seq.table
    long = tab[np.argmax(tab[:, 2] - tab[:, 1])]
    lab, b, e = (int(v) for v in long[:3])
    kid = tab[tab[:, 3] > 0][0]
    cases = {"valid": (m, tab)}
    gap = m.copy()
    gap[(b + e) // 2][gap[(b + e) // 2] == lab] = 0  # a gap inside a segment (laptrack's output)
    cases["gap"] = (gap, tab)
    extra = m.copy()
    extra[0, :2, :2] = 999
    cases["label not in table"] = (extra, tab)
    short = tab.copy()
    short[short[:, 0] == lab, 2] = e - 1
    cases["label outside its span"] = (m, short)
    late = tab.copy()
    late[late[:, 0] == kid[3], 2] = kid[1]
    cases["parent ends late"] = (m, late)
    cases["duplicate label"] = (m, np.concatenate([tab, tab[:1]]))
    own = tab.copy()
    own[own[:, 0] == kid[0], 3] = kid[0]
    cases["own parent"] = (m, own)
    neg = tab.copy()
    neg[neg[:, 0] == kid[0], 3] = -1
    cases["negative parent"] = (m, neg)
    return cases


def test_validate_agrees_with_py_ctcmetrics(seq, seq3d):
    for s in (seq, seq3d):
        for name, (masks, table) in _broken(s).items():
            ours = validate_ctc(masks, table)
            assert (ours == []) == (_ctc_says_valid(masks, table) == 1), (name, ours)
            assert (ours == []) == (name == "valid"), (name, ours)


def test_validate_messages(seq):
    cases = _broken(seq)
    assert any("missing from frame" in p for p in validate_ctc(*cases["gap"]))
    assert "label 999 in frame 0 is not in the table" in validate_ctc(*cases["label not in table"])
    assert any("outside its span" in p for p in validate_ctc(*cases["label outside its span"]))
    assert any("but its parent" in p for p in validate_ctc(*cases["parent ends late"]))
    assert any("rows of the table" in p for p in validate_ctc(*cases["duplicate label"]))
    assert any("its own parent" in p for p in validate_ctc(*cases["own parent"]))
    m = np.ones((2, 3, 3), np.uint16)
    assert validate_ctc(m, [[1, 0, 1, 7]]) == ["label 1: parent 7 is not a label of the table"]
    assert validate_ctc(np.zeros((2, 3, 3), np.uint8), []) == ["the table has no tracks"]
    assert "expected 0 <= B <= E < 2" in validate_ctc(m, [[1, 0, 2, 0]])[0]
    assert "16-bit" in validate_ctc(np.full((1, 2, 2), 70000, np.int64), [[70000, 0, 0, 0]])[0]


def test_write_refuses_invalid_unless_asked(tmp_path, seq):
    masks, table = _broken(seq)["gap"]
    with pytest.raises(DataError, match=r"not a valid CTC sequence.*missing from frame"):
        write_ctc(tmp_path / "bad_RES", masks, table)
    assert not (tmp_path / "bad_RES").exists()
    out = write_ctc(tmp_path / "bad_RES", masks, table, validate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert validate_sequence(str(out), threads=1)["Valid"] == 0


def test_ctc_errors(tmp_path, seq):
    with pytest.raises(DataError, match="masks"):
        validate_ctc(np.zeros((3, 3)), [[1, 0, 0, 0]])
    with pytest.raises(DataError, match="table"):
        validate_ctc(np.zeros((1, 3, 3), np.uint8), [[1, 0, 0]])
    with pytest.raises(DataError, match=r"\[0, 65535\]"):
        write_ctc(tmp_path / "x_RES", np.full((1, 2, 2), 70000), [[70000, 0, 0, 0]], validate=False)
    with pytest.raises(DataError, match="integer rows"):
        write_ctc_table(tmp_path / "t.txt", [[1.5, 0, 0, 0]])
    with pytest.raises(DataError, match="T\\(Z\\)YX"):
        write_ctc_frames(tmp_path / "01", np.zeros((4, 4)))
    with pytest.raises(ImageReadError, match=r"no res_track\.txt or man_track\.txt"):
        read_ctc(tmp_path)
    with pytest.raises(ImageReadError, match="not a folder"):
        read_ctc_frames(tmp_path / "nowhere")
    bad = tmp_path / "bad.txt"
    bad.write_text("1 0 4 0\n2 0 x 1\n")
    with pytest.raises(ImageReadError, match=r"bad.txt.*line 2 is '2 0 x 1'"):
        read_ctc_table(bad)
    with pytest.raises(ImageReadError, match=r"missing\.txt"):
        read_ctc_table(tmp_path / "missing.txt")
    res = write_ctc(tmp_path / "01_RES", seq.masks, seq.table)
    (res / "mask004.tif").unlink()
    with pytest.raises(ImageReadError, match=r"01_RES.*frame 4 \(mask004.tif\) is missing"):
        read_ctc(res)
    write_image(res / "mask004.tif", np.zeros((8, 8), np.uint16))
    with pytest.raises(ImageReadError, match="frames differ in shape"):
        read_ctc(res)
    empty = tmp_path / "02_RES"
    empty.mkdir()
    (empty / "res_track.txt").write_text("")
    with pytest.raises(ImageReadError, match=r"no maskNNN\.tif frame"):
        read_ctc(empty)


def test_timelapse_stack_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    movie = rng.integers(0, 200, (3, 5, 16, 16)).astype(np.uint16)
    write_timelapse(tmp_path / "m.ome.tif", movie, axes="TZYX", spacing=(60.0, 2.0, 0.5, 0.5))
    back, meta = read_timelapse(tmp_path / "m.ome.tif")
    np.testing.assert_array_equal(back, movie)
    assert meta.axes == "TZYX" and meta.spacing[1:] == (2.0, 0.5, 0.5)
    write_timelapse(tmp_path / "m.tif", movie[:, 0], spacing=(1.0, 0.3, 0.3))
    back, meta = read_timelapse(tmp_path / "m.tif")
    np.testing.assert_array_equal(back, movie[:, 0])
    assert meta.axes == "TYX"
    np.save(tmp_path / "plain.npy", movie[:, 0])
    assert read_timelapse(tmp_path / "plain.npy", axes="TYX")[0].shape == (3, 16, 16)


def test_timelapse_folders(tmp_path):
    movie = np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8)
    write_timelapse(tmp_path / "frames", movie, per_frame=True, spacing=(1.0, 0.5, 0.5))
    back, meta = read_timelapse(tmp_path / "frames")
    np.testing.assert_array_equal(back, movie)
    assert meta.axes == "TYX" and meta.spacing == (1.0, 0.5, 0.5)
    pngs = tmp_path / "pngs"
    pngs.mkdir()
    for t in (10, 2, 1):  # numeric order, not name order
        write_image(pngs / f"frame_{t}.png", np.full((6, 6), t, np.uint8))
    back, meta = read_timelapse(pngs)
    assert back[:, 0, 0].tolist() == [1, 2, 10] and meta.axes == "TYX"


def test_timelapse_errors(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((8, 8), np.uint8))
    with pytest.raises(ImageReadError, match=r"a\.npy.*as a time-lapse.*'YX'"):
        read_timelapse(tmp_path / "a.npy")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError, match="no numbered frame files"):
        read_timelapse(tmp_path / "empty")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_image(mixed / "t0.tif", np.zeros((8, 8), np.uint8))
    write_image(mixed / "t1.tif", np.zeros((9, 8), np.uint8))
    with pytest.raises(ImageReadError, match=r"mixed.*of one shape"):
        read_timelapse(mixed)
    with pytest.raises(ImageWriteError, match="axes must be 'TYX' or 'TZYX'"):
        write_timelapse(tmp_path / "b.tif", np.zeros((2, 8, 8)), axes="TZYX")
