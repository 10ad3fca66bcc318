"""``FramePredictor.evaluate``: per-horizon pixel and object scores of the model and baselines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biakit.errors import DataError
from biakit.workflows._frame_objects import (
    object_scores,
    segment_frame,
    truth_objects,
)
from biakit.workflows._frame_tools import (
    as_movie,
    default_data_range,
    frame_scores,
    linear_forecast,
    persistence_forecast,
)
from biakit.workflows._results import Evaluation

#: the forecasts every evaluation scores, with their column prefixes
BASELINES = {"persistence_": persistence_forecast, "linear_": linear_forecast}


def object_options(config: Any, objects: Any) -> Any:
    """Return the object-score options: ``objects`` (options, mapping or kind) or the config's."""
    from biakit.workflows._frame_config import ObjectScoreOptions

    if objects is None:
        return config.objects
    if isinstance(objects, ObjectScoreOptions):
        return objects
    given = {"kind": objects} if isinstance(objects, str) else objects
    try:
        return ObjectScoreOptions.model_validate(dict(given))
    except (TypeError, ValueError) as err:
        errors = getattr(err, "errors", None)
        detail = "; ".join(e["msg"] for e in errors()) if errors else str(err)
        raise DataError(
            f"objects={objects!r}: expected 'objects', 'monolayer', 'none' or a mapping of "
            f"ObjectScoreOptions ({detail})"
        ) from None


class _Segmenter:
    """Segments frames with the options, caching the true frames of one movie by index."""

    def __init__(self, options: Any, ndim: int) -> None:
        self.options, self.ndim, self.truth = options, ndim, {}

    def true_labels(self, movie: np.ndarray, index: int) -> np.ndarray:
        if index not in self.truth:
            self.truth[index] = segment_frame(movie[index], self.options, self.ndim)
        return self.truth[index]

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return segment_frame(frame, self.options, self.ndim)


def score_origin(
    fp: Any, movie: np.ndarray, origin: int, h: int, data_range: float,
    pred: np.ndarray | None = None, blend: bool = True, segmenter: _Segmenter | None = None,
    **extra: Any,
) -> list[dict[str, Any]]:  # fmt: skip
    """Rows of one forecast from ``movie[:origin]``: model (``pred`` if given) and baselines."""
    from biakit.metrics.restoration import nrmse

    ctx, truth = movie[:origin], movie[origin : origin + h]
    pred = fp.forecast(ctx, h, blend=blend) if pred is None else pred
    forecasts = {"": pred, **{p: f(ctx, h) for p, f in BASELINES.items()}}
    kind = segmenter.options.kind if segmenter is not None else "none"
    rows = []
    for k in range(h):
        row: dict[str, Any] = {**extra, "origin": origin, "horizon": k + 1,
                               "data_range": data_range}  # fmt: skip
        true_labels = None
        if kind != "none":
            true_labels = segmenter.true_labels(movie, origin + k)
            row.update(truth_objects(true_labels, segmenter.options))
        for prefix, frames in forecasts.items():
            scores = frame_scores(truth[k], frames[k], data_range)
            scores["nrmse"] = nrmse(truth[k].astype(np.float64), frames[k].astype(np.float64))
            if true_labels is not None:
                labels = (segmenter.true_labels(movie, origin - 1) if prefix == "persistence_"
                          else segmenter(frames[k]))  # fmt: skip
                scores.update(object_scores(true_labels, labels, segmenter.options))
            row.update({f"{prefix}{name}": v for name, v in scores.items()})
        rows.append(row)
    return rows


def evaluate_movies(fp: Any, movies: Sequence[Any], n_context: int, horizon: int, *,
                    data_range: float | None, rolling: bool, blend: bool,
                    objects: Any) -> Evaluation:  # fmt: skip
    """Score forecasts of ``movies``: the body of :meth:`FramePredictor.evaluate`."""
    from biakit.cancel import check_cancelled
    from biakit.metrics import RestorationMetrics

    cfg = fp.config
    if not isinstance(movies, list | tuple) or not movies:
        raise DataError("movies must be a non-empty list of movies (one array per movie)")
    need = max(cfg.n_input, 2)
    if n_context < need:
        raise DataError(f"n_context={n_context}: need >= {need} (n_input and 2 for linear)")
    if horizon < 1:
        raise DataError(f"horizon must be >= 1, got {horizon}")
    options = object_options(cfg, objects)
    rows = []
    for i, raw in enumerate(movies):
        movie, _ = as_movie(raw, cfg.ndim, f"movies[{i}]")
        if len(movie) <= n_context:
            raise DataError(
                f"movies[{i}] has {len(movie)} frames, not more than n_context={n_context}"
            )
        rng = default_data_range(raw) if data_range is None else float(data_range)
        segmenter = _Segmenter(options, cfg.ndim) if options.kind != "none" else None
        for o in range(n_context, len(movie)) if rolling else [n_context]:
            check_cancelled()
            rows += score_origin(fp, movie, o, min(horizon, len(movie) - o), rng, blend=blend,
                                 segmenter=segmenter, image=i)  # fmt: skip
    table = pd.DataFrame(rows)
    summary = summarise(table)
    fields = RestorationMetrics.__dataclass_fields__
    pooled = tuple(RestorationMetrics(**{k: float(r[k]) for k in fields})
                   for _, r in summary.iterrows())  # fmt: skip
    return Evaluation(fp.task, pooled, table, summary)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Means per horizon of a per-forecast table, with ``n`` (forecasts averaged) second."""
    summary = table.drop(columns=["image", "origin"], errors="ignore").groupby("horizon").mean()
    summary.insert(0, "n", table.groupby("horizon").size())
    return summary.reset_index()


def write_evaluation(ev: Evaluation, output_dir: str | Path, *, overwrite: bool) -> list[Path]:
    """Write ``horizon_summary.csv``, ``horizon_scores.csv`` and ``horizon.png`` of ``ev``."""
    return _write(ev, output_dir, EVALUATION_FILES, overwrite=overwrite)


#: files of :func:`write_evaluation`: summary, per-forecast table, plot
EVALUATION_FILES = ("horizon_summary.csv", "horizon_scores.csv", "horizon.png")
#: files of the test report ``FramePredictor.train`` writes into the model folder, named as
#: the other tasks' (``test_metrics.csv``: per-horizon summary, ``test_per_image.csv``: one
#: row per forecast) and the per-horizon plot
TEST_REPORT_FILES = ("test_metrics.csv", "test_per_image.csv", "test_horizon.png")


def write_test_report(ev: Evaluation, folder: str | Path) -> list[Path]:
    """Write the test report of ``ev`` (:data:`TEST_REPORT_FILES`) into the model ``folder``."""
    return _write(ev, folder, TEST_REPORT_FILES, overwrite=True)


def _write(ev: Evaluation, folder: str | Path, files: tuple[str, ...], *,
           overwrite: bool) -> list[Path]:  # fmt: skip
    """Write ``ev``'s summary, per-forecast table and plot under the three ``files`` names."""
    from biakit._atomic import atomic_write_text
    from biakit.workflows._frame_plots import plot_horizon_scores

    out = Path(folder)
    names = [out / name for name in files]
    if not overwrite and any(p.exists() for p in names):
        existing = next(p for p in names if p.exists())
        raise FileExistsError(f"{existing} exists; pass overwrite=True to replace it")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(names[0], ev.summary.to_csv(index=False), overwrite=overwrite)
    atomic_write_text(names[1], ev.per_image.to_csv(index=False), overwrite=overwrite)
    plot_horizon_scores(ev.summary, names[2])
    return names
