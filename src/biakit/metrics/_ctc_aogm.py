"""AOGM graph-correction counts (Matula et al. 2015) as py-ctcmetrics 1.3.3 counts them.

Vertices are the objects of each frame. Edges are *track links* (the same
label in two consecutive frames, semantic 0) and *parent links* (from a
parent's last frame to its child's first frame, semantic 1) for every
``L B E P`` row with ``P != 0``. The result graph is reduced to the vertices
matched to exactly one reference; its edges are then compared with the
reference edges through that matching.
"""

from __future__ import annotations

import numpy as np

from biakit.errors import DataError

from ._ctc_match import SequenceMatching, Vertices

#: CTC weights: split, false negative, false positive vertex; redundant,
#: missing edge, edge with wrong semantics.
W_NS, W_FN, W_FP, W_ED, W_EA, W_EC = 5.0, 10.0, 1.0, 1.0, 1.5, 1.0


def first_rows(table: np.ndarray) -> dict[int, np.ndarray]:
    """Map each track label to its first ``L B E P`` row (as py-ctcmetrics looks it up)."""
    labels, first = np.unique(table[:, 0], return_index=True)
    return {int(lab): table[i] for lab, i in zip(labels, first, strict=True)}


def graph_edges(v: Vertices, table: np.ndarray, name: str) -> np.ndarray:
    """Edges ``(source, target, semantic)`` as vertex indices, track links first."""
    nxt = v.index(v.t + 1, v.label)
    src = np.flatnonzero(nxt >= 0)
    links = [np.stack([src, nxt[src], np.zeros_like(src)], axis=1)]
    children = table[table[:, 3] != 0]
    if len(children):
        rows = first_rows(table)
        missing = [int(p) for p in children[:, 3] if int(p) not in rows]
        if missing:
            raise DataError(f"{name}: parent {missing[0]} has no L B E P line of its own")
        parent_end = np.array([rows[int(p)][2] for p in children[:, 3]], np.int64)
        a = v.index(parent_end, children[:, 3])
        b = v.index(children[:, 1], children[:, 0])
        bad = np.flatnonzero((a < 0) | (b < 0))
        if bad.size:
            k = bad[0]
            lab, t = (children[k, 3], parent_end[k]) if a[k] < 0 else children[k, :2]
            raise DataError(
                f"{name}: track {int(lab)} is not in its mask at frame {int(t)} "
                "(needed for a parent link)"
            )
        links.append(np.stack([a, b, np.ones_like(a)], axis=1))
    return np.concatenate(links).astype(np.int64)


def aogm_counts(
    m: SequenceMatching, ref_table: np.ndarray, comp_table: np.ndarray
) -> dict[str, int]:
    """Count the AOGM operations that turn the result graph into the reference."""
    n_r = m.ref.n
    mult = m.comp_multiplicity()
    tp = int(np.unique(m.ref_index).size)
    single, split = int(np.sum(mult == 1)), int(np.sum(mult > 1))
    counts = {
        "tp": tp,
        "fn": n_r - tp,
        "fp": int(np.sum(mult == 0)),
        "vs": split,
        "ns": tp - (single + split),
        "n_vertices": n_r,
        "n_result_vertices": m.comp.n,
    }
    e_r = graph_edges(m.ref, ref_table, "gt_table")
    e_c = graph_edges(m.comp, comp_table, "res_table")
    comp_to_ref = np.full(m.comp.n, -1, np.int64)
    one = mult[m.comp_index] == 1
    comp_to_ref[m.comp_index[one]] = m.ref_index[one]
    a, b = comp_to_ref[e_c[:, 0]], comp_to_ref[e_c[:, 1]]
    keep = (a >= 0) & (b >= 0)
    key_c = a[keep] * max(n_r, 1) + b[keep]
    sem_c = e_c[keep, 2]
    key_r = e_r[:, 0] * max(n_r, 1) + e_r[:, 1]
    _, ic, ir = np.intersect1d(key_c, key_r, assume_unique=True, return_indices=True)
    counts["ed"] = int(key_c.size - ic.size)
    counts["ea"] = int(key_r.size - ir.size)
    counts["ec"] = int(np.sum(sem_c[ic] != e_r[ir, 2]))
    counts["n_edges"] = int(key_r.size)
    return counts
