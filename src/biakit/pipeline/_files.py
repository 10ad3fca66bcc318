"""Run a pipeline over many image files and write labels, measurements and overlays."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biakit._outputs import check_outputs, record_outputs, table_files
from biakit.pipeline._pipeline import Pipeline, PipelineResult


@dataclass(frozen=True)
class FileResult:
    """What a pipeline run produced for one input file."""

    input: Path
    n_objects: int
    outputs: tuple[Path, ...]


def output_paths(input_path: Path, output_dir: Path) -> dict[str, Path]:
    """Return the files written for one input: ``<stem>_labels.tif``, ``<stem>_overlay.png``.

    Examples
    --------
    >>> names = output_paths(Path("in/cells.ome.tif"), Path("out"))
    >>> names["labels"].as_posix(), names["overlay"].as_posix()
    ('out/cells_labels.tif', 'out/cells_overlay.png')
    """
    from biakit.io import file_key

    stem = file_key(input_path)
    return {
        "labels": output_dir / f"{stem}_labels.tif",
        "overlay": output_dir / f"{stem}_overlay.png",
    }


@dataclass
class FileRun:
    """One pipeline run over files: checked up front, one file at a time, tables at the end.

    Creating it checks every planned output before any work: no output may
    be an input, an existing output is refused unless ``overwrite``, and
    ``overwrite`` replaces only files an earlier biakit run recorded as its
    own outputs in that folder (see :func:`biakit._outputs.check_outputs`).
    :meth:`process` runs one file and writes its outputs (each atomically;
    on failure the file's outputs written so far are removed);
    :meth:`finish` writes ``measurements.csv`` and ``summary.csv`` for the
    files that succeeded.

    Examples
    --------
    >>> import tempfile
    >>> from biakit.io import ImageMeta, write_image
    >>> d = Path(tempfile.mkdtemp())
    >>> image = np.zeros((16, 16), np.uint8); image[4:10, 4:10] = 200
    >>> write_image(d / "a.tif", image, ImageMeta("YX"))
    >>> run = FileRun(Pipeline.default(), [d / "a.tif"], d / "out")
    >>> run.process(d / "a.tif").n_objects
    1
    >>> [p.name for p in run.finish()]
    ['measurements.csv', 'summary.csv']
    """

    pipeline: Pipeline
    inputs: Sequence[Path]
    output_dir: Path
    overwrite: bool = False
    axes: str | None = None
    results: list[FileResult] = field(default_factory=list, init=False)
    _tables: list[pd.DataFrame] = field(default_factory=list, init=False, repr=False)
    _summary: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.inputs = [Path(p) for p in self.inputs]
        self.output_dir = Path(self.output_dir)
        check_outputs(self.inputs, self.planned(), overwrite=self.overwrite)

    def planned(self) -> list[Path]:
        """Every file this run may write."""
        cfg = self.pipeline.config.outputs
        planned = []
        for path in self.inputs:
            names = output_paths(path, self.output_dir)
            planned += [names["labels"]] if cfg.labels else []
            planned += [names["overlay"]] if cfg.overlays else []
        if cfg.measurements:
            planned += table_files(self.output_dir / "measurements.csv")
        return planned + table_files(self.output_dir / "summary.csv")

    def process(self, path: Path) -> FileResult:
        """Read, run and write the outputs of one input file."""
        from biakit.io import ImageMeta, read_image
        from biakit.validation import check_channel

        kwargs = {} if self.axes is None else {"axes": self.axes}
        image, meta = read_image(path, lazy=False, **kwargs)
        image = check_pixels(np.asarray(image), path)
        channel = self.pipeline.config.channel
        if channel is not None:
            n_channels = image.shape[meta.axes.index("C")] if "C" in meta.axes else 1
            check_channel(channel, n_channels, name="config channel", source=path)
        result = self.pipeline.run(image, axes=meta.axes, spacing=meta.spatial_spacing)
        cfg = self.pipeline.config.outputs
        names = output_paths(path, self.output_dir)
        todo = []
        if cfg.labels:
            todo.append((names["labels"], result.labels, _label_meta(result, meta)))
        if cfg.overlays:
            todo.append((names["overlay"], _overlay(result), ImageMeta("YXC", unit="pixel")))
        table = None
        if cfg.measurements:
            table = _measure(result, unit=meta.unit)
            table.insert(0, "image", path.name)
        record_outputs(self.output_dir, [target for target, _, _ in todo])  # before writing
        written = write_all(todo, overwrite=self.overwrite)
        if table is not None:
            self._tables.append(table)
        self._summary.append(
            {"image": path.name, "n_objects": result.n_objects, "axes": result.axes}
        )
        file_result = FileResult(path, result.n_objects, tuple(written))
        self.results.append(file_result)
        return file_result

    def finish(self) -> list[Path]:
        """Write the tables of the files processed so far; return the files written."""
        from biakit.measure import write_table

        if not self._summary:
            return []
        tables = ["measurements.csv"] if self._tables else []
        targets = [self.output_dir / name for name in (*tables, "summary.csv")]
        record_outputs(self.output_dir, [f for t in targets for f in table_files(t)])
        written = []
        if self._tables:
            target = self.output_dir / "measurements.csv"
            frame = pd.concat(self._tables, ignore_index=True)
            written.append(write_table(frame, target, overwrite=self.overwrite))
        target = self.output_dir / "summary.csv"
        written.append(write_table(pd.DataFrame(self._summary), target, overwrite=self.overwrite))
        return written


def check_pixels(image: np.ndarray, source: Path) -> np.ndarray:
    """Refuse pixel types an analysis cannot use (complex, text, objects) and NaN / infinity.

    Examples
    --------
    >>> check_pixels(np.zeros((2, 2), np.complex64), Path("a.npy"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    biakit.errors.DataError: a.npy: pixels of type complex64 ...
    """
    from biakit.errors import DataError
    from biakit.validation import check_finite

    if image.dtype.kind not in "biuf":
        raise DataError(
            f"{source}: pixels of type {image.dtype} cannot be analysed; expected integer, "
            f"boolean or real floating-point pixels"
        )
    return check_finite(image, source=source)


def write_all(todo: Sequence[tuple[Path, Any, Any]], *, overwrite: bool) -> list[Path]:
    """Write ``(path, array, meta)`` images; on failure remove those already written."""
    from biakit.io import write_image

    written: list[Path] = []
    try:
        for target, array, meta in todo:
            write_image(target, array, meta, overwrite=overwrite)
            written.append(target)
    except BaseException:
        for target in written:
            target.unlink(missing_ok=True)
        raise
    return written


def iter_run_files(
    pipeline: Pipeline,
    inputs: Sequence[Path],
    output_dir: Path,
    *,
    overwrite: bool = False,
    axes: str | None = None,
) -> Iterator[FileResult]:
    """Run ``pipeline`` on each input file, yielding after each one (for progress bars).

    Writes per input ``<stem>_labels.tif`` and ``<stem>_overlay.png`` and, after the
    last input, ``measurements.csv`` (one row per object, column ``image``) and
    ``summary.csv`` (one row per image). Every file is written atomically;
    an existing output is refused unless ``overwrite``; an output may never
    replace an input, and ``overwrite`` replaces only earlier biakit outputs.
    The first failing file stops the run (the command line uses :class:`FileRun`
    to go on past it).

    Raises
    ------
    FileExistsError
        An output exists (without ``overwrite``), would replace an input, or
        was not written by biakit; checked before any work.
    """
    run = FileRun(pipeline, inputs, output_dir, overwrite=overwrite, axes=axes)
    for path in run.inputs:
        yield run.process(path)
    run.finish()


def run_files(
    pipeline: Pipeline,
    inputs: Sequence[Path],
    output_dir: Path,
    *,
    overwrite: bool = False,
    axes: str | None = None,
) -> list[FileResult]:
    """Run ``pipeline`` on every input; plain wrapper of :func:`iter_run_files`."""
    return list(iter_run_files(pipeline, inputs, output_dir, overwrite=overwrite, axes=axes))


def _label_meta(result: PipelineResult, meta: Any) -> Any:
    from biakit.io import ImageMeta

    spacing = (*([1.0] if "T" in result.axes else []), *result.spacing)
    return ImageMeta(result.axes, spacing, unit=meta.unit)


def _overlay(result: PipelineResult) -> np.ndarray:
    from biakit.visualize import overlay_labels

    if "T" in result.axes:  # first frame is representative
        return overlay_labels(result.raw[0], result.labels[0])
    return overlay_labels(result.raw, result.labels)


def _measure(result: PipelineResult, *, unit: str) -> pd.DataFrame:
    from biakit.measure import measure_objects

    if "T" not in result.axes:
        return measure_objects(result.labels, result.raw, spacing=result.spacing, unit=unit)
    frames = []
    for t, (lab, img) in enumerate(zip(result.labels, result.raw)):
        table = measure_objects(lab, img, spacing=result.spacing, unit=unit)
        table.insert(0, "frame", t)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)
