"""Biological CTC measures (Ulman et al. 2017) as py-ctcmetrics 1.3.3 computes them.

CT (complete tracks), TF (track fractions), BC(i) (branching correctness) and
CCA (cell cycle accuracy). A reference vertex is *assigned* to a result label
when it is matched to a result object that covers no other reference in that
frame; otherwise its assignment is 0.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from biakit.errors import DataError

from ._ctc_aogm import first_rows
from ._ctc_match import SequenceMatching


def _ref_rows(m: SequenceMatching, ref_table: np.ndarray) -> np.ndarray:
    """``L B E P`` row of each reference vertex's label (its first line in the table)."""
    labels, first = np.unique(ref_table[:, 0], return_index=True)
    pos = np.searchsorted(labels, m.ref.label)
    pos = np.minimum(pos, max(labels.size - 1, 0))
    missing = labels.size == 0 or np.any(labels[pos] != m.ref.label)
    if m.ref.n and missing:
        k = int(np.argmax(labels[pos] != m.ref.label)) if labels.size else 0
        raise DataError(
            f"gt_table: label {int(m.ref.label[k])} is in the ground-truth mask of frame "
            f"{int(m.ref.t[k])} but has no L B E P line"
        )
    return ref_table[first[pos]] if m.ref.n else np.zeros((0, 4), np.int64)


def complete_tracks(m: SequenceMatching, ref_table: np.ndarray, comp_table: np.ndarray) -> float:
    """Complete tracks, ``CT = 2 T_rc / (T_r + T_c)``.

    ``T_rc`` counts reference tracks assigned to one result label only, whose
    track has the same begin and end frame (as in the tables).
    """
    n_rc = 0
    if m.ref.n:
        value = m.unique_comp_of_ref()
        rows = _ref_rows(m, ref_table)
        labels, first, inv = np.unique(m.ref.label, return_index=True, return_inverse=True)
        lo = np.full(labels.size, np.iinfo(np.int64).max)
        hi = np.zeros(labels.size, np.int64)
        np.minimum.at(lo, inv, value)
        np.maximum.at(hi, inv, value)
        comp_rows = first_rows(comp_table)
        for k in np.flatnonzero((lo == hi) & (lo > 0)):
            row = comp_rows.get(int(lo[k]))
            ref = rows[first[k]]
            n_rc += int(row is not None and row[1] == ref[1] and row[2] == ref[2])
    return float(2 * n_rc / (len(ref_table) + len(comp_table)))


def _fractions(m: SequenceMatching, ref_table: np.ndarray) -> dict[tuple[int, int], float]:
    """Return ``{(comp, ref): fraction}``, the longest assigned runs.

    A run is a stretch of consecutive frames in which a reference track is
    assigned to one result label; the fraction is its length over the
    reference track's length.
    """
    if m.ref.n == 0:
        return {}
    rows = _ref_rows(m, ref_table)
    value = m.unique_comp_of_ref()
    inside = (m.ref.t >= rows[:, 1]) & (m.ref.t <= rows[:, 2])
    order = np.lexsort((m.ref.t[inside], m.ref.label[inside]))
    lab = m.ref.label[inside][order]
    t = m.ref.t[inside][order]
    val = value[inside][order]
    length = (rows[inside, 2] - rows[inside, 1] + 1)[order]
    cont = np.zeros(lab.size, bool)
    cont[1:] = (lab[1:] == lab[:-1]) & (t[1:] == t[:-1] + 1) & (val[1:] == val[:-1])
    cont &= val > 0
    run = np.cumsum(~cont) - 1
    run_len = np.bincount(run)
    start = np.flatnonzero(~cont & (val > 0))
    best: dict[tuple[int, int], float] = {}
    for s in start:
        key = (int(val[s]), int(lab[s]))
        frac = run_len[run[s]] / int(length[s])
        best[key] = max(best.get(key, 0.0), frac)
    return best


def track_fractions(m: SequenceMatching, ref_table: np.ndarray) -> float:
    """TF: mean over detected reference tracks of their largest assigned fraction.

    Result labels are visited in ascending order, and for each one its reference
    tracks in ascending order; a fraction of exactly 1 ends the visit of that
    result label (py-ctcmetrics keeps this order dependence of the CTC code).
    """
    fractions = _fractions(m, ref_table)
    tfs = dict.fromkeys((int(v) for v in ref_table[:, 0]), 0.0)
    by_comp: dict[int, list[tuple[int, float]]] = {}
    for (comp, ref), frac in sorted(fractions.items()):
        by_comp.setdefault(comp, []).append((ref, frac))
    for _comp, refs in sorted(by_comp.items()):
        for ref, frac in refs:
            if tfs[ref] == 1:
                continue
            tfs[ref] = max(tfs[ref], frac)
            if frac == 1:
                break
    found = [x for x in tfs.values() if x > 0]
    return float(np.mean(np.asarray(found))) if found else 0.0


