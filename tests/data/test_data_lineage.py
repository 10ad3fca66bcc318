import numpy as np
import pytest
from ctc_metrics.metrics import valid as ctc_valid
from scipy import ndimage as ndi

from biakit.data import SyntheticLineage, degrade_detections, synthetic_lineage
from biakit.io import validate_ctc
from biakit.track import from_ctc


def _ctc_metrics_valid(masks, table):
    """py-ctcmetrics' own validation (what ``ctc_validate`` runs) on in-memory data."""
    labels = [np.unique(m)[np.unique(m) > 0].tolist() for m in masks]
    names = [f"mask{t:03d}.tif" for t in range(len(masks))]
    return ctc_valid(names, np.asarray(table), labels)


def _opportunities(table, n_frames):
    """Cell-frame transitions t-1 -> t (t >= 1) at which a living cell could divide."""
    return int(sum(min(e + 1, n_frames - 1) - b for _, b, e, _ in table.tolist()))


@pytest.fixture(scope="module")
def movie():
    return synthetic_lineage(
        24, (128, 128), n_cells=10, radius=(5, 7), division_probability=0.06, seed=3
    )


@pytest.fixture(scope="module")
def protocol():
    return synthetic_lineage(seed=0)  # the protocol: 512x512, 40 frames, ~40 cells


def test_types_and_shapes(movie):
    assert isinstance(movie, SyntheticLineage)
    assert movie.images.shape == movie.masks.shape == (24, 128, 128)
    assert movie.images.dtype == np.float32 and movie.masks.dtype == np.uint16
    assert movie.table.dtype == np.int64 and movie.table.shape[1] == 4
    assert movie.axes == "TYX" and movie.spacing == (1.0, 1.0)
    np.testing.assert_array_equal(movie.table[:, 0], np.arange(1, len(movie.table) + 1))


def test_ground_truth_is_valid_ctc(movie, protocol):
    for s in (movie, protocol):
        assert _ctc_metrics_valid(s.masks, s.table) == 1
        assert validate_ctc(s.masks, s.table) == []
        for lab, b, e, p in s.table.tolist():
            frames = np.flatnonzero([(m == lab).any() for m in s.masks[max(b - 1, 0) : e + 2]])
            assert frames.tolist() == list(range(b - max(b - 1, 0), b - max(b - 1, 0) + e - b + 1))
            if p:
                assert s.table[p - 1, 2] == b - 1  # the mother ends just before


def test_graph_is_from_ctc(movie):
    ref = from_ctc(movie.masks, movie.table)
    g = movie.graph
    for name in ("t", "labels", "edges"):
        np.testing.assert_array_equal(getattr(g, name), getattr(ref, name))
    np.testing.assert_allclose(g.coords, ref.coords, atol=1e-9)
    np.testing.assert_array_equal(g.features["area"], ref.features["area"])


def test_protocol_defaults(protocol):
    counts = [np.unique(m).size - 1 for m in protocol.masks]
    assert protocol.masks.shape == (40, 512, 512) and counts[0] == 40
    assert 30 <= np.mean(counts) <= 60
    assert 5 <= protocol.n_divisions <= 45  # 0.012 * ~1800 cell-frames ~ 21


def test_division_rate_matches_probability():
    p, n_div, n_opp = 0.05, 0, 0
    for seed in range(6):
        s = synthetic_lineage(20, (96, 96), n_cells=8, radius=(4, 5), division_probability=p,
                              enter_rate=0.2, seed=seed)  # fmt: skip
        n_div += s.n_divisions
        n_opp += _opportunities(s.table, 20)
    expected = p * n_opp  # a few divisions may fail for lack of space: allow a small deficit
    assert abs(n_div - expected) < 4 * np.sqrt(expected * (1 - p)), (n_div, expected)
    assert (
        synthetic_lineage(8, (64, 64), n_cells=4, division_probability=0, seed=0).n_divisions == 0
    )


def test_daughters_appear_side_by_side_and_smaller(movie):
    g = movie.graph
    kids = movie.table[movie.table[:, 3] > 0]
    assert len(kids) >= 4 and len(kids) % 2 == 0
    for mother in np.unique(kids[:, 3]):
        lab, b = kids[kids[:, 3] == mother][:, 0], kids[kids[:, 3] == mother][0, 1]
        assert len(lab) == 2
        last = np.flatnonzero((g.labels == mother) & (g.t == b - 1))[0]
        first = [np.flatnonzero((g.labels == k) & (g.t == b))[0] for k in lab]
        mid = g.coords[first].mean(axis=0)
        area = g.features["area"]
        if area[first].min() > 0.9 * area[first].max():  # neither daughter cut by the border
            assert np.linalg.norm(mid - g.coords[last]) < 1.5
            assert np.all(area[first] < area[last])
        assert np.linalg.norm(g.coords[first[0]] - g.coords[first[1]]) < 2 * 7 * 1.2 + 3


def test_objects_never_touch(movie, protocol):
    ring = ndi.generate_binary_structure(2, 2)
    for s in (movie, protocol):
        for frame in s.masks[::5]:
            for k, box in enumerate(ndi.find_objects(frame), start=1):
                if box is None:
                    continue
                big = tuple(slice(max(b.start - 1, 0), b.stop + 1) for b in box)
                grown = ndi.binary_dilation(frame[big] == k, ring)
                assert set(np.unique(frame[big][grown]).tolist()) <= {0, k}


