"""OME-Zarr output written block by block: ``DEST.partial`` first, renamed when complete.

Every array is created up front (shape, dtype, chunks, NGFF metadata) inside
``DEST.partial``; tasks write their own chunk-aligned regions (a retried task
rewrites the same bytes), resolution levels are computed from the written level
below, chunk-wise; done-markers in ``DEST.partial/.biakit-blocks`` let a re-run
resume. Only :meth:`OmeZarrWriter.commit` renames the folder to ``DEST``, so an
interrupted run never leaves an output that looks complete.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from biakit.errors import ImageWriteError
from biakit.io import ImageMeta

from ._engine import BlockProgress, iter_run_blocks, plan_blocks

MARKS = ".biakit-blocks"


@dataclass(frozen=True)
class ZarrTarget:
    """A Zarr array addressed by folder and key: picklable, opened by each task."""

    root: str
    key: str

    def open(self, mode: str = "r+") -> zarr.Array:
        """Open the array."""
        return zarr.open_array(str(Path(self.root) / self.key), mode=mode)

    def write(self, region: tuple[slice, ...], data: np.ndarray) -> None:
        """Write ``data`` into ``region`` (whole chunks: idempotent, no read-modify-write)."""
        arr = self.open()
        arr[region] = np.asarray(data, dtype=arr.dtype)

    def read(self, region: tuple[slice, ...]) -> np.ndarray:
        """Read ``region``."""
        return np.asarray(self.open("r")[region])


@dataclass(frozen=True)
class Levels:
    """The resolution levels of one image (or label image) being written.

    Attributes
    ----------
    targets : tuple of ZarrTarget
        Level 0 first.
    shapes : tuple of tuple of int
        Shape of each level.
    chunks : tuple of int
        Chunk shape (the block shape of level 0 along the spatial axes).
    axes : str
        Canonical axes.
    labels : bool
        Label image (nearest-neighbour levels) or image (2x2 mean).
    """

    targets: tuple[ZarrTarget, ...]
    shapes: tuple[tuple[int, ...], ...]
    chunks: tuple[int, ...]
    axes: str
    labels: bool

    @property
    def base(self) -> ZarrTarget:
        """Level 0."""
        return self.targets[0]


def level_shapes(shape: Sequence[int], axes: str, levels: int | None) -> list[tuple[int, ...]]:
    """Shapes of the levels, each halving Y and X (floor); ``None``: down to about 256 pixels.

    Examples
    --------
    >>> level_shapes((3, 1000, 700), "CYX", None)
    [(3, 1000, 700), (3, 500, 350), (3, 250, 175)]
    """
    shapes = [tuple(int(n) for n in shape)]
    limit = 8 if levels is None else levels
    while len(shapes) < limit:
        prev = shapes[-1]
        yx = [n for n, a in zip(prev, axes) if a in "YX"]
        if levels is None and max(yx) <= 256:
            break
        nxt = tuple(n // 2 if a in "YX" else n for n, a in zip(prev, axes))
        if min(n for n, a in zip(nxt, axes) if a in "YX") < 1:
            raise ImageWriteError(f"levels={levels} is too many for shape {tuple(shape)}")
        shapes.append(nxt)
    return shapes


class OmeZarrWriter:
    """An OME-Zarr image (and its ``labels/``) written block by block into ``DEST.partial``.

    Parameters
    ----------
    dest : str or Path
        Output folder (``.ome.zarr`` / ``.zarr``).
    overwrite : bool
        Replace an existing ``dest`` and discard an interrupted run.
    resume : bool
        Continue the interrupted run in ``DEST.partial`` (blocks already written are kept).
    ngff_version : {"0.4", "0.5"}
        NGFF version (0.4 on Zarr v2, 0.5 on Zarr v3).

    Raises
    ------
    ImageWriteError
        ``dest`` exists (without ``overwrite``), ``DEST.partial`` holds an interrupted
        run (without ``resume`` or ``overwrite``), or ``resume`` finds nothing to resume.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> w = OmeZarrWriter(d / "out.ome.zarr")
    >>> lv = w.image((32, 32), np.uint8, ImageMeta("YX"), chunks=(16, 16), levels=2)
    >>> lv.base.write((slice(0, 32), slice(0, 32)), np.ones((32, 32)))
    >>> _ = list(w.iter_levels(None, lv))
    >>> w.commit().name
    'out.ome.zarr'
    """

    def __init__(
        self,
        dest: str | Path,
        *,
        overwrite: bool = False,
        resume: bool = False,
        ngff_version: str = "0.4",
    ) -> None:
        self.dest = Path(dest)
        self.partial = self.dest.with_name(self.dest.name + ".partial")
        if ngff_version not in ("0.4", "0.5"):
            raise ImageWriteError(
                f"{self.dest}: ngff_version {ngff_version!r} is not supported; expected '0.4' "
                "or '0.5'"
            )
        self.version = ngff_version
        self.zarr_format = 2 if ngff_version == "0.4" else 3
        self.resumed = self._prepare(overwrite=overwrite, resume=resume)
        self._labels: list[str] = []

    def _prepare(self, *, overwrite: bool, resume: bool) -> bool:
        if resume and overwrite:
            raise ImageWriteError(f"{self.dest}: resume and overwrite exclude each other")
        if resume and self.partial.exists():
            return True  # an interrupted run replacing dest (overwrite) continues, too
        if self.dest.exists() and not overwrite:
            raise ImageWriteError(
                f"{self.dest}: output exists; pass overwrite=True (--overwrite) to replace it"
            )
        if self.partial.exists():
            if not overwrite:
                raise ImageWriteError(
                    f"{self.partial}: holds an interrupted run; continue it with resume=True "
                    "(--resume) or start afresh with overwrite=True (--overwrite)"
                )
            shutil.rmtree(self.partial)
        elif resume:
            raise ImageWriteError(f"{self.partial}: no interrupted run to resume")
        zarr.open_group(str(self.partial), mode="w", zarr_format=self.zarr_format)
        return False

    def check_plan(self, plan: dict[str, Any]) -> None:
        """Record the run's plan (block grid, shapes); resuming, refuse a different one.

        Done-markers name blocks by their index in the plan, so a resumed run must
        cut the image into the same blocks: a changed block shape, halo, input or
        model would otherwise leave a silently mixed output.

        Raises
        ------
        ImageWriteError
            Resuming a run recorded with another plan.
        """
        import json

        path = self.partial / MARKS / "plan.json"
        new = json.loads(json.dumps(plan))
        if self.resumed and path.is_file():
            old = json.loads(path.read_text())
            changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
            if changed:
                k = changed[0]
                raise ImageWriteError(
                    f"{self.partial}: the interrupted run used {k}={old.get(k)}, this run "
                    f"{k}={new.get(k)}; resume with the same model, input and options (e.g. "
                    "--block-size) or start afresh with overwrite=True (--overwrite)"
                )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(new, sort_keys=True))

    def marks(self, stage: str) -> Path:
        """Folder of done-markers of one stage."""
        return self.partial / MARKS / stage.replace(" ", "_").replace("/", "_")

    def _create(
        self, group_path: Path, shape: Sequence[int], dtype: Any, meta: ImageMeta,
        chunks: Sequence[int], levels: int | None, label_source: str | None,
    ) -> Levels:  # fmt: skip
        from biakit.io._ngff import build_multiscale, image_attrs
        from biakit.io._zarr import _create

        shapes = level_shapes(shape, meta.axes, levels)
        chunks = tuple(min(int(c), int(n)) for c, n in zip(chunks, shape))
        group = zarr.open_group(str(group_path), mode="a", zarr_format=self.zarr_format)
        targets, scales = [], []
        for i, lshape in enumerate(shapes):
            key = str(i)
            if key not in group or tuple(group[key].shape) != lshape:
                if key in group:
                    del group[key]
                template = np.broadcast_to(np.zeros((), dtype), lshape)
                lchunks = tuple(min(c, n) for c, n in zip(chunks, lshape))
                _create(group, key, template, meta.axes, self.zarr_format, "auto", lchunks)
            targets.append(ZarrTarget(str(group_path), key))
            factor = [s0 / s for s0, s in zip(shapes[0], lshape)]
            scales.append(tuple(sp * (f if a in "YX" else 1.0)
                                for sp, f, a in zip(meta.spacing, factor, meta.axes)))  # type: ignore[arg-type]  # fmt: skip
        ms = build_multiscale(meta, scales, name=self.dest.name)
        group.attrs.update(
            image_attrs(meta, self.version, ms, label_source=label_source, dtype=dtype)
        )
        return Levels(tuple(targets), tuple(shapes), chunks, meta.axes, label_source is not None)

    def image(
        self, shape: Sequence[int], dtype: Any, meta: ImageMeta, *, chunks: Sequence[int],
        levels: int | None = None,
    ) -> Levels:  # fmt: skip
        """Create (or, resuming, reopen) the image arrays at the root of the output."""
        return self._create(self.partial, shape, dtype, meta, chunks, levels, None)

    def labels(
        self, name: str, shape: Sequence[int], dtype: Any, meta: ImageMeta, *,
        chunks: Sequence[int], levels: int | None = None,
    ) -> Levels:  # fmt: skip
        """Create the label image ``labels/<name>`` (NGFF ``image-label`` metadata)."""
        from biakit.io._ngff import labels_group_attrs

        if not name or "/" in name or name.startswith("."):
            raise ImageWriteError(f"{self.dest}: label name must be a folder name, got {name!r}")
        root = self.partial / "labels"
        group = zarr.open_group(str(root), mode="a", zarr_format=self.zarr_format)
        if name not in self._labels:
            self._labels.append(name)
        group.attrs.update(labels_group_attrs(list(self._labels), self.version))
        return self._create(root / name, shape, dtype, meta, chunks, levels, "../../")

    def scratch(
        self, name: str, shape: Sequence[int], dtype: Any, chunks: Sequence[int]
    ) -> ZarrTarget:
        """Create a working array in ``DEST.partial/.biakit-work`` (removed by :meth:`commit`)."""
        root = self.partial / ".biakit-work"
        group = zarr.open_group(str(root), mode="a", zarr_format=self.zarr_format)
        shape = tuple(int(n) for n in shape)
        if name not in group or tuple(group[name].shape) != shape:
            if name in group:
                del group[name]
            chunks = tuple(min(int(c), n) for c, n in zip(chunks, shape))
            group.create_array(name, shape=shape, dtype=dtype, chunks=chunks, fill_value=0)
        return ZarrTarget(str(root), name)

    def iter_levels(self, client: Any, levels: Levels) -> Iterator[BlockProgress]:
        """Compute levels 1, 2, ... from the level below, chunk by chunk."""
        if client is None:
            from ._client import get_client

            with get_client("threads", n_workers=1) as bc:
                yield from self.iter_levels(bc, levels)
            return
        factors = tuple(2 if a in "YX" else 1 for a in levels.axes)
        for i in range(1, len(levels.targets)):
            shape = levels.shapes[i]
            chunks = tuple(min(c, n) for c, n in zip(levels.chunks, shape))
            blocks = plan_blocks(shape, chunks, (0,) * len(shape))
            task = _Downsample(levels.targets[i - 1], levels.targets[i], factors, levels.labels)
            stage = f"{levels.base.root}-{i}".replace(str(self.partial), "").strip("/") or "image"
            for progress, _ in iter_run_blocks(
                client, task, blocks, stage=f"level {i}", marks=self.marks(f"{stage} level {i}")
            ):
                yield progress

    def commit(self) -> Path:
        """Rename ``DEST.partial`` to ``DEST`` (replacing an old ``DEST``); return ``DEST``."""
        shutil.rmtree(self.partial / MARKS, ignore_errors=True)
        shutil.rmtree(self.partial / ".biakit-work", ignore_errors=True)
        if self.dest.exists():
            shutil.rmtree(self.dest)
        self.partial.rename(self.dest)
        return self.dest


@dataclass(frozen=True)
class _Downsample:
    """Task: one block of level ``i`` from level ``i - 1`` (2x2 mean, or nearest for labels)."""

    source: ZarrTarget
    target: ZarrTarget
    factors: tuple[int, ...]
    labels: bool

    def __call__(self, block: Any) -> None:
        region = tuple(slice(s.start * f, s.stop * f) for s, f in zip(block.write, self.factors))
        data = self.source.read(region)
        self.target.write(block.write, downsample(data, self.factors, self.labels))


def downsample(data: np.ndarray, factors: Sequence[int], labels: bool) -> np.ndarray:
    """Block mean (images: rounded for integers) or every ``f``-th pixel (labels).

    The same values :func:`biakit.io.write_image` gives its levels.

    Examples
    --------
    >>> downsample(np.arange(16).reshape(4, 4), (2, 2), False).tolist()
    [[2, 4], [10, 12]]
    >>> downsample(np.arange(16).reshape(4, 4), (2, 2), True).tolist()
    [[0, 2], [8, 10]]
    """
    if labels:
        return data[tuple(slice(None, None, f) for f in factors)]
    trim = tuple(slice(0, n // f * f) for n, f in zip(data.shape, factors))
    a = data[trim].astype(np.float64)
    shape = []
    for n, f in zip(a.shape, factors):
        shape += [n // f, f]
    mean = a.reshape(shape).mean(axis=tuple(range(1, 2 * a.ndim, 2)))
    return (np.round(mean) if np.issubdtype(data.dtype, np.integer) else mean).astype(data.dtype)
