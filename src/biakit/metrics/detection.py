"""Detection metrics: one-to-one matching of predicted and true points.

A true point ``t`` and a predicted point ``p`` *can* match when their
Euclidean distance in physical units,
``d = sqrt(sum(((t - p) * spacing) ** 2))`` (float64), satisfies
``d <= tolerance`` -- the boundary is **inclusive**.  Among all one-to-one
matchings of such pairs the one with the **most matches** is chosen, and
among those the one with the **smallest total distance** (a linear sum
assignment, solved exactly per connected component of the candidate graph).

With ``tp`` matches, ``n_true`` true and ``n_pred`` predicted points:
``fp = n_pred - tp``, ``fn = n_true - tp``,
``precision = tp / n_pred``, ``recall = tp / n_true``,
``f1 = 2 tp / (n_true + n_pred)``.  As in StarDist's ``matching``, a ratio
with a zero denominator is **0** (so two empty point sets give
precision = recall = f1 = 0).  ``mean_distance`` is the mean localisation
error of the matched pairs, NaN when there are none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from biakit.validation import check_finite, check_spacing

__all__ = ["DetectionMatching", "match_points", "match_points_dataset"]


@dataclass(frozen=True, slots=True, eq=False)
class DetectionMatching:
    """Result of :func:`match_points` (formulas in the module docstring).

    Attributes
    ----------
    tolerance : float
        Largest matching distance (inclusive), physical units.
    tp, fp, fn, n_true, n_pred : int
        Counts.
    precision, recall, f1 : float
        Detection scores (0 for a zero denominator).
    mean_distance : float
        Mean distance of the matched pairs (NaN if ``tp == 0``).
    matched_pairs : ndarray of int, shape (tp, 2), optional
        ``(index into true_points, index into pred_points)`` of each match.
    distances : ndarray of float, shape (tp,), optional
        Distance of each matched pair.
    per_class : dict, optional
        For multi-class matching: class value -> :class:`DetectionMatching`.
    """

    tolerance: float
    tp: int
    fp: int
    fn: int
    n_true: int
    n_pred: int
    precision: float
    recall: float
    f1: float
    mean_distance: float
    matched_pairs: np.ndarray | None = None
    distances: np.ndarray | None = None
    per_class: dict[Any, DetectionMatching] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        """Return counts and scores as a plain dict (for tables and reports)."""
        names = ("tp", "fp", "fn", "n_true", "n_pred", "precision", "recall", "f1")
        return {**{n: getattr(self, n) for n in names}, "mean_distance": self.mean_distance}


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


def pooled_detection_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Pool per-image ``tp``, ``n_true``, ``n_pred`` into data-set precision, recall, F1.

    Counts are summed over images before the ratios are taken; an empty
    denominator gives 0 (StarDist's convention).

    Examples
    --------
    >>> rows = [{"tp": 2, "n_true": 3, "n_pred": 2}, {"tp": 1, "n_true": 1, "n_pred": 2}]
    >>> pooled_detection_counts(rows)["f1"]
    0.75
    """
    rows = list(rows)
    tp = int(sum(r["tp"] for r in rows))
    n_true = int(sum(r["n_true"] for r in rows))
    n_pred = int(sum(r["n_pred"] for r in rows))
    return {
        "tp": tp, "fp": n_pred - tp, "fn": n_true - tp, "n_true": n_true, "n_pred": n_pred,
        "precision": _ratio(tp, n_pred), "recall": _ratio(tp, n_true),
        "f1": _ratio(2 * tp, n_true + n_pred),
    }  # fmt: skip


