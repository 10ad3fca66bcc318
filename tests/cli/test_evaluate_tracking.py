"""``biakit evaluate --task tracking`` on Cell Tracking Challenge folders."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from biakit.metrics import evaluate_ctc


def ctc_folders(root: Path) -> tuple[Path, Path]:
    """A 4-frame ground truth (one division) and a result that misses one link."""
    gt, res = root / "01_GT", root / "01_RES"
    (gt / "TRA").mkdir(parents=True)
    (gt / "SEG").mkdir()
    res.mkdir()
    masks = np.zeros((4, 16, 16), np.uint16)
    masks[:2, 2:6, 2:6] = 1
    masks[2:, 2:6, 2:6] = 2
    masks[2:, 9:13, 9:13] = 3
    out = masks.copy()
    out[3][out[3] == 3] = 4
    for t in range(4):
        tifffile.imwrite(gt / "TRA" / f"man_track{t:03d}.tif", masks[t])
        tifffile.imwrite(res / f"mask{t:03d}.tif", out[t])
    tifffile.imwrite(gt / "SEG" / "man_seg002.tif", masks[2])
    (gt / "TRA" / "man_track.txt").write_text("1 0 1 0\n2 2 3 1\n3 2 3 1\n")
    (res / "res_track.txt").write_text("1 0 1 0\n2 2 3 1\n3 2 2 1\n4 3 3 0\n")
    return res, gt


def test_evaluate_tracking_prints_and_writes_the_ctc_measures(tmp_path, cli):
    res, gt = ctc_folders(tmp_path)
    out = tmp_path / "ev"
    r = cli("evaluate", "--task", "tracking", "--gt", gt, "--pred", res, "-o", out)
    assert r.code == 0, r.err
    want = evaluate_ctc(res, gt)
    table = pd.read_csv(out / "tracking.csv")
    assert len(table) == 1
    for key in ("DET", "SEG", "TRA", "LNK", "CT", "TF", "BC(0)", "AOGM_EA"):
        assert table[key].iloc[0] == pytest.approx(want.as_dict()[key]), key
    assert np.isnan(table["CCA"].iloc[0])  # no complete cell cycle: undefined
    lines = dict(line.split(None, 1) for line in r.out.splitlines() if line.strip())
    assert float(lines["TRA"]) == pytest.approx(want.tra, abs=1e-4)
    assert lines["CCA"] == "n/a"
    assert "EA 1" in r.out and "wrote tracking.csv" in r.out
    # a second run needs --overwrite
    again = cli("evaluate", "--task", "tracking", "--gt", gt, "--pred", res, "-o", out)
    assert again.code == 2 and "tracking.csv" in again.err
    assert cli("evaluate", "-t", "tracking", "--gt", gt / "TRA", "--pred", res, "-o", out,
               "--overwrite").code == 0  # fmt: skip


def _break(res: Path, gt: Path, what: str) -> str:
    """Spoil one input; return the text the error line must contain."""
    if what == "table-line":
        (res / "res_track.txt").write_text("1 0 1 0\n2 2 three 1\n")
        return r"res_track\.txt': line 2 is '2 2 three 1'"
    if what == "no-table":
        (res / "res_track.txt").unlink()
        return r"res_track\.txt"
    if what == "missing-frame":
        (res / "mask001.tif").unlink()
        return r"01_RES': frame 1 \(mask001\.tif\) is missing"
    if what == "shape":
        tifffile.imwrite(res / "mask002.tif", np.zeros((8, 8), np.uint16))
        return r"01_RES': frames differ in shape"
    if what == "float-mask":
        tifffile.imwrite(res / "mask000.tif", np.zeros((16, 16), np.float32))
        return r"mask000\.tif: expected integer labels"
    if what == "garbage-tif":
        (gt / "TRA" / "man_track003.tif").write_bytes(b"not a tiff at all")
        return r"man_track003\.tif': not a valid or complete TIFF"
    if what == "invalid-result":
        (res / "res_track.txt").write_text("1 0 1 0\n2 2 3 1\n3 2 2 1\n")
        return r"res_track\.txt: not a valid CTC result: label 4 in frame 3 is not in the table"
    if what == "gt-table":
        (gt / "TRA" / "man_track.txt").write_text("1 0 1 0\n2 2 3 1\n")
        return r"01_GT/TRA/man_track\.txt: label 3 is in the ground-truth mask"
    if what == "no-gt":
        return r"nowhere"
    raise AssertionError(what)


CASES = ["table-line", "no-table", "missing-frame", "shape", "float-mask", "garbage-tif",
         "invalid-result", "gt-table", "no-gt"]  # fmt: skip


@pytest.mark.parametrize("what", CASES)
def test_evaluate_tracking_bad_input_exits_2_with_one_line(tmp_path, cli, what):
    res, gt = ctc_folders(tmp_path)
    pattern = _break(res, gt, what)
    if what == "no-gt":
        gt = tmp_path / "nowhere"
    r = cli("evaluate", "--task", "tracking", "--gt", gt, "--pred", res, "-o", tmp_path / "ev")
    assert r.code == 2, (r.out, r.err)
    assert len(r.err_lines) == 1, r.err
    assert re.search(pattern, r.err_lines[0]), r.err_lines[0]
    assert not (tmp_path / "ev" / "tracking.csv").exists()


def test_evaluate_unknown_task_lists_tracking(tmp_path, cli):
    r = cli("evaluate", "--task", "magic", "--gt", tmp_path, "--pred", tmp_path, "-o", "ev")
    assert r.code == 2 and "task 'magic'" in r.err and "tracking" in r.err
