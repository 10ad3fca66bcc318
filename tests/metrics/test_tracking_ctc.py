"""CTC tracking measures equal py-ctcmetrics 1.3.3 on synthetic sequences and CTC folders.

Ground truth: small hand-made lineages (discs that move and divide) and
``biakit.data.synthetic_lineage``; results: the ground truth perturbed
(dropped detections, swapped identities, missed / false divisions, merged and
split objects, gaps, shifted masks) and exported with ``biakit.track.to_ctc``.
The reference numbers come from ``ctc_metrics`` run on the same data written as
CTC folders.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile

from biakit.metrics import evaluate_ctc, tracking_metrics
from biakit.track import TrackGraph, from_ctc, relabel_masks, to_ctc

ctc_evaluate = pytest.importorskip("ctc_metrics.scripts.evaluate")

CTC_METRICS = ["Valid", "DET", "SEG", "TRA", "CT", "TF", "BC", "CCA", "LNK"]
TOL = 1e-6


def disc_lineage(seed: int, n_frames: int = 14, shape=(56, 56), n_cells: int = 4, p_div=0.3):
    """Discs of radius 3 moving by +-1 px and dividing; exact masks and ``L B E P`` table."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r, gap = 3, 8
    alive: dict[int, np.ndarray] = {}
    rows: dict[int, list[int]] = {}

    def free(p, skip=()):
        inside = np.all(p >= r + 1) and p[0] < shape[0] - r - 1 and p[1] < shape[1] - r - 1
        return inside and all(np.hypot(*(p - q)) >= gap for k, q in alive.items() if k not in skip)

    label = 0
    while len(alive) < n_cells:
        p = rng.integers(r + 1, np.array(shape) - r - 1).astype(float)
        if free(p):
            label += 1
            alive[label] = p
            rows[label] = [label, 0, 0, 0]
    masks = np.zeros((n_frames, *shape), np.uint16)
    for t in range(n_frames):
        for k in list(alive):
            if t == 0:
                continue
            if rows[k][2] - rows[k][1] >= 2 and rng.random() < p_div:
                d = rng.normal(size=2)
                d = d / np.linalg.norm(d) * (gap / 2 + 0.6)
                a, b = alive[k] + d, alive[k] - d
                del alive[k]
                if free(a) and free(b) and np.hypot(*(a - b)) >= gap:
                    for p in (a, b):
                        label += 1
                        alive[label] = p
                        rows[label] = [label, t, t, k]
                    continue
                alive[k] = a - d
            step = alive[k] + rng.integers(-1, 2, size=2)
            if free(step, skip=(k,)):
                alive[k] = step
            rows[k][2] = t
        for k, p in alive.items():
            masks[t][(yy - p[0]) ** 2 + (xx - p[1]) ** 2 <= r * r] = k
    return masks, np.array(sorted(rows.values()), np.int64)


