import itertools

import numpy as np
import pytest
from scipy import ndimage as ndi

from biakit.model_selection import (
    EXCLUDED,
    TEST,
    TRAIN,
    VAL,
    block_kfold,
    block_split,
    patches_within,
)


def _cheb_distance_to(mask: np.ndarray, spacing=None) -> np.ndarray:
    """Chessboard distance of every pixel to the nearest True pixel of ``mask`` (brute truth)."""
    if not mask.any():
        return np.full(mask.shape, np.inf)
    return ndi.distance_transform_cdt(~mask, metric="chessboard").astype(float)


def _check_separation(labels: np.ndarray, gap: int) -> None:
    present = [s for s in (TRAIN, VAL, TEST) if (labels == s).any()]
    for s, t in itertools.permutations(present, 2):
        dist = _cheb_distance_to(labels == t)
        assert dist[labels == s].min() > gap  # kept pixels of different splits are > gap apart


def test_block_split_without_gap_tiles_the_image():
    s = block_split((40, 50), block_shape=(10, 10), val=0.2, test=0.2, seed=0)
    assert s.shape == (40, 50)
    assert set(np.unique(s.labels).tolist()) == {TRAIN, VAL, TEST}  # nothing excluded
    assert (len(s.train_blocks), len(s.val_blocks), len(s.test_blocks)) == (12, 4, 4)
    covered = np.zeros(s.shape, int)
    for sid, blocks in ((TRAIN, s.train_blocks), (VAL, s.val_blocks), (TEST, s.test_blocks)):
        for sl in blocks:
            assert np.all(s.labels[sl] == sid)
            covered[sl] += 1
    assert np.all(covered == 1)  # blocks partition the image
    assert np.array_equal(s.train, s.labels == TRAIN) and np.array_equal(s.mask("val"), s.val)
    assert s.test.sum() == 4 * 100


def test_edge_blocks_are_cropped():
    s = block_split((10, 10), block_shape=4, val=0.2, test=0.2, seed=1)
    blocks = s.train_blocks + s.val_blocks + s.test_blocks
    assert len(blocks) == 9
    assert {sl[0].stop for sl in blocks} == {4, 8, 10}
    assert (len(s.train_blocks), len(s.val_blocks), len(s.test_blocks)) == (5, 2, 2)


@pytest.mark.parametrize("gap", [1, 3])
def test_gap_separates_splits_and_is_taken_from_lower_ids(gap):
    s = block_split((48, 48), block_shape=8, val=0.25, test=0.25, gap=gap, seed=2)
    assert set(np.unique(s.labels).tolist()) <= {EXCLUDED, TRAIN, VAL, TEST}
    _check_separation(s.labels, gap)
    for sl in s.test_blocks:  # the highest split keeps whole blocks
        assert np.all(s.labels[sl] == TEST)
    original = np.zeros(s.shape, np.uint8)
    for sid, blocks in ((TRAIN, s.train_blocks), (VAL, s.val_blocks), (TEST, s.test_blocks)):
        for sl in blocks:
            original[sl] = sid
    kept = s.labels != EXCLUDED
    assert np.array_equal(s.labels[kept], original[kept])  # pixels keep their block's split
    # Excluded pixels are exactly those within `gap` of a block of a higher split.
    near_higher = np.zeros(s.shape, bool)
    for sid in (VAL, TEST):
        near_higher |= (_cheb_distance_to(original == sid) <= gap) & (original < sid)
    assert np.array_equal(~kept, near_higher)


def test_no_train_patch_overlaps_val_or_test_patch():
    patch, gap = 6, 6  # gap >= patch extent
    s = block_split((64, 64), block_shape=16, val=0.25, test=0.25, gap=gap, seed=4)
    cover = {}
    for name in ("train", "val", "test"):
        origins = patches_within(s.mask(name), patch)
        assert len(origins) > 0
        c = np.zeros(s.shape, bool)
        for o in origins:
            region = tuple(slice(int(a), int(a) + patch) for a in o)
            assert s.mask(name)[region].all()
            c[region] = True
        cover[name] = c
    for other in ("val", "test"):
        assert not (cover["train"] & cover[other]).any()
        assert _cheb_distance_to(cover[other])[cover["train"]].min() > gap
    assert not (cover["val"] & cover["test"]).any()
    assert np.array_equal(s.patches("train", patch), patches_within(s.train, patch))


def test_block_split_3d_anisotropic_gap():
    s = block_split((8, 24, 24), block_shape=(4, 8, 8), val=0.2, test=0.2, gap=(1, 2, 2), seed=0)
    assert s.labels.shape == (8, 24, 24) and s.gap == (1, 2, 2) and s.block_shape == (4, 8, 8)
    n_blocks = len(s.train_blocks) + len(s.val_blocks) + len(s.test_blocks)
    assert n_blocks == 18
    assert (len(s.val_blocks), len(s.test_blocks)) == (4, 4)  # floor(3.6 + 0.5)
    # anisotropic separation: a kept pixel of another split lies outside the gap box
    labels = s.labels
    for sid in (TRAIN, VAL):
        higher = np.isin(labels, [t for t in (VAL, TEST) if t > sid])
        box = ndi.binary_dilation(higher, np.ones((3, 5, 5), bool))
        assert not (box & (labels == sid)).any()
    origins = patches_within(s.test, (2, 4, 4))
    assert origins.shape[1] == 3 and len(origins) > 0


