import numpy as np
import pytest

from biakit.blocks import GLOBAL, get_halo
from biakit.postprocess import merge_oversplit, split_touching


def test_split_touching_mask_and_labels(balls, iou):
    shape = (40, 100)
    truth = [balls(shape, [c], 9) > 0 for c in [(20, 15), (20, 30), (20, 75)]]
    mask = truth[0] | truth[1] | truth[2]
    out = split_touching(mask)
    assert out.dtype == np.int32 and out.max() == 3
    assert min(iou(out, t) for t in truth) > 0.9
    # a label image: object 1 = two touching discs, object 2 = one disc touching it
    labels = np.where(truth[0] | truth[1], 1, 0).astype(np.int32)
    blob = balls(shape, [(20, 45)], 9) > 0
    labels[blob & (labels == 0)] = 2
    out = split_touching(labels)
    assert out.max() == 3
    # touching objects with different ids are never merged
    assert set(np.unique(out[labels == 2])) == {3}
    assert get_halo(split_touching, 2) == GLOBAL


def test_split_touching_3d_spacing(balls, iou):
    spacing = (3.0, 1.0, 1.0)
    truth = [balls((20, 40, 40), [c], 10, spacing) > 0 for c in [(21, 20, 20), (39, 20, 20)]]
    out = split_touching(truth[0] | truth[1], spacing=spacing)
    assert out.max() == 2 and min(iou(out, t) for t in truth) > 0.9


def _two_discs(balls, gap_value):
    """Two discs touching through a bridge of pixels of value ``gap_value``."""
    shape = (30, 60)
    a, b = balls(shape, [(15, 15)], 10) > 0, balls(shape, [(15, 40)], 10) > 0
    image = np.where(a | b, 10.0, 0.0)
    labels = np.where(a, 1, np.where(b, 2, 0)).astype(np.int32)
    labels[10:21, 25:32] = 1  # bridge: object 1 reaches into object 2
    image[10:21, 25:32] = gap_value
    return labels, image


def test_merge_oversplit_merges_a_cut_disc(balls):
    disc = balls((30, 30), [(15, 15)], 10) > 0
    image = np.where(disc, 10.0, 0.0) + np.random.default_rng(0).normal(0, 0.5, disc.shape)
    labels = np.where(disc, 1, 0).astype(np.int32)
    labels[disc & (np.arange(30)[None, :] >= 15)] = 4  # cut in two by a label line
    out = merge_oversplit(labels, image, threshold=0.8)
    np.testing.assert_array_equal(out, np.where(disc, 1, 0))


def test_merge_oversplit_keeps_discs_with_dark_gap(balls):
    labels, image = _two_discs(balls, gap_value=1.0)
    np.testing.assert_array_equal(merge_oversplit(labels, image, threshold=0.8), labels)
    bright_labels, bright = _two_discs(balls, gap_value=10.0)
    assert merge_oversplit(bright_labels, bright, threshold=0.8).max() == 1


def test_merge_oversplit_boundary_kind_and_transitivity():
    labels = np.array([[1, 1, 2, 2, 3, 3, 5, 5]], np.int32)
    boundary = np.array([[0, 0.1, 0.1, 0.2, 0.2, 0.1, 0.9, 0]])
    # pairs (1,2): 0.1, (2,3): 0.2, (3,5): (0.1 + 0.9) / 2 = 0.5
    out = merge_oversplit(labels, boundary, threshold=0.3, kind="boundary")
    np.testing.assert_array_equal(out, [[1, 1, 1, 1, 1, 1, 5, 5]])
    out = merge_oversplit(labels, boundary, threshold=0.5, kind="boundary")
    np.testing.assert_array_equal(out, 1)


def test_merge_oversplit_hand_criterion_3d():
    labels = np.zeros((2, 2, 4), np.int32)
    labels[..., :2], labels[..., 2:] = 1, 2
    image = np.zeros((2, 2, 4))
    image[..., 0], image[..., 1], image[..., 2], image[..., 3] = 10, 7, 7, 10
    # boundary mean 7, object means 8.5: merge iff 7 >= t * 8.5
    assert merge_oversplit(labels, image, threshold=0.82).max() == 1
    assert merge_oversplit(labels, image, threshold=0.83).max() == 2


def test_split_merge_errors():
    labels = np.zeros((4, 4), np.int32)
    with pytest.raises(ValueError, match="image has shape"):
        merge_oversplit(labels, np.zeros((4, 5)), threshold=0.5)
    with pytest.raises(ValueError, match="kind must be one of 'intensity'"):
        merge_oversplit(labels, np.zeros((4, 4)), threshold=0.5, kind="gradient")
    with pytest.raises(TypeError, match="got a boolean mask"):
        merge_oversplit(labels > 0, np.zeros((4, 4)), threshold=0.5)
    with pytest.raises(ValueError, match="threshold must be a finite number >= 0"):
        merge_oversplit(labels, np.zeros((4, 4)), threshold=-0.5)
    with pytest.raises(ValueError, match="min_distance must be a finite number"):
        split_touching(labels, min_distance=-1)
