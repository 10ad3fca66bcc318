"""The main demo: deep instance segmentation vs the classical pipeline vs the pixel classifier.

All three methods segment the same held-out synthetic images (many touching
nuclei, exact ground truth); the scores come from :func:`biakit.metrics.match_instances_dataset`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

THRESHOLDS = (0.5, 0.75)


@dataclass
class DemoData:
    """Training, validation and held-out test images with their label images."""

    train: list[tuple[np.ndarray, np.ndarray]]
    val: list[tuple[np.ndarray, np.ndarray]]
    test: list[tuple[np.ndarray, np.ndarray]]


@dataclass
class MethodResult:
    """Scores of one method on the test images.

    ``errors`` holds each test image's :class:`biakit.metrics.InstanceErrors`
    at IoU 0.5 (what each object is: hit, false positive, missed, merged,
    split); :attr:`error_counts` pools them.
    """

    method: str
    scores: dict[float, Any]
    predictions: list[np.ndarray]
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)
    errors: list[Any] = field(default_factory=list)

    @property
    def error_counts(self) -> Any:
        """The outcome counts summed over the test images (:class:`ErrorCounts`)."""
        from biakit.metrics import ErrorCounts

        return sum((e.counts for e in self.errors), ErrorCounts())

    def row(self) -> dict[str, Any]:
        """Flat table row: F1, accuracy and PQ at each IoU threshold, and the time."""
        out: dict[str, Any] = {"method": self.method}
        for t, m in self.scores.items():
            out[f"f1@{t}"] = m.f1
            out[f"accuracy@{t}"] = m.accuracy
            out[f"pq@{t}"] = m.panoptic_quality
        out["seconds"] = round(self.seconds, 2)
        return out


def make_data(size: int = 256, n_train: int = 8, n_test: int = 3, seed: int = 0) -> DemoData:
    """Synthetic 2D nuclei, half of them touching, with exact labels."""
    from biakit.data import synthetic_nuclei

    n_objects = int(45 * (size / 256) ** 2)

    def sample(s: int) -> tuple[np.ndarray, np.ndarray]:
        im = synthetic_nuclei((size, size), n_objects=n_objects, touching=0.5, seed=seed + s)
        return im.image, im.labels

    return DemoData(
        train=[sample(s) for s in range(n_train)],
        val=[sample(100 + s) for s in range(2)],
        test=[sample(200 + s) for s in range(n_test)],
    )


def _score(name: str, predict: Callable[[np.ndarray], np.ndarray], data: DemoData, seconds: float,
           **notes: Any) -> MethodResult:  # fmt: skip
    from biakit.metrics import instance_errors, match_instances_dataset

    start = time.perf_counter()
    preds = [np.asarray(predict(image)).astype(np.int64, copy=False) for image, _ in data.test]
    seconds += time.perf_counter() - start  # training (if any) plus prediction
    truths = [labels for _, labels in data.test]
    scores = dict(zip(THRESHOLDS, match_instances_dataset(truths, preds, thresh=list(THRESHOLDS))))
    errors = [instance_errors(t, p, thresh=0.5) for t, p in zip(truths, preds)]
    return MethodResult(name, scores, preds, seconds, dict(notes), errors)


def run_classical(data: DemoData) -> MethodResult:
    """Run the default classical pipeline (smooth, Otsu, fill holes, distance watershed)."""
    from biakit.pipeline import Pipeline

    start = time.perf_counter()
    pipe = Pipeline.default()
    return _score("classical pipeline", lambda im: pipe.run(im).labels, data,
                  time.perf_counter() - start)  # fmt: skip


def run_pixel_classifier(data: DemoData, seed: int = 0) -> MethodResult:
    """Scribbles (~1% of pixels, two rounds) -> random forest -> split touching objects."""
    from biakit.data import corrective_scribbles, synthetic_scribbles
    from biakit.pixel import PixelClassifier
    from biakit.postprocess import (
        fill_holes,
        relabel_sequential,
        remove_small_objects,
        split_touching,
    )

    start = time.perf_counter()
    images = [im for im, _ in data.train[:2]]
    masks = [lab > 0 for _, lab in data.train[:2]]
    scribbles = [synthetic_scribbles(m, fraction=0.006, seed=seed + i) for i, m in enumerate(masks)]
    clf = PixelClassifier("ilastik", n_estimators=100, seed=seed).fit(images, scribbles)
    scribbles = [
        corrective_scribbles(m, clf.predict(im), s, fraction=0.004, seed=seed + i)
        for i, (im, m, s) in enumerate(zip(images, masks, scribbles))
    ]
    clf = PixelClassifier("ilastik", n_estimators=100, seed=seed).fit(images, scribbles)

    def predict(image: np.ndarray) -> np.ndarray:
        mask = fill_holes(clf.predict(image) == 2)
        return relabel_sequential(remove_small_objects(split_touching(mask), 20))

    train_time = time.perf_counter() - start
    painted = float(np.mean([np.mean(s > 0) for s in scribbles]))
    return _score("pixel classifier", predict, data, train_time, painted_fraction=painted)


def run_deep(data: DemoData, output: Path, *, seconds: float, seed: int = 0,
             progress: bool = False) -> tuple[MethodResult, Any]:  # fmt: skip
    """Train an instance U-Net (foreground + contour + distance) for ``seconds``."""
    from biakit.workflows import InstanceConfig, InstanceSegmenter

    config = InstanceConfig(
        patch_shape=(128, 128),
        samples_per_epoch=64,
        seed=seed,
        model={"depth": 3, "base_filters": 16},
        augment={"flip": True, "rotate90": True, "brightness": 0.1, "contrast": 0.1},
        train={"epochs": 200, "batch_size": 8, "lr": 2e-3, "schedule": "cosine",
               "max_time": seconds, "early_stopping": None},
    )  # fmt: skip
    seg = InstanceSegmenter(config)
    start = time.perf_counter()
    seg.train(
        [im for im, _ in data.train], [lab for _, lab in data.train],
        val_images=[im for im, _ in data.val], val_labels=[lab for _, lab in data.val],
        output_dir=output, progress=progress,
    )  # fmt: skip
    seconds_used = time.perf_counter() - start
    summary = getattr(seg.history, "attrs", {}).get("summary")  # from Trainer.fit
    result = _score("deep (instance U-Net)", seg.predict, data, seconds_used,
                    epochs=len(seg.history), training=summary)  # fmt: skip
    return result, seg


@dataclass
class Comparison:
    """The demo's data, each method's result, and the trained deep model."""

    data: DemoData
    results: list[MethodResult]
    model: Any


def iter_comparison(
    output: Path, *, seconds: float, quick: bool = False, progress: bool = False
) -> Iterator[tuple[str, Comparison | None]]:
    """Run the three methods; yield ``(step, None)`` before each, then ``("done", result)``."""
    data = make_data(
        size=128 if quick else 256, n_train=4 if quick else 8, n_test=2 if quick else 3
    )
    yield "classical pipeline", None
    results = [run_classical(data)]
    yield "pixel classifier", None
    results.append(run_pixel_classifier(data))
    yield "deep instance U-Net", None
    deep, model = run_deep(data, output / "instance_model", seconds=seconds, progress=progress)
    results.append(deep)
    yield "done", Comparison(data, results, model)
