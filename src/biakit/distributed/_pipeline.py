"""A classical :class:`~biakit.pipeline.Pipeline` run block-wise into an OME-Zarr output.

The steps are split in two. The *head* is every step from the start that is
per-pixel with a finite halo, or global only through one statistic: ``threshold``
(otsu, yen, triangle, mean, manual), ``normalize_percentile`` and ``rescale_intensity``
get their statistic from chunk-wise passes over the head's output so far
(see :mod:`biakit.distributed._stats`) and then run block-wise with it fixed.
The head runs fused on each block plus the sum of its steps' halos, so its output
equals the whole-image result. The *tail* (connected components, watershed, size
filters, everything from the first step that needs whole objects) goes through
:func:`biakit.distributed.label_blockwise`, which stitches instance labels across
blocks.

Scheduling: after the statistics (a barrier each: they are global), every task is
submitted with its dependencies instead of stage by stage. The head runs inside the
labelling's blocks (one task per block from the input to its provisional labels,
no scratch array in between); the copy of the input and its resolution levels run
alongside (a level chunk starts once the chunks under it are written); the label
levels follow the relabelling. The only barrier left is the global relabelling.

Resuming (``resume=True``): the statistics are kept in ``DEST.partial`` (JSON) and
reused; each segmented block leaves its stitching table and a done-marker after its
provisional labels, each relabelled block, copied chunk and level chunk a marker
after its write. A resumed run submits only the unmarked ones, in the same
structure (no extra barrier), and writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import PipelineError

from ._engine import (
    BlockProgress,
    check_block_shape,
    default_block_shape,
    plan_blocks,
    same_signature,
)
from ._output import MARKS, OmeZarrWriter, ZarrTarget
from ._pipeline_tasks import (
    Skipped,
    StatsCache,
    _Chain,
    _HeadView,
    _Tail,
    submit_copy,
    submit_levels,
    wait_all,
)

_STAT_STEPS = ("threshold", "normalize_percentile", "rescale_intensity")
DEFAULT_HALO = 32


@dataclass(frozen=True)
class PipelineReport:
    """What :func:`run_pipeline` wrote.

    Attributes
    ----------
    dest : Path
        The OME-Zarr output: the segmented channel as image, labels in ``labels/<name>``.
    label_name : str
        Name of the label image.
    n_objects : int
        Objects in the label image.
    block_shape : tuple of int
        Spatial block shape used.
    statistics : dict
        Global values computed chunk-wise (``"step 2 threshold": 0.41``, ...).
    """

    dest: Path
    label_name: str
    n_objects: int
    block_shape: tuple[int, ...]
    statistics: dict[str, float] = field(default_factory=dict)


def _kwargs(cfg: Any, spacing: tuple[float, ...]) -> dict[str, Any]:
    from biakit.pipeline._steps import accepts_spacing

    kwargs = dict(cfg.params)
    if accepts_spacing(cfg.step):
        kwargs.setdefault("spacing", spacing)
    return kwargs


def _tail_fields(steps: Sequence[Any], have: set[str]) -> tuple[str, ...]:
    """State fields the tail reads: its first step's input, and the image if a step takes it."""
    from biakit.pipeline._steps import STEPS

    if not steps:  # labels of the head's mask (or image)
        return ("mask",) if "mask" in have else ("image",)
    need = []
    for cfg in steps:
        spec = STEPS[cfg.step]
        reads = spec.reads if spec.reads != "objects" else ("mask" if "mask" in have else "image")
        reads = "mask" if reads == "labels" else reads
        if not need:
            need.append(reads)
        if any(src == "image" for _, src in spec.state_kwargs) or reads == "image":
            need.append("image")
    return tuple(dict.fromkeys(f for f in need if f in have)) or ("mask",)


def _stat_keys(cfg: Any, index: int) -> list[str]:
    """Names of a step's global statistics (keys of the statistics table and its cache)."""
    name = f"step {index} {cfg.step}"
    suffixes = {"threshold": [""], "normalize_percentile": [" low", " high"]}
    return [name + s for s in suffixes.get(cfg.step, [" min", " max"])]


