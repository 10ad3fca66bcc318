"""Instance labels and points from a network's block-wise maps (instance, detection).

:func:`biakit.distributed.predict_blockwise` first writes the network's maps into the
OME-Zarr, block by block. The final results are then computed *from those written
maps*, with the workflow's own post-processing and tuned parameters:

* **Instance** workflows: :func:`biakit.distributed.label_blockwise` reads the maps
  zarr block by block with an *object halo* (at least the largest object, or cluster
  of touching objects), decodes each block with :func:`biakit.segment.decode_instances`
  (the function :meth:`InstanceSegmenter.postprocess` calls, with the same encoding and
  :attr:`~InstanceSegmenter.decode_params`), keeps each object in the block owning its
  voxels, joins pieces across block faces by IoU in the overlap band and relabels
  globally, into ``labels/<name>``.
* **Detection** workflows: :func:`biakit.segment.find_peaks` (what
  :meth:`Detector.postprocess` calls, with the tuned ``threshold`` / ``min_distance``)
  runs on each block of maps plus a halo of twice the suppression radius plus 4 voxels;
  a point is kept by the block whose core holds its rounded position
  (``floor(p + 0.5)``), so every point is found once. They go to a CSV table beside the
  zarr (pixel coordinates, class, score and physical coordinates).

Why decode the written maps rather than predict and decode in one pass: the network,
by far the costliest step, then runs once per voxel (plus its receptive-field halo),
whereas a one-pass decoder would rerun it on every block's object halo as well
(``((b + 2h) / b) ** ndim`` times the work: 3.4x for 256^3 blocks with a halo of 64).
Reading maps back costs only I/O, and every block decodes *the same bytes*, so the
labels equal :func:`~biakit.segment.decode_instances` on the whole written maps, which
equal the whole-image maps within float rounding (1e-5).

The result equals whole-image post-processing, up to relabelling, when each object's
decoding depends on the maps within the object halo only: true for the watershed with
a distance channel when the halo covers every cluster of touching objects (an object's
foreground component); for the ``fg_contour`` encoding the watershed's tie-breaking
term uses the distance to the nearest seed scaled by its maximum over the block, so
results may differ slightly at object borders (pieces are still joined by IoU).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import DataError, ImageWriteError, ParameterError

from ._engine import BlockProgress, iter_run_blocks, plan_blocks
from ._output import ZarrTarget

#: object halo (voxels along the finest axis) when the model has no object size
FALLBACK_HALO = 32
#: default object halo = this many typical (median) object diameters
HALO_DIAMETERS = 3.0


@dataclass(frozen=True)
class ChannelRecords:
    """Spatial view of a ``(C, *spatial)`` Zarr array: each voxel a record of C float32.

    :func:`label_blockwise` reads blocks of an array of the labels' shape; this view
    has the spatial shape and carries all channels of a voxel in one record
    (unpacked again by :func:`unpack`).
    """

    maps: ZarrTarget
    shape: tuple[int, ...]
    n_channels: int

    @property
    def dtype(self) -> np.dtype:
        """One float32 field per channel."""
        return np.dtype([(f"c{i}", np.float32) for i in range(self.n_channels)])

    @property
    def ndim(self) -> int:
        """Spatial axes."""
        return len(self.shape)

    def __getitem__(self, region: tuple[slice, ...]) -> np.ndarray:
        data = np.asarray(self.maps.read((slice(None), *region)), np.float32)
        records = np.ascontiguousarray(np.moveaxis(data, 0, -1)).view(self.dtype)
        return records[..., 0]


def unpack(block: np.ndarray) -> np.ndarray:
    """``(C, *spatial)`` float32 from a block of :class:`ChannelRecords`.

    Examples
    --------
    >>> rec = np.zeros((2, 3), dtype=[("c0", np.float32), ("c1", np.float32)])
    >>> rec["c1"] = 1
    >>> unpack(rec).shape, float(unpack(rec)[1].sum())
    ((2, 2, 3), 6.0)
    """
    from numpy.lib.recfunctions import structured_to_unstructured

    return np.moveaxis(structured_to_unstructured(block, dtype=np.float32), -1, 0)


@dataclass(frozen=True)
class InstanceDecoder:
    """``segment(block) -> labels`` of :func:`label_blockwise`: the workflow's decoder."""

    encoding: Any
    params: Any

    def __call__(self, block: np.ndarray) -> np.ndarray:
        from biakit.segment import decode_instances

        return decode_instances(unpack(block), self.encoding, self.params).astype(np.int32)


def _spacing(value: Any, ndim: int) -> np.ndarray:
    sp = np.broadcast_to(np.asarray(1.0 if value is None else value, float), (ndim,))
    return sp if np.all(np.isfinite(sp) & (sp > 0)) else np.ones(ndim)


