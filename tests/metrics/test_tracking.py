"""CTC tracking measures on hand-made sequences with hand-computed values, and error paths."""

from __future__ import annotations

import numpy as np
import pytest

from biakit.errors import DataError, ImageReadError, ParameterError
from biakit.metrics import AOGMCounts, TrackingMetrics, evaluate_ctc, tracking_metrics
from biakit.metrics._ctc_bio import cell_cycle_accuracy

# Boxes (y0, x0) of 3x3 objects in a 12x12 frame.
A, B, C, D = (1, 1), (1, 7), (7, 1), (7, 7)


def paint(frames: list[dict[int, tuple[int, int]]], shape=(12, 12)) -> np.ndarray:
    """``frames[t] = {label: (y0, x0)}`` -> T,Y,X uint16 masks of 3x3 boxes."""
    out = np.zeros((len(frames), *shape), np.uint16)
    for t, objs in enumerate(frames):
        for label, (y, x) in objs.items():
            out[t, y : y + 3, x : x + 3] = label
    return out


def two_tracks() -> tuple[np.ndarray, np.ndarray]:
    return paint([{1: A, 2: B}] * 4), np.array([[1, 0, 3, 0], [2, 0, 3, 0]])


def test_perfect_result_scores_one():
    gt, table = two_tracks()
    m = tracking_metrics(gt, table, gt, table, seg_masks=gt)
    assert m.valid and m.problems == ()
    assert (m.det, m.seg, m.tra, m.lnk, m.ct, m.tf) == (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    assert m.aogm == AOGMCounts(0, 0, 0, 0, 0, 0, 8, 6, 8, 8)
    assert m.cca is None and m.bc(0) is None  # no division in the reference


def test_missed_vertex_broken_link_and_false_positive_by_hand():
    gt, table = two_tracks()
    # track 1 is cut after frame 1 (continued as 3), track 2 is lost in frame 3,
    # a false object 4 appears in frame 0
    res = paint([{1: A, 2: B, 4: D}, {1: A, 2: B}, {3: A, 2: B}, {3: A}])
    res_table = np.array([[1, 0, 1, 0], [2, 0, 2, 0], [3, 2, 3, 0], [4, 0, 0, 0]])
    m = tracking_metrics(gt, table, res, res_table)
    a = m.aogm
    assert (a.ns, a.fn, a.fp, a.ed, a.ea, a.ec) == (0, 1, 1, 0, 2, 0)
    assert (a.n_vertices, a.n_edges, a.tp, a.n_result_vertices) == (8, 6, 7, 8)
    assert a.aogm == 10 + 1 + 1.5 * 2 and a.aogm_0 == 80 + 1.5 * 6
    assert m.det == pytest.approx(1 - 11 / 80)
    assert m.tra == pytest.approx(1 - 14 / 89)
    assert m.lnk == pytest.approx(1 - 3 / 9)
    assert m.ct == 0.0  # track 1 is split in two, track 2 misses its last frame
    assert m.tf == pytest.approx((2 / 4 + 3 / 4) / 2)
    assert m.seg is None


def test_complete_track_counts_both_tables():
    gt, table = two_tracks()
    res = paint([{1: A, 2: B}, {1: A, 2: B}, {1: A, 3: B}, {1: A, 3: B}])
    res_table = np.array([[1, 0, 3, 0], [2, 0, 1, 0], [3, 2, 3, 0]])
    m = tracking_metrics(gt, table, res, res_table)
    assert m.ct == pytest.approx(2 * 1 / (2 + 3))  # only track 1 is complete
    assert m.tf == pytest.approx((1 + 0.5) / 2)


def test_merged_objects_cost_a_split_operation():
    gt, table = two_tracks()
    res = gt.copy()
    res[1, 1:4, 1:10] = 1  # frame 1: one object covering both cells
    res_table = np.array([[1, 0, 3, 0], [2, 0, 3, 0]])
    res[1][res[1] == 2] = 0
    res_table = np.array([[1, 0, 3, 0], [2, 0, 0, 0], [3, 2, 3, 0]])
    res[2:][res[2:] == 2] = 3
    m = tracking_metrics(gt, table, res, res_table)
    a = m.aogm
    # the merged vertex matches two references: one split operation; the links
    # 2@0 -> 2@1 and 2@1 -> 2@2 are missing (their vertex 2@1 is not uniquely matched)
    assert (a.ns, a.fn, a.fp, a.ed, a.ea, a.ec) == (1, 0, 0, 0, 4, 0)
    assert a.tp == 8 and a.n_result_vertices == 7
    assert m.det == pytest.approx(1 - 5 / 80)


def test_wrong_semantics_and_redundant_edge_by_hand():
    # reference: cell at A in frames 0-1, seen again at A in frames 3-4 (a gap,
    # parent link 1 -> 2); another cell at D in frames 0-1 (3) and at B in 2-4 (4)
    gt = paint([{1: A, 3: D}, {1: A, 3: D}, {4: B}, {2: A, 4: B}, {2: A, 4: B}])
    table = np.array([[1, 0, 1, 0], [2, 3, 4, 1], [3, 0, 1, 0], [4, 2, 4, 0]])
    # result: the gap closed with a parent link too (correct), but the cell at D
    # is linked to the cell at B as one track (a redundant edge)
    res = paint([{1: A, 3: D}, {1: A, 3: D}, {3: B}, {2: A, 3: B}, {2: A, 3: B}])
    res_table = np.array([[1, 0, 1, 0], [2, 3, 4, 1], [3, 0, 4, 0]])
    m = tracking_metrics(gt, table, res, res_table)
    assert (m.aogm.ed, m.aogm.ea, m.aogm.ec) == (1, 0, 0)
    # the gap bridged by a track link instead of a parent link: wrong semantics
    res2 = paint([{1: A, 3: D}, {1: A, 3: D}, {4: B}, {1: A, 4: B}, {1: A, 4: B}])
    # label 1 must then span frame 2: show it invalid first, then fill it
    bad = tracking_metrics(gt, table, res2, [[1, 0, 4, 0], [3, 0, 1, 0], [4, 2, 4, 0]])
    assert not bad.valid and "label 1 (B=0, E=4) is missing from frame 2" in bad.problems[0]
    assert bad.tra is None and bad.aogm is None
    res2[2, 0:1, 0:1] = 1  # a one-pixel object 1 in frame 2: a false positive
    m2 = tracking_metrics(gt, table, res2, [[1, 0, 4, 0], [3, 0, 1, 0], [4, 2, 4, 0]])
    a = m2.aogm
    # edge 1@1 -> 1@2 ends at a false positive (dropped), 1@2 -> 1@3 too;
    # the reference parent link 1@1 -> 2@3 is missing
    assert (a.fp, a.ed, a.ea, a.ec) == (1, 0, 1, 0)


def test_track_link_for_a_parent_link_is_wrong_semantics():
    # reference: a cell splits its track without a gap (parent link 1 -> 2)
    gt = paint([{1: A}, {1: A}, {2: A}, {2: A}])
    table = np.array([[1, 0, 1, 0], [2, 2, 3, 1]])
    res = paint([{5: A}] * 4)
    m = tracking_metrics(gt, table, res, [[5, 0, 3, 0]])
    assert (m.aogm.ed, m.aogm.ea, m.aogm.ec) == (0, 0, 1)
    assert m.lnk == pytest.approx(1 - 1 / (1.5 * 3))
    assert m.ct == 0.0 and m.tf == 1.0


def division(late: bool) -> tuple[np.ndarray, ...]:
    gt = paint([{1: A}, {1: A}, {2: A, 3: D}, {2: A, 3: D}])
    table = np.array([[1, 0, 1, 0], [2, 2, 3, 1], [3, 2, 3, 1]])
    if late:  # the result divides one frame late and misses daughter 3 in frame 2
        res = paint([{1: A}, {1: A}, {1: A}, {4: A, 5: D}])
        res_table = np.array([[1, 0, 2, 0], [4, 3, 3, 1], [5, 3, 3, 1]])
    else:
        res = paint([{7: A}, {7: A}, {8: A, 9: D}, {8: A, 9: D}])
        res_table = np.array([[7, 0, 1, 0], [8, 2, 3, 7], [9, 2, 3, 7]])
    return gt, table, res, res_table


def test_division_found_on_time():
    m = tracking_metrics(*division(late=False), division_tolerances=(0, 2))
    assert [(d.tolerance, d.tp, d.fp, d.fn) for d in m.divisions] == [(0, 1, 0, 0), (2, 1, 0, 0)]
    assert m.bc(0) == 1.0 and m.divisions[0].precision == 1.0 and m.divisions[0].recall == 1.0


def test_late_division_needs_one_frame_of_tolerance():
    m = tracking_metrics(*division(late=True), division_tolerances=(0, 1, 3))
    d0, d1, _ = m.divisions
    assert (d0.tp, d0.fp, d0.fn, d0.precision, d0.recall, d0.bc) == (0, 1, 1, 0.0, 0.0, 0.0)
    assert (d1.tp, d1.fp, d1.fn, d1.bc) == (1, 0, 0, 1.0)
    assert m.bc(3) == 1.0
    with pytest.raises(ParameterError, match=r"no division scores for tolerance 2"):
        m.bc(2)


def test_false_division_lowers_precision_only():
    gt, table, res, res_table = division(late=False)
    res = res.copy()
    res[:, 7:10, 7:10] = 0
    res[2:, 1:4, 7:10] = 20  # a cell appears at B in frame 2 ...
    res[2:, 7:10, 1:4] = 21  # ... with a sister at C: a division of nothing
    res[:2, 7:10, 1:4] = 22
    res[2:, 7:10, 7:10] = 9
    res_table = np.array(
        [[7, 0, 1, 0], [8, 2, 3, 7], [9, 2, 3, 7], [20, 2, 3, 22], [21, 2, 3, 22], [22, 0, 1, 0]]
    )
    m = tracking_metrics(gt, table, res, res_table, division_tolerances=(0,))
    d = m.divisions[0]
    assert (d.tp, d.fp, d.fn) == (1, 1, 0)
    assert (d.precision, d.recall) == (0.5, 1.0)
    assert d.bc == pytest.approx(2 * 0.5 / 1.5)


def test_cell_cycle_accuracy_by_hand():
    # complete cycles (tracks that begin and end with a division): lengths E - B
    ref = np.array(
        [[1, 0, 2, 0], [2, 3, 6, 1], [3, 3, 8, 1], [4, 7, 9, 2], [5, 7, 9, 2], [6, 9, 9, 3],
         [7, 9, 9, 3]]
    )  # fmt: skip
    comp = np.array([[1, 0, 2, 0], [2, 3, 6, 1], [3, 3, 9, 1], [4, 7, 9, 2], [5, 7, 9, 2]])
    assert cell_cycle_accuracy(ref, comp) == 0.5  # ref {3, 5}, result {3}
    assert cell_cycle_accuracy(ref, ref) == 1.0
    assert cell_cycle_accuracy(comp[:1], ref) is None
    assert cell_cycle_accuracy(ref, comp[:1]) == 0.0


def test_seg_by_hand_and_per_frame_mapping():
    gt = np.zeros((2, 10, 10), np.uint16)
    gt[:, 0:4, 0:4] = 1
    gt[:, 6:8, 6:8] = 2
    res = np.zeros_like(gt)
    res[:, 0:4, 0:3] = 1
    res[:, 6:8, 6:8] = 2
    table = np.array([[1, 0, 1, 0], [2, 0, 1, 0]])
    only0 = np.zeros_like(gt[0])
    only0[6:8, 6:8] = 2  # annotation of frame 0: one object, matched exactly
    assert tracking_metrics(gt, table, res, table, seg_masks={0: only0}).seg == 1.0
    res[1, 6:8, 6:8] = 0  # keep tracks valid: object 2 exists in frame 0 only
    res_table = np.array([[1, 0, 1, 0], [2, 0, 0, 0]])
    m = tracking_metrics(gt, table, res, res_table, seg_masks=gt)
    assert m.seg == pytest.approx((12 / 16 + 1 + 12 / 16 + 0) / 4)


def test_track_fractions_longest_run_and_3d():
    gt = np.zeros((5, 3, 8, 8), np.uint16)
    gt[:, 1:3, 1:4, 1:4] = 1
    table = np.array([[1, 0, 4, 0]])
    res = gt.copy()
    res[2] = 0  # a gap in the result: runs of 2 frames each
    res[3:][res[3:] == 1] = 2
    m = tracking_metrics(gt, table, res, [[1, 0, 1, 0], [2, 3, 4, 1]])
    assert m.tf == pytest.approx(2 / 5)
    assert m.aogm.fn == 1 and m.aogm.ea == 2


def test_as_dict_uses_py_ctcmetrics_names():
    m = tracking_metrics(*division(late=True), division_tolerances=(0, 1))
    d = m.as_dict()
    assert list(d)[:12] == ["Valid", "DET", "SEG", "TRA", "AOGM", "AOGM_0", "AOGM_NS",
                            "AOGM_FN", "AOGM_FP", "AOGM_ED", "AOGM_EA", "AOGM_EC"]  # fmt: skip
    assert d["BC(0)"] == 0.0 and d["BC(1)"] == 1.0 and d["gt_divisions"] == 1
    assert d["tp_div(1)"] == 1 and d["div_precision(1)"] == 1.0 and d["CCA"] is None
    assert isinstance(m, TrackingMetrics)


def test_invalid_result_gets_no_measure():
    gt, table = two_tracks()
    cases = {
        "no tracks": np.zeros((0, 4)),
        "appears in 2 rows": [[1, 0, 3, 0], [1, 0, 3, 0], [2, 0, 3, 0]],
        "parent -1 is not a label": [[1, 0, 3, -1], [2, 0, 3, 0]],
        "parent 9 is not a label": [[1, 0, 3, 9], [2, 0, 3, 0]],
        "got B=4, E=3": [[1, 0, 3, 0], [2, 4, 3, 0]],
        "begins in frame 0 but its parent 1 ends in 3": [[1, 0, 3, 0], [2, 0, 3, 1]],
        "got B=-1, E=3": [[1, -1, 3, 0], [2, 0, 3, 0]],
        "label 2 in frame 0 is not in the table": [[1, 0, 3, 0]],
    }
    for text, res_table in cases.items():
        m = tracking_metrics(gt, table, gt, res_table)
        assert not m.valid and any(text in p for p in m.problems), (text, m.problems)
        assert m.as_dict()["Valid"] == 0 and m.as_dict()["TRA"] is None


def test_input_errors():
    gt, table = two_tracks()
    with pytest.raises(TypeError, match=r"gt_masks: expected a T\(Z\)YX array"):
        tracking_metrics(5, table, gt, table)
    with pytest.raises(DataError, match=r"gt_masks: expected a T\(Z\)YX label array, got 2"):
        tracking_metrics(gt[0], table, gt, table)
    with pytest.raises(DataError, match=r"res_masks: frame 0 must hold integer labels"):
        tracking_metrics(gt, table, gt.astype(float), table)
    with pytest.raises(DataError, match=r"res_masks: frame 1 has negative labels"):
        tracking_metrics(gt, table, np.stack([gt[0], -gt[1].astype(np.int16)]), table)
    with pytest.raises(DataError, match=r"res_masks: frame 1 has shape \(5, 5\)"):
        tracking_metrics(gt, table, [gt[0], gt[1, :5, :5]], table)
    with pytest.raises(DataError, match=r"res_masks: expected 4 frames of shape \(12, 12\)"):
        tracking_metrics(gt, table, gt[:3], table)
    with pytest.raises(DataError, match=r"gt_masks: expected at least one frame"):
        tracking_metrics([], table, gt, table)
    with pytest.raises(DataError, match=r"res_table: expected an \(n, 4\) table"):
        tracking_metrics(gt, table, gt, [[1, 0, 3]])
    with pytest.raises(DataError, match=r"gt_table: expected integer L B E P values"):
        tracking_metrics(gt, table + 0.5, gt, table)
    with pytest.raises(ParameterError, match=r"division_tolerances: expected integers >= 0"):
        tracking_metrics(gt, table, gt, table, division_tolerances=(0, -1))
    with pytest.raises(ParameterError, match=r"division_tolerances: .*got 1.5"):
        tracking_metrics(gt, table, gt, table, division_tolerances=(1.5,))
    with pytest.raises(ParameterError, match=r"seg_masks: frame 7 outside 0..3"):
        tracking_metrics(gt, table, gt, table, seg_masks={7: gt[0]})
    with pytest.raises(DataError, match=r"seg_masks\[0\]: shape \(3, 3\), expected \(12, 12\)"):
        tracking_metrics(gt, table, gt, table, seg_masks={0: gt[0, :3, :3]})


def test_ground_truth_errors():
    gt, table = two_tracks()
    with pytest.raises(DataError, match=r"gt_table: label 2 is in the ground-truth mask"):
        tracking_metrics(gt, table[:1], gt, table)
    with pytest.raises(DataError, match=r"gt_table: parent 9 has no L B E P line"):
        tracking_metrics(gt, [[1, 0, 3, 0], [2, 0, 3, 9]], gt, table)
    g2 = gt.copy()
    g2[1][g2[1] == 1] = 0
    with pytest.raises(DataError, match=r"gt_table: track 1 is not in its mask at frame 1"):
        tracking_metrics(g2, [[1, 0, 1, 0], [2, 0, 3, 1]], gt, table)


def test_evaluate_ctc_missing_folder(tmp_path):
    with pytest.raises(ImageReadError, match=r"GT/TRA': no res_track.txt or man_track.txt"):
        evaluate_ctc(tmp_path / "RES", tmp_path / "GT")


def test_track_fractions_keep_the_ctc_visiting_order():
    # reference: cell 1 at A in frames 0-1, then another cell 2 at A in frames 2-5;
    # result: label 1 follows both up to frame 3, label 2 finds cell 2 in frame 5
    gt = paint([{1: A}] * 2 + [{2: A}] * 4)
    table = np.array([[1, 0, 1, 0], [2, 2, 5, 0]])
    res = paint([{1: A}] * 4 + [{}, {2: A}])
    m = tracking_metrics(gt, table, res, [[1, 0, 3, 0], [2, 5, 5, 0]])
    # label 1 covers all of track 1 (fraction 1), which ends its visit before
    # track 2 (fraction 2/4); track 2 keeps label 2's 1/4
    assert m.tf == pytest.approx((1 + 1 / 4) / 2)


def _ctc(root, n=2):
    import tifffile

    gt, res = root / "GT", root / "RES"
    (gt / "TRA").mkdir(parents=True)
    res.mkdir()
    mask = np.zeros((8, 8), np.uint16)
    mask[2:5, 2:5] = 1
    for t in range(n):
        tifffile.imwrite(gt / "TRA" / f"man_track{t:03d}.tif", mask)
        tifffile.imwrite(res / f"mask{t:03d}.tif", mask)
    (gt / "TRA" / "man_track.txt").write_text(f"1 0 {n - 1} 0\n")
    (res / "res_track.txt").write_text(f"1 0 {n - 1} 0\n")
    return res, gt


def test_evaluate_ctc_file_errors(tmp_path):
    import tifffile

    def fresh(name):
        return _ctc(tmp_path / name)

    res, gt = fresh("a")
    tifffile.imwrite(res / "mask002.tif", np.zeros((8, 8), np.uint16))
    with pytest.raises(
        DataError, match=r"RES: 3 result masks of shape \(8, 8\), but the ground truth has 2"
    ):
        evaluate_ctc(res, gt)
    res, gt = fresh("b")
    tifffile.imwrite(res / "mask001.tif", -np.ones((8, 8), np.int16))
    with pytest.raises(DataError, match=r"RES: frame 1 has negative labels"):
        evaluate_ctc(res, gt)
    res, gt = fresh("c")
    tifffile.imwrite(gt / "TRA" / "man_track001.tif", np.zeros((4, 4), np.uint16))
    with pytest.raises(ImageReadError, match=r"TRA': frames differ in shape"):
        evaluate_ctc(res, gt)
    res, gt = fresh("d")
    (gt / "SEG").mkdir()
    tifffile.imwrite(gt / "SEG" / "man_seg000.tif", np.zeros((4, 4), np.uint16))
    with pytest.raises(DataError, match=r"man_seg000\.tif: shape \(4, 4\), expected \(8, 8\)"):
        evaluate_ctc(res, gt)
    (gt / "SEG" / "man_seg000.tif").unlink()
    tifffile.imwrite(gt / "SEG" / "man_seg005.tif", np.zeros((8, 8), np.uint16))
    with pytest.raises(DataError, match=r"man_seg005\.tif: frame 5, but there are 2 frames"):
        evaluate_ctc(res, gt)
    res, gt = fresh("e")
    for p in res.glob("*.tif"):
        p.unlink()
    with pytest.raises(ImageReadError, match=r"RES': no maskNNN\.tif frame"):
        evaluate_ctc(res, gt)
    res, gt = fresh("f")
    (gt / "TRA" / "man_track.txt").write_text("1 0 1 0\n1 0 1 9\n")
    with pytest.raises(DataError, match=r"GT/TRA/man_track\.txt: parent 9 has no L B E P line"):
        evaluate_ctc(res, gt)
    with pytest.raises(ParameterError, match=r"division_tolerances"):
        evaluate_ctc(res, gt, division_tolerances=[-2])


def test_evaluate_ctc_accepts_the_tra_folder_and_empty_table_lines(tmp_path):
    res, gt = _ctc(tmp_path)
    (res / "res_track.txt").write_text("\n1 0 1 0\n\n")
    m = evaluate_ctc(res, gt / "TRA")
    assert m.valid and m.tra == 1.0 and m.seg is None
