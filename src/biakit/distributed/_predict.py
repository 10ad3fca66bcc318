"""Block-wise prediction: pixel classifiers and network workflows into OME-Zarr.

Instance workflows also write their stitched labels (``labels/<name>``), detection
workflows a point table beside the zarr, both from the written maps (see
:mod:`biakit.distributed._predict_labels`); isotropic restoration restores XZ and YZ
slices with per-slice statistics (see :mod:`biakit.distributed._predict_iso`);
time-lapses are predicted frame by frame (see :mod:`biakit.distributed._predict_frames`);
Noise2Void's blind-spot blend is a second, element-wise pass over the written network
output (see :mod:`biakit.distributed._predict_blend`).

Each block is read with the model's halo (the feature bank's for a pixel classifier,
the network's receptive field for a U-Net, rounded up to its divisor so every read
starts on the pooling grid of a whole-image prediction), predicted without blending
and cropped to its centre, so the maps equal whole-image prediction (within float
rounding). Intensity normalisation uses statistics of the whole image (of each
frame of a time-lapse) computed once before the blocks
(:meth:`biakit.nn.datasets.Normalizer.stats` on the lazy image: all voxels up to its
``max_voxels``, else its seeded windows; an in-memory NumPy image above
``max_voxels`` is subsampled voxel-wise instead, so statistics of images that large
agree only approximately). Super-resolution networks whose output depends on the
whole tile (RCAN-lite's channel attention, ``config.is_local`` False) give
tiling-dependent results, block-wise as in their own tiled prediction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _predict_labels as pl
from ._engine import (
    BlockProgress,
    auto_block_shape,
    check_block_shape,
    iter_run_blocks,
    plan_blocks,
    round_up,
)
from ._output import Levels, OmeZarrWriter, ZarrTarget
from ._predict_blend import BlendTask, iter_blend_weights, wants_blend
from ._predict_frames import (
    FrameTarget,
    PerFrame,
    frame_blocks,
    frame_fields,
    iter_frames,
    over_frames,
)
from ._predict_tasks import NET_TASKS, NetTask, PixelTask, Plan, make_plan
from ._predict_tasks import model_kind as _model_kind
from ._predict_tasks import net_stats as _net_stats


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
        Blocks predicted (over all frames of a time-lapse).
    labels : str or None
        Name of the label image (``"classes"``, or the instance labels' name).
    extra : dict
        Further outputs (``"uncertainty"``).
    n_objects : int or None
        Instance labels: number of objects; detection: number of points (summed over
        the frames of a time-lapse).
    points : Path or None
        Detection: the point table beside ``dest``.
    n_frames : int or None
        Frames of a time-lapse input (None for a single image or volume).
    n_planes : int or None
        Planes of a Z-stack restored plane by plane by a 2-D model (None otherwise).
    """

    dest: Path
    block_shape: tuple[int, ...]
    halo: tuple[int, ...]
    n_blocks: int
    labels: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    n_objects: int | None = None
    points: Path | None = None
    n_frames: int | None = None
    n_planes: int | None = None


@dataclass(frozen=True)
class _Outputs:
    maps: Levels
    classes: Levels | None
    objects: Levels | None
    uncertainty: ZarrTarget | None
    spatial_meta: Any
    network: ZarrTarget | None = None  # N2V's blend: the network's output before it


def _metas(meta: Any, plan: Plan, lead: str) -> tuple[Any, Any, Any]:
    """Metadata of the maps, of label images and of one frame's spatial grid.

    ``lead``: ``"T"`` (a time-lapse: ``TC...`` maps), ``"Z"`` (a Z-stack plane by
    plane: ``CZ...`` maps, NGFF's order) or ``""``.
    """
    ndim = len(plan.spatial)
    spatial_axes = meta.spatial_axes[-ndim:]
    sp = tuple(s / f for s, f in zip(meta.spatial_spacing[-ndim:], plan.scale))
    extra = {k: v for k, v in meta.extra.items() if k == "time_unit"}
    lead_sp = (float(meta.spacing[meta.axes.index(lead)]),) if lead else ()
    make = type(meta)
    if lead == "Z":
        maps = make("CZ" + spatial_axes, (1.0, *lead_sp, *sp), unit=meta.unit, extra=extra)
    else:
        maps = make(lead + "C" + spatial_axes, (*lead_sp, 1.0, *sp), unit=meta.unit, extra=extra)
    labels = make(lead + spatial_axes, (*lead_sp, *sp), unit=meta.unit, extra=extra)
    return maps, labels, make(spatial_axes, sp, unit=meta.unit)