def test_cells_enter_and_leave_through_the_border(protocol):
    g, table, shape = protocol.graph, protocol.table, np.array([512, 512])
    edge = [np.minimum(c, shape - 1 - c).min() for c in g.coords]
    entered = table[(table[:, 1] > 0) & (table[:, 3] == 0)]
    has_kids = np.isin(table[:, 0], table[:, 3])
    left = table[(table[:, 2] < 39) & ~has_kids]
    assert len(entered) >= 3 and len(left) >= 3
    for lab, b, _, _ in entered.tolist():
        assert edge[np.flatnonzero((g.labels == lab) & (g.t == b))[0]] <= 7
    for lab, _, e, _ in left.tolist():  # last seen within a few steps of the border
        assert edge[np.flatnonzero((g.labels == lab) & (g.t == e))[0]] <= 3 + 4 * 3


def test_motion_is_drift_plus_brownian(protocol):
    g = protocol.graph
    src, dst = g.edges.T
    same = g.labels[src] == g.labels[dst]
    area = g.features["area"]
    whole = np.array([min(c.min(), 511 - c.max()) > 14 for c in g.coords])  # not cut by border
    use = same & whole[src] & whole[dst] & (np.abs(area[dst] - area[src]) < 0.1 * area[src])
    step = g.coords[dst[use]] - g.coords[src[use]]
    assert use.sum() > 500
    np.testing.assert_allclose(step.mean(axis=0), [0.5, 1.0], atol=0.35)
    np.testing.assert_allclose(step.std(axis=0), [3.0, 3.0], rtol=0.15)


def test_images_follow_masks(movie):
    inside, outside = movie.images[movie.masks > 0], movie.images[movie.masks == 0]
    assert inside.mean() > 0.5 and abs(outside.mean() - 0.1) < 0.05
    noiseless = synthetic_lineage(3, (48, 48), n_cells=2, radius=4, noise=0, seed=0)
    assert noiseless.images.min() >= 0.0


def test_determinism():
    a = synthetic_lineage(6, (64, 64), n_cells=5, division_probability=0.2, seed=7)
    b = synthetic_lineage(6, (64, 64), n_cells=5, division_probability=0.2, seed=7)
    c = synthetic_lineage(6, (64, 64), n_cells=5, division_probability=0.2, seed=8)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    np.testing.assert_array_equal(a.table, b.table)
    assert not np.array_equal(a.masks, c.masks)


def test_3d():
    s = synthetic_lineage(10, (20, 64, 64), n_cells=6, radius=(3, 4), sigma=(1, 2, 2),
                          division_probability=0.1, seed=2)  # fmt: skip
    assert s.axes == "TZYX" and s.masks.shape == (10, 20, 64, 64) and s.graph.ndim == 3
    assert _ctc_metrics_valid(s.masks, s.table) == 1
    assert validate_ctc(s.masks, s.table) == []
    assert s.n_divisions >= 1


def test_degrade_rates():
    s = synthetic_lineage(20, (128, 128), n_cells=12, radius=(5, 6), seed=1)
    n = s.graph.n_nodes
    d = degrade_detections(s.masks, miss_rate=0.2, jitter=0.0, relabel=False, seed=0)
    kept = sum(np.unique(m).size - 1 for m in d)
    assert abs((n - kept) - 0.2 * n) < 4 * np.sqrt(n * 0.2 * 0.8)
    ref = from_ctc(s.masks, s.table)
    j = from_ctc(degrade_detections(s.masks, 0.0, 1.0, relabel=False, seed=0), s.table)
    assert j.n_nodes == n
    whole = np.array([min(c.min(), 127 - c.max()) > 8 for c in ref.coords])
    shift = (j.coords - ref.coords)[whole]
    assert abs(shift.std() - np.sqrt(1 + 1 / 12)) < 0.15  # var of round(N(0, 1)) ~ 1 + 1/12
    assert abs(shift.mean()) < 0.15


def test_degrade_identity_and_relabel():
    s = synthetic_lineage(5, (64, 64), n_cells=5, seed=0)
    np.testing.assert_array_equal(degrade_detections(s.masks, 0, 0, relabel=False), s.masks)
    d = degrade_detections(s.masks, 0.0, 0.0, seed=1)
    for a, b in zip(s.masks, d):
        assert np.unique(b).tolist() == list(range(np.unique(a).size))
        assert np.array_equal(a > 0, b > 0)
    np.testing.assert_array_equal(d, degrade_detections(s.masks, 0.0, 0.0, seed=1))
    assert degrade_detections(s.masks, 1.0, 1.0).max() == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_frames": 0}, ValueError, "n_frames"),
        ({"shape": (64,)}, ValueError, "shape"),
        ({"n_cells": 2.5}, TypeError, "n_cells"),
        ({"radius": 1.0}, ValueError, "radius"),
        ({"radius": 40.0}, ValueError, "too big"),
        ({"sigma": -1.0}, ValueError, "sigma"),
        ({"drift": (1.0, 2.0, 3.0)}, ValueError, "drift"),
        ({"drift": (np.nan, 1.0)}, ValueError, "drift"),
        ({"division_probability": 1.5}, ValueError, "division_probability"),
        ({"enter_rate": -1}, ValueError, "enter_rate"),
        ({"noise": -0.1}, ValueError, "noise"),
        ({"seed": "x"}, TypeError, "seed"),
    ],
)
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        synthetic_lineage(**{"n_frames": 3, "shape": (64, 64), "n_cells": 2, **kwargs})


def test_degrade_errors():
    m = np.zeros((2, 8, 8), np.uint16)
    with pytest.raises(ValueError, match="masks"):
        degrade_detections(m.astype(float))
    with pytest.raises(ValueError, match="masks"):
        degrade_detections(m[0])
    with pytest.raises(ValueError, match="miss_rate"):
        degrade_detections(m, miss_rate=2)
    with pytest.raises(ValueError, match="jitter"):
        degrade_detections(m, jitter=-1)
