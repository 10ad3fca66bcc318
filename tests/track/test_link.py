"""Linking with a known answer: straight, crossing, dividing, gapped, entering and 3D tracks."""

import itertools

import numpy as np
import pytest

from biakit.errors import ParameterError
from biakit.track import LinkConfig, TrackGraph, detections_from_points, link, to_ctc, track


def _graph(tracks: dict[int, dict[int, tuple]]) -> tuple[TrackGraph, np.ndarray]:
    """Points from {track id: {frame: position}}; also each node's track id."""
    rows = [(t, *pos, tid) for tid, path in tracks.items() for t, pos in path.items()]
    rows.sort()
    arr = np.array(rows, float)
    return TrackGraph(t=arr[:, 0], coords=arr[:, 1:-1]), arr[:, -1].astype(int)


def _pairs(graph: TrackGraph, ids: np.ndarray) -> set[tuple[int, int, int, int]]:
    """Links as (frame, id) -> (frame, id)."""
    t = graph.t
    return {(t[a], ids[a], t[b], ids[b]) for a, b in graph.edges.tolist()}


def _line(start, step, frames):
    return {f: tuple(np.add(start, np.multiply(step, f - frames[0]))) for f in frames}


def _truth(tracks, extra=()):
    """Consecutive links inside each track plus ``extra`` links."""
    out = set(extra)
    for tid, path in tracks.items():
        frames = sorted(path)
        out |= {(a, tid, b, tid) for a, b in itertools.pairwise(frames)}
    return out


def test_straight_tracks_are_linked_one_to_one():
    rng = np.random.default_rng(0)
    tracks = {
        k: {f: (10 + 30 * k + rng.normal(0, 1), 5 + 2 * f + rng.normal(0, 1)) for f in range(8)}
        for k in range(4)
    }
    g, ids = _graph(tracks)
    out = link(g)
    assert _pairs(out, ids) == _truth(tracks)
    assert to_ctc(out)[1].shape[0] == 4  # four segments, no parents


def test_paths_crossing_at_different_times_keep_their_identity():
    # A goes down column 15, B goes right along row 20: their paths cross at (15, 20)
    # 3 frames apart, each moving 3 px / frame.
    tracks = {
        1: {f: (3.0 * f, 20.0) for f in range(10)},
        2: {f: (15.0, 3.0 * f - 6) for f in range(10)},
    }
    g, ids = _graph(tracks)
    assert _pairs(link(g), ids) == _truth(tracks)


def test_division_links_the_mother_to_both_daughters():
    rng = np.random.default_rng(1)
    tracks = {
        1: {f: (30.0 + rng.normal(0, 0.5), 30.0 + f) for f in range(4)},
        2: {f: (24.0 + rng.normal(0, 0.5), 30.0 + f) for f in range(4, 8)},
        3: {f: (36.0 + rng.normal(0, 0.5), 30.0 + f) for f in range(4, 8)},
        4: {f: (80.0, 10.0 + f) for f in range(8)},  # a bystander
        5: {f: (60.0, 60.0 + f) for f in range(8)},
    }
    g, ids = _graph(tracks)
    out = link(g)
    assert _pairs(out, ids) == _truth(tracks, [(3, 1, 4, 2), (3, 1, 4, 3)])
    _, table = to_ctc(out)
    parents = {int(row[3]) for row in table if row[3] > 0}
    assert len(parents) == 1 and (table[:, 3] > 0).sum() == 2


def test_gap_of_two_frames_is_closed_and_exported_as_parent_linked_segments():
    tracks = {
        1: {f: (20.0, 10.0 + 2 * f) for f in range(10) if f not in (4, 5)},
        2: {f: (60.0, 40.0 - 2 * f) for f in range(10)},
    }
    g, ids = _graph(tracks)
    out = link(g)
    assert _pairs(out, ids) == _truth(tracks)
    assert out.t[out.edges[:, 1]].tolist().count(6) == 2  # the gap link 3 -> 6 and track 2
    _, table = to_ctc(out)
    assert sorted(table[:, 1:].tolist()) == [[0, 3, 0], [0, 9, 0], [6, 9, 1]]