def _create_outputs(
    writer: OmeZarrWriter, plan: Plan, meta: Any, shape_b: tuple[int, ...], *, task: str,
    n_frames: int | None, levels: int | None, uncertainty: bool, name: str | None,
    frame_axis: str = "T",
) -> _Outputs:  # fmt: skip
    lead = () if n_frames is None else (n_frames,)
    one = () if n_frames is None else (1,)
    maps_meta, label_meta, spatial_meta = _metas(meta, plan, frame_axis if lead else "")
    out_spatial = tuple(n * f for n, f in zip(plan.spatial, plan.scale))
    chunks = tuple(b * f for b, f in zip(shape_b, plan.scale))
    maps_shape, maps_chunks = (*lead, plan.n_out, *out_spatial), (*one, plan.n_out, *chunks)
    if frame_axis == "Z":  # NGFF orders c before z: the plane index after C
        maps_shape, maps_chunks = (plan.n_out, *lead, *out_spatial), (plan.n_out, *one, *chunks)
    maps = writer.image(maps_shape, np.float32, maps_meta, chunks=maps_chunks, levels=levels)
    n_levels = len(maps.targets)
    classes = objects = unc = None
    if task in ("pixel", "semantic"):
        classes = writer.labels("classes", (*lead, *out_spatial),
                                np.uint16 if task == "pixel" else np.uint8, label_meta,
                                chunks=(*one, *chunks), levels=n_levels)  # fmt: skip
    if task == "instance":
        objects = writer.labels(str(name), (*lead, *out_spatial), np.int32, label_meta,
                                chunks=(*one, *chunks), levels=n_levels)  # fmt: skip
    if uncertainty and task == "pixel":
        unc = writer.scratch("uncertainty", (*lead, 1, *plan.spatial), np.float32,
                             (*one, 1, *shape_b))  # fmt: skip
    return _Outputs(maps, classes, objects, unc, spatial_meta)


def _block_shape(block_shape: Any, plan: Plan) -> tuple[int, ...]:
    ndim = len(plan.spatial)
    if block_shape:
        shape = check_block_shape(block_shape, ndim)
    else:
        shape = auto_block_shape(plan.spatial, plan.bytes_per_voxel, 256 << 20, plan.divisor)
    return tuple(round_up(b, d) for b, d in zip(shape, plan.divisor))


def _frame_task_fields(
    bc: Any, model: Any, kind: str, src: Any, plan: Plan, frame: int, n_frames: int,
) -> Generator[BlockProgress, None, dict[str, Any]]:  # fmt: skip
    """Statistics of one frame (or the image) for its task; yield the progress of computing them."""
    if kind == "pixel":
        return {}
    if model.task == "isotropic":
        from ._predict_iso import iter_slice_stats

        n_channels = src.shape[src.axes.index("C")] if "C" in src.axes else 1
        stats = iter_slice_stats(bc, src, model.config.normalizer, plan.spatial, n_channels)
        xz, yz = yield from over_frames(stats, frame, n_frames)
        return {"xz": xz, "yz": yz}
    stats_in, stats_out = _net_stats(model, src)
    return {"stats_in": stats_in, "stats_out": stats_out}