def _statistic(
    client: Any, chain: _Chain, cfg: Any, index: int, shape: tuple[int, ...],
    block_shape: tuple[int, ...], halo: tuple[int, ...],
) -> dict[str, float]:  # fmt: skip
    """Compute the step's global statistic chunk-wise: ``{"<name> low": ..., ...}``."""
    from ._stats import STAT_METHODS, _minmax, exact_percentile, global_threshold

    blocks = plan_blocks(shape, block_shape, halo)
    params = dict(cfg.params)
    keys = _stat_keys(cfg, index)
    if cfg.step == "threshold":
        method = params.get("method", "otsu")
        if method not in STAT_METHODS:
            raise PipelineError(
                f"step {index} (threshold): method {method!r} needs the whole image at once; "
                f"block-wise thresholds are {', '.join(STAT_METHODS)} or manual"
            )
        return {keys[0]: global_threshold(client, chain, blocks, method, np.float32)}
    if cfg.step == "normalize_percentile":
        low, high = float(params.get("low", 1.0)), float(params.get("high", 99.8))
        size = int(np.prod(shape))
        lo, hi = exact_percentile(client, chain, blocks, [low, high], np.float32, size,
                                  scalar=True)  # fmt: skip
        return dict(zip(keys, (lo, hi)))
    lo, hi = _minmax(client, chain, blocks)
    return dict(zip(keys, (float(lo), float(hi))))


def _fixed(
    client: Any, chain: _Chain, cfg: Any, index: int, shape: tuple[int, ...],
    block_shape: tuple[int, ...], halo: tuple[int, ...], stats: dict[str, float],
    cache: StatsCache | None = None,
) -> Any:  # fmt: skip
    """Return the step with its global statistic fixed (computed, or reused from ``cache``)."""
    from biakit.pipeline import StepConfig

    keys = _stat_keys(cfg, index)
    known = cache.get(keys) if cache else None
    values = known or _statistic(client, chain, cfg, index, shape, block_shape, halo)
    if cache is not None and known is None:
        cache.put(values)
    stats.update(values)
    v = [values[k] for k in keys]
    if cfg.step == "threshold":
        return StepConfig(step="threshold", params={"method": "manual", "value": v[0]})
    if cfg.step == "normalize_percentile":
        return StepConfig(step=cfg.step, params={**cfg.params, "low_value": v[0],
                                                 "high_value": v[1]})  # fmt: skip
    return StepConfig(step=cfg.step, params={**cfg.params, "in_range": (v[0], v[1])})


def _split(
    client: Any, source: Any, steps: Sequence[Any], spacing: tuple[float, ...],
    block_shape: tuple[int, ...], stats: dict[str, float], cache: StatsCache | None = None,
) -> tuple[_Chain, tuple[int, ...], int, set[str]]:  # fmt: skip
    """Build the head chain (statistics fixed); return it, its halo, where the tail starts.

    ``cache``: statistics saved by an interrupted run (reused), and where to save new ones.
    """
    from biakit.blocks import GLOBAL, get_halo
    from biakit.pipeline._steps import STEPS

    ndim = len(spacing)
    head: list[Any] = []
    halo = np.zeros(ndim, int)
    have = {"image"}
    for index, cfg in enumerate(steps, start=1):
        spec = STEPS[cfg.step]
        reads = spec.reads
        if reads == "objects":
            reads = "labels" if "labels" in have else "mask"
        if reads == "labels" and "labels" not in have:
            return _Chain(source, tuple(head), spacing), tuple(halo), index - 1, have
        step_halo = get_halo(spec.function, ndim, **_kwargs(cfg, spacing))
        if step_halo == GLOBAL:
            if cfg.step not in _STAT_STEPS or reads != "image":
                return _Chain(source, tuple(head), spacing), tuple(halo), index - 1, have
            chain = _Chain(source, tuple(head), spacing)
            cfg = _fixed(client, chain, cfg, index, source.shape, block_shape, tuple(halo), stats,
                         cache)  # fmt: skip
            step_halo = (0,) * ndim
        head.append(cfg)
        halo += np.asarray(step_halo, int)
        writes = spec.writes if spec.writes != "auto" else reads
        have.add(writes)
    return _Chain(source, tuple(head), spacing), tuple(int(h) for h in halo), len(steps), have


