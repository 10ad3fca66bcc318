"""``Tracker.predict_to_disk``: read each movie, track it, write what a biologist opens."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biakit._outputs import check_outputs, record_outputs, table_files
from biakit.errors import DataError, ParameterError, UserError
from biakit.workflows._disk import FileOutcome


def movie_stem(path: Path) -> str:
    """Output name of a movie: the file stem, or the sequence folder's name (``01_RES`` -> ``01``).

    Examples
    --------
    >>> movie_stem(Path("data/02_GT/TRA")), movie_stem(Path("a/cells.ome.tif"))
    ('02', 'cells')
    """
    if path.name == "TRA" and path.parent.name.endswith("_GT"):
        path = path.parent
    name = path.name.split(".")[0] if path.is_file() or path.suffix else path.name
    for suffix in ("_RES", "_GT"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def planned_outputs(workflow: Any, stem: str, out: Path, *, points: bool) -> dict[str, Path]:
    """Files (and folders) written for one movie."""
    opts = workflow.config.outputs
    names = {"tracks": out / f"{stem}_tracks.csv", "table": out / f"{stem}_track_table.csv"}
    names["table_units"] = table_files(names["table"])[1]
    if not points:
        names["ctc"] = out / f"{stem}_RES"
        if opts.movie != "none":
            names["movie"] = out / f"{stem}_tracks.{opts.movie}"
    if opts.lineage_plot:
        names["lineage"] = out / f"{stem}_lineage.png"
    if opts.geff:
        names["geff"] = out / f"{stem}.geff"
    return names


def _is_points(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def read_movie(path: Path, ndim: int, axes: str | None) -> tuple[np.ndarray, Any]:
    """Label movie ``T(Z)YX`` from a stack, a per-frame folder or a CTC folder."""
    from biakit.io import read_ctc, read_timelapse

    if path.is_dir() and any(
        (path / f).exists() for f in ("res_track.txt", "man_track.txt", "TRA/man_track.txt")
    ):
        masks, _ = read_ctc(path)
        meta = None
    else:
        masks, meta = read_timelapse(path, axes=axes)
    if not np.issubdtype(masks.dtype, np.integer):
        raise DataError(
            f"{path}: expected label images (integers, 0 = background), got {masks.dtype}; "
            "segment the movie first (biakit predict with an instance model, or biakit pipeline)"
        )
    if masks.ndim != ndim + 1:
        raise DataError(f"{path}: expected a {ndim}D time-lapse, got shape {masks.shape}")
    return masks, meta


def read_points_movie(path: Path, ndim: int) -> np.ndarray:
    """Rows ``(t, (z,) y, x)`` from a CSV with ``t``/``frame`` + coordinate columns or napari's."""
    import pandas as pd

    from biakit.io import read_points_csv

    try:
        df = pd.read_csv(path, comment="#")
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the point table ({err})") from None
    cols = {c.strip().lower(): c for c in df.columns}
    time = next((cols[c] for c in ("t", "frame", "time") if c in cols), None)
    if time is None:  # napari: axis-0 is time
        points, _ = read_points_csv(path, ndim=ndim + 1)
        return points
    names = ["z", "y", "x"][3 - ndim :]
    missing = [n for n in names if n not in cols]
    if missing:
        raise DataError(f"{path}: no column(s) {missing}; expected t, {', '.join(names)}")
    try:
        return df[[time, *(cols[n] for n in names)]].to_numpy(np.float64)
    except ValueError as err:
        raise DataError(f"{path}: coordinates must be numbers ({err})") from None


def iter_track_to_disk(
    workflow: Any,
    inputs: Any,
    output_dir: str | Path,
    *,
    images: Sequence[str | Path] | None,
    overwrite: bool,
    axes: str | None,
) -> Iterator[FileOutcome]:
    """Track each movie; yield one :class:`FileOutcome` per movie (failures do not raise)."""
    paths = [Path(p) for p in ([inputs] if isinstance(inputs, str | Path) else inputs)]
    if not paths:
        raise ParameterError("input: no movies given")
    image_paths = [Path(p) for p in images] if images is not None else [None] * len(paths)
    if len(image_paths) != len(paths):
        raise ParameterError(
            f"images: got {len(image_paths)} for {len(paths)} movie(s); need one each"
        )
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
    out = Path(output_dir)
    plans = {p: planned_outputs(workflow, movie_stem(p), out, points=_is_points(p)) for p in paths}
    planned = [f for plan in plans.values() for f in plan.values()]
    check_outputs([*paths, *(i for i in image_paths if i)], planned, overwrite=overwrite)
    for path, image_path in zip(paths, image_paths):
        try:
            out.mkdir(parents=True, exist_ok=True)
            record_outputs(out, plans[path].values())
            yield _track_one(workflow, path, image_path, plans[path], axes, overwrite)
        except (UserError, OSError) as err:
            yield FileOutcome(path, error=" ".join(str(err).split()))


