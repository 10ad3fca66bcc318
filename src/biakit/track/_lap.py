"""Sparse linear assignment with a cost for leaving a row or a column unassigned."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching


def assign(
    row: np.ndarray,
    col: np.ndarray,
    cost: np.ndarray,
    row_alt: np.ndarray,
    col_alt: np.ndarray,
) -> np.ndarray:
    """Choose candidate links of least total cost, each row and column used once at most.

    The total cost is that of the chosen links plus ``row_alt`` of every row and
    ``col_alt`` of every column left unassigned (Jaqaman et al. 2008's augmented
    matrix: links, alternatives on two diagonals, and the transposed link
    pattern so that a full matching always exists), solved by
    :func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching`.

    Parameters
    ----------
    row, col : ndarray of int, shape (k,)
        Candidate links (row index, column index); pairs must be unique.
    cost : ndarray of float, shape (k,)
        Cost of each candidate.
    row_alt, col_alt : ndarray of float
        Cost of leaving each row / column unassigned.

    Returns
    -------
    ndarray of bool, shape (k,)
        Which candidates are chosen.

    Examples
    --------
    >>> assign(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([1.0, 2.0, 1.5]),
    ...        np.full(2, 5.0), np.full(2, 5.0)).tolist()
    [False, True, True]
    """
    row, col = np.asarray(row, np.int64), np.asarray(col, np.int64)
    cost = np.asarray(cost, np.float64)
    chosen = np.zeros(row.size, bool)
    # A link dearer than leaving both ends alone is never chosen.
    keep = np.flatnonzero(cost < row_alt[row] + col_alt[col])
    if not keep.size:
        return chosen
    rows_used, r = np.unique(row[keep], return_inverse=True)
    cols_used, c = np.unique(col[keep], return_inverse=True)
    n_r, n_c = rows_used.size, cols_used.size
    # Costs shifted by 1 (every full matching has n_r + n_c entries): no zero weights.
    i = np.concatenate([r, np.arange(n_r), n_r + np.arange(n_c), n_r + c])
    j = np.concatenate([c, n_c + np.arange(n_r), np.arange(n_c), n_c + r])
    w = np.concatenate([cost[keep], row_alt[rows_used], col_alt[cols_used], np.zeros(keep.size)])
    w = w - w.min() + 1.0
    size = n_r + n_c
    matrix = csr_matrix((w, (i, j)), shape=(size, size))
    rows_m, cols_m = min_weight_full_bipartite_matching(matrix)
    match = np.full(size, -1, np.int64)
    match[rows_m] = cols_m
    chosen[keep] = match[r] == c
    return chosen
