"""Sparse assignment with alternatives against a dense solver (scipy's linear_sum_assignment)."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from biakit.track._lap import assign


def _dense_optimum(n_r, n_c, row, col, cost, row_alt, col_alt):
    """Best total cost by the dense augmented matrix (forbidden = 1e9)."""
    big = 1e9
    m = np.full((n_r + n_c, n_c + n_r), big)
    m[row, col] = cost
    m[np.arange(n_r), n_c + np.arange(n_r)] = row_alt
    m[n_r + np.arange(n_c), np.arange(n_c)] = col_alt
    m[n_r:, n_c:] = 0.0  # any dummy may pair with any dummy
    r, c = linear_sum_assignment(m)
    return m[r, c].sum()


def _total(chosen, row, col, cost, row_alt, col_alt):
    used_r, used_c = row[chosen], col[chosen]
    assert np.unique(used_r).size == used_r.size and np.unique(used_c).size == used_c.size
    free_r = np.setdiff1d(np.arange(row_alt.size), used_r)
    free_c = np.setdiff1d(np.arange(col_alt.size), used_c)
    return cost[chosen].sum() + row_alt[free_r].sum() + col_alt[free_c].sum()


@pytest.mark.parametrize("seed", range(20))
def test_assign_reaches_the_dense_optimum(seed):
    rng = np.random.default_rng(seed)
    n_r, n_c = rng.integers(1, 9, 2)
    dense = rng.random((n_r, n_c)) < 0.5
    row, col = np.nonzero(dense)
    cost = rng.uniform(0, 10, row.size)
    row_alt, col_alt = rng.uniform(0, 6, n_r), rng.uniform(0, 6, n_c)
    chosen = assign(row, col, cost, row_alt, col_alt)
    best = _dense_optimum(n_r, n_c, row, col, cost, row_alt, col_alt)
    assert _total(chosen, row, col, cost, row_alt, col_alt) == pytest.approx(best)


def test_assign_without_candidates_or_with_only_dear_ones():
    empty = np.zeros(0, np.int64)
    assert assign(empty, empty, np.zeros(0), np.ones(2), np.ones(2)).size == 0
    out = assign(np.array([0]), np.array([0]), np.array([5.0]), np.ones(1), np.ones(1))
    assert out.tolist() == [False]  # 5 > 1 + 1: both stay unassigned
