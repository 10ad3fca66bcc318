import itertools

import numpy as np
import pytest

from biakit.errors import DataError, ParameterError
from biakit.metrics import DetectionMatching, match_points, match_points_dataset


def _brute_force(true, pred, tol, spacing=None):
    """Best (max matches, then min total distance) over all one-to-one assignments."""
    sp = np.ones(true.shape[1]) if spacing is None else np.asarray(spacing, float)
    d = np.sqrt((((true[:, None] - pred[None]) * sp) ** 2).sum(-1))
    best = (0, 0.0)
    n_t, n_p = len(true), len(pred)
    for k in range(min(n_t, n_p), 0, -1):
        found = None
        for rows in itertools.combinations(range(n_t), k):
            for cols in itertools.permutations(range(n_p), k):
                dd = d[list(rows), list(cols)]
                if (dd <= tol).all() and (found is None or dd.sum() < found):
                    found = dd.sum()
        if found is not None:
            best = (k, found)
            break
    return best


def test_example_counts_and_pairs():
    m = match_points([[10, 10], [20, 20], [40, 5]], [[10, 13], [21, 20], [80, 80]], tolerance=3)
    assert isinstance(m, DetectionMatching)
    assert (m.tp, m.fp, m.fn, m.n_true, m.n_pred) == (2, 1, 1, 3, 3)
    assert m.precision == m.recall == m.f1 == 2 / 3
    assert m.matched_pairs.tolist() == [[0, 0], [1, 1]]
    assert m.distances.tolist() == [3.0, 1.0] and m.mean_distance == 2.0


def test_tolerance_boundary_is_inclusive():
    true, pred = [[0.0, 0.0]], [[3.0, 4.0]]  # distance exactly 5
    assert match_points(true, pred, tolerance=5.0).tp == 1
    assert match_points(true, pred, tolerance=np.nextafter(5.0, 0)).tp == 0
    # also with a spacing where the product is not exactly representable
    assert match_points([[0, 0]], [[0, 3]], tolerance=0.3, spacing=(1, 0.1)).tp == (
        int(np.sqrt((3 * 0.1) ** 2) <= 0.3)
    )


def test_one_pred_near_two_trues_matches_one():
    m = match_points([[0, 0], [0, 2]], [[0, 1.2]], tolerance=2)
    assert (m.tp, m.fp, m.fn) == (1, 0, 1)
    assert m.matched_pairs.tolist() == [[1, 0]]  # the closer one (0.8 vs 1.2)


def test_maximises_matches_before_distance():
    # greedy nearest would pair t0-p0 (0.5) and leave t1 unmatched; optimum has 2 matches
    true = np.array([[0.0, 0.0], [0.0, -1.4]])
    pred = np.array([[0.0, -0.5], [0.0, 1.0]])
    m = match_points(true, pred, tolerance=1.0)
    assert m.tp == 2 and m.matched_pairs.tolist() == [[0, 1], [1, 0]]
    assert m.mean_distance == pytest.approx((1.0 + 0.9) / 2)


def test_anisotropic_spacing_changes_match():
    true = [[0, 0, 0]]
    pred = [[1, 0, 0], [0, 0, 2]]  # one z-step vs two x-steps
    iso = match_points(true, pred, tolerance=1.5)
    assert iso.matched_pairs.tolist() == [[0, 0]]
    aniso = match_points(true, pred, tolerance=1.5, spacing=(2.0, 0.5, 0.5))
    assert aniso.matched_pairs.tolist() == [[0, 1]] and aniso.mean_distance == 1.0
    assert match_points(true, pred[:1], tolerance=1.5, spacing=(2.0, 0.5, 0.5)).tp == 0


@pytest.mark.parametrize("ndim", [2, 3])
def test_random_against_brute_force(ndim):
    rng = np.random.default_rng(ndim)
    for _ in range(60):
        n_t, n_p = rng.integers(0, 6, size=2)
        true = rng.uniform(0, 6, size=(n_t, ndim))
        pred = rng.uniform(0, 6, size=(n_p, ndim))
        spacing = rng.uniform(0.5, 2, size=ndim) if rng.random() < 0.5 else None
        tol = float(rng.uniform(0.5, 3))
        m = match_points(true, pred, tolerance=tol, spacing=spacing)
        k, total = _brute_force(true, pred, tol, spacing)
        assert m.tp == k
        assert m.distances.sum() == pytest.approx(total, abs=1e-9)
        assert (m.distances <= tol).all()
        assert len(set(m.matched_pairs[:, 0])) == len(set(m.matched_pairs[:, 1])) == k


