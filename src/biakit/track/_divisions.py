"""Division (splitting) candidates and their costs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

if TYPE_CHECKING:
    from biakit.track._link import Scene

_SPLIT_GAP = 2  # a daughter may start up to this many frames after its mother's detection
_SISTER_SPREAD = 0.1  # relative intensity difference of sister cells (sd)
_SUM_SLACK = 0.1  # |log(daughters' area / mother's)| allowed without cost


def _siblings(scene: Scene, nxt: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Find the other daughter of each (mother, daughter) candidate, -1 where none.

    When the mother's track goes on, its detection in the daughter's frame;
    otherwise the track start of that frame nearest to the mirror image of the
    daughter about the mother's predicted position.
    """
    t, x = scene.t, scene.x
    dt = t[d] - t[m]
    s = m.copy()
    for k in range(1, _SPLIT_GAP + 1):
        step = (dt >= k) & (s >= 0)
        s[step] = nxt[s[step]]
    s[(s >= 0) & (t[np.maximum(s, 0)] != t[d])] = -1
    lone = np.flatnonzero(s < 0)
    if not lone.size:
        return s
    is_start = np.zeros(t.size, bool)
    is_start[d] = True  # every candidate daughter is a track start
    mirror = 2 * (x[m[lone]] + scene.motion.drift * dt[lone, None]) - x[d[lone]]
    for f in np.unique(t[d[lone]]):
        here = lone[t[d[lone]] == f]
        pool = scene.by_frame[int(f)]
        pool = pool[is_start[pool]]
        if pool.size < 2:
            continue
        _, near = cKDTree(x[pool]).query(mirror[np.searchsorted(lone, here)], k=2)
        first = pool[near[:, 0]]
        s[here] = np.where(first != d[here], first, pool[near[:, 1]])
    return s


def split_cost(scene: Scene, m: np.ndarray, d: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Cost of mother ``m`` dividing into ``d`` and ``s`` (same frame).

    Geometry: the daughters' midpoint lies at the mother's predicted position
    (a Brownian midpoint: variance ``sigma^2 dt / 2``). Size: the daughters
    alike, neither larger than the mother, together about as large. Intensity: the daughters alike
    (sd at least 10 % of the mother's). Plus ``division_penalty``, and
    ``gap_penalty`` per frame a daughter was missed.
    """
    mo, cfg = scene.motion, scene.config
    dt = (scene.t[d] - scene.t[m]).astype(np.float64)
    pred = scene.x[m] + mo.drift * dt[:, None]
    mid = (scene.x[d] + scene.x[s]) / 2
    cost = ((mid - pred) ** 2).sum(axis=1) / (mo.sigma**2 * dt) + cfg.division_penalty
    cost += cfg.gap_penalty * (dt - 1)  # a daughter missed in its first frame
    if scene.area is not None and cfg.size_weight > 0 and np.isfinite(mo.size_sd):
        a = np.log(scene.area)
        terms = (a[d] - a[s]) ** 2 + np.maximum(a[d] - a[m], 0) ** 2
        terms += np.maximum(a[s] - a[m], 0) ** 2
        # Together about the mother's size (within e^0.1; Jaqaman et al.'s intensity rule).
        together = np.log(scene.area[d] + scene.area[s]) - a[m]
        terms += np.maximum(np.abs(together) - _SUM_SLACK, 0) ** 2
        cost += cfg.size_weight * terms / (2 * mo.size_sd**2)
    if scene.intensity is not None and cfg.intensity_weight > 0 and np.isfinite(mo.intensity_sd):
        # Sisters differ more than one cell between frames: at least 10 % of the mother's.
        sd = np.maximum(mo.intensity_sd, _SISTER_SPREAD * np.abs(scene.intensity[m]))
        diff = scene.intensity[d] - scene.intensity[s]
        cost += cfg.intensity_weight * diff**2 / (2 * sd**2 + 1e-300)
    return cost


def split_candidates(
    scene: Scene, nxt: np.ndarray, starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mother, daughter, cost) for every detection and track start 1-2 frames later.

    Candidates lie within ``split_distance`` of the mother's predicted position
    (plus one step per extra frame); those without a sibling are dropped.
    """
    from biakit.track._link import pairs_within

    is_start = np.zeros(scene.t.size, bool)
    is_start[starts] = True
    ms, ds = [], []
    for f, mothers in scene.by_frame.items():
        for dt in range(1, _SPLIT_GAP + 1):
            dst = scene.by_frame.get(f + dt)
            if dst is None:
                continue
            dst = dst[is_start[dst]]
            pos = scene.x[mothers] + scene.motion.drift * dt
            radius = scene.split_distance + scene.step * (dt - 1)
            m, d = pairs_within(mothers, pos, dst, scene.x[dst], radius)
            ms.append(m)
            ds.append(d)
    if not ms:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    m, d = np.concatenate(ms), np.concatenate(ds)
    s = _siblings(scene, nxt, m, d)
    ok = s >= 0
    m, d, s = m[ok], d[ok], s[ok]
    return m, d, split_cost(scene, m, d, s)


def merge_candidates(
    scene: Scene, prv: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(track end, merged detection, cost): an end joining a track one frame later.

    The merged detection ``n`` (which already continues a track from ``p``)
    should lie at the midpoint of both predicted positions and, with areas,
    be as large as both together. Plus ``division_penalty``.
    """
    from biakit.track._link import pairs_within

    mo, cfg = scene.motion, scene.config
    is_end = np.zeros(scene.t.size, bool)
    is_end[ends] = True
    es, ns = [], []
    for f, src in scene.by_frame.items():
        dst = scene.by_frame.get(f + 1)
        src = src[is_end[src]]
        if dst is None or not src.size:
            continue
        dst = dst[prv[dst] >= 0]
        e, n = pairs_within(src, scene.x[src] + mo.drift, dst, scene.x[dst], scene.step)
        es.append(e)
        ns.append(n)
    if not es:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    e, n = np.concatenate(es), np.concatenate(ns)
    p = prv[n]
    mid = (scene.x[e] + scene.x[p]) / 2 + mo.drift
    cost = ((scene.x[n] - mid) ** 2).sum(axis=1) / mo.sigma**2 + cfg.division_penalty
    if scene.area is not None and cfg.size_weight > 0 and np.isfinite(mo.size_sd):
        ratio = np.log(scene.area[n] / (scene.area[e] + scene.area[p]))
        cost += cfg.size_weight * ratio**2 / (2 * mo.size_sd**2)
    return e, n, cost