def iter_run_pipeline(
    pipeline: Any,
    source: Any,
    dest: str | Path,
    *,
    client: Any = None,
    block_shape: int | Sequence[int] | None = None,
    halo: int | Sequence[int] = DEFAULT_HALO,
    axes: str | None = None,
    levels: int | None = None,
    label_name: str | None = None,
    overwrite: bool = False,
    resume: bool = False,
    ngff_version: str = "0.4",
) -> Iterator[BlockProgress | PipelineReport]:
    """Run ``pipeline`` block-wise; yield :class:`BlockProgress`, then the :class:`PipelineReport`.

    Arguments as in :func:`run_pipeline`.
    """
    from ._client import BlockClient, get_client
    from ._source import open_source

    cfg = pipeline.config
    src = open_source(source, axes=axes, channel=cfg.channel if cfg.channel is not None else 0)
    ndim = len(src.shape)
    if ndim not in (2, 3):
        raise PipelineError(f"block-wise pipelines take 2D or 3D images, got axes {src.axes!r}")
    spacing = tuple(float(s) for s in (cfg.spacing or src.meta.spatial_spacing))
    if len(spacing) != ndim:
        raise PipelineError(f"spacing {spacing} does not fit the image's axes {src.axes!r}")
    obj_halo = check_block_shape(halo, ndim, "halo")
    name = label_name or cfg.name
    writer = OmeZarrWriter(dest, overwrite=overwrite, resume=resume, ngff_version=ngff_version)
    stats: dict[str, float] = {}
    with get_client(client) if not isinstance(client, BlockClient) else nullcontext(client) as bc:
        blocks_shape = _block_shape(block_shape, src.shape, bc, writer)
        writer.check_plan({"task": "pipeline", "shape": src.shape, "axes": src.axes,
                           "block_shape": blocks_shape, "halo": obj_halo, "spacing": spacing,
                           "channel": cfg.channel, "levels": levels, "label_name": name,
                           "steps": [s.model_dump(mode="json") for s in cfg.steps]})  # fmt: skip
        image = writer.image(src.shape, src.dtype, src.meta, chunks=blocks_shape, levels=levels)
        pending = submit_copy(bc, src, image, writer.marks)
        try:
            cache = StatsCache(writer.partial / MARKS / "statistics.json")
            chain, head_halo, start, have = _split(bc, src, cfg.steps, spacing, blocks_shape,
                                                   stats, cache)  # fmt: skip
            tail = tuple(cfg.steps[start:])
            fields = _tail_fields(tail, have)
            labels = writer.labels(name, src.shape, np.int32, src.meta, chunks=blocks_shape,
                                   levels=len(image.targets))  # fmt: skip
            view = _HeadView(chain, head_halo, fields)
            segment = _Tail(tail, fields, spacing, start + 1)
            n_objects = yield from _label(bc, view, segment, blocks_shape, obj_halo, labels.base,
                                          writer.marks("labels"))  # fmt: skip
            pending |= submit_levels(bc, labels, (), "labels ", marks=writer.marks)
            yield from wait_all(bc, pending)
        except BaseException:
            bc.cancel([f for f in pending if not isinstance(f, Skipped)])
            raise
    out = writer.commit()
    yield PipelineReport(out, name, n_objects, blocks_shape, stats)


def _block_shape(
    block_shape: Any, shape: tuple[int, ...], bc: Any, writer: OmeZarrWriter
) -> tuple[int, ...]:
    """Return the given block shape, else a resumed run's chunks, else >= 2 blocks per worker."""
    if block_shape is not None:
        return check_block_shape(block_shape, len(shape))
    if writer.resumed:  # blocks must keep matching the chunks already written
        import zarr

        try:
            return tuple(int(c) for c in zarr.open_array(str(writer.partial / "0")).chunks)
        except (FileNotFoundError, KeyError, ValueError, zarr.errors.ArrayNotFoundError):
            pass
    return default_block_shape(shape, bc.n_workers)


