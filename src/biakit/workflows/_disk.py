"""``predict_to_disk``: read each image, predict once, write every output (what the CLI calls).

The loop is a generator yielding one :class:`FileOutcome` per input (progress
bars, napari workers and cancel buttons consume it); :func:`predict_to_disk`
is the plain wrapper. A file that cannot be read or predicted is reported in
its outcome and the batch goes on; outputs are written atomically, so a
failure leaves no half-written file. Before any work, the planned outputs are
checked against the inputs (:func:`biakit._outputs.check_outputs`): no output may
replace an input, and ``overwrite`` replaces only files biakit recorded as its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biakit._outputs import check_outputs, record_outputs
from biakit.errors import ParameterError, UserError


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one input of :func:`iter_predict_to_disk`.

    Attributes
    ----------
    path : Path
        The input image.
    outputs : tuple of Path
        Files written for it (empty when it failed).
    n_objects : int
        Objects (instance), points (detection) or foreground pixels (semantic).
    error : str or None
        One-line reason when the file failed.
    warnings : tuple of str
        E.g. an object density far from what the model saw in training.
    """

    path: Path
    outputs: tuple[Path, ...] = ()
    n_objects: int = 0
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PredictionReport:
    """Result of :func:`predict_to_disk`: one outcome per input, plus batch-wide files."""

    outcomes: tuple[FileOutcome, ...]
    extra_outputs: tuple[Path, ...] = ()

    @property
    def failures(self) -> tuple[FileOutcome, ...]:
        """Outcomes of the inputs that failed."""
        return tuple(o for o in self.outcomes if o.error is not None)


def iter_predict_to_disk(
    workflow: Any,
    inputs: str | Path | Sequence[str | Path],
    output_dir: str | Path,
    *,
    overwrite: bool = False,
    maps: bool = False,
    overlay: bool = True,
    tta: bool | int | None = False,
    axes: str | None = None,
) -> Iterator[FileOutcome]:
    """Predict every input once and write its outputs; yield one outcome per input.

    Per input ``NAME``: the final result (``NAME_labels.tif`` or ``NAME_points.csv``),
    with ``maps`` the raw network output ``NAME_maps.tif`` (channels first), with
    ``overlay`` an RGB ``NAME_overlay.png``. Tasks with per-object tables
    (instance) write ``measurements.csv`` after the last input.
    """
    from biakit.io import file_key, list_images

    paths = _input_paths(inputs, list_images)
    output_dir = Path(output_dir)
    plans = {p: workflow._output_names(file_key(p), output_dir, maps=maps, overlay=overlay)
             for p in paths}  # fmt: skip
    planned = [out for plan in plans.values() for out in plan.values()]
    batch = list(workflow._batch_outputs(output_dir))
    check_outputs(paths, [*planned, *batch], overwrite=overwrite)
    tables = []
    for path in paths:
        try:
            record_outputs(output_dir, plans[path].values())  # before writing: --overwrite later
            outcome, table = _predict_one(workflow, path, plans[path], tta=tta, axes=axes,
                                          overwrite=overwrite)  # fmt: skip
        except (UserError, OSError) as err:
            outcome, table = FileOutcome(path, error=" ".join(str(err).split())), None
        if table is not None:
            tables.append(table)
        yield outcome
    if tables:
        record_outputs(output_dir, batch)
    workflow._write_batch(tables, output_dir, overwrite=overwrite)


def _input_paths(inputs: Any, list_images: Any) -> list[Path]:
    if isinstance(inputs, str | Path):
        paths = list_images(inputs)
    else:
        paths = [Path(p) for p in inputs]
    if not paths:
        raise ParameterError(f"input: no images found in {inputs!r}")
    return paths