def test_block_split_is_deterministic():
    a = block_split((32, 32), block_shape=8, gap=1, seed=9)
    b = block_split((32, 32), block_shape=8, gap=1, seed=9)
    c = block_split((32, 32), block_shape=8, gap=1, seed=10)
    assert np.array_equal(a.labels, b.labels) and a.test_blocks == b.test_blocks
    assert not np.array_equal(a.labels, c.labels)


def test_block_kfold_each_block_tested_once():
    folds = block_kfold((30, 40), (10, 10), k=4, gap=2, seed=0)
    assert len(folds) == 4
    tested = [tuple((a.start, a.stop) for a in sl) for f in folds for sl in f.test_blocks]
    assert len(tested) == 12 and len(set(tested)) == 12
    counts = np.zeros((30, 40), int)
    for f in folds:
        assert set(np.unique(f.labels).tolist()) == {EXCLUDED, TRAIN, TEST}
        assert f.val_blocks == [] and not f.val.any()
        assert len(f.train_blocks) + len(f.test_blocks) == 12
        _check_separation(f.labels, 2)
        counts += f.test
    assert np.all(counts == 1)  # every pixel is a test pixel in exactly one fold


def test_block_kfold_loo_over_blocks():
    folds = block_kfold((16, 16), 8, k="loo", seed=0)
    assert len(folds) == 4 and all(len(f.test_blocks) == 1 for f in folds)


def _brute_force_origins(mask, patch):
    out = []
    for o in itertools.product(*(range(s - p + 1) for s, p in zip(mask.shape, patch))):
        region = tuple(slice(a, a + p) for a, p in zip(o, patch))
        if mask[region].all():
            out.append(o)
    return np.array(out, dtype=np.intp).reshape(-1, mask.ndim)


@pytest.mark.parametrize(("shape", "patch"), [((12, 15), (3, 4)), ((6, 7, 8), (2, 3, 2))])
def test_patches_within_matches_brute_force(shape, patch):
    mask = np.random.default_rng(0).random(shape) > 0.15
    mask = ndi.binary_closing(mask, np.ones((3,) * len(shape)))
    expected = _brute_force_origins(mask, patch)
    got = patches_within(mask, patch)
    assert got.dtype == np.intp and np.array_equal(got, expected)
    assert len(expected) > 0


def test_patches_within_stride_and_edge_cases():
    mask = np.ones((9, 9), bool)
    got = patches_within(mask, 3, stride=3)
    assert got.tolist() == [[r, c] for r in (0, 3, 6) for c in (0, 3, 6)]
    assert patches_within(mask, (10, 2)).shape == (0, 2)  # patch larger than the mask
    assert patches_within(np.zeros((5, 5), bool), 2).shape == (0, 2)
    assert patches_within(mask, (9, 9)).tolist() == [[0, 0]]


def test_block_errors():
    with pytest.raises(ValueError, match=r"block_shape \(20, 20\) is bigger than the image shape"):
        block_split((16, 32), block_shape=20)
    with pytest.raises(
        ValueError,
        match=r"needs at least 3 blocks \(one per split\), got 2 with block_shape \(16, 16\)",
    ):
        block_split((16, 32), block_shape=16)
    with pytest.raises(ValueError, match=r"gap must be an int >= 0"):
        block_split((32, 32), block_shape=8, gap=-1)
    with pytest.raises(
        ValueError, match=r"block_shape must be an int >= 1 or one such int per axis"
    ):
        block_split((32, 32), block_shape=(8, 8, 8))
    with pytest.raises(ValueError, match=r"shape must be a tuple of positive ints"):
        block_split((32, 0), block_shape=8)
    with pytest.raises(ValueError, match=r"val \+ test must be < 1"):
        block_split((32, 32), block_shape=8, val=0.5, test=0.5)
    with pytest.raises(ValueError, match=r"k=5 folds need at least 5 blocks"):
        block_kfold((16, 16), 8, k=5)
    with pytest.raises(ValueError, match=r"block_shape .* is bigger than the image shape"):
        block_kfold((16, 16), 32, k=2)
    with pytest.raises(ValueError, match="name must be one of"):
        block_split((32, 32), block_shape=8).mask("validation")


def test_patches_within_errors():
    with pytest.raises(TypeError, match=r"split_mask must be a boolean array, got dtype uint8"):
        patches_within(np.ones((4, 4), np.uint8), 2)
    with pytest.raises(ValueError, match=r"patch_shape must be an int >= 1"):
        patches_within(np.ones((4, 4), bool), (2, 2, 2))
    with pytest.raises(ValueError, match=r"stride must be an int >= 1"):
        patches_within(np.ones((4, 4), bool), 2, stride=0)
