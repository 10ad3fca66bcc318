"""``biakit track`` and ``biakit train`` with ``task: tracking``."""

import re

import numpy as np
import pandas as pd
import pytest

from biakit.data import synthetic_lineage
from biakit.io import read_ctc, validate_ctc, write_ctc, write_timelapse
from biakit.metrics import tracking_metrics

from .conftest import snapshot


@pytest.fixture(scope="module")
def movie():
    return synthetic_lineage(8, (96, 96), n_cells=6, division_probability=0.05, seed=5)


def _workspace(root, movie):
    write_timelapse(root / "cells.tif", movie.masks.astype(np.uint16), axes="TYX")
    write_timelapse(root / "raw.tif", movie.images, axes="TYX")
    write_ctc(root / "01_GT" / "TRA", movie.masks, movie.table, gt=True)
    return root


def test_track_writes_a_valid_ctc_result_in_physical_units(tmp_path, cli, movie):
    ws = _workspace(tmp_path, movie)
    r = cli("track", ws / "cells.tif", "--image", ws / "raw.tif", "-o", ws / "out",
            "--spacing", "0.5", "--frame-interval", "3")  # fmt: skip
    assert r.code == 0, r.err
    assert "1 of 1 movie(s) tracked" in r.out
    masks, table = read_ctc(ws / "out" / "cells_RES")
    assert validate_ctc(masks, table) == []
    assert tracking_metrics(movie.masks, movie.table, masks, table).tra > 0.99
    df = pd.read_csv(ws / "out" / "cells_track_table.csv")
    # speed in um per time unit: path length in pixels * 0.5 / (frames * 3)
    row = df[df["length"] > 2].iloc[0]
    assert row["mean_speed"] == pytest.approx(row["path_length"] / row["duration"])
    assert row["duration"] == pytest.approx(3 * (row["end_frame"] - row["start_frame"]))


def test_track_reads_a_ctc_folder_and_takes_linking_options(tmp_path, cli, movie):
    ws = _workspace(tmp_path, movie)
    r = cli("track", ws / "01_GT", "-o", ws / "out", "--no-divisions", "--max-gap", "0")
    assert r.code == 0, r.err
    _, table = read_ctc(ws / "out" / "01_RES")
    assert not np.any(np.bincount(table[:, 3])[1:] >= 2)  # no divisions


def test_train_calibrates_and_track_uses_the_folder(tmp_path, cli, movie):
    ws = _workspace(tmp_path, movie)
    (ws / "tr.yaml").write_text(
        "task: tracking\ndata: {ground_truth: [01_GT], test_ground_truth: [01_GT], "
        "test_masks: [cells.tif]}\noutput: tracker\n"
    )
    r = cli("train", ws / "tr.yaml")
    assert r.code == 0, r.err
    assert "calibrated on 1 sequence(s): max_speed" in r.out and "test: TRA" in r.out
    r = cli("track", ws / "cells.tif", "-c", ws / "tracker", "-o", ws / "out")
    assert r.code == 0, r.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["raw.tif"], r"raw.tif: expected label images"),
        (["missing.tif"], r"missing.tif: no such file"),
        (["cells.tif", "--spacing", "-1"], r"spacing"),
        (["cells.tif", "--max-gap", "-1"], r"max_gap"),
        (["cells.tif", "--image", "raw.tif", "--image", "raw.tif"], r"images: got 2"),
        (["cells.tif", "-c", "nothere.yaml"], r"nothere.yaml"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, cli, movie, args, message):
    ws = _workspace(tmp_path, movie)
    before = snapshot(ws)
    r = cli("track", *[str(ws / a) if a.endswith((".tif", ".yaml")) else a for a in args],
            "-o", ws / "out")  # fmt: skip
    assert r.code == 2
    assert len(r.err_lines) == 1 and r.err.startswith("biakit: error:"), r.err
    assert re.search(message, r.err), r.err
    after = {k: v for k, v in snapshot(ws).items() if not k.startswith("out")}
    assert after == before