def _label(
    bc: Any, view: _HeadView, segment: _Tail, block_shape: tuple[int, ...],
    halo: tuple[int, ...], out: ZarrTarget, checkpoint: Path,
) -> Generator[BlockProgress, None, int]:  # fmt: skip
    """Instance labels of the whole image through ``label_blockwise``; return the count.

    The head runs inside the labelling's blocks (``view``), so each block goes from
    the input to its provisional labels in one task, started as soon as a worker is free.
    ``checkpoint``: each finished block's table and done-marker (a resumed run skips it).
    """
    from ._stitch import iter_label_blockwise

    gen = iter_label_blockwise(view, segment, block_shape=block_shape, halo=halo,
                               out=out.open("r+"), client=bc.client,
                               checkpoint=checkpoint)  # fmt: skip
    n_objects = 0
    for p in gen:
        n_objects = p.n_objects or 0
        yield BlockProgress(p.stage, p.done, p.total)
    return n_objects


def run_pipeline(  # noqa: D417 (the options are documented one by one)
    pipeline: Any, source: Any, dest: str | Path, **options: Any
) -> PipelineReport:
    """Run a classical pipeline block by block and write an OME-Zarr image with its labels.

    The plain wrapper of :func:`iter_run_pipeline` (same keyword arguments).

    Parameters
    ----------
    pipeline : biakit.Pipeline
        The steps (see the module notes for which run block-wise and how).
    source : path, array or LazySource
        2D or 3D image, read lazily (see :func:`open_source`); the config's channel
        (default 0) of a multi-channel image.
    dest : str or Path
        Output ``.ome.zarr``: the segmented channel (with levels) and ``labels/<name>``.
    client : see :func:`get_client`
        ``"local"``, ``"threads"``, ``"tcp://HOST:PORT"``, a ``distributed.Client`` or a
        :class:`BlockClient`; None: the default distributed client, else threads.
    block_shape : int or sequence of int, optional
        Spatial block (and chunk) shape; default: the largest power-of-two side up
        to 2048 (2D) / 128 (3D) that gives each worker at least 2 blocks
        (``biakit.distributed._engine.default_block_shape``).
    halo : int or sequence of int
        Context of the labelling tail: at least the largest object's extent.
    axes : str, optional
        Axes of the stored array when the file lacks them.
    levels : int, optional
        Resolution levels (each halving Y and X); default: down to about 256 pixels.
    label_name : str, optional
        Name of the label image (default: the pipeline's name).
    overwrite, resume : bool
        Replace an existing output / finish the run interrupted in ``DEST.partial``
        with the same pipeline, input and options: the blocks it finished (segmented,
        relabelled, copied, downsampled) and its statistics are not computed again;
        the output equals an uninterrupted run's.
    ngff_version : {"0.4", "0.5"}
        NGFF version of the output.

    Returns
    -------
    PipelineReport

    Raises
    ------
    PipelineError
        A threshold method that needs the whole image (``li``), or an image that is
        not 2D / 3D.
    ImageWriteError
        ``dest`` exists (without ``overwrite``), an interrupted run is in the way, or
        ``resume`` finds a run made with another pipeline, block shape or halo.

    Examples
    --------
    >>> import tempfile
    >>> from biakit import Pipeline
    >>> image = np.zeros((48, 48), np.float32); image[4:14, 4:14] = 1
    >>> dest = Path(tempfile.mkdtemp()) / "o.ome.zarr"
    >>> run_pipeline(Pipeline.default(), image, dest, client="threads", block_shape=24).n_objects
    1
    """
    *_, report = iter_run_pipeline(pipeline, source, dest, **options)
    return report


run_pipeline.__signature__ = same_signature(iter_run_pipeline, PipelineReport)  # type: ignore[attr-defined]
