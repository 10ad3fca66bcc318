"""``FramePredictor.predict_to_disk``: forecast each movie, back-test it, write stack, CSV, PNGs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from biakit._outputs import check_outputs, record_outputs
from biakit.errors import DataError, UserError
from biakit.workflows._disk import FileOutcome, _input_paths


def planned_outputs(stem: str, out: Path) -> dict[str, Path]:
    """Files written for one movie."""
    return {
        "predicted": out / f"{stem}_predicted.tif",
        "scores": out / f"{stem}_horizon.csv",
        "montage": out / f"{stem}_montage.png",
        "plot": out / f"{stem}_horizon.png",
    }


def iter_forecast_to_disk(
    workflow: Any, inputs: Any, output_dir: str | Path, *, overwrite: bool, axes: str | None
) -> Iterator[FileOutcome]:
    """Forecast every movie; yield one :class:`FileOutcome` per movie (failures do not raise)."""
    from biakit.io import file_key, list_images

    paths = _input_paths(inputs, list_images)
    out = Path(output_dir)
    plans = {p: planned_outputs(file_key(p), out) for p in paths}
    check_outputs(paths, [f for plan in plans.values() for f in plan.values()], overwrite=overwrite)
    for path in paths:
        try:
            out.mkdir(parents=True, exist_ok=True)
            record_outputs(out, plans[path].values())
            yield _forecast_one(workflow, path, plans[path], axes=axes, overwrite=overwrite)
        except (UserError, OSError) as err:
            yield FileOutcome(path, error=" ".join(str(err).split()))


def _forecast_one(workflow: Any, path: Path, names: dict[str, Path], *, axes: str | None,
                  overwrite: bool) -> FileOutcome:  # fmt: skip
    from biakit.io import read_channel_first

    cfg = workflow.config
    movie, meta = read_channel_first(path, ndim=cfg.ndim, axes=axes, time=True)
    if movie.ndim != cfg.ndim + 2:
        raise DataError(f"{path}: expected a time-lapse (axes with T), got axes {meta.axes!r}")
    horizon = cfg.forecast_horizon
    written = []
    try:
        pred = workflow.forecast(movie, horizon)
        written.append(_write_stack(names["predicted"], pred, meta, overwrite=overwrite))
        written += _backtest(workflow, movie, names, horizon, overwrite=overwrite)
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return FileOutcome(path, tuple(written), n_objects=horizon)


def _write_stack(path: Path, frames: np.ndarray, meta: Any, *, overwrite: bool) -> Path:
    from biakit.io import ImageMeta, write_image

    spatial, spacing = meta.spatial_axes, tuple(meta.spatial_spacing)
    if frames.shape[1] == 1:
        data, axes, full = frames[:, 0], "T" + spatial, (1.0, *spacing)
    else:
        data, axes, full = frames, "TC" + spatial, (1.0, 1.0, *spacing)
    write_image(path, data.astype(np.float32), ImageMeta(axes, full, unit=meta.unit),
                overwrite=overwrite)  # fmt: skip
    return path


def _backtest(workflow: Any, movie: np.ndarray, names: dict[str, Path], horizon: int, *,
              overwrite: bool) -> list[Path]:  # fmt: skip
    """Predict the movie's last frames from those before; write the CSV, montage and plot."""
    import pandas as pd

    from biakit._atomic import atomic_write_text
    from biakit.io import ImageMeta, write_image
    from biakit.workflows._frame_eval import _Segmenter, score_origin, summarise
    from biakit.workflows._frame_plots import plot_horizon_scores
    from biakit.workflows._frame_tools import default_data_range, montage

    need = max(workflow.config.n_input, 2)
    h = min(horizon, len(movie) - need)
    if h < 1:
        return []
    origin = len(movie) - h
    pred = workflow.forecast(movie[:origin], h)
    options = workflow.config.objects
    segmenter = _Segmenter(options, workflow.config.ndim) if options.kind != "none" else None
    rows = score_origin(workflow, movie, origin, h, default_data_range(movie), pred,
                        segmenter=segmenter)  # fmt: skip
    table = pd.DataFrame(rows)
    atomic_write_text(names["scores"], table.to_csv(index=False), overwrite=overwrite)
    picture = montage(movie[origin:, 0], pred[:, 0])
    write_image(names["montage"], picture, ImageMeta("YX", unit="pixel"), overwrite=overwrite)
    plot_horizon_scores(summarise(table), names["plot"])
    return [names["scores"], names["montage"], names["plot"]]


def read_movies(source: str | Path, axes: str | None = None) -> list[np.ndarray]:
    """Every time-lapse of ``source`` (``TYX`` / ``TZYX`` files).

    As ``biakit train`` reads ``data.movies``; ``axes`` for files without metadata
    (:func:`biakit.io.list_images` raises when ``source`` names no image).

    Examples
    --------
    >>> import tempfile
    >>> from biakit.io import write_timelapse
    >>> d = Path(tempfile.mkdtemp())
    >>> write_timelapse(d / "a.tif", np.zeros((5, 8, 8), np.uint8), axes="TYX")
    >>> [m.shape for m in read_movies(d)]
    [(5, 8, 8)]
    """
    from biakit.io import list_images, read_timelapse

    return [read_timelapse(p, axes=axes)[0] for p in list_images(source)]