def test_gap_longer_than_max_gap_is_not_closed():
    tracks = {1: {f: (20.0, 10.0 + 2 * f) for f in range(10) if f not in (3, 4, 5)}}
    g, ids = _graph(tracks)
    truth = _truth(tracks)  # includes the 2 -> 6 link over 3 missed frames
    assert _pairs(link(g, max_gap=2), ids) == truth - {(2, 1, 6, 1)}
    assert _pairs(link(g, max_gap=3), ids) == truth


def test_entering_and_leaving_tracks_are_not_joined():
    tracks = {
        1: {f: (20.0, 5.0 + 2 * f) for f in range(0, 5)},  # leaves after frame 4
        2: {f: (90.0, 5.0 + 2 * f) for f in range(6, 12)},  # enters far away at frame 6
        3: {f: (50.0, 50.0 + 2 * f) for f in range(12)},
    }
    g, ids = _graph(tracks)
    assert _pairs(link(g), ids) == _truth(tracks)


def test_3d_tracks_with_anisotropic_spacing():
    # z steps of 1 plane (2 um) and y/x steps of 2 px (0.5 um per px): all 1-2 um.
    tracks = {
        k: {f: (5.0 + f % 2, 20.0 + 40 * k + 2 * f, 30.0 + 2 * f) for f in range(6)}
        for k in range(3)
    }
    g, ids = _graph(tracks)
    out = link(g, spacing=(2.0, 0.5, 0.5))
    assert out.ndim == 3
    assert _pairs(out, ids) == _truth(tracks)


def test_spacing_decides_between_two_candidates():
    # From (10, 10): one candidate 2 planes away in z, one 3 px away in x.
    # Isotropic: the z candidate is nearer; with 5 um planes the x candidate is.
    pts = np.array([[0, 10, 10], [1, 12, 10], [1, 10, 13]], float)
    g = detections_from_points(pts)
    opts = {"max_speed": 4.0, "alternative_cost": 100.0, "divisions": False}
    iso = link(g, **opts)
    aniso = link(g, spacing=(5.0, 1.0), **opts)
    assert g.coords[iso.edges[:, 1]].tolist() == [[12.0, 10.0]]
    assert g.coords[aniso.edges[:, 1]].tolist() == [[10.0, 13.0]]


def test_frame_interval_scales_max_speed():
    # Two still objects and one that moves 6 px (a speed of 3 px per time unit at 2 per frame).
    pts = [[0, 10, 10], [1, 10, 16], [0, 50, 50], [1, 50, 50], [0, 90, 10], [1, 90, 10]]
    g = detections_from_points(np.array(pts, float))
    fast = g.coords[link(g, max_speed=4.0).edges].tolist()
    slow = g.coords[link(g, max_speed=4.0, frame_interval=2.0).edges].tolist()
    assert [[10.0, 10.0], [10.0, 16.0]] not in fast
    assert [[10.0, 10.0], [10.0, 16.0]] in slow
    assert len(fast) == 2 and len(slow) == 3


def test_robust_to_empty_graph_single_detection_and_empty_frames():
    empty = TrackGraph(t=np.zeros(0), coords=np.zeros((0, 2)))
    assert link(empty).edges.shape == (0, 2)
    one = TrackGraph(t=[3], coords=[[1.0, 2.0]])
    assert link(one).edges.shape == (0, 2)
    same_frame = TrackGraph(t=[0, 0, 0], coords=[[1.0, 2.0], [10, 10], [20, 20]])
    assert link(same_frame).edges.shape == (0, 2)
    # A single object over frames with an empty frame between (gap closing).
    g = TrackGraph(t=[0, 1, 3, 4], coords=[[5.0, 5.0], [5.0, 6.0], [5.0, 8.0], [5.0, 9.0]])
    assert link(g).edges.tolist() == [[0, 1], [1, 2], [2, 3]]


