"""Optional terms of the linker: merges, overlaps (IoU), automatic cut-offs."""

import numpy as np
import pytest

from biakit.errors import ParameterError
from biakit.track import TrackGraph, detections_from_labels, link, overlap_iou, to_ctc, track
from biakit.track._estimate import estimate_motion


def _converging():
    """Two objects meet and are detected as one from frame 3; two bystanders."""
    t = [0, 0, 1, 1, 2, 2, 3, 4] + [0, 1, 2, 3, 4] * 2
    c = [[20, 10], [40, 10], [24, 11], [36, 11], [28, 12], [32, 12], [30, 13], [30, 14]]
    c += [[80, 10 + f] for f in range(5)] + [[10, 60 + f] for f in range(5)]
    return TrackGraph(t=t, coords=c)


def test_merge_only_when_asked():
    g = _converging()
    plain = link(g)
    assert plain.in_degree().max() == 1
    assert [4, 6] in plain.edges.tolist() or [5, 6] in plain.edges.tolist()
    merged = link(g, merges=True)
    assert [4, 6] in merged.edges.tolist() and [5, 6] in merged.edges.tolist()
    assert merged.in_degree().max() == 2
    _, table = to_ctc(merged)  # the merged object starts a segment with one parent
    assert table[-1].tolist()[1:3] == [3, 4] and table[-1, 3] > 0


def test_overlap_iou_against_hand_counts():
    m = np.zeros((3, 6, 6), np.uint8)
    m[0, 0:2, 0:2] = 5  # 4 px
    m[1, 0:2, 1:3] = 2  # 4 px, 2 shared with frame 0 -> IoU 2 / 6
    m[1, 4:6, 4:6] = 7  # no overlap
    m[2, 4:6, 3:5] = 1  # 4 px, 2 shared with label 7 -> IoU 2 / 6
    g = detections_from_labels(m)
    iou = overlap_iou(m, g).toarray()
    expect = np.zeros((4, 4))
    expect[0, 1] = expect[2, 3] = 2 / 6
    np.testing.assert_allclose(iou, expect)
    with pytest.raises(ParameterError, match="masks: expected label images"):
        overlap_iou(m[0], g)


def test_overlap_term_penalises_links_without_overlap():
    # One object moving 10 px (its own drift: the distance cost is 0); without
    # overlap it costs -log(0.05) = 3.0 > the two alternatives (2 x 1.0).
    far = np.zeros((2, 30, 30), np.uint8)
    far[0, 10:13, 10:13] = 1
    far[1, 20:23, 10:13] = 3
    near = far.copy()
    near[1] = 0
    near[1, 11:14, 10:13] = 3  # IoU 6 / 12 = 0.5: -log 0.5 = 0.69 < 2
    opts = {"max_speed": 12.0, "divisions": False, "alternative_cost": 1.0}
    assert track(far, **opts).edges.tolist() == [[0, 1]]
    assert track(far, overlap_weight=1.0, **opts).edges.size == 0
    assert track(near, overlap_weight=1.0, **opts).edges.tolist() == [[0, 1]]


def test_bad_overlaps_shape():
    g = TrackGraph(t=[0, 1], coords=[[5.0, 5.0], [5.0, 6.0]])
    with pytest.raises(ParameterError, match="overlaps: expected a sparse matrix of shape"):
        link(g, overlaps=np.zeros((3, 3)), overlap_weight=1.0)


def test_motion_estimate_recovers_drift_and_step_size():
    rng = np.random.default_rng(0)
    n, frames, sigma, drift = 60, 10, 2.0, np.array([1.0, -0.5])
    x = rng.uniform(0, 1000, (n, 2))
    rows = []
    for f in range(frames):
        rows.append(np.column_stack([np.full(n, f), x]))
        x = x + drift + rng.normal(0, sigma, x.shape)
    pts = np.concatenate(rows)
    m = estimate_motion(pts[:, 0].astype(int), pts[:, 1:], {})
    np.testing.assert_allclose(m.drift, drift, atol=0.3)
    assert abs(m.sigma - sigma) < 0.3
    assert m.n_pairs == n * (frames - 1)