def _dividing(table: np.ndarray) -> np.ndarray:
    parents, counts = np.unique(table[:, 3], return_counts=True)
    return parents[(parents > 0) & (counts > 1)]


def _division_matches(
    lookup: tuple[dict, dict],
    ref: tuple[int, int, list[tuple[int, int]]],
    comp: tuple[int, int, list[tuple[int, int]]],
    tol: int,
) -> bool:
    """py-ctcmetrics' ``is_matching`` for one reference and one result division."""
    ref_to_comp, comp_count = lookup
    (rid, rend, rkids), (cid, cend, ckids) = ref, comp
    if len(rkids) != len(ckids) or abs(rend - cend) > tol:
        return False
    t = min(rend, cend)
    if ref_to_comp.get((t, rid)) != cid or comp_count.get((t, cid), 0) != 1:
        return False
    matched: list[int] = []
    for i, ti in rkids:
        for j, tj in ckids:
            if abs(ti - tj) > tol:
                continue
            tmax = max(ti, tj)
            if comp_count.get((tmax, j), 0) != 1:
                continue
            if ref_to_comp.get((tmax, i)) == j:
                if j not in matched:
                    matched.append(j)
                break
    return len(matched) == len(rkids)


def _divisions(table: np.ndarray) -> list[tuple[int, int, list[tuple[int, int]]]]:
    rows = first_rows(table)
    out = []
    for p in _dividing(table):
        kids = [(int(r[0]), int(rows[int(r[0])][1])) for r in table[table[:, 3] == p]]
        out.append((int(p), int(rows[int(p)][2]), kids))
    return out


def division_counts(
    m: SequenceMatching, ref_table: np.ndarray, comp_table: np.ndarray, tolerances: Iterable[int]
) -> list[tuple[int, int, int]]:
    """``(tp, fp, fn)`` of divisions for each temporal tolerance ``i``."""
    ref_div, comp_div = _divisions(ref_table), _divisions(comp_table)
    mult = m.comp_multiplicity()
    ref_to_comp = {
        (int(m.ref.t[r]), int(m.ref.label[r])): int(m.comp.label[c])
        for r, c in zip(m.ref_index, m.comp_index, strict=True)
    }
    comp_count = {
        (int(t), int(lab)): int(k) for t, lab, k in zip(m.comp.t, m.comp.label, mult, strict=True)
    }
    out = []
    for tol in tolerances:
        if not ref_div or not comp_div:
            out.append((0, len(comp_div), len(ref_div)))
            continue
        tp = sum(
            _division_matches((ref_to_comp, comp_count), r, c, tol)
            for c in comp_div
            for r in ref_div
            if abs(r[1] - c[1]) <= tol
        )
        out.append((tp, len(comp_div) - tp, len(ref_div) - tp))
    return out


def branching_scores(tp: int, fp: int, fn: int) -> tuple[float, float, float | None]:
    """Division precision, recall and BC (their F1; None without reference divisions)."""
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    if tp + fn == 0:
        return precision, recall, None
    return precision, recall, 2 * (precision * recall) / max(precision + recall, 0.0001)


def _cycle_lengths(table: np.ndarray) -> np.ndarray:
    dividing = _dividing(table)
    ok = np.isin(table[:, 0], dividing) & np.isin(table[:, 3], dividing)
    return table[ok, 2] - table[ok, 1]


def cell_cycle_accuracy(ref_table: np.ndarray, comp_table: np.ndarray) -> float | None:
    """Cell cycle accuracy: 1 - largest gap between cumulative length histograms.

    Lengths ``E - B`` of complete cell cycles (tracks that start and end with
    a division). None without such reference tracks, 0 without such result
    tracks.
    """
    ref_len, comp_len = _cycle_lengths(ref_table), _cycle_lengths(comp_table)
    if ref_len.size == 0:
        return None
    if comp_len.size == 0:
        return 0.0
    n = int(max(ref_len.max(), comp_len.max())) + 1
    cum_ref = np.cumsum(np.bincount(ref_len, minlength=n) / ref_len.size)
    cum_comp = np.cumsum(np.bincount(comp_len, minlength=n) / comp_len.size)
    return float(1 - np.max(np.abs(cum_ref - cum_comp)))