def test_track_from_masks_uses_labels_area_and_image():
    m = np.zeros((4, 40, 40), np.uint16)
    img = np.zeros(m.shape, np.float32)
    for f in range(4):
        m[f, 5 + f : 10 + f, 5:10] = 7 - f  # labels change from frame to frame
        m[f, 25:30, 20 + f : 25 + f] = 10 + f
        img[f][m[f] == 7 - f] = 1.0
        img[f][m[f] == 10 + f] = 0.5
    g = track(m, image=img)
    assert g.labels.tolist() == [7, 10, 6, 11, 5, 12, 4, 13]
    assert g.features["mean_intensity"].tolist() == [1.0, 0.5] * 4
    node_track, table = to_ctc(g)
    assert table.shape[0] == 2
    assert len(set(node_track[g.labels == 7 - g.t].tolist())) == 1


def test_track_from_points_matches_link():
    pts = np.array([[0, 5, 5], [1, 6, 5], [2, 7, 5], [0, 40, 40], [1, 40, 41]], float)
    assert track(points=pts).edges.tolist() == link(detections_from_points(pts)).edges.tolist()


def test_config_object_and_keyword_override():
    cfg = LinkConfig(max_gap=0, divisions=False)
    g = TrackGraph(t=[0, 2], coords=[[5.0, 5.0], [5.0, 6.0]])
    assert link(g, config=cfg).edges.size == 0
    assert link(g, config=cfg, max_gap=1).edges.tolist() == [[0, 1]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"spacing": (1.0, -1.0)}, "spacing: expected a positive number"),
        ({"spacing": (1.0, 1.0, 1.0)}, "spacing: expected"),
        ({"frame_interval": 0}, "frame_interval: expected a positive number"),
        ({"max_gap": -1}, "max_gap: Input should be greater than or equal to 0"),
        ({"max_speed": 0}, "max_speed: Input should be greater than 0"),
        ({"max_distance": 3}, r"unknown linking parameter\(s\) \['max_distance'\]"),
        ({"config": {"max_gap": 1}}, "config: expected a LinkConfig or None, got dict"),
    ],
)
def test_bad_parameters_name_the_parameter(kwargs, match):
    g = TrackGraph(t=[0, 1], coords=[[5.0, 5.0], [5.0, 6.0]])
    with pytest.raises(ParameterError, match=match):
        link(g, **kwargs)


def test_bad_inputs():
    with pytest.raises(ParameterError, match="graph: expected a TrackGraph, got ndarray"):
        link(np.zeros((3, 3)))
    with pytest.raises(ParameterError, match="coordinates must be finite"):
        link(TrackGraph(t=[0, 1], coords=[[5.0, np.nan], [5.0, 6.0]]))
    with pytest.raises(ParameterError, match="give either masks"):
        track()
    with pytest.raises(ParameterError, match="give either masks"):
        track(np.zeros((2, 4, 4), int), points=np.zeros((1, 3)))
    with pytest.raises(ParameterError, match="image: only used with masks"):
        track(points=np.zeros((1, 3)), image=np.zeros((1, 4, 4)))


def test_divisions_off_and_frames_not_starting_at_zero():
    tracks = {
        1: {f: (30.0, 30.0 + f) for f in range(100, 104)},
        2: {f: (24.0, 30.0 + f) for f in range(104, 108)},
        3: {f: (36.0, 30.0 + f) for f in range(104, 108)},
        4: {f: (80.0, 10.0 + f) for f in range(100, 108)},
    }
    g, ids = _graph(tracks)
    with_div = link(g)
    assert with_div.out_degree().max() == 2
    no_div = link(g, divisions=False)
    assert no_div.out_degree().max() == 1
    assert _pairs(no_div, ids) <= _pairs(with_div, ids) | {(103, 1, 104, 2), (103, 1, 104, 3)}