def default_object_halo(workflow: Any, ndim: int) -> tuple[int, ...]:
    """Object halo (voxels per axis): three median object diameters, in physical units.

    The diameter is that of a ball of the median object volume of the training
    labels (``workflow.training["object_size"]``, voxels) with the config's spacing;
    without it, 32 voxels along the finest axis (scaled on coarser axes).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> wf = SimpleNamespace(training={"object_size": 314.0}, config=SimpleNamespace(spacing=None))
    >>> default_object_halo(wf, 2)
    (60, 60)
    """
    sp = _spacing(getattr(workflow.config, "spacing", None), ndim)
    size = (getattr(workflow, "training", None) or {}).get("object_size")
    if not size:
        return tuple(max(1, math.ceil(FALLBACK_HALO * sp.min() / s)) for s in sp)
    ball = math.pi ** (ndim / 2) / math.gamma(ndim / 2 + 1)
    diameter = 2.0 * (float(size) * float(np.prod(sp)) / ball) ** (1.0 / ndim)
    return tuple(max(1, math.ceil(HALO_DIAMETERS * diameter / s - 1e-9)) for s in sp)


def object_halo_of(workflow: Any, value: Any) -> tuple[int, ...]:
    """Return the object halo of an instance workflow: ``value`` checked, or the default."""
    ndim = int(workflow.model.config.ndim)
    if value is None:
        return default_object_halo(workflow, ndim)
    return check_object_halo(value, ndim)


def check_object_halo(value: Any, ndim: int) -> tuple[int, ...]:
    """``object_halo`` as one non-negative int per spatial axis, else ParameterError.

    Examples
    --------
    >>> check_object_halo(8, 3)
    (8, 8, 8)
    """
    scalar = isinstance(value, int | np.integer) or not hasattr(value, "__len__")
    values = (value,) * ndim if scalar else tuple(value)
    ok = len(values) == ndim and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 0 for v in values
    )
    if not ok:
        raise ParameterError(
            f"object_halo: expected one integer >= 0 or {ndim} (voxels per spatial axis, at "
            f"least the largest object's extent), got {value!r}"
        )
    return tuple(int(v) for v in values)


def iter_label_maps(
    client: Any,
    maps: ZarrTarget,
    labels: ZarrTarget,
    workflow: Any,
    block_shape: tuple[int, ...],
    halo: tuple[int, ...],
    checkpoint: Any = None,
) -> Generator[BlockProgress, None, int]:
    """Decode the written maps into stitched labels; yield progress, return the count.

    ``checkpoint``: folder of the labelling's block tables and done-markers (see
    :func:`~biakit.distributed.label_blockwise`), so a resumed run skips decoded blocks.
    """
    from ._stitch import iter_label_blockwise

    out = labels.open("r+")
    view = ChannelRecords(maps, tuple(int(n) for n in out.shape), int(maps.open("r").shape[0]))
    decoder = InstanceDecoder(workflow.encoding, workflow.decode_params)
    gen = iter_label_blockwise(view, decoder, block_shape=block_shape, halo=halo, out=out,
                               client=getattr(client, "client", None),
                               checkpoint=checkpoint)  # fmt: skip
    n_objects = 0
    try:
        for item in gen:
            n_objects = item.n_objects or 0
            yield BlockProgress(f"labels ({item.stage})", item.done, item.total)
    except DataError as err:
        raise DataError(
            f"{err}. In predict_blockwise the object halo is object_halo={halo} (voxels per "
            "axis): pass a larger object_halo (with resume=True the maps already predicted "
            "are kept)"
        ) from None
    return n_objects


def peak_halo(min_distance: float, spacing: Any, ndim: int) -> tuple[int, ...]:
    """Halo of block-wise peak finding: twice the suppression radius plus 4 voxels.

    Examples
    --------
    >>> peak_halo(2.0, None, 2), peak_halo(3.0, (3.0, 1.0, 1.0), 3)
    ((8, 8), (6, 10, 10))
    """
    sp = _spacing(spacing, ndim)
    radius = [max(1, math.floor(float(min_distance) / s + 1e-9)) for s in sp]
    return tuple(2 * r + 4 for r in radius)


