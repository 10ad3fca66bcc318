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
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import PipelineError

from ._engine import BlockProgress, check_block_shape, iter_run_blocks, plan_blocks
from ._output import OmeZarrWriter, ZarrTarget

_STAT_STEPS = ("threshold", "normalize_percentile", "rescale_intensity")
DEFAULT_BLOCK = 512
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


@dataclass(frozen=True)
class _Chain:
    """Task body: run the head steps on a block plus halo, return the centre's fields."""

    source: Any
    steps: tuple[Any, ...]
    spacing: tuple[float, ...]

    def state(self, block: Any) -> dict[str, Any]:
        from biakit.pipeline._pipeline import _apply_step

        region = np.asarray(self.source.read(block.read))
        state: dict[str, Any] = {"image": region.astype(np.float32, copy=False)}
        state["mask"] = state["labels"] = None
        for index, cfg in enumerate(self.steps, start=1):
            _apply_step(state, index, cfg, self.spacing)
        return {k: (None if v is None else np.asarray(v)[block.crop]) for k, v in state.items()}

    def __call__(self, block: Any) -> np.ndarray:
        return self.state(block)["image"]


@dataclass(frozen=True)
class _WriteFields:
    """Task: the head's fields of one block into the tail's input array (and the image copy)."""

    chain: _Chain
    fields: tuple[str, ...]
    target: ZarrTarget | None
    image: ZarrTarget

    def __call__(self, block: Any) -> None:
        self.image.write(block.write, self.chain.source.read(block.write))
        if self.target is None:
            return
        state = self.chain.state(block)
        parts = [np.asarray(state[f]) for f in self.fields]
        if len(parts) > 1:
            parts = [p.astype(np.float32) for p in parts]
        data = parts[0] if len(parts) == 1 else np.stack(parts)
        region = block.write if len(parts) == 1 else (slice(None), *block.write)
        self.target.write(region, data)


@dataclass(frozen=True)
class _Tail:
    """``segment(block) -> labels``: the tail steps on one block of the head's output."""

    steps: tuple[Any, ...]
    fields: tuple[str, ...]
    spacing: tuple[float, ...]
    start: int

    def __call__(self, block: np.ndarray) -> np.ndarray:
        from biakit.pipeline._pipeline import _apply_step
        from biakit.segment import label

        parts = [block] if len(self.fields) == 1 else list(block)
        state: dict[str, Any] = {"image": None, "mask": None, "labels": None}
        for name, part in zip(self.fields, parts):
            state[name] = part.astype(bool) if name == "mask" else part
        for index, cfg in enumerate(self.steps, start=self.start):
            _apply_step(state, index, cfg, self.spacing)
        labels = state["labels"] if state["labels"] is not None else label(state["mask"])
        return np.asarray(labels).astype(np.int32, copy=False)


def _kwargs(cfg: Any, spacing: tuple[float, ...]) -> dict[str, Any]:
    from biakit.pipeline._steps import accepts_spacing

    kwargs = dict(cfg.params)
    if accepts_spacing(cfg.step):
        kwargs.setdefault("spacing", spacing)
    return kwargs


def _tail_fields(steps: Sequence[Any], have: set[str]) -> tuple[str, ...]:
    """State fields the tail reads: its first step's input, and the image if a step takes it."""
    from biakit.pipeline._steps import STEPS

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


def _fixed(
    client: Any, chain: _Chain, cfg: Any, index: int, shape: tuple[int, ...],
    block_shape: tuple[int, ...], halo: tuple[int, ...], stats: dict[str, float],
) -> Any:  # fmt: skip
    """Compute the step's global statistic chunk-wise; return the step with it fixed."""
    from biakit.pipeline import StepConfig

    from ._stats import STAT_METHODS, _minmax, exact_percentile, global_threshold

    blocks = plan_blocks(shape, block_shape, halo)
    params = dict(cfg.params)
    name = f"step {index} {cfg.step}"
    if cfg.step == "threshold":
        method = params.get("method", "otsu")
        if method not in STAT_METHODS:
            raise PipelineError(
                f"step {index} (threshold): method {method!r} needs the whole image at once; "
                f"block-wise thresholds are {', '.join(STAT_METHODS)} or manual"
            )
        value = global_threshold(client, chain, blocks, method, np.float32)
        stats[name] = value
        return StepConfig(step="threshold", params={"method": "manual", "value": value})
    if cfg.step == "normalize_percentile":
        low, high = float(params.get("low", 1.0)), float(params.get("high", 99.8))
        size = int(np.prod(shape))
        lo, hi = exact_percentile(client, chain, blocks, [low, high], np.float32, size,
                                  scalar=True)  # fmt: skip
        stats[f"{name} low"], stats[f"{name} high"] = lo, hi
        return StepConfig(step=cfg.step, params={**params, "low_value": lo, "high_value": hi})
    lo, hi = _minmax(client, chain, blocks)
    stats[f"{name} min"], stats[f"{name} max"] = float(lo), float(hi)
    return StepConfig(step=cfg.step, params={**params, "in_range": (float(lo), float(hi))})


