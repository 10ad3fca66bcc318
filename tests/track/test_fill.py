"""Filling the frames a track skipped: positions, links, painted masks."""

import numpy as np
import pytest

from biakit.errors import ParameterError
from biakit.track import TrackGraph, detections_from_labels, fill_gaps, to_ctc


def test_plain_gap_is_interpolated_linearly():
    g = TrackGraph(t=[0, 3], coords=[[0, 0], [3, 6]], labels=[1, 1], edges=[[0, 1]])
    filled, masks = fill_gaps(g)
    assert masks is None
    assert filled.t.tolist() == [0, 3, 1, 2]
    assert filled.coords[2:].tolist() == [[1.0, 2.0], [2.0, 4.0]]
    assert filled.edges.tolist() == [[0, 2], [2, 3], [3, 1]]
    assert filled.features["filled"].tolist() == [0, 0, 1, 1]
    assert filled.labels[2:].tolist() == [1, 1]  # above the frame's largest label (none)
    _, table = to_ctc(filled)
    assert table.tolist() == [[1, 0, 3, 0]]  # one segment, no gap


def test_no_gap_leaves_the_graph_as_is():
    g = TrackGraph(t=[0, 1], coords=[[0, 0], [1, 1]], edges=[[0, 1]], features={"area": [4, 5]})
    filled, _ = fill_gaps(g)
    assert filled.edges.tolist() == [[0, 1]]
    assert filled.features["area"].tolist() == [4, 5]
    assert filled.features["filled"].tolist() == [0, 0]


def test_mother_missed_before_dividing_is_extended_then_divides():
    # Mother at frame 0, missed at 1, daughters at frame 2 on either side; drift 0.
    g = TrackGraph(
        t=[0, 2, 2, 3, 3],
        coords=[[10, 10], [6, 10], [14, 10], [6, 10], [14, 10]],
        edges=[[0, 1], [0, 2], [1, 3], [2, 4]],
    )
    filled, _ = fill_gaps(g)
    assert filled.t[5] == 1 and filled.coords[5].tolist() == [10.0, 10.0]
    assert sorted(filled.edges.tolist()) == [[0, 5], [1, 3], [2, 4], [5, 1], [5, 2]]


def test_daughter_missed_in_first_frame_is_filled_from_her_and_her_sister():
    # Mother at 0; daughter A at frame 1, daughter B only from frame 2 (missed at 1).
    g = TrackGraph(
        t=[0, 1, 2, 2],
        coords=[[10, 10], [6, 10], [14, 11], [6, 11]],
        edges=[[0, 1], [0, 2], [1, 3]],
    )
    filled, _ = fill_gaps(g)
    # drift = median one-frame step over [0,1] and [1,3]: (-2, 0.5). B at frame 1:
    # back from B: (14, 11) - drift = (16, 10.5); mirror of A about the mother's
    # prediction: 2 * ((10, 10) + drift) - (6, 10) = (10, 11); their mean (13, 10.75).
    assert filled.t[4] == 1
    assert filled.coords[4].tolist() == [13.0, 10.75]
    assert sorted(filled.edges.tolist()) == [[0, 1], [0, 4], [1, 3], [4, 2]]


def test_masks_are_painted_with_a_moved_copy_over_background_only():
    m = np.zeros((3, 20, 20), np.uint8)
    m[0, 2:5, 2:5] = 1
    m[2, 6:9, 6:9] = 1
    m[1, 5, 5] = 9  # an object where the copy lands: it must stay
    g = detections_from_labels(m).with_edges([[0, 2]])  # node 1 is the small object
    filled, painted = fill_gaps(g, m)
    assert painted.dtype == np.uint8
    new = filled.labels[-1]
    assert new == 10 and filled.t[-1] == 1
    expect = np.zeros((20, 20), bool)
    expect[4:7, 4:7] = True
    expect[5, 5] = False
    assert np.array_equal(painted[1] == new, expect)
    assert painted[1, 5, 5] == 9
    assert np.array_equal(painted[[0, 2]], m[[0, 2]])


def test_painting_widens_the_dtype_when_labels_run_out():
    m = np.zeros((3, 10, 10), np.uint8)
    m[0, 1:3, 1:3] = 255
    m[1, 7:9, 7:9] = 255
    m[2, 1:3, 2:4] = 255
    g = TrackGraph(
        t=[0, 1, 2], coords=[[1.5, 1.5], [7.5, 7.5], [1.5, 2.5]], labels=[255] * 3, edges=[[0, 2]]
    )
    filled, painted = fill_gaps(g, m)
    assert painted.dtype == np.uint16 and filled.labels[-1] == 256
    assert (painted[1] == 256).sum() == 4


def test_bad_masks_shape():
    g = TrackGraph(t=[0, 2], coords=[[1, 1], [1, 2]], edges=[[0, 1]])
    with pytest.raises(ParameterError, match="masks: expected label images T\\(Z\\)YX"):
        fill_gaps(g, np.zeros((2, 8, 8), np.uint8))
