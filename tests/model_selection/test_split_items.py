import numpy as np
import pytest
from sklearn.model_selection import KFold

from biakit.model_selection import Split, kfold_indices, train_val_test_split


def _check_partition(split: Split) -> None:
    parts = np.concatenate([split.train, split.val, split.test])
    assert np.array_equal(np.sort(parts), np.arange(split.n))  # disjoint and complete
    for part in (split.train, split.val, split.test):
        assert np.array_equal(part, np.sort(part))


@pytest.mark.parametrize(
    ("n", "val", "test", "sizes"),
    [
        (10, 0.2, 0.2, (6, 2, 2)),
        (20, 0.15, 0.15, (14, 3, 3)),  # 3.0 -> 3
        (7, 0.15, 0.15, (5, 1, 1)),  # 1.05 -> 1
        (3, 0.15, 0.15, (1, 1, 1)),  # 0.45 -> 0, raised to the minimum of 1
        (10, 0.25, 0.05, (6, 3, 1)),  # 2.5 -> 3 (half up), 0.5 -> 1
        (5, 0.45, 0.45, (1, 2, 2)),  # 2.25 -> 2 each
        (4, 0.45, 0.45, (1, 1, 2)),  # 1.8 -> 2 each leaves no train: val gives one back
        (10, 0.0, 0.3, (7, 0, 3)),
        (2, 0.0, 0.1, (1, 0, 1)),
        (1, 0.0, 0.0, (1, 0, 0)),
    ],
)
def test_sizes_follow_documented_rounding(n, val, test, sizes):
    split = train_val_test_split(n, val=val, test=test, seed=3)
    _check_partition(split)
    assert (len(split.train), len(split.val), len(split.test)) == sizes


def test_same_seed_same_split_and_seeds_differ():
    a = train_val_test_split(50, seed=7)
    b = train_val_test_split(50, seed=7)
    c = train_val_test_split(50, seed=8)
    assert all(np.array_equal(getattr(a, s), getattr(b, s)) for s in ("train", "val", "test"))
    assert not np.array_equal(a.test, c.test)


def test_items_paths_and_array_stack():
    paths = [f"img_{i}.tif" for i in range(8)]
    split = train_val_test_split(paths, val=0.25, test=0.25, seed=0)
    assert split.items is paths
    assert split.subset("val") == [paths[i] for i in split.val]
    assert sorted(split.subset("train") + split.subset("val") + split.subset("test")) == paths
    stack = np.arange(6 * 4).reshape(6, 2, 2)
    split = train_val_test_split(stack, val=0.2, test=0.2, seed=1)
    assert split.n == 6
    assert np.array_equal(split.subset("test")[0], stack[split.test[0]])
    ids = split.assignment
    assert np.array_equal(np.flatnonzero(ids == 1), split.train)
    assert np.array_equal(np.flatnonzero(ids == 3), split.test)


def test_stratified_split_keeps_class_proportions():
    labels = np.array(["a"] * 15 + ["b"] * 5)
    split = train_val_test_split(20, val=0.2, test=0.2, seed=0, stratify=labels)
    _check_partition(split)
    assert (len(split.train), len(split.val), len(split.test)) == (12, 4, 4)
    for part, expected in ((split.train, (9, 3)), (split.val, (3, 1)), (split.test, (3, 1))):
        assert (np.sum(labels[part] == "a"), np.sum(labels[part] == "b")) == expected


def test_stratified_split_with_rare_class_still_exact_sizes():
    labels = np.array([0] * 8 + [1, 2])  # two singleton classes
    split = train_val_test_split(10, val=0.2, test=0.2, seed=5, stratify=labels)
    _check_partition(split)
    assert (len(split.train), len(split.val), len(split.test)) == (6, 2, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"items": 10, "val": 0.5, "test": 0.5}, r"val \+ test must be < 1"),
        ({"items": 10, "val": -0.1}, r"val must be a fraction in \[0, 1\)"),
        ({"items": 10, "test": 1.0}, r"test must be a fraction"),
        ({"items": 2}, r"needs at least 3 items \(one per split\), got 2"),
        ({"items": 1, "val": 0.0}, r"needs at least 2 items"),
        ({"items": -3}, r"items must be a non-negative count, got -3"),
        ({"items": 5, "stratify": [0, 1]}, r"stratify must have one label per item \(5\)"),
    ],
)
def test_split_errors(kwargs, match):
    items = kwargs.pop("items")
    with pytest.raises(ValueError, match=match):
        train_val_test_split(items, **kwargs)


def test_split_type_errors_and_subset_errors():
    with pytest.raises(TypeError, match="items must be an int or a sequence"):
        train_val_test_split(object())
    with pytest.raises(TypeError, match="items must be a count or a sequence"):
        train_val_test_split(True)
    split = train_val_test_split(5)
    with pytest.raises(ValueError, match="made from a count"):
        split.subset("train")
    with pytest.raises(ValueError, match="name must be one of"):
        split.indices("validation")


@pytest.mark.parametrize(("n", "k"), [(10, 3), (7, 7), (12, 5), (5, 2)])
def test_kfold_each_item_in_exactly_one_test_fold(n, k):
    folds = kfold_indices(n, k, seed=1)
    assert len(folds) == k
    tests = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tests), np.arange(n))
    for train, test in folds:
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
        assert len(test) in (n // k, n // k + 1)
    sizes = [len(test) for _, test in folds]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == n


def test_kfold_unshuffled_equals_sklearn():
    ours = kfold_indices(11, 4, shuffle=False)
    ref = list(KFold(4, shuffle=False).split(np.zeros(11)))
    for (tr, te), (rtr, rte) in zip(ours, ref):
        assert np.array_equal(tr, rtr) and np.array_equal(te, rte)


def test_kfold_deterministic_and_accepts_items():
    a = kfold_indices(20, 4, seed=2)
    b = kfold_indices(list(range(20)), 4, seed=2)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    c = kfold_indices(20, 4, seed=3)
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c))


def test_leave_one_out():
    for folds in (kfold_indices(6, "loo"), kfold_indices(6, 6), kfold_indices(6, "LOO")):
        assert len(folds) == 6
        assert sorted(int(test[0]) for _, test in folds) == list(range(6))
        for train, test in folds:
            assert len(test) == 1 and len(train) == 5 and test[0] not in train


@pytest.mark.parametrize(
    ("n", "k", "match"),
    [
        (5, 6, r"k=6 folds need at least 6 items, got n=5"),
        (5, 1, r"k must be at least 2 folds, got k=1"),
        (5, "all", r"k must be an int or 'loo', got 'all'"),
        (5, 2.5, r"k must be an int or 'loo', got 2.5"),
        (1, "loo", r"k must be at least 2 folds, got k=1"),
    ],
)
def test_kfold_errors(n, k, match):
    with pytest.raises(ValueError, match=match):
        kfold_indices(n, k)