@dataclass(frozen=True)
class PeakTask:
    """Task: peaks of one block of maps, kept when their rounded position is in the core."""

    maps: ZarrTarget
    threshold: float
    min_distance: float
    spacing: Any
    subpixel: Any

    def __call__(self, block: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from biakit.cancel import check_cancelled
        from biakit.segment import find_peaks

        check_cancelled()
        heat = self.maps.read((slice(None), *block.read))
        points, classes, scores = find_peaks(
            heat, threshold=self.threshold, min_distance=self.min_distance,
            spacing=self.spacing, subpixel=self.subpixel,
        )  # fmt: skip
        points = points + np.array([r.start for r in block.read], float)
        voxel = np.floor(points + 0.5)
        lo = np.array([w.start for w in block.write])
        hi = np.array([w.stop for w in block.write])
        own = np.all((voxel >= lo) & (voxel < hi), axis=1)
        return points[own], classes[own], scores[own]


def iter_detect_points(
    client: Any,
    maps: ZarrTarget,
    spatial: tuple[int, ...],
    block_shape: tuple[int, ...],
    workflow: Any,
) -> Generator[BlockProgress, None, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Peaks of the written heat maps, block by block; yield progress, return the points.

    Points come sorted as :func:`biakit.segment.find_peaks` sorts them: by class, then
    decreasing score, then position.
    """
    cfg = workflow.config
    tuned = workflow.thresholds or {"threshold": cfg.threshold, "min_distance": cfg.min_distance}
    threshold, min_distance = float(tuned["threshold"]), float(tuned["min_distance"])
    task = PeakTask(maps, threshold, min_distance, cfg.spacing, cfg.subpixel)
    blocks = plan_blocks(spatial, block_shape, peak_halo(min_distance, cfg.spacing, len(spatial)))
    found = []
    for progress, result in iter_run_blocks(client, task, blocks, stage="points"):
        found.append(result)
        yield progress
    points = np.concatenate([np.zeros((0, len(spatial)))] + [f[0] for f in found])
    classes = np.concatenate([np.zeros(0, np.int64)] + [f[1] for f in found])
    scores = np.concatenate([np.zeros(0, np.float32)] + [f[2] for f in found])
    order = np.lexsort((*points.T[::-1], -scores, classes))
    return points[order], classes[order], scores[order]


def join_frames(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], movie: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Points, classes, scores of all frames, with each point's frame (None: one image).

    Examples
    --------
    >>> one = (np.array([[1.0, 2.0]]), np.array([0]), np.array([0.5], np.float32))
    >>> join_frames([one, one], True)[3].tolist()
    [0, 1]
    """
    if not movie:
        return (*parts[0], None)
    frames = np.concatenate([np.full(len(p[0]), t, np.int64) for t, p in enumerate(parts)])
    joined = [np.concatenate([p[k] for p in parts]) for k in range(3)]
    return joined[0], joined[1], joined[2], frames


def points_path(dest: str | Path) -> Path:
    """Return the point table beside an output zarr: ``NAME.ome.zarr`` -> ``NAME_points.csv``.

    Examples
    --------
    >>> points_path("out/cells.ome.zarr").name
    'cells_points.csv'
    """
    dest = Path(dest)
    stem = dest.name
    for suffix in (".ome.zarr", ".zarr"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return dest.with_name(f"{stem}_points.csv")


def check_points_path(path: Path, overwrite: bool) -> None:
    """Refuse an existing point table unless ``overwrite`` (before any work is done)."""
    if path.exists() and not overwrite:
        raise ImageWriteError(
            f"{path}: point table exists; pass overwrite=True (--overwrite) to replace it"
        )


def write_points_table(
    path: Path,
    points: np.ndarray,
    classes: np.ndarray,
    scores: np.ndarray,
    meta: Any,
    overwrite: bool,
    frames: np.ndarray | None = None,
) -> Path:
    """Write ``z,y,x`` (pixels), ``class``, ``score`` and ``z_<unit>, ...`` (physical).

    Physical coordinates are ``pixel * spacing`` (the NGFF scale of the output),
    pixel coordinates are those :func:`biakit.io.read_points_csv` reads back. With
    ``frames`` (time-lapses) a first column ``frame`` gives each point's frame.

    Examples
    --------
    >>> import tempfile
    >>> from biakit.io import ImageMeta
    >>> path = Path(tempfile.mkdtemp()) / "p.csv"
    >>> meta = ImageMeta("YX", (0.5, 0.25), unit="micrometer")
    >>> _ = write_points_table(path, np.array([[2.0, 4.0]]), np.array([0]), np.array([0.75]),
    ...                        meta, False)
    >>> path.read_text().splitlines()
    ['y,x,class,score,y_micrometer,x_micrometer', '2.0,4.0,0,0.75,1.0,1.0']
    """
    import csv

    from biakit._atomic import atomic_path

    axes = [a.lower() for a in meta.spatial_axes[-points.shape[1] :]]
    sp = np.asarray(meta.spatial_spacing[-points.shape[1] :], float)
    unit = str(meta.unit or "pixel").replace(",", "_")
    header = [*axes, "class", "score", *(f"{a}_{unit}" for a in axes)]
    header = header if frames is None else ["frame", *header]
    lead = [[]] * len(points) if frames is None else [[int(t)] for t in frames]
    physical = points * sp
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for f, p, c, s, q in zip(lead, points.tolist(), classes.tolist(), scores.tolist(),
                                 physical.tolist()):  # fmt: skip
            writer.writerow([*f, *p, int(c), float(s), *q])
    return path


def label_name(workflow: Any, name: str | None) -> str:
    """Return the label image's name: ``name``, else the config's ``name``, else 'objects'."""
    if name is None:
        return str(getattr(workflow.config, "name", None) or "objects")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ParameterError(f"label_name: expected a folder name such as 'nuclei', got {name!r}")
    return name


def require_instance(task: str, **given: Any) -> None:
    """Refuse the options of instance labels (``object_halo``, ``label_name``) for other models."""
    for key, value in given.items():
        if value is not None and task != "instance":
            raise ParameterError(
                f"{key} applies to instance segmentation models only; this model's task is {task!r}"
            )
