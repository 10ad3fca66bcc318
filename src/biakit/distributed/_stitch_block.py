"""Per-block work of :func:`biakit.distributed.label_blockwise` (runs on a worker).

Pass 1 (:func:`segment_block`) segments one block with its halo, checks that every
object it will write is complete (not cut by the edge of the halo region), writes
the block's core as *provisional* labels (the negated local labels) and returns a
small :class:`BlockTable`: the objects present in the core, each with its anchor
(the global raster-first voxel of its piece in this core) and, per neighbouring
block, the block's labels in the overlap band between the two (compressed).

Pass 2 (:func:`relabel_block`) maps the provisional labels of a core to the final
global labels. It only rewrites negative values, so running it twice (a retried
task) gives the same output.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from biakit.errors import DataError

Region = tuple[slice, ...]


@dataclass(frozen=True)
class Geometry:
    """The block grid: shapes, halo, band width, decoder margin, large-object policy."""

    shape: tuple[int, ...]
    block_shape: tuple[int, ...]
    halo: tuple[int, ...]
    band: tuple[int, ...]
    margin: tuple[int, ...]
    merge_large: bool = False

    @property
    def grid(self) -> tuple[int, ...]:
        """Number of blocks along each axis."""
        return tuple(-(-n // b) for n, b in zip(self.shape, self.block_shape))

    def core(self, index: tuple[int, ...]) -> Region:
        """Return the core (written region) of the block at grid ``index``."""
        return tuple(
            slice(i * b, min((i + 1) * b, n))
            for i, b, n in zip(index, self.block_shape, self.shape)
        )

    def read(self, index: tuple[int, ...]) -> Region:
        """Return the core plus its halo, clipped to the image."""
        return tuple(
            slice(max(c.start - h, 0), min(c.stop + h, n))
            for c, h, n in zip(self.core(index), self.halo, self.shape)
        )

    def neighbours(self, index: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Grid indices of the (up to ``3**ndim - 1``) blocks adjacent to ``index``."""
        out = []
        for delta in itertools.product((-1, 0, 1), repeat=len(index)):
            other = tuple(i + d for i, d in zip(index, delta))
            if any(delta) and all(0 <= o < g for o, g in zip(other, self.grid)):
                out.append(other)
        return out

    def band_region(self, a: tuple[int, ...], b: tuple[int, ...]) -> Region:
        """Return the overlap band between adjacent blocks ``a`` and ``b`` (symmetric).

        Along an axis where the blocks differ it is ``band`` voxels on each side of
        their common face; along the others it is their common core extent.
        """
        out = []
        for axis, (i, j) in enumerate(zip(a, b)):
            if i == j:
                out.append(self.core(a)[axis])
                continue
            face = max(i, j) * self.block_shape[axis]
            w = self.band[axis]
            out.append(slice(max(face - w, 0), min(face + w, self.shape[axis])))
        return tuple(out)


@dataclass(frozen=True)
class BlockTable:
    """What pass 1 returns for one block: small, whatever the block size.

    Attributes
    ----------
    index : tuple of int
        Grid index of the block.
    present : ndarray of int64
        Local labels of the objects present in the block's core (sorted).
    anchors : ndarray of int64
        Per present object: global flat index of its raster-first voxel in the core.
    bands : dict
        Neighbour grid index -> ``(shape, dtype, zlib bytes)`` of the block's labels
        in the overlap band with that neighbour (objects absent from the core zeroed).
    cut : ndarray of int64
        Local labels of the objects in the core that reach the halo's edge
        (``large="merge"``): joined to any piece they overlap in a band.
    core : ndarray or None
        The provisional core labels, only when the worker could not write them.
    """

    index: tuple[int, ...]
    present: np.ndarray
    anchors: np.ndarray
    bands: dict[tuple[int, ...], tuple[tuple[int, ...], str, bytes]]
    cut: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    core: np.ndarray | None = None


def read_region(source: Any, region: Region) -> np.ndarray:
    """Read ``source[region]`` as NumPy (Dask arrays computed on the calling thread)."""
    part = source[region]
    if hasattr(part, "compute") and hasattr(part, "dask"):
        return np.asarray(part.compute(scheduler="synchronous"))
    return np.asarray(part)


def _sequential(labels: Any, name: str, expected: tuple[int, ...]) -> np.ndarray:
    """Check the output of ``segment``; relabel it 1..n when its values are sparse."""
    arr = np.asarray(labels)
    if arr.shape != expected:
        raise DataError(
            f"segment returned an array of shape {arr.shape} for the block {name} of shape "
            f"{expected}; it must return labels of the block's shape"
        )
    if arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
    if arr.dtype.kind not in "iu":
        raise DataError(
            f"segment returned dtype {arr.dtype} for the block {name}; expected integer "
            "instance labels (0 = background)"
        )
    if arr.size == 0:
        return arr.astype(np.int32)
    low, high = int(arr.min()), int(arr.max())
    if low < 0:
        raise DataError(
            f"segment returned negative labels (min {low}) for the block {name}; "
            "expected labels >= 0 (0 = background)"
        )
    if high <= 4 * arr.size + 1:  # few unused values: keep the labels as they are
        return arr.astype(np.int32, copy=False)
    _, inverse = np.unique(arr, return_inverse=True)
    seq = inverse.reshape(arr.shape).astype(np.int32)
    return seq if low == 0 else seq + 1