class Editor:
    """Graph / mask edits of a ground truth that keep it a valid CTC result."""

    def __init__(self, masks, table, seed):
        self.rng = np.random.default_rng(seed)
        self.g = from_ctc(masks, table)
        self.m = masks.astype(np.uint16).copy()
        self.t, self.labels = self.g.t, self.g.labels
        self.keep = np.ones(self.g.n_nodes, bool)
        self.edges = [tuple(e) for e in self.g.edges.tolist()]
        self.new_nodes: list[tuple[int, int]] = []

    def _drop(self, node):
        f = self.t[node]
        self.m[f][self.m[f] == self.labels[node]] = 0
        self.keep[node] = False

    def _pick(self, n=1, where=None):
        cand = np.flatnonzero(self.keep if where is None else self.keep & where)
        return self.rng.choice(cand, size=min(n, cand.size), replace=False) if cand.size else []

    def drop(self):  # missed detections
        for node in self._pick(max(1, self.g.n_nodes // 10)):
            self._drop(node)

    def cut(self):  # missed links, missed divisions
        for _ in range(2):
            if self.edges:
                self.edges.pop(self.rng.integers(len(self.edges)))

    def swap(self):  # two identities exchanged between consecutive frames
        edges, t = self.edges, self.t
        if len(edges) > 1:
            f = self.rng.choice([t[a] for a, _ in edges])
            here = [i for i, (a, _) in enumerate(edges) if t[a] == f]
            if len(here) >= 2:
                i, j = self.rng.choice(here, 2, replace=False)
                (a, b), (c, d) = edges[i], edges[j]
                edges[i], edges[j] = (a, d), (c, b)

    def false_division(self):  # a -> b continues; also link a -> c, taken from d
        edges, t = self.edges, self.t
        for a, b in list(edges)[:: max(1, len(edges) // 3)]:
            into = [(d, c) for d, c in edges if t[c] == t[b] and c != b]
            if into and [x for x, _ in edges].count(a) == 1:
                d, c = into[int(self.rng.integers(len(into)))]
                edges.remove((d, c))
                edges.append((a, c))
                return

    def late_division(self):  # mother continues into one daughter, divides a frame later
        edges = self.edges
        src = [a for a, _ in edges]
        for mother in [n for n in set(src) if src.count(n) == 2]:
            d1, d2 = [b for a, b in edges if a == mother]
            k1 = [b for a, b in edges if a == d1]
            k2 = [b for a, b in edges if a == d2]
            if len(k1) == 1 and len(k2) == 1:
                edges.remove((d2, k2[0]))
                edges.remove((mother, d2))
                edges.append((d1, k2[0]))
                self._drop(d2)
                return

    def merge(self):  # two objects of a frame painted as one
        f = int(self.rng.integers(self.m.shape[0]))
        nodes = self._pick(2, self.t == f)
        if len(nodes) == 2:
            a, b = nodes
            self.m[f][self.m[f] == self.labels[b]] = self.labels[a]
            self.keep[b] = False

    def split(self):  # 30 % of an object becomes a new, unlinked object
        for node in self._pick(2):
            f, lab = self.t[node], self.labels[node]
            ys, xs = np.nonzero(self.m[f] == lab)
            if ys.size >= 4:
                part = xs <= np.quantile(xs, 0.3)
                new = int(self.m[f].max()) + 1
                self.m[f][ys[part], xs[part]] = new
                self.new_nodes.append((int(f), new))

    def gap(self):  # a missed detection bridged by a gap-closing link
        for _ in range(2):
            src = [a for a, _ in self.edges]
            dst = [b for _, b in self.edges]
            inner = [n for n in range(self.g.n_nodes) if src.count(n) == 1 and dst.count(n) == 1]
            if inner:
                n = int(self.rng.choice(inner))
                a, c = src[dst.index(n)], dst[src.index(n)]
                self.edges.remove((a, n))
                self.edges.remove((n, c))
                self._drop(n)
                self.edges.append((a, c))

    def shift(self):  # masks of every other frame one pixel off
        for f in range(0, self.m.shape[0], 2):
            self.m[f] = np.roll(self.m[f], 1, axis=-1)

    def export(self):
        keep, t, labels = self.keep, self.t, self.labels
        nt = np.r_[t[keep], [f for f, _ in self.new_nodes]].astype(np.int64)
        nl = np.r_[labels[keep], [lab for _, lab in self.new_nodes]].astype(np.int64)
        present = np.array([np.any(self.m[f] == k) for f, k in zip(nt, nl, strict=True)], bool)
        idx = np.full(nt.size, -1)
        idx[np.flatnonzero(present)] = np.arange(present.sum())
        old = np.flatnonzero(keep)  # kept node k of the ground truth is new node pos[k]
        pos = np.full(self.g.n_nodes, -1)
        pos[old] = np.arange(old.size)
        e = np.array([(pos[a], pos[b]) for a, b in self.edges if keep[a] and keep[b]], np.int64)
        e = e.reshape(-1, 2)
        e = idx[e[present[e[:, 0]] & present[e[:, 1]]]]  # objects painted over are gone
        graph = TrackGraph(nt[present], np.zeros((present.sum(), 2)), nl[present], e)
        node_track, res_table = to_ctc(graph)
        return relabel_masks(self.m, graph, node_track), res_table


def perturb(masks, table, seed, ops):
    """Apply edits (``Editor`` method names) to the ground truth; return a valid CTC result."""
    editor = Editor(masks, table, seed)
    for op in ops:
        getattr(editor, op)()
    return editor.export()


def write_ctc(root: Path, gt, gt_table, res, res_table, seg_frames=None) -> tuple[Path, Path]:
    gt_dir, res_dir = root / "01_GT", root / "01_RES"
    (gt_dir / "TRA").mkdir(parents=True)
    res_dir.mkdir()
    for f in range(len(gt)):
        tifffile.imwrite(gt_dir / "TRA" / f"man_track{f:03d}.tif", gt[f], photometric="minisblack")
        tifffile.imwrite(res_dir / f"mask{f:03d}.tif", res[f], photometric="minisblack")
    np.savetxt(gt_dir / "TRA" / "man_track.txt", gt_table, fmt="%d")
    np.savetxt(res_dir / "res_track.txt", res_table, fmt="%d")
    if seg_frames is not None:
        (gt_dir / "SEG").mkdir()
        for f in seg_frames:
            tifffile.imwrite(gt_dir / "SEG" / f"man_seg{f:03d}.tif", gt[f])
    return res_dir, gt_dir


def ctc_reference(res_dir: Path, gt_dir: Path, seg: bool = True) -> dict:
    metrics = [m for m in CTC_METRICS if seg or m != "SEG"]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        data = ctc_evaluate.load_data(str(res_dir), str(gt_dir), True, seg, threads=1)
        comp_tracks, ref_tracks, traj, segm, _, is_valid = data
        return ctc_evaluate.calculate_metrics(
            comp_tracks, ref_tracks, traj, segm, metrics, is_valid
        )


def assert_same(ours: dict, ref: dict) -> None:
    for key, want in ref.items():
        if key in ("BC", "BIO", "OP_CLB") or key.startswith(("BIO(", "OP_")):
            continue
        got = ours[key]
        if want is None:
            assert got is None, (key, got)
        else:
            assert got is not None, (key, want)
            assert abs(float(got) - float(want)) <= TOL, (key, got, want)


OPS = [
    (),
    ("drop",),
    ("cut",),
    ("swap",),
    ("false_division",),
    ("false_division", "late_division", "cut"),
    ("merge",),
    ("split",),
    ("gap",),
    ("shift",),
    ("late_division",),
    ("late_division", "false_division", "drop"),
    ("drop", "swap", "merge", "split", "false_division"),
    ("cut", "gap", "shift", "drop"),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_to_py_ctcmetrics_on_perturbed_lineages(tmp_path, seed):
    gt, gt_table = disc_lineage(seed)
    assert len(np.unique(gt_table[gt_table[:, 3] > 0, 3])) >= 1  # has divisions
    for k, ops in enumerate(OPS):
        res, res_table = perturb(gt, gt_table, seed * 100 + k, ops)
        res_dir, gt_dir = write_ctc(tmp_path / f"{k}", gt, gt_table, res, res_table, [0, 3, 7])
        want = ctc_reference(res_dir, gt_dir)
        got = evaluate_ctc(res_dir, gt_dir)
        assert got.valid, got.problems
        assert_same(got.as_dict(), want)
        arrays = tracking_metrics(
            gt, gt_table, res, res_table, seg_masks={f: gt[f] for f in (0, 3, 7)}
        )
        assert arrays == got


def oracle_tracks(detections, masks, table):
    """Ground-truth links over imperfect detections (labels kept): gaps closed, CTC export."""
    g = from_ctc(masks, table)
    present = np.array([np.any(detections[t] == k) for t, k in zip(g.t, g.labels, strict=True)])
    pred = np.full(g.n_nodes, -1)
    pred[g.edges[:, 1]] = g.edges[:, 0]
    edges = []
    for b in np.flatnonzero(present):
        a = pred[b]
        while a >= 0 and not present[a]:
            a = pred[a]
        if a >= 0:
            edges.append((a, b))
    idx = np.cumsum(present) - 1
    e = idx[np.array(edges, np.int64).reshape(-1, 2)]
    graph = TrackGraph(g.t[present], g.coords[present], g.labels[present], e)
    node_track, res_table = to_ctc(graph)
    return relabel_masks(detections, graph, node_track), res_table


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_to_py_ctcmetrics_on_synthetic_lineage(tmp_path, seed):
    data = pytest.importorskip("biakit.data")
    if not hasattr(data, "synthetic_lineage"):
        pytest.skip("biakit.data.synthetic_lineage not available")
    lin = data.synthetic_lineage(8, (96, 96), n_cells=8, division_probability=0.1, seed=seed)
    res, res_table = perturb(lin.masks, lin.table, seed, ("drop", "gap", "swap", "split"))
    res_dir, gt_dir = write_ctc(tmp_path, lin.masks, lin.table, res, res_table, [1, 4])
    assert_same(evaluate_ctc(res_dir, gt_dir).as_dict(), ctc_reference(res_dir, gt_dir))


@pytest.mark.parametrize("ops", [("gap",), ("late_division", "gap"), ("drop", "split")])
def test_equal_to_py_ctcmetrics_with_gaps_in_the_ground_truth(tmp_path, ops):
    # a perturbed (still valid) lineage as ground truth: gap-closing parent links
    # with a single child, objects missing, a mother that divides late
    masks, table = disc_lineage(3)
    gt, gt_table = perturb(masks, table, 7, ops)
    for k, res_ops in enumerate([(), ("swap", "merge")]):
        res, res_table = perturb(masks, table, 11 + k, res_ops)
        res_dir, gt_dir = write_ctc(tmp_path / f"{k}", gt, gt_table, res, res_table, [2, 5])
        assert_same(evaluate_ctc(res_dir, gt_dir).as_dict(), ctc_reference(res_dir, gt_dir))


def test_equal_to_py_ctcmetrics_in_3d_with_annotated_slices(tmp_path):
    masks, table = disc_lineage(4, n_frames=8, shape=(40, 40))
    res2, res_table = perturb(masks, table, 5, ("drop", "swap", "split", "shift"))

    def volume(m):  # objects on slices 1-2 of 4, shifted by one pixel on slice 2
        v = np.zeros((m.shape[0], 4, *m.shape[1:]), m.dtype)
        v[:, 1], v[:, 2] = m, np.roll(m, 1, axis=-2)
        return v

    gt, res = volume(masks), volume(res2)
    res_dir, gt_dir = write_ctc(tmp_path, gt, table, res, res_table)
    (gt_dir / "SEG").mkdir()
    for t, z in [(1, 1), (1, 2), (6, 2)]:
        tifffile.imwrite(gt_dir / "SEG" / f"man_seg_{t:03d}_{z:03d}.tif", gt[t, z])
    got = evaluate_ctc(res_dir, gt_dir)
    assert_same(got.as_dict(), ctc_reference(res_dir, gt_dir))
    assert 0 < got.seg < 1 and got.tra < 1


def test_invalid_result_equals_py_ctcmetrics(tmp_path):
    masks, table = disc_lineage(0, n_frames=6)
    res_table = table[1:]  # a label in the masks has no track
    res_dir, gt_dir = write_ctc(tmp_path, masks, table, masks, res_table, [0])
    want = ctc_reference(res_dir, gt_dir)
    got = evaluate_ctc(res_dir, gt_dir)
    assert want["Valid"] == 0 and not got.valid
    assert_same(got.as_dict(), want)
    assert "is not in the table" in got.problems[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_to_py_ctcmetrics_on_degraded_detections(tmp_path, seed):
    data = pytest.importorskip("biakit.data")
    if not hasattr(data, "degrade_detections"):
        pytest.skip("biakit.data.degrade_detections not available")
    lin = data.synthetic_lineage(10, (96, 96), n_cells=8, division_probability=0.1, seed=seed)
    det = data.degrade_detections(lin.masks, 0.1, 1.5, relabel=False, seed=seed)
    res, res_table = oracle_tracks(det, lin.masks, lin.table)
    res_dir, gt_dir = write_ctc(tmp_path, lin.masks, lin.table, res, res_table, [0, 5])
    got = evaluate_ctc(res_dir, gt_dir)
    assert_same(got.as_dict(), ctc_reference(res_dir, gt_dir))
    assert got.aogm.fn > 0 and got.seg < 1


def test_hand_computed_cases_agree_with_py_ctcmetrics(tmp_path, monkeypatch):
    """Every 2D sequence of test_tracking.py's hand-computed tests, scored by py-ctcmetrics too."""
    import importlib.util

    path = Path(__file__).with_name("test_tracking.py")
    spec = importlib.util.spec_from_file_location("_biakit_test_tracking_hand", path)
    hand = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hand)
    seen = []

    def spy(gt, table, res, res_table, **kw):
        seen.append(tuple(np.asarray(x) for x in (gt, table, res, res_table)))
        return tracking_metrics(gt, table, res, res_table, **kw)

    monkeypatch.setattr(hand, "tracking_metrics", spy)
    for name in dir(hand):
        test = getattr(hand, name)
        if name.startswith("test_") and callable(test) and test.__code__.co_argcount == 0:
            if "error" not in name and "invalid" not in name:
                test()
    cases = [c for c in seen if c[0].ndim == 3 and c[3].size]
    assert len(cases) >= 12
    for k, (gt, table, res, res_table) in enumerate(cases):
        frames = list(range(len(gt)))
        res_dir, gt_dir = write_ctc(tmp_path / f"{k}", gt, table, res, res_table, frames)
        assert_same(evaluate_ctc(res_dir, gt_dir).as_dict(), ctc_reference(res_dir, gt_dir))
