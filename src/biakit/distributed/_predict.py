"""Block-wise prediction: pixel classifiers and network workflows into OME-Zarr.

Instance workflows also write their stitched labels (``labels/<name>``), detection
workflows a point table beside the zarr, both from the written maps (see
:mod:`biakit.distributed._predict_labels`).

Each block is read with the model's halo (the feature bank's for a pixel classifier,
the network's receptive field for a U-Net, rounded up to its divisor so every read
starts on the pooling grid of a whole-image prediction), predicted without blending
and cropped to its centre, so the maps equal whole-image prediction (within float
rounding). Intensity normalisation uses statistics of the whole image computed
once before the blocks (:meth:`biakit.nn.datasets.Normalizer.stats` on the lazy
image: all voxels up to its ``max_voxels``, else its seeded windows; an in-memory
NumPy image above ``max_voxels`` is subsampled voxel-wise instead, so statistics of
images that large agree only approximately).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import ParameterError

from . import _predict_labels as pl
from ._engine import (
    BlockProgress,
    auto_block_shape,
    check_block_shape,
    iter_run_blocks,
    plan_blocks,
)
from ._output import OmeZarrWriter, ZarrTarget

_NET_TASKS = {"semantic": "softmax", "instance": "sigmoid", "detection": "sigmoid",
              "denoise": None, "super_resolution": None}  # fmt: skip


@dataclass(frozen=True)
class PredictReport:
    """What :func:`predict_blockwise` wrote.

    Attributes
    ----------
    dest : Path
        The OME-Zarr: maps as image, label images in ``labels/``.
    block_shape, halo : tuple of int
        Block core and network halo (voxels).
    n_blocks : int
        Blocks predicted.
    labels : str or None
        Name of the label image (``"classes"``, or the instance labels' name).
    extra : dict
        Further outputs (``"uncertainty"``).
    n_objects : int or None
        Instance labels: number of objects; detection: number of points.
    points : Path or None
        Detection: the point table beside ``dest``.
    """

    dest: Path
    block_shape: tuple[int, ...]
    halo: tuple[int, ...]
    n_blocks: int
    labels: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    n_objects: int | None = None
    points: Path | None = None


@dataclass(frozen=True)
class _View:
    """``(C, *spatial)`` array-like of a source (for the normaliser's statistics)."""

    source: Any
    dtype: Any

    @property
    def shape(self) -> tuple[int, ...]:
        s = tuple(self.source.shape)
        return s if "C" in self.source.axes else (1, *s)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        key = (slice(None),) * len(self.shape) if key is Ellipsis else tuple(key)
        return read_channels(self.source, key[1:], key[0]).astype(self.dtype, copy=False)


def read_channels(source: Any, region: tuple[slice, ...], channels: Any = slice(None)) -> Any:
    """``(C, *region)`` of a source with or without a ``C`` axis."""
    if "C" in source.axes:
        return source.read((channels, *region))
    return source.read(tuple(region))[None][channels]


@dataclass(frozen=True)
class _PixelTask:
    source: Any
    classifier: Any
    spacing: Any
    maps: ZarrTarget
    labels: ZarrTarget
    uncertainty: ZarrTarget | None

    def __call__(self, block: Any) -> None:
        from biakit.pixel import uncertainty_from_proba

        region = read_channels(self.source, block.read)
        channel_axis = 0 if region.shape[0] > 1 else None
        image = region if channel_axis == 0 else region[0]
        spatial = image.shape[-len(block.read) :]
        proba = self.classifier.predict_proba(
            image, spacing=self.spacing, channel_axis=channel_axis, block_shape=spatial
        )[block.crop]
        self.maps.write((slice(None), *block.write), np.moveaxis(proba, -1, 0))
        classes = np.asarray(self.classifier.classes_)
        self.labels.write(block.write, classes[np.argmax(proba, axis=-1)])
        if self.uncertainty is not None:
            self.uncertainty.write((slice(None), *block.write), uncertainty_from_proba(proba)[None])


@dataclass(frozen=True)
class _NetTask:
    source: Any
    model: Any
    stats_in: Any
    stats_out: Any
    activation: str | None
    scale: tuple[int, ...]
    halo: tuple[int, ...]
    options: dict[str, Any]
    maps: ZarrTarget
    labels: ZarrTarget | None

    def __call__(self, block: Any) -> None:
        from biakit.nn.datasets import denormalize_with_stats, normalize_with_stats
        from biakit.nn.infer import predict_tiled, predict_tiled_scaled

        x = normalize_with_stats(read_channels(self.source, block.read), self.stats_in)
        opts = dict(self.options)
        if any(s != 1 for s in self.scale):
            shape = tuple(int(n) for n in x.shape[1:])
            y = predict_tiled_scaled(self.model, x, tile_shape=shape, **opts)
        else:
            opts.setdefault("tile_shape", _tile(x.shape[1:], self.model.config.divisor))
            y = predict_tiled(self.model, x, overlap=self.halo, blending="none",
                              activation=self.activation, **opts)  # fmt: skip
        crop = tuple(slice(c.start * f, c.stop * f) for c, f in zip(block.crop, self.scale))
        y = y[(slice(None), *crop)]
        if self.stats_out is not None:
            y = denormalize_with_stats(y, self.stats_out)
        write = tuple(slice(w.start * f, w.stop * f) for w, f in zip(block.write, self.scale))
        self.maps.write((slice(None), *write), y)
        if self.labels is not None:
            self.labels.write(write, np.argmax(y, axis=0).astype(np.uint8))


def _tile(shape: Sequence[int], divisor: Any) -> tuple[int, ...]:
    """One tile over the whole (divisor-padded) region."""
    div = np.broadcast_to(np.asarray(divisor, int), (len(shape),))
    return tuple(int(-(-n // d) * d) for n, d in zip(shape, div))


def _pixel_plan(clf: Any, src: Any, spacing: Any) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    from biakit.features import feature_halo

    ndim = int(clf.ndim_)
    spatial = src.shape[-ndim:]
    spacing = clf.spacing_ if spacing is None else spacing
    halo = tuple(int(h) for h in feature_halo(clf.spec_, ndim, spacing))
    return tuple(spatial), halo, len(clf.classes_)


def _net_stats(workflow: Any, src: Any) -> tuple[Any, Any]:
    from biakit.nn.datasets import NormStats

    if workflow.task == "denoise":
        norm = workflow.training["normalization"]
        return NormStats.from_dict(norm["input"]), NormStats.from_dict(norm["target"])
    if workflow.task == "super_resolution":
        stats = workflow.config.normalizer.stats(_View(src, np.float32))
        return stats, stats
    return workflow.config.normalizer.stats(_View(src, src.dtype)), None


def _model_kind(model: Any) -> str:
    if hasattr(model, "spec_") and hasattr(model, "predict_proba"):
        return "pixel"
    if getattr(model, "task", None) in _NET_TASKS and getattr(model, "model", None) is not None:
        return "network"
    raise ParameterError(
        f"model: expected a fitted PixelClassifier or a trained {', '.join(_NET_TASKS)} "
        f"workflow, got {type(model).__name__}"
    )


def iter_predict_blockwise(
    model: Any,
    source: Any,
    dest: str | Path,
    *,
    client: Any = None,
    block_shape: int | Sequence[int] | None = None,
    axes: str | None = None,
    levels: int | None = 1,
    uncertainty: bool = False,
    spacing: Sequence[float] | None = None,
    overwrite: bool = False,
    resume: bool = False,
    ngff_version: str = "0.4",
    object_halo: int | Sequence[int] | None = None,
    label_name: str | None = None,
    **options: Any,
) -> Iterator[BlockProgress | PredictReport]:
    """Predict block-wise; yield :class:`BlockProgress`, then the :class:`PredictReport`."""
    from ._client import BlockClient, get_client
    from ._source import open_source

    kind = _model_kind(model)
    task_name = "pixel" if kind == "pixel" else model.task
    pl.require_instance(task_name, object_halo=object_halo, label_name=label_name)
    name: str | None = None
    if task_name == "instance":
        obj_halo, name = pl.object_halo_of(model, object_halo), pl.label_name(model, label_name)
    table = pl.points_path(dest) if task_name == "detection" else None
    if table is not None:
        pl.check_points_path(table, overwrite or resume)
    src = open_source(source, axes=axes)
    writer = OmeZarrWriter(dest, overwrite=overwrite, resume=resume, ngff_version=ngff_version)
    meta = src.meta
    if kind == "pixel":
        spatial, halo, n_out = _pixel_plan(model, src, spacing)
        divisor, scale = (1,) * len(spatial), (1,) * len(spatial)
    else:
        cfg = model.model.config
        spatial = tuple(src.shape[-int(cfg.ndim) :])
        divisor = tuple(np.broadcast_to(np.asarray(getattr(cfg, "divisor", 1), int), len(spatial)))
        halo = tuple(int(h) for h in np.broadcast_to(np.asarray(cfg.halo), len(spatial)))
        scale = tuple(int(f) for f in getattr(cfg, "factors", (1,) * len(spatial)))
        n_out = int(cfg.out_channels)
    bytes_per_voxel = 4.0 * (n_out + 8) * (64 if kind == "network" else 1)
    shape_b = check_block_shape(block_shape, len(spatial)) if block_shape else auto_block_shape(
        spatial, bytes_per_voxel, 256 << 20, divisor)  # fmt: skip
    shape_b = tuple(-(-b // d) * d for b, d in zip(shape_b, divisor))
    out_spatial = tuple(n * f for n, f in zip(spatial, scale))
    spatial_axes = meta.spatial_axes[-len(spatial) :]
    sp = tuple(s / f for s, f in zip(meta.spatial_spacing[-len(spatial) :], scale))
    maps_meta = type(meta)("C" + spatial_axes, (1.0, *sp), unit=meta.unit)
    label_meta = type(meta)(spatial_axes, sp, unit=meta.unit)
    chunks = tuple(b * f for b, f in zip(shape_b, scale))
    maps = writer.image((n_out, *out_spatial), np.float32, maps_meta, chunks=(n_out, *chunks),
                        levels=levels)  # fmt: skip
    labels = objects = None
    if kind == "pixel" or model.task == "semantic":
        name = "classes"
        labels = writer.labels("classes", out_spatial, np.uint16 if kind == "pixel" else np.uint8,
                               label_meta, chunks=chunks, levels=len(maps.targets))  # fmt: skip
    if task_name == "instance":
        objects = writer.labels(name, out_spatial, np.int32, label_meta, chunks=chunks,
                                levels=len(maps.targets))  # fmt: skip
    blocks = plan_blocks(spatial, shape_b, halo, divisor)
    with get_client(client) if not isinstance(client, BlockClient) else _Keep(client) as bc:
        if kind == "pixel":
            unc = (
                writer.scratch("uncertainty", (1, *spatial), np.float32, (1, *shape_b))
                if uncertainty
                else None
            )
            task: Any = _PixelTask(src, model, spacing, maps.base, labels.base, unc)  # type: ignore[union-attr]
        else:
            stats_in, stats_out = _net_stats(model, src)
            options.setdefault("amp", model.config.train.amp)
            options.setdefault("device", "cpu")
            task = _NetTask(src, model.model, stats_in, stats_out, _NET_TASKS[model.task], scale,
                            tuple(-(-h // d) * d for h, d in zip(halo, divisor)), options,
                            maps.base, labels.base if labels else None)  # fmt: skip
        for progress, _ in iter_run_blocks(bc, task, blocks, stage="predict",
                                           marks=writer.marks("predict")):  # fmt: skip
            yield progress
        n_found, found = None, None
        if objects is not None:
            n_found = yield from pl.iter_label_maps(bc, maps.base, objects.base, model, shape_b,
                                                 obj_halo)  # fmt: skip
            labels = objects
        if table is not None:
            found = yield from pl.iter_detect_points(bc, maps.base, spatial, shape_b, model)
            n_found = len(found[0])
        yield from writer.iter_levels(bc, maps)
        if labels is not None:
            yield from writer.iter_levels(bc, labels)
        extra: dict[str, Any] = {}
        if kind == "pixel" and uncertainty:
            extra["uncertainty"] = _move_uncertainty(writer, label_meta)
    out = writer.commit()
    if table is not None and found is not None:
        pl.write_points_table(table, *found, label_meta, overwrite=True)
    yield PredictReport(out, shape_b, halo, len(blocks), name, extra,
                        n_found, table)  # fmt: skip


def _move_uncertainty(writer: OmeZarrWriter, meta: Any) -> str:
    """Move the uncertainty map to the plain Zarr array ``DEST/uncertainty`` (with axes)."""
    import shutil

    import zarr

    dst = writer.partial / "uncertainty"
    shutil.move(str(writer.partial / ".biakit-work" / "uncertainty"), str(dst))
    spatial = meta.spatial_axes
    zarr.open_array(str(dst), mode="r+").attrs.update(
        {"axes": "C" + spatial, "spacing": [1.0, *meta.spatial_spacing], "unit": meta.unit}
    )
    return "uncertainty"


class _Keep:
    def __init__(self, client: Any) -> None:
        self.client = client

    def __enter__(self) -> Any:
        return self.client

    def __exit__(self, *exc: Any) -> None:
        return None


def predict_blockwise(model: Any, source: Any, dest: str | Path, **kwargs: Any) -> PredictReport:
    """Predict a pixel classifier or a network workflow block by block into OME-Zarr.

    Parameters
    ----------
    model : PixelClassifier or workflow
        A fitted :class:`biakit.pixel.PixelClassifier`, or a trained semantic,
        instance, detection, denoise or super-resolution workflow.
    source : path, array or LazySource
        The image (see :func:`open_source`), channels as the model expects.
    dest : str or Path
        Output ``.ome.zarr``: the maps (class probabilities, heat maps, restored
        image) channels first as the image, with ``labels/classes`` (most probable
        class) for pixel classifiers and semantic segmentation, instance labels in
        ``labels/<label_name>`` for instance segmentation, and an ``uncertainty``
        array (``uncertainty=True``, pixel classifiers). Detection writes its points
        beside it, ``NAME_points.csv`` for ``NAME.ome.zarr`` (columns ``z,y,x``
        (pixels), ``class``, ``score``, ``z_<unit>, ...`` (physical)).
    **kwargs
        ``client``, ``block_shape`` (default: from a 256 MiB working-set budget),
        ``axes``, ``levels`` (default 1), ``uncertainty``, ``spacing`` (pixel
        classifier), ``overwrite``, ``resume``, ``ngff_version``; for instance
        segmentation ``object_halo`` (voxels per axis read around each block when
        decoding: at least the largest object or cluster of touching objects;
        default three median training-object diameters) and ``label_name``
        (default: the config's ``name``); for networks
        :func:`biakit.nn.infer.predict_tiled` options (``device``, ``amp`` (default:
        the model's), ``tta``, ``batch_size``).

    Returns
    -------
    PredictReport

    Notes
    -----
    Instance labels and points are computed from the written maps with the
    workflow's own decoder / peak finder and tuned parameters (see
    :mod:`biakit.distributed._predict_labels`): instance labels equal
    ``workflow.predict(image)`` up to relabelling (numbered ``1..N`` in raster
    order of their first voxels), points equal its points, whenever the maps equal
    the whole-image maps and the object halo covers the objects.

    Raises
    ------
    ParameterError
        ``model`` is not a fitted classifier or trained network workflow, a bad
        ``block_shape`` / ``client`` / ``object_halo`` / ``label_name``, or instance
        options for another task.
    DataError
        An object reaches the edge of a block's object halo (the message gives the
        halo needed).
    ImageWriteError
        ``dest`` (or the point table) exists (without ``overwrite``), or an
        interrupted run is in the way.

    Examples
    --------
    >>> import tempfile
    >>> from biakit.pixel import PixelClassifier
    >>> image = np.zeros((40, 40)); image[10:30, 10:30] = 1
    >>> scribbles = np.zeros((40, 40), np.uint8); scribbles[0] = 1; scribbles[20, 20] = 2
    >>> clf = PixelClassifier("fast", n_estimators=4).fit(image, scribbles)
    >>> dest = Path(tempfile.mkdtemp()) / "p.ome.zarr"
    >>> predict_blockwise(clf, image, dest, client="threads", block_shape=16).n_blocks
    9
    """
    report = None
    for item in iter_predict_blockwise(model, source, dest, **kwargs):
        if isinstance(item, PredictReport):
            report = item
    assert report is not None
    return report