def block_name(core: Region) -> str:
    """``[0:128, 128:256]``: the core of a block, for messages."""
    return "[" + ", ".join(f"{s.start}:{s.stop}" for s in core) + "]"


def _check_complete(
    geom: Geometry, index: tuple[int, ...], read: Region, boxes: list[Any], present: np.ndarray
) -> np.ndarray:
    """Local labels of the objects present in the core that reach the edge of the halo region.

    Raises instead, unless ``geom.merge_large``.
    """
    core, cut = geom.core(index), []
    for label in present:
        box = boxes[label - 1]
        for axis, (sl, r) in enumerate(zip(box, read)):
            need = geom.margin[axis] + 1
            size = r.stop - r.start
            low = r.start > 0 and sl.start < need
            high = r.stop < geom.shape[axis] and sl.stop > size - need
            if (low or high) and geom.merge_large:
                cut.append(label)
                break
            if low or high:
                extent = sl.stop - sl.start
                raise DataError(
                    f"block {block_name(core)}: an object (extent >= {extent} voxels along "
                    f"axis {axis}) reaches the edge of the block's halo region, so it may be "
                    f"larger than the halo {geom.halo[axis]} along axis {axis} and would be "
                    f"split; use halo >= {extent + geom.margin[axis] + 1} along axis {axis} "
                    "(or more, the object may extend further), max_extent >= the largest "
                    "object's extent, or large='merge'"
                )
    return np.asarray(cut, np.int64)


def _anchors(core_labels: np.ndarray, core: Region, shape: tuple[int, ...]) -> tuple:
    """Present local labels in a core and the global flat index of their first voxel."""
    boxes = ndi.find_objects(core_labels)
    present, anchors = [], []
    for label, box in enumerate(boxes, start=1):
        if box is None:
            continue
        first = core_labels[(box[0].start, *box[1:])] == label
        pos = np.unravel_index(int(np.argmax(first)), first.shape)
        coord = [box[0].start] + [b.start + p for b, p in zip(box[1:], pos)]
        present.append(label)
        anchors.append(np.ravel_multi_index(tuple(c + s.start for c, s in zip(coord, core)), shape))
    return np.asarray(present, np.int64), np.asarray(anchors, np.int64)


def _bands(
    geom: Geometry, index: tuple[int, ...], read: Region, labels: np.ndarray, keep: np.ndarray
) -> dict[tuple[int, ...], tuple[tuple[int, ...], str, bytes]]:
    dtype = np.uint16 if keep.size <= np.iinfo(np.uint16).max else np.uint32
    out = {}
    for other in geom.neighbours(index):
        region = geom.band_region(index, other)
        local = tuple(slice(s.start - r.start, s.stop - r.start) for s, r in zip(region, read))
        slab = keep[labels[local]].astype(dtype)
        out[other] = (slab.shape, slab.dtype.str, zlib.compress(slab.tobytes(), 1))
    return out


def segment_block(
    data: np.ndarray | None,
    source: Any,
    segment: Callable[[np.ndarray], Any],
    geom: Geometry,
    index: tuple[int, ...],
    out: Any,
) -> BlockTable:
    """Pass 1 on one block; ``data`` is its read region, or None to read it from ``source``.

    Writes ``-local_label`` into ``out[core]`` (or returns the core when ``out`` is None).
    """
    from biakit.cancel import check_cancelled

    check_cancelled()
    read, core = geom.read(index), geom.core(index)
    block = read_region(source, read) if data is None else data
    shape = tuple(r.stop - r.start for r in read)  # a source may give fields first: (k, *read)
    labels = _sequential(segment(block), block_name(core), shape)
    crop = tuple(slice(c.start - r.start, c.stop - r.start) for c, r in zip(core, read))
    core_labels = labels[crop]
    present, anchors = _anchors(core_labels, core, geom.shape)
    n = int(labels.max()) if labels.size else 0
    cut = _check_complete(geom, index, read, ndi.find_objects(labels, max_label=n), present)
    keep = np.zeros(n + 1, np.int32)
    keep[present] = present
    bands = _bands(geom, index, read, labels, keep)
    provisional = -core_labels
    if out is None:
        return BlockTable(index, present, anchors, bands, cut, provisional)
    out[core] = provisional.astype(out.dtype, copy=False)
    return BlockTable(index, present, anchors, bands, cut)


def decode_band(entry: tuple[Sequence[int], str, bytes]) -> np.ndarray:
    """Inverse of the compression done in pass 1."""
    shape, dtype, payload = entry
    return np.frombuffer(zlib.decompress(payload), dtype=np.dtype(dtype)).reshape(shape)


def relabel_core(values: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Map provisional (negative) labels through ``lut``; other values are kept."""
    values = np.array(values, copy=True)
    provisional = values < 0
    values[provisional] = lut[-values[provisional]]
    return values


def relabel_block(out: Any, core: Region, lut: np.ndarray) -> None:
    """Pass 2 on one block: read the core of ``out``, map its provisional labels, write it."""
    from biakit.cancel import check_cancelled

    check_cancelled()
    out[core] = relabel_core(np.asarray(out[core]), lut).astype(out.dtype, copy=False)