def _track_one(workflow, path, image_path, names, axes, overwrite) -> FileOutcome:
    from biakit.io import read_timelapse

    ndim = workflow.config.ndim
    meta = None
    if _is_points(path):
        result = workflow.predict(points=read_points_movie(path, ndim))
        image = None
    else:
        masks, meta = read_movie(path, ndim, axes)
        image = None
        if image_path is not None:
            image, image_meta = read_timelapse(image_path, axes=axes)
            if image.shape != masks.shape:
                raise DataError(
                    f"{image_path}: shape {image.shape} differs from the masks' {masks.shape}"
                )
            meta = meta or image_meta
        spacing, interval = _physical(meta, ndim)
        result = workflow.predict(masks, image=image, spacing=spacing, frame_interval=interval)
    written = write_tracking_outputs(workflow, names, result, image, meta, overwrite=overwrite)
    notes = () if result.n_tracks else (f"{path}: no objects found; nothing was tracked",)
    return FileOutcome(path, tuple(written), result.n_tracks, None, notes)


def _physical(meta: Any, ndim: int) -> tuple[tuple[float, ...] | None, float | None]:
    if meta is None or meta.spacing is None:
        return None, None
    spatial = tuple(meta.spatial_spacing)[-ndim:]
    interval = meta.spacing[meta.axes.index("T")] if "T" in meta.axes else None
    return spatial, interval


def write_tracking_outputs(workflow, names, result, image, meta, *, overwrite) -> list[Path]:
    """Write every planned output of one tracked movie (each atomically)."""
    from biakit.io import write_ctc, write_geff
    from biakit.measure import write_table
    from biakit.track import track_table

    cfg = workflow.config
    spacing, interval = _physical(meta, cfg.ndim)
    spacing = workflow._spacing(spacing)
    interval = cfg.frame_interval or interval or 1.0
    g, node_track, table = result.graph, result.node_track, result.table
    written = []
    if "ctc" in names and result.masks is not None and len(table):
        written.append(write_ctc(names["ctc"], result.masks, table, overwrite=overwrite))
    written.append(_write_napari_csv(names["tracks"], result, overwrite=overwrite))
    shape = result.masks.shape if result.masks is not None else None
    df = track_table(g, node_track, table, image=image, shape=shape, spacing=spacing,
                     frame_interval=interval, unit=cfg.unit, time_unit=cfg.time_unit)  # fmt: skip
    written += table_files(write_table(df, names["table"], overwrite=overwrite))
    if "lineage" in names and len(table):
        written.append(_write_lineage(names["lineage"], table, interval, cfg.time_unit))
    if "movie" in names and result.masks is not None and len(table):
        from biakit.visualize import save_track_movie

        backdrop = image if image is not None else (result.masks > 0).astype(np.float32)
        written.append(save_track_movie(names["movie"], backdrop, g, node_track,
                                        masks=result.masks, overwrite=overwrite))  # fmt: skip
    if "geff" in names:
        props = {"track_id": node_track}
        written.append(write_geff(names["geff"], g, spacing=spacing, unit=cfg.unit,
                                  frame_interval=interval, time_unit=cfg.time_unit,
                                  node_props=props, overwrite=overwrite))  # fmt: skip
    return written


def _write_napari_csv(path: Path, result: Any, *, overwrite: bool) -> Path:
    from biakit.io import write_tracks_csv
    from biakit.track import napari_tracks

    data, parents = napari_tracks(result.graph, result.node_track, result.table)
    return write_tracks_csv(path, data, parents, overwrite=overwrite)


def _write_lineage(path: Path, table: np.ndarray, interval: float, unit: str) -> Path:
    from biakit.evaluation._plots import _save
    from biakit.visualize import plot_lineage

    ax = plot_lineage(table, frame_interval=interval, time_unit=unit)
    return _save(ax.figure, path)  # atomic; replacing was cleared by check_outputs


def outputs_of(outcomes: Sequence[FileOutcome]) -> tuple[Path, ...]:
    """No batch-wide files: each movie's outputs are in its outcome."""
    return ()
