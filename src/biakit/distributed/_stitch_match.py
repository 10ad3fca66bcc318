"""Driver side of :func:`biakit.distributed.label_blockwise`: overlap matching and relabelling.

Every object present in a block's core is a *node*. Two adjacent blocks segmented
their common overlap band each with its own halo; an object of one and an object
of the other are the same object when their intersection over union **inside the
band** is at least the threshold (one-to-one, best first). Objects that only
touch across the face overlap in neither segmentation's band and stay apart.
A piece cut by the edge of its block's halo (``large="merge"``) is joined to every
piece it overlaps in a band instead. Matched nodes are joined (connected
components of the match graph, i.e. a
union-find over the blocks' label offsets); each joined object is numbered by its
anchor, the raster-first voxel of the whole object, so the output labels are
``1..N`` in raster order whatever the block shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._stitch_block import BlockTable, decode_band


def band_iou(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of labels overlapping in two label slabs of one band, with its IoU.

    Examples
    --------
    >>> a = np.array([[1, 1, 2, 2]])
    >>> b = np.array([[3, 3, 3, 0]])
    >>> band_iou(a, b)
    (array([1, 2]), array([3, 3]), array([0.66666667, 0.25      ]))
    """
    fa, fb = a.ravel().astype(np.int64), b.ravel().astype(np.int64)
    both = (fa > 0) & (fb > 0)
    if not both.any():
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    width = int(fb.max()) + 1
    keys, inter = np.unique(fa[both] * width + fb[both], return_counts=True)
    la, lb = keys // width, keys % width
    area_a = np.bincount(fa, minlength=int(la.max()) + 1)[la]
    area_b = np.bincount(fb, minlength=width)[lb]
    return la, lb, inter / (area_a + area_b - inter)


def one_to_one(la: np.ndarray, lb: np.ndarray, iou: np.ndarray, thresh: float) -> np.ndarray:
    """Return the indices of the pairs kept: IoU >= ``thresh``, best first, each label used once."""
    order = [i for i in np.argsort(-iou, kind="stable") if iou[i] >= thresh]
    used_a: set[int] = set()
    used_b: set[int] = set()
    keep = []
    for i in order:
        if int(la[i]) in used_a or int(lb[i]) in used_b:
            continue
        used_a.add(int(la[i]))
        used_b.add(int(lb[i]))
        keep.append(i)
    return np.asarray(keep, np.int64)


class Stitcher:
    """Collects the blocks' tables as they arrive and builds the global relabelling."""

    def __init__(self, iou_threshold: float) -> None:
        self.iou_threshold = iou_threshold
        self.base: dict[tuple[int, ...], int] = {}
        self.present: dict[tuple[int, ...], np.ndarray] = {}
        self.anchors: list[np.ndarray] = []
        self.n_nodes = 0
        self.edges: list[tuple[np.ndarray, np.ndarray]] = []
        self.pending: dict[tuple[tuple[int, ...], tuple[int, ...]], Any] = {}
        self.n_matched = 0
        self.n_cut = 0
        self.cut: dict[tuple[int, ...], np.ndarray] = {}

    def _nodes(self, index: tuple[int, ...], local: np.ndarray) -> np.ndarray:
        present = self.present[index]
        return self.base[index] + np.searchsorted(present, local)

    def add(self, table: BlockTable) -> None:
        """Register one block's objects and match its bands with neighbours already seen."""
        index = table.index
        self.base[index] = self.n_nodes
        self.present[index] = table.present
        self.anchors.append(table.anchors)
        self.n_nodes += len(table.present)
        self.n_cut += len(table.cut)
        self.cut[index] = table.cut
        for other, entry in table.bands.items():
            key = (min(index, other), max(index, other))
            if key not in self.pending:
                self.pending[key] = (index, entry)
                continue
            first, first_entry = self.pending.pop(key)
            if first > index:  # lower grid index first: the same matches in any arrival order
                first, first_entry, index_b, entry_b = index, entry, first, first_entry
            else:
                index_b, entry_b = index, entry
            self._match(first, decode_band(first_entry), index_b, decode_band(entry_b))

    def _match(
        self, ia: tuple[int, ...], a: np.ndarray, ib: tuple[int, ...], b: np.ndarray
    ) -> None:
        la, lb, iou = band_iou(a, b)
        keep = one_to_one(la, lb, iou, self.iou_threshold)
        cut = np.isin(la, self.cut[ia]) | np.isin(lb, self.cut[ib])
        if cut.any():  # a piece cut by a halo: joined to whatever it overlaps
            keep = np.union1d(keep, np.flatnonzero(cut))
        if len(keep):
            self.edges.append((self._nodes(ia, la[keep]), self._nodes(ib, lb[keep])))
            self.n_matched += len(keep)

    def finish(self) -> tuple[dict[tuple[int, ...], np.ndarray], int]:
        """Per block a look-up table local label -> final label, and the number of objects."""
        n = self.n_nodes
        if self.edges:
            rows = np.concatenate([e[0] for e in self.edges])
            cols = np.concatenate([e[1] for e in self.edges])
        else:
            rows = cols = np.zeros(0, np.int64)
        graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        n_comp, comp = connected_components(graph, directed=False)
        anchors = np.concatenate(self.anchors) if self.anchors else np.zeros(0, np.int64)
        first = np.full(n_comp, np.iinfo(np.int64).max)
        np.minimum.at(first, comp, anchors)
        rank = np.empty(n_comp, np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(1, n_comp + 1)
        final = rank[comp]
        luts = {}
        for index, present in self.present.items():
            size = int(present.max()) + 1 if len(present) else 1
            lut = np.zeros(size, np.int64)
            base = self.base[index]
            lut[present] = final[base : base + len(present)]
            luts[index] = lut
        return luts, n_comp