def test_empty_inputs_policy():
    both = match_points(np.zeros((0, 2)), np.zeros((0, 2)), tolerance=1)
    assert (both.tp, both.fp, both.fn, both.precision, both.recall, both.f1) == (0, 0, 0, 0, 0, 0)
    assert np.isnan(both.mean_distance)
    no_pred = match_points([[1, 2, 3]], [], tolerance=1)
    assert (no_pred.fn, no_pred.recall, no_pred.precision) == (1, 0.0, 0.0)
    no_true = match_points([], [[1, 2]], tolerance=1)
    assert (no_true.fp, no_true.precision) == (1, 0.0)
    assert match_points([], [], tolerance=1, spacing=(1, 2, 3)).n_true == 0


def test_multiclass_matches_within_class_only():
    true = [[0, 0], [10, 10], [20, 20]]
    pred = [[0, 1], [10, 11], [20, 21]]
    m = match_points(
        true, pred, tolerance=2, classes_true=["a", "b", "a"], classes_pred=["a", "a", "a"]
    )
    assert (m.tp, m.fp, m.fn) == (2, 1, 1)
    assert m.matched_pairs.tolist() == [[0, 0], [2, 2]]
    assert m.per_class["a"].tp == 2 and m.per_class["a"].fp == 1
    assert m.per_class["b"].fn == 1 and m.per_class["b"].recall == 0.0


def test_no_pairs_option_and_readonly():
    m = match_points([[0, 0]], [[0, 0]], tolerance=0, return_pairs=False)
    assert m.tp == 1 and m.matched_pairs is None and m.mean_distance == 0.0
    with pytest.raises(AttributeError):
        m.tp = 3


def test_dataset_pooled_and_mean():
    a = ([[0, 0], [5, 5]], [[0, 1]])
    b = ([[0, 0]], [[0, 0], [9, 9]])
    pooled = match_points_dataset([a, b], tolerance=2)
    assert (pooled.tp, pooled.fp, pooled.fn) == (2, 1, 1)
    assert pooled.recall == 2 / 3 and pooled.mean_distance == 0.5
    mean = match_points_dataset([a, b], tolerance=2, aggregate="mean")
    assert mean.recall == (0.5 + 1.0) / 2 and mean.precision == (1.0 + 0.5) / 2
    assert mean.mean_distance == 0.5


def test_scalar_spacing_equals_repeated_sequence():
    true, pred = [[0, 0, 0], [5, 5, 5]], [[0, 1, 1], [5, 7, 5]]
    scalar = match_points(true, pred, tolerance=1.0, spacing=0.6)
    seq = match_points(true, pred, tolerance=1.0, spacing=(0.6, 0.6, 0.6))
    assert (scalar.tp, scalar.fp, scalar.fn) == (seq.tp, seq.fp, seq.fn) == (1, 1, 1)
    np.testing.assert_array_equal(scalar.distances, seq.distances)
    assert match_points([], [], tolerance=1, spacing=2.0).n_true == 0


def test_errors():
    with pytest.raises(ValueError, match="tolerance must be a finite number >= 0, got -1"):
        match_points([[0, 0]], [[0, 0]], tolerance=-1)
    with pytest.raises(ValueError, match=r"true_points must be an \(N, ndim\) array.*\(2,\)"):
        match_points([0, 0], [[0, 0]], tolerance=1)
    with pytest.raises(ValueError, match="same number of coordinates, got 2 and 3"):
        match_points([[0, 0]], [[0, 0, 0]], tolerance=1)
    with pytest.raises(DataError, match="pred_points has 1 NaN and 0 infinite"):
        match_points([[0, 0]], [[0, np.nan]], tolerance=1)
    with pytest.raises(ParameterError, match=r"spacing has 3 value\(s\) .* 2 spatial axes"):
        match_points([[0, 0]], [[0, 0]], tolerance=1, spacing=(1, 1, 1))
    with pytest.raises(ParameterError, match="spacing must be positive finite numbers"):
        match_points([[0, 0]], [[0, 0]], tolerance=1, spacing=0)
    with pytest.raises(ValueError, match="classes_true and classes_pred must be given together"):
        match_points([[0, 0]], [[0, 0]], tolerance=1, classes_true=[1])
    with pytest.raises(ValueError, match="classes_pred has 2 entries but there are 1 points"):
        match_points([[0, 0]], [[0, 0]], tolerance=1, classes_true=[1], classes_pred=[1, 2])
    with pytest.raises(ValueError, match="aggregate must be 'pooled' or 'mean'"):
        match_points_dataset([], tolerance=1, aggregate="sum")
    with pytest.raises(ValueError, match="pairs is empty"):
        match_points_dataset([], tolerance=1)
