"""Gap closing and division (splitting) by one global assignment over track ends and starts."""

from __future__ import annotations

import numpy as np

from biakit.track._divisions import merge_candidates, split_candidates
from biakit.track._lap import assign
from biakit.track._link import Scene, pairs_within, step_cost

_HISTORY = 3  # frames of a track used to estimate its velocity


def chain(edges: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Next and previous node along one-to-one links (-1 where none)."""
    nxt = np.full(n, -1, np.int64)
    prv = np.full(n, -1, np.int64)
    nxt[edges[:, 0]] = edges[:, 1]
    prv[edges[:, 1]] = edges[:, 0]
    return nxt, prv


def persistence(scene: Scene, prv: np.ndarray) -> float:
    """Variance of a track's own velocity around the drift (0 for pure Brownian motion).

    The covariance of consecutive steps (after the drift) of linked detections,
    pooled over axes, clipped at 0.
    """
    node = np.flatnonzero(prv >= 0)
    p = prv[node]
    node, p = node[prv[p] >= 0], p[prv[p] >= 0]
    if node.size < 10:
        return 0.0
    d, s = scene.motion.drift, scene.motion.sigma
    r2 = np.clip(scene.x[node] - scene.x[p] - d, -4 * s, 4 * s)
    r1 = np.clip(scene.x[p] - scene.x[prv[p]] - d, -4 * s, 4 * s)
    return max(float(np.mean(r1 * r2)), 0.0)


def end_velocity(scene: Scene, prv: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Predicted velocity at each track end: the drift plus the shrunk own velocity."""
    tau2 = persistence(scene, prv)
    vel = np.tile(scene.motion.drift, (ends.size, 1))
    if tau2 == 0 or not ends.size:
        return vel
    back = ends.copy()
    for _ in range(_HISTORY):
        back = np.where(prv[back] >= 0, prv[back], back)
    k = (scene.t[ends] - scene.t[back]).astype(np.float64)
    has = k > 0
    own = (scene.x[ends[has]] - scene.x[back[has]]) / k[has, None]
    weight = tau2 / (tau2 + scene.motion.sigma**2 / k[has])
    vel[has] += weight[:, None] * (own - scene.motion.drift)
    return vel


def gap_candidates(
    scene: Scene, ends: np.ndarray, starts: np.ndarray, vel: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Track end -> track start links 1 to ``max_gap + 1`` frames later, with costs."""
    is_start = np.zeros(scene.t.size, bool)
    is_start[starts] = True
    where = np.full(scene.t.size, -1, np.int64)
    where[ends] = np.arange(ends.size)
    rows, cols = [], []
    ends_by_frame = {f: idx[np.isin(idx, ends)] for f, idx in scene.by_frame.items()}
    for f, src in ends_by_frame.items():
        for dt in range(1, scene.config.max_gap + 2):
            dst = scene.by_frame.get(f + dt)
            if dst is None or not src.size:
                continue
            dst = dst[is_start[dst]]
            pos = scene.x[src] + vel[where[src]] * dt
            i, j = pairs_within(src, pos, dst, scene.x[dst], scene.step * np.sqrt(dt))
            rows.append(i)
            cols.append(j)
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    i, j = np.concatenate(rows), np.concatenate(cols)
    return i, j, step_cost(scene, i, j, vel[where[i]])


def _cheapest(
    row: np.ndarray, col: np.ndarray, cost: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One candidate per (row, column): the cheapest."""
    order = np.lexsort((cost, col, row))
    row, col, cost = row[order], col[order], cost[order]
    first = np.ones(row.size, bool)
    first[1:] = (row[1:] != row[:-1]) | (col[1:] != col[:-1])
    return row[first], col[first], cost[first]


def close_gaps(scene: Scene, edges: np.ndarray) -> np.ndarray:
    """Find new links: gap closing between track ends and starts, and divisions.

    Rows of the assignment are track ends (to link onward) and, for divisions,
    every detection once more (to take a second daughter); columns are track
    starts and, for merges, every detection once more (to take a second
    parent). Leaving an end or a start unlinked costs ``scene.alt``; not
    dividing or merging costs nothing.
    """
    n = scene.t.size
    nxt, prv = chain(edges, n)
    ends, starts = np.flatnonzero(nxt < 0), np.flatnonzero(prv < 0)
    if not ends.size:
        return np.zeros((0, 2), np.int64)
    vel = end_velocity(scene, prv, ends)
    i, j, cost = gap_candidates(scene, ends, starts, vel)
    rows, cols, costs = [i], [j], [cost]
    if scene.config.divisions:
        m, d, c = split_candidates(scene, nxt, starts)
        rows.append(m + n)  # second row of a detection: its extra daughter
        cols.append(d)
        costs.append(c)
        # A track end may take its first daughter at the same cost (daughters can
        # lie farther than one step from their mother).
        end = nxt[m] < 0
        rows.append(m[end])
        cols.append(d[end])
        costs.append(c[end])
    if scene.config.merges:
        e, m, c = merge_candidates(scene, prv, ends)
        rows.append(e)
        cols.append(m + n)  # second column of a detection: its extra parent
        costs.append(c)
    row, col, cost = _cheapest(np.concatenate(rows), np.concatenate(cols), np.concatenate(costs))
    row_alt = np.concatenate([np.full(n, scene.alt), np.zeros(n)])
    col_alt = np.concatenate([np.full(n, scene.alt), np.zeros(n)])
    chosen = assign(row, col, cost, row_alt, col_alt)
    return np.stack([row[chosen] % n, col[chosen] % n], axis=1)