def _predict_one(
    workflow: Any, path: Path, names: dict[str, Path], *, tta: bool | int | None, axes: str | None,
    overwrite: bool,
) -> tuple[FileOutcome, Any]:  # fmt: skip
    from biakit.io import read_channel_first

    ndim = workflow.input_ndim
    image, meta = read_channel_first(path, ndim=ndim, axes=axes, time=workflow.timelapse_frames,
                                     planes=workflow.stack_planes)  # fmt: skip
    by_plane = len(meta.spatial_axes) > ndim  # a Z-stack for a 2-D restoration model

    def predict(im: np.ndarray) -> np.ndarray:
        if by_plane:  # (C, Z, Y, X): each plane with its own statistics, like frames
            return np.stack([workflow.predict_maps(im[:, z], tta=tta) for z in range(im.shape[1])],
                            axis=1)  # fmt: skip
        return workflow.predict_maps(im, tta=tta)

    if meta.axes.startswith("T"):  # frame by frame, each with its own statistics
        raw = np.stack([predict(frame) for frame in image])
        result = np.stack([workflow.postprocess(r) for r in raw])
    else:
        raw = predict(image)
        result = workflow.postprocess(raw)
    existed = {p for p in names.values() if p.exists()}
    try:
        written = workflow._write_outputs(
            names, image=image, meta=meta, raw=raw, result=result, overwrite=overwrite
        )
    except BaseException:  # no half set of outputs: remove what this call created
        for p in names.values():
            if p not in existed:
                p.unlink(missing_ok=True)
        raise
    table = workflow._table(result, image, meta, path)
    count = workflow._count(result)
    warnings = density_warnings(workflow, path, result, image.shape[1:])
    return FileOutcome(path, tuple(written), count, None, warnings), table


def output_meta(meta: Any, result: np.ndarray, spacing: Sequence[float] | None = None) -> Any:
    """:class:`~biakit.io.ImageMeta` of a restored image written as ``result``.

    Axes: ``T`` when ``meta`` has it, ``C`` when ``result`` has an axis more than
    that, then ``meta``'s spatial axes with ``spacing`` (default: ``meta``'s).

    Examples
    --------
    >>> from biakit.io import ImageMeta
    >>> meta = ImageMeta("TCYX", (5.0, 1.0, 0.5, 0.5), unit="micron")
    >>> out = output_meta(meta, np.zeros((3, 8, 8)), spacing=(0.25, 0.25))
    >>> out.axes, out.spacing
    ('TYX', (5.0, 0.25, 0.25))
    >>> output_meta(meta.with_(axes="CYX", spacing=(1.0, 0.5, 0.5)), np.zeros((2, 8, 8))).axes
    'CYX'
    """
    from biakit.io import ImageMeta

    spacing = tuple(meta.spatial_spacing if spacing is None else spacing)
    axes, lead = meta.spatial_axes, []
    if meta.axes.startswith("T"):
        lead.append(("T", meta.spacing[0]))
    if result.ndim > len(axes) + len(lead):
        lead.append(("C", 1.0))
    return ImageMeta("".join(a for a, _ in lead) + axes, (*(s for _, s in lead), *spacing),
                     unit=meta.unit)  # fmt: skip


def middle_frame(meta: Any, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return the middle frame of each array when ``meta`` is a time-lapse, else the arrays."""
    if not meta.axes.startswith("T"):
        return arrays
    return tuple(a[len(a) // 2] for a in arrays)


def density_warnings(workflow: Any, path: Path, result: Any, shape: tuple[int, ...]) -> tuple:
    """Warn when the result's density is far outside the training range (e.g. noise)."""
    seen = workflow.training.get("density")
    if not seen:
        return ()
    value = workflow._density(result, shape)
    low, high = float(seen["min"]), float(seen["max"])
    unit = seen.get("unit", "")
    if low / 4 <= value <= max(high * 4, high + 1e-9) and not (value == 0 < low):
        return ()
    return (
        f"{path}: {_fmt(value)} {unit}, far outside the {_fmt(low)}..{_fmt(high)} seen in "
        "training; is this image like the training images (signal, pixel size, contrast)?",
    )


def _fmt(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.3g}"


@dataclass
class DensityRange:
    """Running min / max of a per-image density during training."""

    unit: str
    values: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any] | None:
        """``{"min", "max", "median", "unit"}`` or None without values."""
        if not self.values:
            return None
        ordered = sorted(self.values)
        mid = ordered[len(ordered) // 2]
        return {"min": ordered[0], "max": ordered[-1], "median": mid, "unit": self.unit}


def predict_to_disk(workflow: Any, inputs: Any, output_dir: Any, **kwargs: Any) -> PredictionReport:
    """Run :func:`iter_predict_to_disk` to the end; return the :class:`PredictionReport`."""
    outcomes = tuple(iter_predict_to_disk(workflow, inputs, output_dir, **kwargs))
    batch = [p for p in workflow._batch_outputs(Path(output_dir)) if p.exists()]
    return PredictionReport(outcomes, tuple(batch))
