"""StarDist-equivalent optimal matching on a sparse candidate graph.

StarDist solves one dense Hungarian problem on the cost matrix
``-(score >= thresh) - score / (2 * n_matched)`` over all ``n_true x n_pred``
pairs.  Because every score is in ``[0, 1]``, this lexicographically
maximises (1) the number of assigned pairs with ``score >= thresh`` and then
(2) the total score of *all* assigned pairs.  Pairs without overlap have
weight 0 (for ``thresh > 0``), so the same optimum is reached by a maximum
weight matching on the overlapping pairs only, solved here

* trivially for candidate edges that are isolated in the candidate graph (no
  other candidate edge touches either object): every optimum contains them;
* with a dense :func:`scipy.optimize.linear_sum_assignment` per connected
  component of the remaining overlap graph, when the component is small;
* with :func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching` on a
  dummy-augmented graph when a component is large.

Components without a candidate edge do not change any reported number and
are only solved when the matched pairs are requested.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

DENSE_LIMIT = 1_000_000
"""Largest ``rows * cols`` of a component solved with the dense Hungarian."""


def _dense(r: np.ndarray, c: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Return the indices of the edges a dense Hungarian picks on one component."""
    ur, ri = np.unique(r, return_inverse=True)
    uc, ci = np.unique(c, return_inverse=True)
    cost = np.zeros((len(ur), len(uc)))
    cost[ri, ci] = -w
    edge = np.full((len(ur), len(uc)), -1, np.int64)
    edge[ri, ci] = np.arange(len(w))
    a, b = linear_sum_assignment(cost)
    chosen = edge[a, b]
    return chosen[chosen >= 0]


def _sparse(r: np.ndarray, c: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Maximum weight (not necessarily full) matching via a full matching.

    Rows are real rows followed by one dummy row per real column; columns are
    real columns followed by one dummy column per real row.  Dummy edges
    (row i -> its dummy column, dummy row of j -> column j, dummy row of j ->
    dummy column of i for every real edge (i, j)) cost ``big``; a real edge
    costs ``big - w``.  Every full matching has ``nr + nc`` edges, so the
    minimum cost one maximises the total weight of the real edges it uses.
    """
    ur, ri = np.unique(r, return_inverse=True)
    uc, ci = np.unique(c, return_inverse=True)
    nr, nc = len(ur), len(uc)
    big = 2.0 * max(float(w.max()), 1.0)
    ar, ac = np.arange(nr), np.arange(nc)
    rows = np.concatenate([ri, ar, nr + ac, nr + ci])
    cols = np.concatenate([ci, nc + ar, ac, nc + ri])
    cost = np.concatenate([big - w, np.full(nr + nc + len(w), big)])
    graph = coo_matrix((cost, (rows, cols)), shape=(nr + nc, nr + nc)).tocsr()
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    real = (row_ind < nr) & (col_ind < nc)
    keys = ri.astype(np.int64) * nc + ci
    order = np.argsort(keys, kind="stable")
    found = row_ind[real].astype(np.int64) * nc + col_ind[real]
    return order[np.searchsorted(keys, found, sorter=order)]


def optimal_matching(
    rows: np.ndarray,
    cols: np.ndarray,
    scores: np.ndarray,
    n_true: int,
    n_pred: int,
    thresh: float,
    *,
    solve_all: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve StarDist's assignment restricted to overlapping pairs.

    Parameters
    ----------
    rows, cols : ndarray of int
        True / predicted object index of every overlapping pair.
    scores : ndarray of float
        Score (> 0) of every pair.
    n_true, n_pred : int
        Number of objects; ``min(n_true, n_pred) > 0``.
    thresh : float
        Matching threshold (inclusive, compared in float32 as StarDist does).
    solve_all : bool
        Also solve components without a candidate pair (only changes which
        sub-threshold pairs are reported, never a metric).

    Returns
    -------
    chosen : ndarray of int
        Indices of the pairs in the optimal assignment.
    candidate : ndarray of bool
        Per pair: ``float32(score) >= float32(thresh)``.
    """
    n_matched = min(n_true, n_pred)
    s32 = scores.astype(np.float32)
    thr32 = np.float32(thresh)
    candidate = s32 >= thr32
    tiebreak = (s32 / np.float32(2 * n_matched)).astype(np.float64)
    # thresh <= 0: every pair (even without overlap) is a candidate, the count is fixed.
    weight = tiebreak if thr32 <= 0 else candidate + tiebreak
    if len(rows) == 0:
        return np.zeros(0, np.int64), candidate

    deg_r = np.bincount(rows[candidate], minlength=n_true)
    deg_c = np.bincount(cols[candidate], minlength=n_pred)
    forced = candidate & (deg_r[rows] == 1) & (deg_c[cols] == 1)
    taken_r = np.zeros(n_true, bool)
    taken_c = np.zeros(n_pred, bool)
    taken_r[rows[forced]] = True
    taken_c[cols[forced]] = True
    rest = np.flatnonzero(~taken_r[rows] & ~taken_c[cols])
    chosen = [np.flatnonzero(forced)]
    if len(rest):
        chosen.extend(_solve_components(rows, cols, weight, candidate, rest, n_true, solve_all))
    return np.sort(np.concatenate(chosen)), candidate


def _solve_components(
    rows: np.ndarray,
    cols: np.ndarray,
    weight: np.ndarray,
    candidate: np.ndarray,
    rest: np.ndarray,
    n_true: int,
    solve_all: bool,
) -> list[np.ndarray]:
    """Solve every connected component of the pairs ``rest`` separately."""
    n_nodes = n_true + int(cols[rest].max()) + 1
    graph = coo_matrix(
        (np.ones(len(rest)), (rows[rest], n_true + cols[rest])), shape=(n_nodes, n_nodes)
    )
    _, comp = connected_components(graph, directed=False)
    edge_comp = comp[rows[rest]]
    if not solve_all:
        wanted = np.zeros(comp.max() + 1, bool)
        wanted[edge_comp[candidate[rest]]] = True
        keep = wanted[edge_comp]
        rest, edge_comp = rest[keep], edge_comp[keep]
    order = np.argsort(edge_comp, kind="stable")
    rest, edge_comp = rest[order], edge_comp[order]
    bounds = np.flatnonzero(np.r_[True, edge_comp[1:] != edge_comp[:-1], True])
    out = []
    for lo, hi in itertools.pairwise(bounds):
        idx = rest[lo:hi]
        r, c, w = rows[idx], cols[idx], weight[idx]
        if len(idx) == 1:
            out.append(idx)
        elif len(np.unique(r)) * len(np.unique(c)) <= DENSE_LIMIT:
            out.append(idx[_dense(r, c, w)])
        else:
            out.append(idx[_sparse(r, c, w)])
    return out
