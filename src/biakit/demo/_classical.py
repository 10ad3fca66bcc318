"""Classical pipelines on synthetic images with ground truth and on shipped samples.

Everything runs offline in well under two minutes on two CPU cores:

1. synthetic 2D nuclei, some touching, with exact ground truth;
2. synthetic anisotropic 3D nuclei (z spacing 3x the xy spacing);
3. scikit-image's ``coins`` photograph (24 coins);
4. synthetic nuclei on a strongly uneven background, corrected by a rolling ball.

For each it writes the label image, an overlay PNG and a measurement CSV and,
where the truth is known, an overlay of the truth (in the colours of the
matched objects) and an error-coded overlay; it returns one row of results
(objects found, matching scores and error counts where the truth is known).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biakit.pipeline import Pipeline, PipelineResult


@dataclass(frozen=True)
class DemoRow:
    """One line of the demo's results table.

    ``overlay`` shows the objects found (a truth object and its match in the
    same colour as in ``truth_overlay``); ``error_overlay`` colours them by
    outcome (:func:`biakit.visualize.error_overlay`) and ``errors`` counts the
    outcomes at IoU 0.5. Those three are ``None`` without ground truth, and
    ``note`` then says why the scores are missing.
    """

    case: str
    shape: tuple[int, ...]
    n_true: int | None
    n_found: int
    f1_50: float | None
    accuracy_50: float | None
    mean_iou: float | None
    seconds: float
    overlay: Path
    truth_overlay: Path | None = None
    error_overlay: Path | None = None
    errors: Any = None
    note: str | None = None


COINS_PIPELINE = Pipeline(
    [
        {"step": "gaussian", "sigma": 1.0},
        {"step": "rolling_ball", "radius": 40},
        {"step": "threshold", "method": "li"},
        {"step": "fill_holes"},
        {"step": "opening", "radius": 2},
        {"step": "remove_small_objects", "min_size": 200},
        {"step": "relabel_sequential"},
    ],
    name="coins",
)

BACKGROUND_PIPELINE = Pipeline(
    [
        {"step": "gaussian", "sigma": 1.5},
        {"step": "rolling_ball", "radius": 30},
        {"step": "threshold", "method": "li"},
        {"step": "fill_holes"},
        {"step": "split_touching"},
        {"step": "remove_small_objects", "min_size": 30},
        {"step": "relabel_sequential"},
    ],
    name="uneven_background",
)


def demo_cases() -> list[tuple[str, Callable[[], tuple], Pipeline]]:
    """Return the demo cases: name, a maker of (image, truth or None, spacing), pipeline."""
    from biakit.data import sample_image, synthetic_nuclei

    def nuclei_2d() -> tuple:
        s = synthetic_nuclei((512, 512), n_objects=80, touching=0.3, seed=1)
        return s.image, s.labels, s.spacing

    def nuclei_3d() -> tuple:
        s = synthetic_nuclei((40, 160, 160), n_objects=40, spacing=(3.0, 1.0, 1.0), seed=2)
        return s.image, s.labels, s.spacing

    def coins() -> tuple:
        image, _ = sample_image("coins")
        return image, None, (1.0, 1.0)

    def uneven() -> tuple:
        s = synthetic_nuclei(
            (384, 384), n_objects=50, touching=0.2, background_gradient=1.0, seed=3
        )
        return s.image, s.labels, s.spacing

    default = Pipeline.default()
    return [
        ("synthetic nuclei 2D", nuclei_2d, default),
        ("synthetic nuclei 3D", nuclei_3d, default),
        ("skimage coins", coins, COINS_PIPELINE),
        ("nuclei, uneven background", uneven, BACKGROUND_PIPELINE),
    ]


KNOWN_COUNTS = {"skimage coins": 24}

NO_TRUTH_NOTES = {
    "skimage coins": (
        "scikit-image ships the coins photograph without a label image: only the number "
        "of coins (24, counted by eye) is known, so F1, accuracy and IoU cannot be computed"
    ),
}


def _write_overlays(out: Path, stem: str, image: Any, truth: Any, labels: Any,
                    overwrite: bool) -> tuple[Path, Path | None, Path | None, Any]:  # fmt: skip
    """Write the overlay PNGs of one case; with truth also its overlay and the error overlay."""
    from biakit.io import ImageMeta, write_image
    from biakit.metrics import instance_errors
    from biakit.visualize import error_overlay, matched_colors, overlay_labels

    meta = ImageMeta("YXC", unit="pixel")
    paths = {k: out / f"{stem}_{k}.png" for k in ("overlay", "truth", "errors")}
    if truth is None:
        write_image(paths["overlay"], overlay_labels(image, labels), meta, overwrite=overwrite)
        return paths["overlay"], None, None, None
    errors = instance_errors(truth, labels, thresh=0.5)
    true_colors, pred_colors = matched_colors(truth, labels, errors=errors)
    rgbs = {
        "overlay": overlay_labels(image, labels, colors=pred_colors),
        "truth": overlay_labels(image, truth, colors=true_colors),
        "errors": error_overlay(image, truth, labels, errors=errors),
    }
    for key, rgb in rgbs.items():
        write_image(paths[key], rgb, meta, overwrite=overwrite)
    return paths["overlay"], paths["truth"], paths["errors"], errors.counts


def iter_demo(output_dir: str | Path, *, overwrite: bool = False) -> Iterator[DemoRow]:
    """Run the demo cases one by one, writing outputs to ``output_dir``; yield a row each."""
    from biakit.io import ImageMeta, write_image
    from biakit.measure import measure_objects, write_table
    from biakit.metrics import match_instances

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for case, make, pipeline in demo_cases():
        image, truth, spacing = make()
        start = time.perf_counter()
        result: PipelineResult = pipeline.run(image, spacing=spacing)
        seconds = time.perf_counter() - start
        stem = re.sub(r"[^0-9A-Za-z]+", "_", case).strip("_")
        meta = ImageMeta("ZYX"[-image.ndim :], spacing)
        write_image(out / f"{stem}_labels.tif", result.labels, meta, overwrite=overwrite)
        labels = result.labels.astype("int64", copy=False)
        overlays = _write_overlays(out, stem, image, truth, labels, overwrite)
        table = measure_objects(result.labels, image, spacing=spacing)
        write_table(table, out / f"{stem}_measurements.csv", overwrite=overwrite)
        f1 = acc = miou = None
        n_true = KNOWN_COUNTS.get(case)
        if truth is not None:
            m = match_instances(truth, result.labels, thresh=0.5)
            f1, acc, n_true = m.f1, m.accuracy, m.n_true
            miou = m.mean_matched_score
        yield DemoRow(
            case, tuple(image.shape), n_true, result.n_objects, f1, acc, miou, seconds,
            *overlays, note=NO_TRUTH_NOTES.get(case) if truth is None else None,
        )  # fmt: skip


def run_demo(output_dir: str | Path, *, overwrite: bool = False) -> list[DemoRow]:
    """Run every demo case; plain wrapper of :func:`iter_demo`."""
    return list(iter_demo(output_dir, overwrite=overwrite))


def rows_to_frame(rows: list[DemoRow]):
    """Results as a pandas DataFrame (one row per case)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "case": [r.case for r in rows],
            "shape": ["x".join(map(str, r.shape)) for r in rows],
            "n_true": [r.n_true for r in rows],
            "n_found": [r.n_found for r in rows],
            "f1@0.5": [r.f1_50 for r in rows],
            "accuracy@0.5": [r.accuracy_50 for r in rows],
            "mean_matched_iou": [r.mean_iou for r in rows],
            "seconds": [round(r.seconds, 3) for r in rows],
        }
    )
