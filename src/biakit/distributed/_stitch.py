"""Instance labels of a large image, segmented block by block and stitched.

Each block is segmented together with a halo by any instance decoder (a threshold
and connected components, a watershed, a network's decoder). The result equals,
up to nothing but relabelling, the decoder run on the whole image whenever the
decoder is local (each object depends on the image within its own extent plus the
decoder's declared context) and the halo covers the largest object:

1. **Ownership.** Every voxel belongs to the core of exactly one block, and each
   block writes only its core, from its own segmentation. An object crossing the
   core boundary is therefore written in pieces, each by the block owning the
   piece's voxels; a piece is written only if the whole object lies inside that
   block's halo region (no object in the core may reach the halo's outer edge,
   nor come within the decoder's declared context of it: otherwise a
   :class:`~biakit.errors.DataError` names the block and the halo needed; an
   object is never split silently). The object is numbered by its *anchor*, its
   raster-first voxel; the block whose core holds the anchor owns the object.
2. **Overlap matching.** Adjacent blocks (faces, edges and corners) both
   segmented the band of ``band`` voxels on either side of their common face.
   A piece of one and a piece of the other are the same object when their
   intersection over union inside that band is at least ``iou_threshold``
   (one-to-one, best first). Two distinct cells that touch across the face do
   not overlap in either segmentation and stay two; a decoder whose result
   differs slightly near block borders (a watershed's markers) still gives one
   object.
3. **Global relabelling.** Matched pieces are joined (a union-find over the
   blocks' label offsets) and numbered ``1..N`` by anchor, then each core is
   rewritten through its look-up table.

Memory: a few blocks at a time plus the per-block tables (objects present,
anchors, compressed band slabs until the neighbour's arrives). Pass 2 only rewrites
provisional (negative) values, so a retried task never corrupts the output.

Resuming: with a ``checkpoint`` folder every finished block leaves its table and a
done-marker (written after its labels); a run interrupted at any point and started
again skips the blocks marked done in either pass. The matching is independent of
the order in which blocks finish, so the resumed output equals an uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biakit.blocks import GLOBAL, get_halo
from biakit.errors import ParameterError

from ._engine import drain, same_signature
from ._stitch_block import Geometry
from ._stitch_match import Stitcher
from ._stitch_run import Checkpoint, pass1, pass2

__all__ = ["StitchProgress", "iter_label_blockwise", "label_blockwise"]


@dataclass(frozen=True)
class StitchProgress:
    """Progress of :func:`iter_label_blockwise`.

    Attributes
    ----------
    stage : str
        ``"segment"`` (pass 1: segment blocks, match bands) or ``"relabel"`` (pass 2).
    done, total : int
        Blocks finished in this stage and blocks in all.
    n_objects : int or None
        Number of objects, known from the ``"relabel"`` stage on.
    n_matched : int
        Pairs of pieces joined across block faces so far.
    n_cut : int
        Pieces reaching the edge of their block's halo so far (only with
        ``large="merge"``; they are joined through the band matching).
    """

    stage: str
    done: int
    total: int
    n_objects: int | None
    n_matched: int
    n_cut: int = 0


def _per_axis(value: Any, ndim: int, name: str, low: int) -> tuple[int, ...]:
    arr = np.atleast_1d(np.asarray(value))
    if arr.ndim != 1 or arr.size not in (1, ndim) or arr.dtype.kind not in "iu":
        raise ParameterError(
            f"{name} must be an integer or {ndim} integers (one per axis), got {value!r}"
        )
    if np.any(arr < low):
        raise ParameterError(f"{name} must be >= {low} along every axis, got {value!r}")
    return tuple(int(v) for v in np.broadcast_to(arr, (ndim,)))


def _margin(segment: Callable[..., Any], ndim: int) -> tuple[int, ...]:
    if getattr(segment, "__halo__", None) is None:
        return (0,) * ndim
    halo = get_halo(segment, ndim)
    if halo == GLOBAL:
        name = getattr(segment, "__name__", repr(segment))
        raise ParameterError(
            f"segment {name!r} declares a global halo (it needs the whole image), so it "
            "cannot run block by block; pass a decoder that works on one block"
        )
    return tuple(int(h) for h in halo)


def _halo(
    halo: Any, max_extent: Any, spacing: Any, ndim: int, margin: tuple[int, ...]
) -> tuple[int, ...]:
    if halo is not None:
        if max_extent is not None:
            raise ParameterError(
                f"give either halo (voxels) or max_extent (physical units), not both; got "
                f"halo={halo!r} and max_extent={max_extent!r}"
            )
        return _per_axis(halo, ndim, "halo", 0)
    if max_extent is None:
        raise ParameterError(
            "halo is None and max_extent is None: give halo (voxels, at least the largest "
            "object's extent) or max_extent (the largest object's extent in the units of spacing)"
        )
    ext = np.broadcast_to(np.asarray(max_extent, float), (ndim,))
    sp = np.broadcast_to(np.asarray(1.0 if spacing is None else spacing, float), (ndim,))
    if not (np.all(np.isfinite(ext)) and np.all(ext > 0) and np.all(sp > 0)):
        raise ParameterError(
            f"max_extent and spacing must be positive, got max_extent={max_extent!r} and "
            f"spacing={spacing!r}"
        )
    return tuple(math.ceil(e / s - 1e-9) + m for e, s, m in zip(ext, sp, margin))


def _check_out(out: Any, shape: tuple[int, ...], block_shape: tuple[int, ...]) -> Any:
    if out is None:
        return np.zeros(shape, np.int32)
    if tuple(getattr(out, "shape", ())) != shape:
        raise ParameterError(
            f"out must have the source's shape {shape}, got shape {getattr(out, 'shape', None)}"
        )
    dtype = np.dtype(getattr(out, "dtype", None))
    if dtype.kind != "i":
        raise ParameterError(
            f"out must have a signed integer dtype (int32 or int64: blocks are written first "
            f"with provisional negative labels), got {dtype}"
        )
    chunks = getattr(out, "chunks", None)
    if not isinstance(out, np.ndarray) and chunks is not None:
        chunks = tuple(int(c) for c in chunks)
        bad = [
            a for a, (b, c, n) in enumerate(zip(block_shape, chunks, shape)) if b < n and b % c != 0
        ]
        if bad:
            raise ParameterError(
                f"block_shape {block_shape} must be a multiple of out's chunks {chunks} "
                f"(axis {bad[0]}): blocks are written concurrently and must not share a chunk"
            )
    return out


def _geometry(
    source: Any, block_shape: Any, halo: Any, band: int, margin: Any, large: Any
) -> Geometry:
    shape = tuple(int(n) for n in source.shape)
    blocks = tuple(
        min(b, n) for b, n in zip(_per_axis(block_shape, len(shape), "block_shape", 1), shape)
    )
    if isinstance(band, bool) or not isinstance(band, int | np.integer) or band < 1:
        raise ParameterError(f"band must be an integer >= 1 (voxels), got {band!r}")
    if large not in ("raise", "merge"):
        raise ParameterError(f"large must be 'raise' or 'merge', got {large!r}")
    widths = tuple(max(0, min(int(band), h)) for h in halo)
    return Geometry(shape, blocks, tuple(halo), widths, tuple(margin), large == "merge")


def _check_args(source: Any, segment: Any, iou_threshold: Any, client: Any) -> None:
    if not (hasattr(source, "shape") and hasattr(source, "__getitem__")):
        raise ParameterError(
            f"source must be an array (NumPy, Dask, Zarr, HDF5), got {type(source).__name__}"
        )
    if len(source.shape) < 1:
        raise ParameterError("source must have at least one axis, got a 0-d array")
    if not callable(segment):
        raise ParameterError(
            f"segment must be a function block -> integer labels, got {type(segment).__name__}"
        )
    ok = isinstance(iou_threshold, float | int) and not isinstance(iou_threshold, bool)
    if not ok or not 0 < iou_threshold <= 1:
        raise ParameterError(f"iou_threshold must be a number in (0, 1], got {iou_threshold!r}")
    if client is not None and not callable(getattr(client, "submit", None)):
        raise ParameterError(
            f"client must be a dask.distributed.Client (or None), got {type(client).__name__}"
        )


def iter_label_blockwise(
    source: Any,
    segment: Callable[[np.ndarray], Any],
    *,
    block_shape: int | Sequence[int],
    halo: int | Sequence[int] | None = None,
    max_extent: float | Sequence[float] | None = None,
    spacing: float | Sequence[float] | None = None,
    out: Any = None,
    client: Any = None,
    iou_threshold: float = 0.5,
    band: int = 4,
    large: str = "raise",
    checkpoint: str | Path | None = None,
) -> Generator[StitchProgress, None, Any]:
    """Block-wise instance segmentation as a generator of progress; see :func:`label_blockwise`.

    Arguments are checked on the call. The generator yields a :class:`StitchProgress`
    after each block of each pass and *returns* the output array.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> image = np.zeros((8, 8)); image[1:3, 1:7] = 1
    >>> gen = iter_label_blockwise(image, lambda b: ndi.label(b)[0], block_shape=4, halo=6)
    >>> [(p.stage, p.done) for p in gen][-1]
    ('relabel', 4)
    """
    _check_args(source, segment, iou_threshold, client)
    ndim = len(source.shape)
    margin = _margin(segment, ndim)
    halo = _halo(halo, max_extent, spacing, ndim, margin)
    geom = _geometry(source, block_shape, halo, band, margin, large)
    ckpt = _check_checkpoint(checkpoint, out)
    out = _check_out(out, geom.shape, geom.block_shape)
    return _run(source, segment, geom, out, client, float(iou_threshold), ckpt)


def _check_checkpoint(checkpoint: Any, out: Any) -> Checkpoint | None:
    if checkpoint is None:
        return None
    if not isinstance(checkpoint, str | Path):
        raise ParameterError(
            f"checkpoint must be a folder (str or Path) or None, got {type(checkpoint).__name__}"
        )
    if out is None:
        raise ParameterError(
            "checkpoint needs out: the array the labels are written to (e.g. a Zarr array), "
            "kept together with the checkpoint folder; got out=None"
        )
    return Checkpoint(Path(checkpoint))


def _run(
    source: Any, segment: Any, geom: Geometry, out: Any, client: Any, thresh: float,
    ckpt: Checkpoint | None,
) -> Generator[StitchProgress, None, Any]:  # fmt: skip
    total = int(np.prod(geom.grid))
    stitcher = Stitcher(thresh)
    limit = int(np.iinfo(np.dtype(out.dtype)).max)
    found = ckpt.tables(geom) if ckpt is not None else []
    for table in found:  # segmented before an interruption: not segmented again
        stitcher.add(table)
    if found:
        yield StitchProgress("segment", len(found), total, None, stitcher.n_matched, stitcher.n_cut)
    seen = {t.index for t in found}
    todo = [i for i in np.ndindex(*geom.grid) if i not in seen]
    for done, table in enumerate(pass1(source, segment, geom, out, client, todo), len(found) + 1):
        if len(table.present) and int(table.present.max()) > limit:
            raise ParameterError(
                f"out's dtype {np.dtype(out.dtype)} cannot hold the {int(table.present.max())} "
                "labels of one block; use an int64 out or smaller blocks"
            )
        if ckpt is not None:  # its labels are written: keep its table, then mark it done
            ckpt.save(geom, table)
        stitcher.add(table)
        yield StitchProgress("segment", done, total, None, stitcher.n_matched, stitcher.n_cut)
    luts, n_objects = stitcher.finish()
    if n_objects > limit:
        raise ParameterError(
            f"out's dtype {np.dtype(out.dtype)} cannot hold {n_objects} objects; use an int64 out"
        )
    finished = ckpt.done(geom, "relabel") if ckpt is not None else set()
    if finished:
        yield StitchProgress("relabel", len(finished), total, n_objects, stitcher.n_matched,
                             stitcher.n_cut)  # fmt: skip
    todo = [i for i in np.ndindex(*geom.grid) if i not in finished]
    for done, index in enumerate(pass2(out, geom, luts, client, todo), len(finished) + 1):
        if ckpt is not None:
            ckpt.mark(geom, "relabel", index)
        yield StitchProgress("relabel", done, total, n_objects, stitcher.n_matched, stitcher.n_cut)
    return out


def label_blockwise(  # noqa: D417 (the options are documented one by one)
    source: Any, segment: Callable[[np.ndarray], Any], **options: Any
) -> Any:
    """Segment a large image block by block into one consistent instance label image.

    The plain wrapper of :func:`iter_label_blockwise` (same keyword arguments).

    See the module documentation for the rules (core ownership, anchors, IoU matching
    in the overlap band, global relabelling). The output equals ``segment(whole
    image)`` relabelled in raster order of the objects' first voxels whenever
    ``segment`` is local and the halo covers the largest object.

    Parameters
    ----------
    source : array_like
        NumPy, Dask, Zarr or HDF5 array, any number of axes; read one block (plus
        halo) at a time.
    segment : callable
        ``segment(block) -> labels``: integer instance labels of the block's shape
        (0 = background; any values, relabelled per block). If it declares a halo
        with :func:`biakit.blocks.declare_halo` (the context its result needs, e.g.
        a smoothing radius), objects must keep that distance from the halo's edge.
    block_shape : int or sequence of int
        Core shape of a block (voxels), scalar or per axis. For a Zarr ``out`` a
        multiple of its chunks.
    halo : int or sequence of int, optional
        Context read around each core (voxels): at least the largest object's
        extent plus the decoder's declared context. Give this or ``max_extent``.
    max_extent : float or sequence of float, optional
        The largest object's extent in the units of ``spacing``; the halo is
        ``ceil(max_extent / spacing)`` plus the decoder's declared context.
    spacing : float or sequence of float, optional
        Voxel size per axis for ``max_extent`` (default 1).
    out : array, optional
        Where to write the labels: a NumPy array or a Zarr array (signed integer
        dtype, the source's shape). Default: a new int32 NumPy array.
    client : dask.distributed.Client, optional
        Run the blocks on this Dask cluster (a Zarr ``out`` is written by the
        workers; a NumPy ``out`` by this process). Default: Dask's threaded
        scheduler in this process.
    iou_threshold : float
        Pieces of two adjacent blocks are one object when their IoU inside the
        overlap band is at least this (inclusive); in (0, 1].
    band : int
        Half-width of the overlap band, in voxels (clipped to the halo).
    large : {"raise", "merge"}
        An object in a core that reaches the edge of the halo region (it may be
        larger than the halo): ``"raise"`` a :class:`~biakit.errors.DataError`, or
        ``"merge"``: write it piecewise, each piece joined to every piece of the
        neighbouring blocks it overlaps in their band (exact for decoders whose
        labels are the connected components of a per-voxel mask, e.g. threshold +
        connected components; approximate otherwise; counted in
        :attr:`StitchProgress.n_cut`).
    checkpoint : str or Path, optional
        Folder that makes the run resumable: each segmented block's table (its
        objects, anchors and band slabs) and a done-marker are written there after
        its labels, each relabelled block's marker after its labels. Run again with
        the same arguments, the same ``out`` and this folder, blocks marked done are
        neither segmented nor relabelled again; the output equals an uninterrupted
        run's. Needs ``out`` (a Zarr array, kept with the folder).

    Returns
    -------
    out : array
        Labels ``1..N``, numbered in raster order of the objects' first voxels.

    Raises
    ------
    DataError
        An object present in a block's core reaches the edge of its halo region
        (the message names the block and the halo needed), or ``segment`` returned
        something other than integer labels of the block's shape.
    ParameterError
        Invalid geometry, threshold, ``out``, ``client`` or ``checkpoint``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> image = np.zeros((12, 12), np.uint8)
    >>> image[2:5, 1:11] = 1; image[7:10, 3:6] = 1
    >>> labels = label_blockwise(image, lambda b: ndi.label(b)[0], block_shape=4, halo=10)
    >>> int(labels.max()), bool(np.array_equal(labels, ndi.label(image)[0]))
    (2, True)
    """
    return drain(iter_label_blockwise(source, segment, **options))


label_blockwise.__signature__ = same_signature(iter_label_blockwise, Any)  # type: ignore[attr-defined]
