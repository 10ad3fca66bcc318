"""Item-level splits: train / validation / test and k-fold indices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

SPLIT_NAMES = ("train", "val", "test")
"""Split names; their ids in label maps are 1, 2 and 3 (0 = excluded)."""


def _n_items(items: Any, name: str = "items") -> int:
    """Return the number of items in ``items`` (a count, a sequence or an array stack)."""
    if isinstance(items, (bool, np.bool_)):
        raise TypeError(f"{name} must be a count or a sequence, got {items!r}")
    if isinstance(items, (int, np.integer)):
        if items < 0:
            raise ValueError(f"{name} must be a non-negative count, got {int(items)}")
        return int(items)
    try:
        return len(items)
    except TypeError:
        raise TypeError(
            f"{name} must be an int or a sequence with len() (paths, arrays), "
            f"got {type(items).__name__}"
        ) from None


def _check_fractions(val: float, test: float) -> tuple[float, float]:
    """Validate the validation / test fractions."""
    for name, value in (("val", val), ("test", test)):
        if not (isinstance(value, (int, float, np.number)) and 0 <= float(value) < 1):
            raise ValueError(f"{name} must be a fraction in [0, 1), got {value!r}")
    if float(val) + float(test) >= 1:
        raise ValueError(
            f"val + test must be < 1 so that training data remain, got val={val} + test={test}"
        )
    return float(val), float(test)


def _split_sizes(
    n: int, val: float, test: float, what: str = "items", hint: str = ""
) -> tuple[int, int, int]:
    """Sizes ``(n_train, n_val, n_test)`` of an ``n``-item split.

    Each non-empty split gets ``floor(fraction * n + 0.5)`` items (round half
    up), at least one; if that leaves no training item, the larger of val / test
    (val on ties) gives one back until one does.
    """
    val, test = _check_fractions(val, test)
    needed = 1 + (val > 0) + (test > 0)
    if n < needed:
        names = ", ".join(s for s, f in zip(SPLIT_NAMES, (1, val, test)) if f > 0)
        raise ValueError(
            f"splitting into {names} needs at least {needed} {what} (one per split), got {n}{hint}"
        )
    n_val = max(1, int(np.floor(val * n + 0.5))) if val > 0 else 0
    n_test = max(1, int(np.floor(test * n + 0.5))) if test > 0 else 0
    while n - n_val - n_test < 1:
        if n_val >= n_test and n_val > 1:
            n_val -= 1
        else:
            n_test -= 1
    return n - n_val - n_test, n_val, n_test


def _apportion(counts: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """Integer table ``(n_classes, 3)`` with row sums ``counts`` and column sums ``sizes``.

    Cells start at the floor of the proportional share; the leftovers go to the
    largest fractional parts, then to any cell whose row and column still lack items.
    """
    counts = np.asarray(counts, dtype=np.int64)
    sizes_arr = np.asarray(sizes, dtype=np.int64)
    ideal = counts[:, None] * sizes_arr[None, :] / counts.sum()
    table = np.floor(ideal).astype(np.int64)
    frac = ideal - table
    order = np.argsort(-frac, axis=None, kind="stable")
    for flat in order:
        c, s = np.unravel_index(flat, table.shape)
        if table[c].sum() < counts[c] and table[:, s].sum() < sizes_arr[s]:
            table[c, s] += 1
    for c in range(len(counts)):
        for s in range(len(sizes_arr)):
            extra = min(counts[c] - table[c].sum(), sizes_arr[s] - table[:, s].sum())
            if extra > 0:
                table[c, s] += extra
    return table


@dataclass(frozen=True, eq=False)
class Split:
    """Indices of a train / validation / test split of ``n`` items.

    Attributes
    ----------
    train, val, test : numpy.ndarray
        Sorted integer indices into the items; disjoint, together ``0 .. n-1``.
    n : int
        Number of items.
    items : sequence or None
        The items that were split (``None`` when only a count was given).

    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    n: int
    items: Sequence[Any] | None = None

    def indices(self, name: str) -> np.ndarray:
        """Return the indices of split ``name`` (``"train"``, ``"val"`` or ``"test"``)."""
        if name not in SPLIT_NAMES:
            raise ValueError(f"name must be one of {SPLIT_NAMES}, got {name!r}")
        return getattr(self, name)

    def subset(self, name: str) -> list[Any]:
        """Items of split ``name``, in index order."""
        if self.items is None:
            raise ValueError("this split was made from a count; pass the items to subset them")
        return [self.items[int(i)] for i in self.indices(name)]

    @property
    def assignment(self) -> np.ndarray:
        """Split id per item: 1 = train, 2 = val, 3 = test."""
        out = np.zeros(self.n, dtype=np.uint8)
        for sid, name in enumerate(SPLIT_NAMES, start=1):
            out[self.indices(name)] = sid
        return out


