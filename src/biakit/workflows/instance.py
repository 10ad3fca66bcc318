"""Instance segmentation with a U-Net: foreground + contour (+ distance) maps, then watershed.

The network predicts the channels of :func:`biakit.nn.targets.instance_targets`;
:func:`biakit.segment.decode_instances` turns them into labels with a
marker-controlled watershed whose thresholds and size filters are tuned on the
validation images (maximising the mean matching accuracy over IoU 0.5-0.9) and
stored with the model as ``thresholds.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biakit.workflows._base import channels_first, check_pairs
from biakit.workflows._config import InstanceConfig
from biakit.workflows._disk import DensityRange
from biakit.workflows._network import NetworkWorkflow
from biakit.workflows._results import Evaluation
from biakit.workflows.semantic import _split, write_label_outputs

IOU_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.5, 0.951, 0.05))


class InstanceSegmenter(NetworkWorkflow):
    """Touching objects separated into labels, 2D or anisotropic 3D.

    Parameters
    ----------
    config : InstanceConfig, optional
        Training options; defaults to a small 2D U-Net with foreground,
        contour and distance outputs.

    Examples
    --------
    >>> from biakit.data import synthetic_nuclei
    >>> from biakit.workflows import InstanceConfig, InstanceSegmenter
    >>> data = [synthetic_nuclei((64, 64), n_objects=5, seed=s) for s in range(3)]
    >>> config = InstanceConfig(patch_shape=(32, 32), samples_per_epoch=8,
    ...                         model={"depth": 2, "base_filters": 4}, train={"epochs": 1})
    >>> seg = InstanceSegmenter(config)
    >>> _ = seg.train([d.image for d in data], [d.labels for d in data])
    >>> seg.predict(data[0].image).shape, sorted(seg.thresholds)[:2]
    ((64, 64), ['contour_weight', 'fg_threshold'])
    """

    task = "instance"
    config_class = InstanceConfig

    def __init__(self, config: InstanceConfig | None = None) -> None:
        super().__init__(config)
        self.tuning: pd.DataFrame | None = None

    @property
    def encoding(self) -> Any:
        """The target encoding (:class:`biakit.nn.targets.InstanceEncoding`)."""
        return self.config.encoding

    @property
    def decode_params(self) -> Any:
        """The :class:`biakit.segment.DecodeParams` used by :meth:`postprocess`."""
        from biakit.segment import DecodeParams

        names = {f.name for f in fields(DecodeParams)}
        tuned = {k: v for k, v in (self.thresholds or {}).items() if k in names}
        if isinstance(tuned.get("spacing"), list):
            tuned["spacing"] = tuple(tuned["spacing"])
        params = DecodeParams(**tuned)
        floor = max(self.config.min_size, params.min_size)
        return DecodeParams(**{**asdict(params), "min_size": floor, "spacing": self.config.spacing})

    def train(
        self,
        images: Sequence[Any],
        labels: Sequence[Any],
        *,
        output_dir: str | Path | None = None,
        val_images: Sequence[Any] | None = None,
        val_labels: Sequence[Any] | None = None,
        resume: bool = False,
        overwrite: bool = False,
        progress: bool = False,
    ) -> Any:
        """Train on images and instance label images, then tune decoding on validation images.

        ``output_dir``, ``resume`` and ``overwrite`` work as in
        :meth:`SemanticSegmenter.train`.
        """
        from biakit.nn.targets import instance_loss, instance_targets

        cfg, enc = self.config, self.encoding
        images = [channels_first(im, cfg.ndim, name=f"images[{i}]") for i, im in enumerate(images)]
        labels = _labels(labels, "labels")
        check_pairs(images, labels, "label image")
        if val_images is not None:
            val_x = [channels_first(im, cfg.ndim, name="val_images") for im in val_images]
            val_y = _labels(val_labels or [], "val_labels")
            check_pairs(val_x, val_y, "validation label image")
        else:
            images, labels, val = _split(images, labels, cfg)
            val_x, val_y = val if val else ([], [])
        density = DensityRange("objects per million pixels")
        density.values += [_per_million(_n_objects(lab), lab.shape) for lab in labels]
        self.training = {"density": density.as_dict(), "object_size": typical_object_size(labels)}
        targets = [instance_targets(lab, enc) for lab in labels]
        val_targets = [instance_targets(lab, enc) for lab in val_y]
        work = self._fit(
            images, targets, target_kind="continuous", output_dir=output_dir,
            val=(val_x, val_targets) if val_x else None, loss_fn=instance_loss(enc),
            resume=resume, overwrite=overwrite, progress=progress,
        )  # fmt: skip
        self.tune(val_x or images, val_y or labels)
        self._finish(work, output_dir, overwrite=overwrite)
        return self.history

    def tune(self, images: Sequence[Any], labels: Sequence[Any]) -> dict[str, Any]:
        """Choose decoding parameters that maximise mean accuracy over IoU 0.5-0.9.

        The grid crosses the foreground and seed thresholds of
        :data:`biakit.segment.DEFAULT_GRID` with two size filters scaled to the
        objects (median size of the training labels, else of ``labels``): no
        filter or 10% of that size for objects (never below ``config.min_size``),
        no filter or 5% of it for seeds. The result is stored in
        ``self.thresholds`` (saved as ``thresholds.json``) and returned; the
        table of every combination tried in ``self.tuning``.
        """
        from biakit.segment import tune_decoding

        predictions = [self.predict_maps(im) for im in images]
        truths = _labels(labels, "labels")
        size = self.training.get("object_size") or typical_object_size(truths)
        grid = decode_grid(size, self.config.min_size)
        best, self.tuning = tune_decoding(predictions, truths, self.encoding, grid)
        params = {k: v for k, v in asdict(best).items() if k != "spacing"}
        self.thresholds = {**params, "min_size": max(self.config.min_size, best.min_size)}
        return self.thresholds

    def predict_maps(self, image: Any, *, tta: bool = False, **kwargs: Any) -> np.ndarray:
        """Network output as probabilities/distances ``(n_channels, *spatial)``."""
        return self._raw(image, activation="sigmoid", tta=tta, **kwargs)

    def postprocess(self, maps: np.ndarray) -> np.ndarray:
        """Instance labels (int32, 0 = background) by watershed with the tuned parameters."""
        from biakit.segment import decode_instances

        return decode_instances(maps, self.encoding, self.decode_params).astype(np.int32)

    def evaluate(
        self,
        images: Sequence[Any],
        labels: Sequence[Any],
        *,
        thresholds: Sequence[float] = IOU_THRESHOLDS,
    ) -> Evaluation:
        """Precision, recall, F1, accuracy and PQ per IoU threshold, pooled and per image."""
        from biakit.metrics import match_instances, match_instances_dataset
        from biakit.validation import check_iou_thresholds

        thresh = list(check_iou_thresholds(thresholds))
        preds = [self.predict(im) for im in images]
        truths = _labels(labels, "labels")
        pooled = tuple(match_instances_dataset(truths, preds, thresh=thresh))
        rows = []
        for i, (t, p) in enumerate(zip(truths, preds)):
            for m in match_instances(t, p, thresh=thresh):
                rows.append({"image": i, **_row(m)})
        summary = pd.DataFrame([_row(m) for m in pooled])
        return Evaluation(self.task, pooled, pd.DataFrame(rows), summary)

    # hooks of predict_to_disk
    def _write_outputs(self, names: dict, *, image: np.ndarray, meta: Any, raw: Any, result: Any,
                       overwrite: bool) -> list[Path]:  # fmt: skip
        return write_label_outputs(names, image, meta, raw, result, overwrite=overwrite)

    def _table(self, result: Any, image: np.ndarray, meta: Any, path: Path) -> Any:
        from biakit.measure import measure_objects

        table = measure_objects(result, image[0], spacing=meta.spatial_spacing, unit=meta.unit)
        table.insert(0, "image", path.name)
        return table

    def _batch_outputs(self, out: Path) -> list[Path]:
        return [out / "measurements.csv", out / "measurements.units.json"]

    def _write_batch(self, tables: list, out: Path, *, overwrite: bool) -> None:
        from biakit.measure import write_table

        if tables:
            write_table(pd.concat(tables, ignore_index=True), out / "measurements.csv",
                        overwrite=overwrite)  # fmt: skip

    def _count(self, result: Any) -> int:
        return _n_objects(result)

    def _density(self, result: Any, shape: tuple[int, ...]) -> float:
        return _per_million(_n_objects(result), shape)


_COLUMNS = ("thresh", "precision", "recall", "f1", "accuracy", "panoptic_quality",
            "tp", "fp", "fn", "n_true", "n_pred")  # fmt: skip


def _row(m: Any) -> dict[str, Any]:
    return {c: getattr(m, c) for c in _COLUMNS}


def _labels(labels: Sequence[Any], name: str) -> list[np.ndarray]:
    from biakit.validation import check_labels

    return [np.asarray(check_labels(lab, name=f"{name}[{i}]")) for i, lab in enumerate(labels)]


def _n_objects(labels: np.ndarray) -> int:
    return int(np.unique(labels[labels > 0]).size)


def _per_million(count: int, shape: tuple[int, ...]) -> float:
    return 1e6 * count / max(int(np.prod(shape)), 1)


def typical_object_size(labels: Sequence[Any]) -> float | None:
    """Median object size in pixels (voxels) over label images; ``None`` without objects."""
    sizes = [np.unique(np.asarray(lab), return_counts=True) for lab in labels]
    counts = np.concatenate([c[ids > 0] for ids, c in sizes]) if sizes else np.array([])
    return float(np.median(counts)) if counts.size else None


def decode_grid(object_size: float | None, min_size: int) -> dict[str, tuple[Any, ...]]:
    """Return the decoding grid: thresholds x size filters scaled to ``object_size``."""
    from biakit.segment import DEFAULT_GRID

    grid = {**DEFAULT_GRID, "min_size": (min_size,)}
    if object_size:
        grid["min_size"] = tuple(sorted({min_size, max(min_size, round(0.1 * object_size))}))
        grid["min_seed_size"] = tuple(sorted({0, round(0.05 * object_size)}))
    return grid
