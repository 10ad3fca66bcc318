"""Run a pipeline over many image files and write labels, measurements and overlays."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from biakit.pipeline._pipeline import Pipeline, PipelineResult


@dataclass(frozen=True)
class FileResult:
    """What a pipeline run produced for one input file."""

    input: Path
    n_objects: int
    outputs: tuple[Path, ...]


def output_paths(input_path: Path, output_dir: Path) -> dict[str, Path]:
    """Return the files written for one input: ``<stem>_labels.tif``, ``<stem>_overlay.png``."""
    stem = input_path.name
    for suffix in (".ome.tiff", ".ome.tif", ".ome.zarr", *input_path.suffixes[-1:]):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return {
        "labels": output_dir / f"{stem}_labels.tif",
        "overlay": output_dir / f"{stem}_overlay.png",
    }


def iter_run_files(
    pipeline: Pipeline,
    inputs: Sequence[Path],
    output_dir: Path,
    *,
    overwrite: bool = False,
) -> Iterator[FileResult]:
    """Run ``pipeline`` on each input file, yielding after each one (for progress bars).

    Writes per input ``<stem>_labels.tif`` and ``<stem>_overlay.png`` and, after the
    last input, ``measurements.csv`` (one row per object, column ``image``) and
    ``summary.csv`` (one row per image). Every file is written atomically;
    an existing output is refused unless ``overwrite``; an output may never
    replace an input.
    """
    from biakit.io import ImageMeta, read_image, write_image
    from biakit.measure import measure_objects, write_table

    RGB = ImageMeta("YXC", unit="pixel")

    inputs = [Path(p) for p in inputs]
    output_dir = Path(output_dir)
    _check_outputs(inputs, output_dir, overwrite=overwrite)
    output_dir.mkdir(parents=True, exist_ok=True)
    tables, summary = [], []
    outputs_cfg = pipeline.config.outputs
    for path in inputs:
        image, meta = read_image(path, lazy=False)
        result = pipeline.run(np.asarray(image), axes=meta.axes, spacing=meta.spatial_spacing)
        names = output_paths(path, output_dir)
        written: list[Path] = []
        if outputs_cfg.labels:
            write_image(
                names["labels"], result.labels, _label_meta(result, meta), overwrite=overwrite
            )
            written.append(names["labels"])
        if outputs_cfg.overlays:
            write_image(names["overlay"], _overlay(result), RGB, overwrite=overwrite)
            written.append(names["overlay"])
        if outputs_cfg.measurements:
            table = _measure(result, measure_objects, unit=meta.unit)
            table.insert(0, "image", path.name)
            tables.append(table)
        summary.append({"image": path.name, "n_objects": result.n_objects, "axes": result.axes})
        yield FileResult(path, result.n_objects, tuple(written))
    if outputs_cfg.measurements and tables:
        write_table(
            pd.concat(tables, ignore_index=True),
            output_dir / "measurements.csv",
            overwrite=overwrite,
        )
    write_table(pd.DataFrame(summary), output_dir / "summary.csv", overwrite=overwrite)


def run_files(
    pipeline: Pipeline, inputs: Sequence[Path], output_dir: Path, *, overwrite: bool = False
) -> list[FileResult]:
    """Run ``pipeline`` on every input; plain wrapper of :func:`iter_run_files`."""
    return list(iter_run_files(pipeline, inputs, output_dir, overwrite=overwrite))


def _check_outputs(inputs: list[Path], output_dir: Path, *, overwrite: bool) -> None:
    resolved_inputs = {p.resolve() for p in inputs}
    planned = [p for path in inputs for p in output_paths(path, output_dir).values()]
    planned += [output_dir / "measurements.csv", output_dir / "summary.csv"]
    for out in planned:
        if out.resolve() in resolved_inputs:
            raise FileExistsError(
                f"{out}: output would overwrite an input image; choose another --output"
            )
        if out.exists() and not overwrite:
            raise FileExistsError(
                f"{out}: output exists; pass --overwrite or choose another --output"
            )
    names = [p.name for p in planned]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"inputs give the same output name(s) {dupes}; rename or split the inputs")


def _label_meta(result: PipelineResult, meta):
    from biakit.io import ImageMeta

    spacing = (*([1.0] if "T" in result.axes else []), *result.spacing)
    return ImageMeta(result.axes, spacing, unit=meta.unit)


def _overlay(result: PipelineResult) -> np.ndarray:
    from biakit.visualize import overlay_labels

    if "T" in result.axes:  # first frame is representative
        return overlay_labels(result.raw[0], result.labels[0])
    return overlay_labels(result.raw, result.labels)


def _measure(result: PipelineResult, measure_objects, *, unit: str) -> pd.DataFrame:
    if "T" not in result.axes:
        return measure_objects(result.labels, result.raw, spacing=result.spacing, unit=unit)
    frames = []
    for t, (lab, img) in enumerate(zip(result.labels, result.raw)):
        table = measure_objects(lab, img, spacing=result.spacing, unit=unit)
        table.insert(0, "frame", t)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)