def pool_detection_matchings(matchings: Iterable[DetectionMatching]) -> DetectionMatching:
    """Pool per-image matchings into one data-set :class:`DetectionMatching`.

    Counts are summed over images before the ratios are taken (as
    :func:`pooled_detection_counts`); ``mean_distance`` is the mean over all
    matched pairs; ``matched_pairs`` is None (indices are per image).

    Examples
    --------
    >>> a = match_points([[0, 0], [5, 5]], [[0, 1]], tolerance=2)
    >>> b = match_points([[3, 3]], [[3, 3], [9, 9]], tolerance=2)
    >>> p = pool_detection_matchings([a, b])
    >>> p.tp, p.fp, p.fn, round(p.f1, 4), p.mean_distance
    (2, 1, 1, 0.6667, 0.5)
    """
    matchings = list(matchings)
    tolerances = {m.tolerance for m in matchings}
    if len(tolerances) > 1:
        raise ValueError(f"cannot pool matchings at different tolerances {sorted(tolerances)}")
    dist = [m.distances for m in matchings if m.distances is not None]
    return _summary(
        tolerances.pop() if tolerances else 0.0,
        sum(m.n_true for m in matchings),
        sum(m.n_pred for m in matchings),
        None,
        np.concatenate(dist) if dist else np.zeros(0),
    )


def _summary(
    tolerance: float,
    n_true: int,
    n_pred: int,
    pairs: np.ndarray | None,
    dist: np.ndarray,
    per_class: dict | None = None,
) -> DetectionMatching:
    tp = int(dist.size)
    for arr in (pairs, dist):
        if arr is not None:
            arr.setflags(write=False)
    return DetectionMatching(
        tolerance=float(tolerance),
        tp=tp,
        fp=n_pred - tp,
        fn=n_true - tp,
        n_true=n_true,
        n_pred=n_pred,
        precision=_ratio(tp, n_pred),
        recall=_ratio(tp, n_true),
        f1=_ratio(2 * tp, n_true + n_pred),
        mean_distance=float(dist.mean()) if tp else float("nan"),
        matched_pairs=pairs,
        distances=dist,
        per_class=per_class or {},
    )


