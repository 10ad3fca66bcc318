"""Cell Tracking Challenge matching of result objects to reference objects.

Every object (label) of every frame is a *vertex*. A result vertex ``C`` is
matched to a reference vertex ``R`` of the same frame when it covers more than
half of it, ``|R & C| > 0.5 |R|`` (strict), as in the CTC's AOGM measure and in
py-ctcmetrics' ``match``; at most one result object can do that, while one
result object may cover several references (a merge). Overlaps come from the
sparse contingency table of :mod:`biakit.metrics._overlap`, one frame at a
time (a bincount over foreground pixels), never from a dense confusion matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._overlap import sparse_overlap


@dataclass(frozen=True)
class Vertices:
    """All objects of a sequence: frame index and label, sorted by ``(t, label)``."""

    t: np.ndarray
    label: np.ndarray

    @property
    def n(self) -> int:
        """Number of vertices."""
        return int(self.t.size)

    def index(self, t: np.ndarray, label: np.ndarray) -> np.ndarray:
        """Return the vertex index of each ``(t, label)`` pair, -1 where there is none."""
        t = np.asarray(t, np.int64)
        label = np.asarray(label, np.int64)
        if self.n == 0:
            return np.full(t.shape, -1, np.int64)
        base = int(self.label.max()) + 1
        keys = self.t * base + self.label  # sorted, as the vertices are
        inside = (label >= 0) & (label < base) & (t >= 0)
        query = t * base + np.where(inside, label, 0)
        pos = np.minimum(np.searchsorted(keys, query), self.n - 1)
        return np.where(inside & (keys[pos] == query), pos, -1)


@dataclass(frozen=True)
class SequenceMatching:
    """Reference and result vertices and the matched pairs.

    Attributes
    ----------
    ref, comp : Vertices
        Objects of the reference and result masks.
    ref_index, comp_index : ndarray of int64
        Matched pairs as vertex indices (each reference at most once).
    iou : ndarray of float64
        Jaccard index of each matched pair.
    """

    ref: Vertices
    comp: Vertices
    ref_index: np.ndarray
    comp_index: np.ndarray
    iou: np.ndarray

    def comp_multiplicity(self) -> np.ndarray:
        """Count the references each result vertex is matched to."""
        return np.bincount(self.comp_index, minlength=self.comp.n)

    def unique_comp_of_ref(self) -> np.ndarray:
        """Per reference vertex: its result label when that result covers only it, else 0."""
        value = np.zeros(self.ref.n, np.int64)
        single = self.comp_multiplicity()[self.comp_index] == 1
        value[self.ref_index[single]] = self.comp.label[self.comp_index[single]]
        return value


def match_frame(ref: np.ndarray, comp: np.ndarray) -> tuple[np.ndarray, ...]:
    """Match the objects of one frame.

    Returns
    -------
    ref_labels, comp_labels : ndarray of int64
        Sorted non-zero labels of each frame.
    rows, cols : ndarray of int64
        Matched pairs as indices into ``ref_labels`` / ``comp_labels``.
    iou : ndarray of float64
        Jaccard index of each matched pair.
    """
    ov = sparse_overlap(ref, comp)
    hit = 2 * ov.counts > ov.true_areas[ov.rows]
    rows, cols, inter = ov.rows[hit], ov.cols[hit], ov.counts[hit]
    union = ov.true_areas[rows] + ov.pred_areas[cols] - inter
    iou = inter / np.maximum(union, 1).astype(np.float64)
    ref_labels = np.asarray(ov.true_labels, np.int64)
    comp_labels = np.asarray(ov.pred_labels, np.int64)
    return ref_labels, comp_labels, rows, cols, iou


def match_sequence(
    ref_frames: Sequence[np.ndarray], comp_frames: Sequence[np.ndarray]
) -> SequenceMatching:
    """Match every frame of two equally long sequences of label images."""
    rt, rl, ct, cl, ri, ci, ious = [], [], [], [], [], [], []
    n_ref = n_comp = 0
    for t, (ref, comp) in enumerate(zip(ref_frames, comp_frames, strict=True)):
        ref_labels, comp_labels, rows, cols, iou = match_frame(ref, comp)
        rt.append(np.full(ref_labels.size, t, np.int64))
        ct.append(np.full(comp_labels.size, t, np.int64))
        rl.append(ref_labels)
        cl.append(comp_labels)
        ri.append(rows + n_ref)
        ci.append(cols + n_comp)
        ious.append(iou)
        n_ref += ref_labels.size
        n_comp += comp_labels.size

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    return SequenceMatching(
        ref=Vertices(cat(rt, np.int64), cat(rl, np.int64)),
        comp=Vertices(cat(ct, np.int64), cat(cl, np.int64)),
        ref_index=cat(ri, np.int64),
        comp_index=cat(ci, np.int64),
        iou=cat(ious, np.float64),
    )


def seg_score(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """CTC SEG: summed Jaccard index of matched references over all reference objects.

    ``pairs`` are ``(reference, result)`` label images (annotated frames or
    slices); the score is 0 when there is no reference object (as py-ctcmetrics).
    """
    n_ref, total = 0, 0.0
    ious = []
    for ref, comp in pairs:
        ref_labels, _, _, _, iou = match_frame(ref, comp)
        n_ref += ref_labels.size
        ious.append(iou)
    if ious:
        total = float(np.sum(np.concatenate(ious)))
    return float(total / max(n_ref, 1))
