"""Track graph <-> Cell Tracking Challenge segments."""

import numpy as np
import pytest

from biakit.errors import DataError
from biakit.track import (
    TrackGraph,
    detections_from_labels,
    detections_from_points,
    from_ctc,
    napari_tracks,
    relabel_masks,
    to_ctc,
)


def _disc_masks(positions: dict[int, list[tuple[int, int, int]]], n_frames: int) -> np.ndarray:
    """Masks with 3x3 squares: {frame: [(label, y, x), ...]}."""
    masks = np.zeros((n_frames, 32, 32), np.uint16)
    for frame, objects in positions.items():
        for label, y, x in objects:
            masks[frame, y - 1 : y + 2, x - 1 : x + 2] = label
    return masks


def test_straight_track_is_one_segment():
    g = TrackGraph(t=[0, 1, 2], coords=[[1, 1], [2, 2], [3, 3]], edges=[[0, 1], [1, 2]])
    node_track, table = to_ctc(g)
    assert node_track.tolist() == [1, 1, 1]
    assert table.tolist() == [[1, 0, 2, 0]]


def test_gap_closed_link_starts_a_child_segment():
    # Frames 0, 1 then 3, 4: present in every frame between B and E requires two segments.
    g = TrackGraph(t=[0, 1, 3, 4], coords=np.zeros((4, 2)), edges=[[0, 1], [1, 2], [2, 3]])
    node_track, table = to_ctc(g)
    assert node_track.tolist() == [1, 1, 2, 2]
    assert table.tolist() == [[1, 0, 1, 0], [2, 3, 4, 1]]


def test_merge_takes_the_latest_source_as_parent():
    # Nodes 0 (t0) and 1 (t1) both link into node 2 (t2).
    g = TrackGraph(t=[0, 1, 2], coords=np.zeros((3, 2)), edges=[[0, 2], [1, 2]])
    node_track, table = to_ctc(g)
    assert table[node_track[2] - 1, 3] == node_track[1]


def test_node_numbering_is_by_first_frame_whatever_the_node_order():
    g = TrackGraph(t=[2, 0, 1], coords=np.zeros((3, 2)), edges=[[1, 2], [2, 0]])
    node_track, table = to_ctc(g)
    assert node_track.tolist() == [1, 1, 1]
    assert table.tolist() == [[1, 0, 2, 0]]


def test_ctc_round_trip_and_validity_by_py_ctcmetrics():
    valid = pytest.importorskip("ctc_metrics.metrics.validation.valid")
    masks = _disc_masks(
        {
            0: [(1, 5, 5), (2, 20, 20)],
            1: [(1, 6, 5), (2, 21, 20)],
            2: [(3, 5, 4), (4, 8, 8)],  # label 1 divides into 3 and 4
            3: [(3, 5, 3), (4, 9, 9), (2, 22, 22)],  # label 2 skipped frame 2: a gap
        },
        4,
    )
    # A graph with the gap as one link: to_ctc must cut it into parent-linked segments.
    g = detections_from_labels(masks)
    index = {(int(t), int(lab)): i for i, (t, lab) in enumerate(zip(g.t, g.labels))}
    pairs = [((0, 1), (1, 1)), ((1, 1), (2, 3)), ((1, 1), (2, 4)), ((2, 3), (3, 3))]
    pairs += [((2, 4), (3, 4)), ((0, 2), (1, 2)), ((1, 2), (3, 2))]
    g = g.with_edges([[index[a], index[b]] for a, b in pairs])
    node_track, table = to_ctc(g)
    relabelled = relabel_masks(masks, g, node_track)
    present = [np.unique(frame) for frame in relabelled]
    assert valid.valid([f"mask{i:03d}.tif" for i in range(4)], table, present) == 1
    back = from_ctc(relabelled, table)

    def links(graph):  # links as (frame, position) pairs: independent of node order
        key = [(int(t), *np.round(c, 6).tolist()) for t, c in zip(graph.t, graph.coords)]
        return sorted((key[a], key[b]) for a, b in graph.edges.tolist())

    assert links(back) == links(g)
    assert back.labels.tolist() == sorted(node_track.tolist()) or set(back.labels) == set(
        node_track
    )


def test_detections_from_labels_centroids_area_and_intensity():
    masks = np.zeros((1, 4, 4), np.int32)
    masks[0, 0, 0:3] = 2
    masks[0, 3, 3] = 5
    image = np.arange(16, dtype=float).reshape(1, 4, 4)
    g = detections_from_labels(masks, image)
    assert g.labels.tolist() == [2, 5]
    np.testing.assert_allclose(g.coords, [[0, 1], [3, 3]])
    assert g.features["area"].tolist() == [3, 1]
    np.testing.assert_allclose(g.features["mean_intensity"], [1.0, 15.0])


def test_detections_from_labels_3d_and_empty():
    masks = np.zeros((2, 3, 4, 4), np.uint8)
    masks[1, 2, 1:3, 1:3] = 1
    g = detections_from_labels(masks)
    assert g.t.tolist() == [1] and g.ndim == 3
    np.testing.assert_allclose(g.coords, [[2, 1.5, 1.5]])
    assert detections_from_labels(np.zeros((2, 4, 4), np.uint8)).n_nodes == 0


def test_points_are_sorted_by_frame():
    g = detections_from_points([[2, 1.0, 1.0], [0, 5.0, 5.0], [0, 1.0, 2.0]])
    assert g.t.tolist() == [0, 0, 2]
    np.testing.assert_allclose(g.coords[0], [1.0, 2.0])


def test_napari_tracks_rows_and_parents():
    g = TrackGraph(t=[0, 1, 1], coords=[[5, 5], [4, 5], [7, 5]], edges=[[0, 1], [0, 2]])
    data, parents = napari_tracks(g, *to_ctc(g))
    assert data[:, 0].tolist() == [1, 2, 3]
    assert parents == {2: [1], 3: [1]}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"t": [0, 1], "coords": [[1, 2, 3, 4], [1, 2, 3, 4]]}, "coords: expected shape"),
        ({"t": [0, 1], "coords": [[1, 2], [1, 2]], "edges": [[1, 0]]}, "forward in time"),
        ({"t": [0, 1], "coords": [[1, 2], [1, 2]], "edges": [[0, 2]]}, "node indices"),
        ({"t": [0, 1], "coords": [[1, 2], [1, 2]], "labels": [1]}, "labels: expected 2"),
        ({"t": [0], "coords": [[1, 2]], "features": {"area": [1, 2]}}, "features"),
    ],
)
def test_bad_graphs_are_refused(kwargs, match):
    with pytest.raises(DataError, match=match):
        TrackGraph(**kwargs)


def test_bad_masks_and_points_are_refused():
    with pytest.raises(DataError, match="masks: expected integer"):
        detections_from_labels(np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match="masks: expected integer"):
        detections_from_labels(np.zeros((2, 4, 4)))
    with pytest.raises(DataError, match="image: expected shape"):
        detections_from_labels(np.zeros((2, 4, 4), np.uint8), np.zeros((2, 4, 5)))
    with pytest.raises(DataError, match="points: the frame column"):
        detections_from_points([[0.5, 1.0, 1.0]])
    with pytest.raises(DataError, match="track table"):
        from_ctc(np.zeros((1, 4, 4), np.uint8), [[1, 0, 0]])