def _check_points(points: Any, name: str, ndim: int | None) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64) if np.size(points) else np.asarray(points)
    if arr.size == 0:
        return np.zeros((0, ndim or 0), dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be an (N, ndim) array of coordinates, got shape {arr.shape}")
    if ndim is not None and arr.shape[1] != ndim:
        raise ValueError(
            f"true_points and pred_points must have the same number of coordinates, "
            f"got {ndim} and {arr.shape[1]}"
        )
    return check_finite(arr, name=name)


def _assign(true_phys: np.ndarray, pred_phys: np.ndarray, tolerance: float):
    """Max-cardinality, min-total-distance matching of pairs within ``tolerance``."""
    empty = np.zeros((0, 2), dtype=np.intp), np.zeros(0, dtype=np.float64)
    if len(true_phys) == 0 or len(pred_phys) == 0:
        return empty
    # generous KD-tree radius, then the exact (documented) distance decides
    radius = tolerance * (1 + 1e-9) + 1e-12
    cand = cKDTree(true_phys).sparse_distance_matrix(
        cKDTree(pred_phys), radius, output_type="ndarray"
    )
    ti, pj = cand["i"].astype(np.intp), cand["j"].astype(np.intp)
    d = np.sqrt(np.sum((true_phys[ti] - pred_phys[pj]) ** 2, axis=1))
    ok = d <= tolerance
    ti, pj, d = ti[ok], pj[ok], d[ok]
    if ti.size == 0:
        return empty
    nt, npr = len(true_phys), len(pred_phys)
    graph = coo_matrix((np.ones(ti.size), (ti, nt + pj)), shape=(nt + npr, nt + npr))
    _, comp = connected_components(graph, directed=False)
    edge_comp = comp[ti]
    n_edges = np.bincount(edge_comp)
    single = n_edges[edge_comp] == 1  # isolated candidate pairs match directly
    out_t, out_p = [ti[single]], [pj[single]]
    ti, pj, d, edge_comp = ti[~single], pj[~single], d[~single], edge_comp[~single]
    order = np.argsort(edge_comp, kind="stable")
    ti, pj, d, edge_comp = ti[order], pj[order], d[order], edge_comp[order]
    bounds = np.flatnonzero(np.diff(edge_comp)) + 1
    starts = np.r_[0, bounds] if ti.size else np.zeros(0, dtype=np.intp)
    for lo, hi in zip(starts, np.r_[bounds, ti.size]):
        rows, ri = np.unique(ti[lo:hi], return_inverse=True)
        cols, ci = np.unique(pj[lo:hi], return_inverse=True)
        # candidate cost d - big (< 0) beats "no match" (0): more matches always win,
        # then the total distance is minimal; big exceeds any sum of distances.
        big = tolerance * (min(rows.size, cols.size) + 1) + 1.0
        cost = np.zeros((rows.size, cols.size))
        is_cand = np.zeros((rows.size, cols.size), dtype=bool)
        cost[ri, ci] = d[lo:hi] - big
        is_cand[ri, ci] = True
        r_sel, c_sel = linear_sum_assignment(cost)
        keep = is_cand[r_sel, c_sel]
        out_t.append(rows[r_sel[keep]])
        out_p.append(cols[c_sel[keep]])
    pairs = np.stack([np.concatenate(out_t), np.concatenate(out_p)], axis=1).astype(np.intp)
    pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
    dist = np.sqrt(np.sum((true_phys[pairs[:, 0]] - pred_phys[pairs[:, 1]]) ** 2, axis=1))
    return pairs, dist


def _check_classes(classes_true: Any, classes_pred: Any, n_true: int, n_pred: int):
    if (classes_true is None) != (classes_pred is None):
        raise ValueError(
            "classes_true and classes_pred must be given together (multi-class matching) "
            "or both left as None"
        )
    if classes_true is None:
        return None, None
    ct, cp = np.asarray(classes_true).ravel(), np.asarray(classes_pred).ravel()
    for name, arr, n in (("classes_true", ct, n_true), ("classes_pred", cp, n_pred)):
        if arr.size != n:
            raise ValueError(f"{name} has {arr.size} entries but there are {n} points")
    return ct, cp


def match_points(
    true_points: Any,
    pred_points: Any,
    *,
    tolerance: float,
    spacing: float | Sequence[float] | None = None,
    classes_true: Any = None,
    classes_pred: Any = None,
    return_pairs: bool = True,
) -> DetectionMatching:
    """Match predicted to true points one-to-one within a distance tolerance.

    Parameters
    ----------
    true_points, pred_points : array_like, shape (N, ndim) and (M, ndim)
        Point coordinates in pixels, in array axis order (e.g. ``(z, y, x)``);
        2D or 3D (any ``ndim``).  Empty inputs are allowed.
    tolerance : float
        Largest distance (inclusive, physical units) at which a pair may match.
    spacing : float or sequence of float, optional
        Physical size of a pixel along each axis (default 1; a scalar: the same
        on every axis): coordinates are multiplied by it before distances are
        taken, so anisotropic data (e.g. ``(2.0, 0.2, 0.2)``) is matched in
        true distances.
    classes_true, classes_pred : array_like, optional
        Class of each point; points only match within the same class.  The
        result then holds the pooled counts and a ``per_class`` dict.
    return_pairs : bool
        Store ``matched_pairs`` and ``distances`` (indices into the inputs).

    Returns
    -------
    DetectionMatching

    Raises
    ------
    ParameterError
        For a wrong ``spacing`` length or a non-positive spacing.
    DataError
        For NaN or infinite coordinates.
    ValueError
        For a negative or non-finite tolerance, bad point arrays, or
        inconsistent class arrays.

    Examples
    --------
    >>> true = [[10, 10], [20, 20], [40, 5]]
    >>> pred = [[10, 13], [21, 20], [80, 80]]
    >>> m = match_points(true, pred, tolerance=3)
    >>> m.tp, m.fp, m.fn, m.f1
    (2, 1, 1, 0.6666666666666666)
    >>> m.matched_pairs.tolist(), m.mean_distance
    ([[0, 0], [1, 1]], 2.0)
    """
    tol = float(tolerance)
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    t = _check_points(true_points, "true_points", None)
    p = _check_points(pred_points, "pred_points", t.shape[1] if t.size else None)
    if t.size == 0 and p.size:
        t = np.zeros((0, p.shape[1]))
    ndim = t.shape[1]
    if ndim == 0:  # both sets empty: take the dimensionality from spacing, if any
        ndim = 0 if spacing is None or np.ndim(spacing) == 0 else len(spacing)
        t = p = np.zeros((0, ndim))
    sp = np.asarray(check_spacing(spacing, ndim) or (1.0,) * ndim)
    ct, cp = _check_classes(classes_true, classes_pred, len(t), len(p))
    t_phys, p_phys = t * sp, p * sp
    if ct is None:
        pairs, dist = _assign(t_phys, p_phys, tol)
        return _summary(tol, len(t), len(p), pairs if return_pairs else None, dist)
    per_class, all_pairs, all_dist = {}, [], []
    for c in np.union1d(ct, cp).tolist():
        it, ip = np.flatnonzero(ct == c), np.flatnonzero(cp == c)
        pairs, dist = _assign(t_phys[it], p_phys[ip], tol)
        pairs = np.stack([it[pairs[:, 0]], ip[pairs[:, 1]]], axis=1) if len(pairs) else pairs
        per_class[c] = _summary(tol, it.size, ip.size, pairs if return_pairs else None, dist)
        all_pairs.append(pairs)
        all_dist.append(dist)
    pairs = np.concatenate([np.zeros((0, 2), np.intp), *all_pairs])
    dist = np.concatenate([np.zeros(0), *all_dist])
    order = np.argsort(pairs[:, 0], kind="stable")
    pairs, dist = pairs[order], dist[order]
    return _summary(tol, len(t), len(p), pairs if return_pairs else None, dist, per_class)


def match_points_dataset(
    pairs: Iterable[tuple[Any, Any]],
    *,
    tolerance: float,
    spacing: float | Sequence[float] | None = None,
    aggregate: Literal["pooled", "mean"] = "pooled",
) -> DetectionMatching:
    """Point matching over a data set of ``(true_points, pred_points)`` pairs.

    Parameters
    ----------
    pairs : iterable of (array_like, array_like)
        Point sets per image.
    tolerance, spacing
        As in :func:`match_points`.
    aggregate : {"pooled", "mean"}
        ``"pooled"``: scores from the summed counts, ``mean_distance`` over all
        matched pairs.  ``"mean"``: every score is the mean of the per-image
        scores (images without matches are skipped for ``mean_distance``);
        counts are still summed.

    Returns
    -------
    DetectionMatching
        Without ``matched_pairs``.

    Examples
    --------
    >>> a = ([[0, 0], [5, 5]], [[0, 1]])
    >>> b = ([[0, 0]], [[0, 0]])
    >>> match_points_dataset([a, b], tolerance=2).recall
    0.6666666666666666
    >>> match_points_dataset([a, b], tolerance=2, aggregate="mean").recall
    0.75
    """
    if aggregate not in ("pooled", "mean"):
        raise ValueError(f"aggregate must be 'pooled' or 'mean', got {aggregate!r}")
    results = [
        match_points(t, p, tolerance=tolerance, spacing=spacing, return_pairs=False)
        for t, p in pairs
    ]
    if not results:
        raise ValueError("pairs is empty; expected at least one (true_points, pred_points) pair")
    n_true = sum(r.n_true for r in results)
    n_pred = sum(r.n_pred for r in results)
    dist = np.concatenate([r.distances for r in results])
    pooled = _summary(float(tolerance), n_true, n_pred, None, dist)
    if aggregate == "pooled":
        return pooled
    dists = [r.mean_distance for r in results if r.tp]
    return DetectionMatching(
        tolerance=pooled.tolerance,
        tp=pooled.tp,
        fp=pooled.fp,
        fn=pooled.fn,
        n_true=n_true,
        n_pred=n_pred,
        precision=float(np.mean([r.precision for r in results])),
        recall=float(np.mean([r.recall for r in results])),
        f1=float(np.mean([r.f1 for r in results])),
        mean_distance=float(np.mean(dists)) if dists else float("nan"),
        distances=pooled.distances,
    )