def train_val_test_split(
    items: Sequence[Any] | np.ndarray | int,
    *,
    val: float = 0.15,
    test: float = 0.15,
    seed: int = 0,
    stratify: Sequence[Any] | np.ndarray | None = None,
) -> Split:
    """Split items (images) at random into training, validation and test sets.

    Parameters
    ----------
    items : sequence, array or int
        The items (paths, arrays, a stack whose first axis indexes images) or
        just their number.
    val, test : float
        Fractions of items for validation and testing, each in ``[0, 1)`` with
        ``val + test < 1``. A split with a positive fraction gets
        ``floor(fraction * n + 0.5)`` items (round half up) but at least one;
        training gets the rest (at least one; if rounding left none, the larger of
        val / test, val on ties, gives items back).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same split.
    stratify : sequence, optional
        One class label per item; the split sizes stay as above and each class is
        spread over the splits in proportion to its size (largest remainders).

    Returns
    -------
    split : Split
        Sorted, disjoint index arrays covering all items.

    Raises
    ------
    ValueError
        If fractions are out of range, there are fewer items than non-empty
        splits, or ``stratify`` has the wrong length.

    Examples
    --------
    >>> s = train_val_test_split(10, val=0.2, test=0.2, seed=1)
    >>> len(s.train), len(s.val), len(s.test)
    (6, 2, 2)
    >>> train_val_test_split(["a.tif", "b.tif", "c.tif"], seed=0).subset("test")
    ['b.tif']

    """
    n = _n_items(items)
    sizes = _split_sizes(n, val, test)
    rng = np.random.default_rng(seed)
    if stratify is None:
        groups = [rng.permutation(n)]
        table = np.asarray([sizes])
    else:
        labels = np.asarray(stratify)
        if labels.shape != (n,):
            raise ValueError(
                f"stratify must have one label per item ({n}), got shape {labels.shape}"
            )
        classes, inverse = np.unique(labels, return_inverse=True)
        groups = [rng.permutation(np.flatnonzero(inverse == c)) for c in range(len(classes))]
        table = _apportion(np.asarray([len(g) for g in groups]), sizes)
    parts: list[list[np.ndarray]] = [[], [], []]
    for group, row in zip(groups, table):
        bounds = np.cumsum([0, *row])
        for s in range(3):
            parts[s].append(group[bounds[s] : bounds[s + 1]])
    train, val_idx, test_idx = (np.sort(np.concatenate(p)).astype(np.intp) for p in parts)
    kept = None if isinstance(items, (int, np.integer)) else items
    return Split(train=train, val=val_idx, test=test_idx, n=n, items=kept)


def kfold_indices(
    n: int | Sequence[Any] | np.ndarray,
    k: int | Literal["loo"] = 5,
    *,
    shuffle: bool = True,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train / test indices of k-fold cross-validation (leave-one-out with ``k="loo"``).

    Parameters
    ----------
    n : int or sequence
        Number of items, or the items themselves.
    k : int or "loo"
        Number of folds, ``2 <= k <= n``; ``"loo"`` (or ``k = n``) is
        leave-one-out. The first ``n % k`` folds get ``n // k + 1`` test items, the
        others ``n // k`` (as scikit-learn's ``KFold``, which this equals with
        ``shuffle=False``).
    shuffle : bool
        Permute the items (with ``seed``) before cutting them into folds.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    folds : list of (train_idx, test_idx)
        Sorted integer arrays; every item is in exactly one test fold.

    Raises
    ------
    ValueError
        If ``k`` is not an integer in ``[2, n]`` or ``"loo"``.

    Examples
    --------
    >>> [test.tolist() for _, test in kfold_indices(5, 2, shuffle=False)]
    [[0, 1, 2], [3, 4]]
    >>> len(kfold_indices(4, "loo"))
    4

    """
    count = _n_items(n, "n")
    if isinstance(k, str):
        if k.lower() != "loo":
            raise ValueError(f"k must be an int or 'loo', got {k!r}")
        k = count
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be an int or 'loo', got {k!r}")
    if k < 2:
        raise ValueError(f"k must be at least 2 folds, got k={k}")
    if k > count:
        raise ValueError(f"k={k} folds need at least {k} items, got n={count}; lower k")
    order = np.random.default_rng(seed).permutation(count) if shuffle else np.arange(count)
    sizes = np.full(k, count // k)
    sizes[: count % k] += 1
    bounds = np.cumsum([0, *sizes])
    folds = []
    for f in range(k):
        test = np.sort(order[bounds[f] : bounds[f + 1]]).astype(np.intp)
        train = np.setdiff1d(np.arange(count), test).astype(np.intp)
        folds.append((train, test))
    return folds