def _net_options(model: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Return a network's prediction options: the user's over the model's defaults, CPU."""
    merged = {"amp": model.config.train.amp, "device": "cpu", **options}
    if merged.get("tta") is None:  # the model's own default (2D N2V: on)
        merged["tta"] = getattr(model.config, "resolved_tta", False)
    return merged


def _base_task(model: Any, kind: str, plan: Plan, out: _Outputs, spacing: Any,
               options: dict[str, Any], source: Any, fields: dict[str, Any]) -> Any:  # fmt: skip
    if kind == "pixel":
        return PixelTask(source, model, spacing, out.maps.base, out.classes.base,  # type: ignore[union-attr]
                         out.uncertainty)  # fmt: skip
    if model.task == "isotropic":
        from ._predict_iso import IsoTask

        return IsoTask(source, model.model, fields["xz"], fields["yz"], plan.scale[0], options,
                       out.maps.base)  # fmt: skip
    halo = tuple(round_up(h, d) for h, d in zip(plan.halo, plan.divisor))
    classes = out.classes.base if out.classes is not None else None
    maps = out.network or out.maps.base  # N2V's blend follows in a second pass
    return NetTask(source, model.model, fields["stats_in"], fields["stats_out"],
                   NET_TASKS[model.task], plan.scale, halo, options, maps,
                   classes)  # fmt: skip


def _iter_task(
    bc: Any, model: Any, kind: str, frames: list[Any], lead: str, plan: Plan, out: _Outputs,
    spacing: Any, options: dict[str, Any],
) -> Generator[BlockProgress, None, tuple[Any, list[tuple[Any, dict[str, Any]]]]]:  # fmt: skip
    """Build the per-block task (per frame / plane: ``lead`` T / Z) after its statistics.

    Return the task and each frame's ``(source, fields)``.
    """
    per_frame = []
    for t, src in enumerate(frames):
        fields = yield from _frame_task_fields(bc, model, kind, src, plan, t, len(frames))
        per_frame.append((src, fields))
    task = _base_task(model, kind, plan, out, spacing, options, *per_frame[0])
    return _per_frame(task, lead, [{"source": src, **f} for src, f in per_frame]), per_frame


def _per_frame(task: Any, lead: str, fields: list[dict[str, Any]]) -> Any:
    """``task`` with each frame's fields (its ZarrTargets as that frame's); as is for one image."""
    if not lead:
        return task
    axes = {"maps": 1, "network": 1} if lead == "Z" else None  # the plane index of CZYX maps
    return PerFrame(task, tuple(frame_fields(task, t, axes, **f) for t, f in enumerate(fields)))


def _iter_blend(
    bc: Any, model: Any, out: _Outputs, lead: str, per_frame: list[tuple[Any, dict[str, Any]]],
    todo: Sequence[Any], options: dict[str, Any], writer: OmeZarrWriter,
) -> Generator[BlockProgress, None, None]:  # fmt: skip
    """N2V's blend: weights from the written network output, then every block mixed."""
    assert out.network is not None
    frames = [src for src, _ in per_frame]
    stats = [(f["stats_in"], f["stats_out"]) for _, f in per_frame]
    axis = None if not lead else (1 if lead == "Z" else 0)
    weights = yield from iter_blend_weights(model, frames, stats, out.network, axis, options)
    task = _per_frame(BlendTask(frames[0], out.network, out.maps.base, weights[0]), lead,
                      [{"source": s, "blend": w} for s, w in zip(frames, weights)])  # fmt: skip
    for progress, _ in iter_run_blocks(bc, task, todo, stage="blend", marks=writer.marks("blend")):
        yield progress


def _at(target: ZarrTarget, frame: int | None) -> Any:
    return target if frame is None else FrameTarget(target, frame)


def _iter_results(
    bc: Any, out: _Outputs, model: Any, task: str, plan: Plan, shape_b: tuple[int, ...],
    obj_halo: Any, n_frames: int | None, writer: OmeZarrWriter,
) -> Generator[BlockProgress, None, tuple[int | None, Any]]:  # fmt: skip
    """Instance labels or points from the written maps, frame by frame.

    Decoded label blocks are checkpointed per frame and object halo (a resume with
    a larger ``object_halo`` starts the labelling afresh, keeping the maps).
    """
    if task == "instance":
        total = 0
        halo_key = "x".join(str(int(h)) for h in obj_halo)
        for t, n in iter_frames(n_frames):
            marks = writer.marks(f"labels halo {halo_key} frame {t or 0}")
            gen = pl.iter_label_maps(bc, _at(out.maps.base, t), _at(out.objects.base, t),  # type: ignore[union-attr]
                                     model, shape_b, obj_halo, checkpoint=marks)  # fmt: skip
            total += yield from over_frames(gen, t or 0, n)
        return total, None
    if task == "detection":
        parts = []
        for t, n in iter_frames(n_frames):
            gen = pl.iter_detect_points(bc, _at(out.maps.base, t), plan.spatial, shape_b, model)
            parts.append((yield from over_frames(gen, t or 0, n)))
        found = pl.join_frames(parts, n_frames is not None)
        return len(found[0]), found
    return None, None


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
    from ._source import frame_sources, open_source

    kind = _model_kind(model)
    task_name = "pixel" if kind == "pixel" else model.task
    pl.require_instance(task_name, object_halo=object_halo, label_name=label_name)
    name, obj_halo = ("classes" if task_name in ("pixel", "semantic") else None), None
    if task_name == "instance":
        obj_halo, name = pl.object_halo_of(model, object_halo), pl.label_name(model, label_name)
    src = open_source(source, axes=axes, time=True)
    lead = _frame_axis(model, kind, src)
    frames = frame_sources(src, lead) if lead else [src]
    n_frames = src.shape[src.axes.index(lead)] if lead else None
    plan = make_plan(model, kind, frames[0], spacing)
    shape_b = _block_shape(block_shape, plan)
    table = pl.points_path(dest) if task_name == "detection" else None
    if table is not None and not Path(f"{dest}.partial").exists():
        pl.check_points_path(table, overwrite)
    writer = OmeZarrWriter(dest, overwrite=overwrite, resume=resume, ngff_version=ngff_version)
    blend = wants_blend(model, kind)  # N2V: a second pass, over a working array
    writer.check_plan({"task": task_name, "shape": src.shape, "axes": src.axes,
                       "block_shape": shape_b, "halo": plan.halo, "scale": plan.scale,
                       "blend": blend})  # fmt: skip
    out = _create_outputs(writer, plan, src.meta, shape_b, task=task_name, n_frames=n_frames,
                          levels=levels, uncertainty=uncertainty, name=name,
                          frame_axis=lead)  # fmt: skip
    if blend:
        network = writer.scratch("network", out.maps.shapes[0], np.float32, out.maps.chunks)
        out = dataclasses.replace(out, network=network)
    if kind != "pixel":
        options = _net_options(model, options)
    blocks = plan_blocks(plan.spatial, shape_b, plan.halo, plan.divisor)
    todo = blocks if n_frames is None else frame_blocks(blocks, n_frames)
    with get_client(client) if not isinstance(client, BlockClient) else nullcontext(client) as bc:
        task, per_frame = yield from _iter_task(bc, model, kind, frames, lead, plan, out,
                                                spacing, options)  # fmt: skip
        for progress, _ in iter_run_blocks(bc, task, todo, stage="predict",
                                           marks=writer.marks("predict")):  # fmt: skip
            yield progress
        if blend:
            yield from _iter_blend(bc, model, out, lead, per_frame, todo, options, writer)
        n_found, found = yield from _iter_results(bc, out, model, task_name, plan, shape_b,
                                                  obj_halo, n_frames, writer)  # fmt: skip
        yield from writer.iter_levels(bc, out.maps)
        label_levels = out.objects or out.classes
        if label_levels is not None:
            yield from writer.iter_levels(bc, label_levels)
        extra: dict[str, Any] = {}
        if out.uncertainty is not None:
            extra["uncertainty"] = _move_uncertainty(writer, out.spatial_meta, n_frames)
    if table is not None and found is not None:  # before the commit: a complete zarr has its table
        points, classes, scores, frame = found
        pl.write_points_table(table, points, classes, scores, out.spatial_meta, overwrite=True,
                              frames=frame)  # fmt: skip
    planes = lead == "Z"
    yield PredictReport(writer.commit(), shape_b, plan.halo, len(todo), name, extra, n_found,
                        table, None if planes else n_frames,
                        n_frames if planes else None)  # fmt: skip


def _frame_axis(model: Any, kind: str, src: Any) -> str:
    """``"T"`` for a time-lapse, ``"Z"`` for a Z-stack under a 2-D restoration model, else ``""``.

    A 2-D denoising model restores a Z-stack plane by plane, each plane with its own
    statistics, as ``predict_to_disk`` does with a stack read whole.
    """
    if "T" in src.axes:
        return "T"
    spatial = sum(a in "ZYX" for a in src.axes)
    planes = kind == "network" and getattr(model, "stack_planes", False)
    if planes and "Z" in src.axes and spatial == int(model.input_ndim) + 1:
        return "Z"
    return ""


def _move_uncertainty(writer: OmeZarrWriter, meta: Any, n_frames: int | None) -> str:
    """Move the uncertainty map to the plain Zarr array ``DEST/uncertainty`` (with axes)."""
    import shutil

    import zarr

    dst = writer.partial / "uncertainty"
    shutil.move(str(writer.partial / ".biakit-work" / "uncertainty"), str(dst))
    lead = "" if n_frames is None else "T"
    spacing = [1.0] * len(lead) + [1.0, *meta.spatial_spacing]
    zarr.open_array(str(dst), mode="r+").attrs.update(
        {"axes": lead + "C" + meta.spatial_axes, "spacing": spacing, "unit": meta.unit}
    )
    return "uncertainty"


def predict_blockwise(model: Any, source: Any, dest: str | Path, **kwargs: Any) -> PredictReport:
    """Predict a pixel classifier or a network workflow block by block into OME-Zarr.

    Parameters
    ----------
    model : PixelClassifier or workflow
        A fitted :class:`biakit.pixel.PixelClassifier`, or a trained semantic,
        instance, detection, denoise, super-resolution or isotropic-restoration
        workflow.
    source : path, array or LazySource
        The image (see :func:`open_source`), channels as the model expects. A
        time-lapse (``TYX``, ``TCZYX``, ...; ``axes`` for arrays and files without
        metadata) is predicted frame by frame: blocks never span frames, each frame
        is normalised with its own statistics (as ``workflow.predict(movie[t])``),
        the outputs keep ``T`` in front.
    dest : str or Path
        Output ``.ome.zarr``: the maps (class probabilities, heat maps, restored
        image) channels first as the image, with ``labels/classes`` (most probable
        class) for pixel classifiers and semantic segmentation, instance labels in
        ``labels/<label_name>`` for instance segmentation, and an ``uncertainty``
        array (``uncertainty=True``, pixel classifiers). Detection writes its points
        beside it, ``NAME_points.csv`` for ``NAME.ome.zarr`` (columns ``z,y,x``
        (pixels), ``class``, ``score``, ``z_<unit>, ...`` (physical); a ``frame``
        column first for a time-lapse). Isotropic restoration writes the restored
        stack ``(C, Z * factor, Y, X)``.
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
    ``resume=True`` continues an interrupted run from its ``DEST.partial`` (blocks
    whose done-marker exists are not predicted again); it must be started with the
    same model, input and block shape (a different plan is refused).

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
        The image has another number of spatial axes than the model, or an object
        reaches the edge of a block's object halo (the message gives the
        halo needed).
    ImageWriteError
        ``dest`` (or the point table) exists (without ``overwrite``), an
        interrupted run is in the way, or ``resume`` finds another plan.

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
    >>> movie = np.stack([image, image.T, 2 * image])  # a time-lapse: frame by frame
    >>> report = predict_blockwise(clf, movie, dest.with_name("m.ome.zarr"), axes="TYX",
    ...                            client="threads", block_shape=16)
    >>> report.n_frames, report.n_blocks
    (3, 27)
    """
    report = None
    for item in iter_predict_blockwise(model, source, dest, **kwargs):
        if isinstance(item, PredictReport):
            report = item
    assert report is not None
    return report