def _split(
    client: Any, source: Any, steps: Sequence[Any], spacing: tuple[float, ...],
    block_shape: tuple[int, ...], stats: dict[str, float],
) -> tuple[_Chain, tuple[int, ...], int, set[str]]:  # fmt: skip
    """Build the head chain (statistics fixed); return it, its halo, where the tail starts."""
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
            cfg = _fixed(client, chain, cfg, index, source.shape, block_shape, tuple(halo), stats)
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
    blocks_shape = check_block_shape(block_shape or DEFAULT_BLOCK, ndim)
    obj_halo = check_block_shape(halo, ndim, "halo")
    name = label_name or cfg.name
    writer = OmeZarrWriter(dest, overwrite=overwrite, resume=resume, ngff_version=ngff_version)
    stats: dict[str, float] = {}
    with get_client(client) if not isinstance(client, BlockClient) else _Keep(client) as bc:
        chain, head_halo, start, have = _split(bc, src, cfg.steps, spacing, blocks_shape, stats)
        tail = tuple(cfg.steps[start:])
        fields = ("mask",) if "mask" in have else ("image",)
        fields = _tail_fields(tail, have) if tail else fields
        image = writer.image(src.shape, src.dtype, src.meta, chunks=blocks_shape, levels=levels)
        k = len(fields)
        tshape = src.shape if k == 1 else (k, *src.shape)
        tchunks = blocks_shape if k == 1 else (k, *blocks_shape)
        dtype = np.uint8 if fields == ("mask",) else np.float32
        tail_in = writer.scratch("tail_input", tshape, dtype, tchunks)
        task = _WriteFields(chain, fields, tail_in, image.base)
        blocks = plan_blocks(src.shape, blocks_shape, head_halo)
        yield from (p for p, _ in iter_run_blocks(bc, task, blocks, stage="head",
                                                 marks=writer.marks("head")))  # fmt: skip
        labels = writer.labels(name, src.shape, np.int32, src.meta, chunks=blocks_shape,
                               levels=len(image.targets))  # fmt: skip
        segment = _Tail(tail, fields, spacing, start + 1)
        yield BlockProgress("labels", 0, 1)
        n_objects = _label(bc, tail_in, segment, blocks_shape, obj_halo, labels.base, k)
        yield BlockProgress("labels", 1, 1)
        yield from writer.iter_levels(bc, image)
        yield from writer.iter_levels(bc, labels)
    out = writer.commit()
    yield PipelineReport(out, name, n_objects, blocks_shape, stats)


def _label(
    bc: Any, tail_in: ZarrTarget, segment: _Tail, block_shape: tuple[int, ...],
    halo: tuple[int, ...], out: ZarrTarget, k: int,
) -> int:  # fmt: skip
    """Instance labels of the whole image through ``label_blockwise``; return the count."""
    from biakit.distributed._stitch import label_blockwise

    source = tail_in.open("r")
    target = out.open("r+")
    kwargs = {"block_shape": block_shape, "halo": halo, "out": target, "client": bc.client}
    label_blockwise(source, segment, **kwargs)  # labels 1..N
    return _count(bc, out)


def _count(bc: Any, labels: ZarrTarget) -> int:
    """Largest label (``label_blockwise`` numbers objects 1..N)."""
    from ._engine import run_blocks

    arr = labels.open("r")
    blocks = plan_blocks(arr.shape, arr.chunks, (0,) * arr.ndim)
    return int(max(run_blocks(bc, _Max(labels), blocks, stage="count")))


@dataclass(frozen=True)
class _Max:
    labels: ZarrTarget

    def __call__(self, block: Any) -> int:
        return int(self.labels.read(block.write).max())


class _Keep:
    def __init__(self, client: Any) -> None:
        self.client = client

    def __enter__(self) -> Any:
        return self.client

    def __exit__(self, *exc: Any) -> None:
        return None


def run_pipeline(
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
) -> PipelineReport:
    """Run a classical pipeline block by block and write an OME-Zarr image with its labels.

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
        Spatial block (and chunk) shape; default 512 per axis.
    halo : int or sequence of int
        Context of the labelling tail: at least the largest object's extent.
    axes : str, optional
        Axes of the stored array when the file lacks them.
    levels : int, optional
        Resolution levels (each halving Y and X); default: down to about 256 pixels.
    label_name : str, optional
        Name of the label image (default: the pipeline's name).
    overwrite, resume : bool
        Replace an existing output / continue the run interrupted in ``DEST.partial``.
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
        ``dest`` exists (without ``overwrite``), or an interrupted run is in the way.

    Examples
    --------
    >>> import tempfile
    >>> from biakit import Pipeline
    >>> image = np.zeros((48, 48), np.float32); image[4:14, 4:14] = 1
    >>> dest = Path(tempfile.mkdtemp()) / "o.ome.zarr"
    >>> run_pipeline(Pipeline.default(), image, dest, client="threads", block_shape=24).n_objects
    1
    """
    report = None
    for item in iter_run_pipeline(
        pipeline, source, dest, client=client, block_shape=block_shape, halo=halo, axes=axes,
        levels=levels, label_name=label_name, overwrite=overwrite, resume=resume,
        ngff_version=ngff_version,
    ):  # fmt: skip
        if isinstance(item, PipelineReport):
            report = item
    assert report is not None
    return report
