"""``biakit track``: label movies (or point tables) to tracks, lineages and CTC results.

Thin: builds a :class:`~biakit.workflows.Tracker` from a YAML config, a
calibrated tracker folder (``biakit train`` with ``task: tracking``) or the
defaults, applies the command-line overrides and calls its
``iter_predict_to_disk``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from biakit.cli._batch import AxesOption, Failure, finish_batch


def _tracker(config: Path | None, overrides: dict[str, Any]) -> Any:
    from biakit.workflows import (
        Tracker,
        TrackingConfig,
        load_model,
        load_workflow_config,
        parse_workflow_config,
    )

    if config is None:
        tracker = Tracker()
    elif config.is_dir():
        tracker = load_model(config)
        if not isinstance(tracker, Tracker):
            raise ValueError(f"{config}: holds a {tracker.task!r} model, not a tracker")
    else:
        cfg = load_workflow_config(config)
        if not isinstance(cfg, TrackingConfig):
            raise ValueError(f"{config}: task is {cfg.task!r}; expected 'tracking'")
        tracker = Tracker(cfg)
    top = {k: v for k, v in overrides.items() if k in TrackingConfig.model_fields and v is not None}
    linking = {k: v for k, v in overrides.items() if k not in top and v is not None}
    data = tracker.config.model_dump()
    data.update(top)
    data["linking"] = {**data["linking"], **linking}
    tracker.config = parse_workflow_config(data, source="options")
    if tracker.thresholds and linking:  # explicit options beat calibrated values
        learned = {k: v for k, v in tracker.thresholds["linking"].items() if k not in linking}
        tracker.thresholds = {**tracker.thresholds, "linking": learned}
    return tracker


def track(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Label movies (TYX/TZYX file, per-frame folder, CTC SEQ_RES/SEQ_GT folder) "
            "or point CSVs (t, (z,) y, x).",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    image: Annotated[
        list[Path] | None,
        typer.Option("--image", help="Intensity movie, one per input (repeat the option)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Tracking YAML (task: tracking) or tracker folder."),
    ] = None,
    ndim: Annotated[
        int | None, typer.Option(help="Spatial dimensions of a frame (2 or 3).")
    ] = None,
    spacing: Annotated[
        list[float] | None,
        typer.Option(help="Pixel size ((z,) y, x); one value for all axes. Default: metadata."),
    ] = None,
    frame_interval: Annotated[
        float | None, typer.Option(help="Time between frames. Default: metadata, else 1.")
    ] = None,
    max_speed: Annotated[
        float | None,
        typer.Option(help="Largest speed (spacing units per frame interval). Default: from data."),
    ] = None,
    max_gap: Annotated[
        int | None, typer.Option(help="Most missed frames a track may bridge (default 2).")
    ] = None,
    divisions: Annotated[
        bool | None, typer.Option("--divisions/--no-divisions", help="Look for divisions.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace outputs of an earlier run (never inputs).")
    ] = False,
    axes: AxesOption = None,
) -> None:
    """Link objects over time: CTC result, napari tracks, track table, lineage plot, movie."""
    from biakit.cli._deep import _without_path
    from biakit.cli._progress import track as progress

    values = spacing or None
    overrides = {
        "ndim": ndim,
        "spacing": values[0] if values and len(values) == 1 else values,
        "frame_interval": frame_interval,
        "max_speed": max_speed,
        "max_gap": max_gap,
        "divisions": divisions,
    }
    tracker = _tracker(config, overrides)
    outcomes = tracker.iter_predict_to_disk(inputs, output, images=image or None,
                                            overwrite=overwrite, axes=axes)  # fmt: skip
    failures, tracks = [], 0
    for outcome in progress(outcomes, len(inputs), "tracking"):
        for warning in outcome.warnings:
            typer.echo(f"biakit: warning: {warning}", err=True)
        if outcome.error is not None:
            failures.append(Failure(outcome.path, _without_path(outcome.error, outcome.path)))
        tracks += outcome.n_objects
    done = len(inputs) - len(failures)
    typer.echo(f"{done} of {len(inputs)} movie(s) tracked, {tracks} track(s); results in {output}")
    finish_batch(failures, len(inputs))


def train_tracker(cfg: Any, target: Path, *, overwrite: bool) -> None:
    """``biakit train`` for ``task: tracking``: calibrate on CTC ground truth, save, test."""
    from biakit.io import read_ctc
    from biakit.workflows import Tracker

    tracker = Tracker(cfg)
    gts = [read_ctc(p) for p in cfg.data.ground_truth]
    learned = tracker.train([m for m, _ in gts], [t for _, t in gts], output_dir=target,
                            overwrite=overwrite)  # fmt: skip
    shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                      for k, v in learned.items())  # fmt: skip
    typer.echo(f"tracking: calibrated on {len(gts)} sequence(s): {shown}; saved to {target}")
    if cfg.data.test_ground_truth:
        if len(cfg.data.test_masks) != len(cfg.data.test_ground_truth):
            raise ValueError("data.test_masks: give one label movie per test_ground_truth folder")
        from biakit.workflows._tracking_disk import read_movie

        results = [tracker.predict(read_movie(Path(p), cfg.ndim, None)[0])
                   for p in cfg.data.test_masks]  # fmt: skip
        ev = tracker.evaluate(results, [read_ctc(p) for p in cfg.data.test_ground_truth])
        row = ev.summary.iloc[0]
        typer.echo("test: " + ", ".join(f"{k} {row[k]:.4f}" for k in ("TRA", "CT", "BC(1)", "CCA")
                                        if k in row))  # fmt: skip
