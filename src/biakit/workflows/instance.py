"""Instance segmentation with a U-Net: foreground + contour (+ distance) maps, then watershed.

The network predicts the channels of :func:`biakit.nn.targets.instance_targets`;
:func:`biakit.segment.decode_instances` turns them into labels with a
marker-controlled watershed whose thresholds are tuned on the validation images
(maximising the mean matching accuracy over IoU 0.5-0.9) and stored with the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biakit.workflows._base import UNetWorkflow, channels_first, check_pairs
from biakit.workflows._config import InstanceConfig

IOU_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.5, 0.951, 0.05))


class InstanceSegmenter(UNetWorkflow):
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
    >>> _ = seg.train([d.image for d in data], [d.labels for d in data], output_dir=None)
    >>> seg.predict(data[0].image).shape
    (64, 64)
    """

    FORMAT = "biakit.instance_segmenter"

    def __init__(self, config: InstanceConfig | None = None) -> None:
        super().__init__(config or InstanceConfig())
        self._object_size: float | None = None
        self.decode_params: Any = None
        self.tuning: pd.DataFrame | None = None

    @classmethod
    def config_class(cls) -> type:
        """Return :class:`InstanceConfig`."""
        return InstanceConfig

    @property
    def encoding(self) -> Any:
        """The target encoding (:class:`biakit.nn.targets.InstanceEncoding`)."""
        return self.config.instance_encoding()

    def train(
        self,
        images: Sequence[Any],
        labels: Sequence[Any],
        *,
        output_dir: str | Path | None,
        val_images: Sequence[Any] | None = None,
        val_labels: Sequence[Any] | None = None,
        progress: bool = False,
    ) -> Any:
        """Train on images and instance label images, then tune decoding on validation images."""
        from biakit.nn.targets import instance_loss, instance_targets

        cfg, enc = self.config, self.encoding
        images = [channels_first(im, cfg.ndim) for im in images]
        labels = [np.asarray(lab) for lab in labels]
        check_pairs(images, labels, "label image")
        if val_images is not None:
            val_x = [channels_first(im, cfg.ndim) for im in val_images]
            val_y = [np.asarray(lab) for lab in val_labels]
            check_pairs(val_x, val_y, "validation label image")
        else:
            images, labels, val = self._split(images, labels)
            val_x, val_y = val if val else ([], [])
        self._object_size = typical_object_size(labels)
        targets = [instance_targets(lab, enc) for lab in labels]
        val_targets = [instance_targets(lab, enc) for lab in val_y]
        self._fit(
            images, targets, target_kind="continuous", out_channels=enc.n_channels,
            output_dir=output_dir, val=(val_x, val_targets) if val_x else None,
            loss_fn=instance_loss(enc), progress=progress,
        )  # fmt: skip
        self.tune(val_x or images, val_y or labels)
        if output_dir is not None:
            self.save(output_dir)
        return self.history

    def tune(self, images: Sequence[Any], labels: Sequence[Any]) -> Any:
        """Choose decoding parameters that maximise mean accuracy over IoU 0.5-0.9.

        The grid crosses the foreground and seed thresholds of
        :data:`biakit.segment.DEFAULT_GRID` with two size filters scaled to the
        objects (median size of the training labels, else of ``labels``): no
        filter or 10% of that size for objects (never below ``config.min_size``),
        no filter or 5% of it for seeds. Tiny spurious objects and noise seeds
        are the commonest errors of a network trained briefly on little data.
        """
        from biakit.segment import tune_decoding

        predictions = [self.predict_maps(im) for im in images]
        truths = [np.asarray(lab) for lab in labels]
        size = getattr(self, "_object_size", None) or typical_object_size(truths)
        grid = decode_grid(size, self.config.min_size)
        self.decode_params, self.tuning = tune_decoding(predictions, truths, self.encoding, grid)
        self.decode_params = _with_size(self.decode_params, self.config)
        return self.decode_params

    def predict_maps(self, image: Any, *, tta: bool = False, **kwargs: Any) -> np.ndarray:
        """Network output as probabilities/distances ``(n_channels, *spatial)``."""
        return self._raw(image, activation="sigmoid", tta=tta, **kwargs)

    def predict(self, image: Any, *, tta: bool = False, **kwargs: Any) -> np.ndarray:
        """Instance labels (int32, 0 = background)."""
        from biakit.segment import DecodeParams, decode_instances

        params = self.decode_params or _with_size(DecodeParams(), self.config)
        maps = self.predict_maps(image, tta=tta, **kwargs)
        return decode_instances(maps, self.encoding, params).astype(np.int32)

    def evaluate(
        self,
        images: Sequence[Any],
        labels: Sequence[Any],
        *,
        thresholds: Sequence[float] = IOU_THRESHOLDS,
    ) -> pd.DataFrame:
        """Precision, recall, F1, accuracy and PQ pooled over images, per IoU threshold."""
        from biakit.metrics import match_instances_dataset

        preds = [self.predict(im) for im in images]
        truths = [np.asarray(lab) for lab in labels]
        rows = match_instances_dataset(truths, preds, thresh=list(thresholds))
        columns = ("thresh", "precision", "recall", "f1", "accuracy", "panoptic_quality",
                   "tp", "fp", "fn", "n_true", "n_pred")  # fmt: skip
        return pd.DataFrame([{c: getattr(m, c) for c in columns} for m in rows])

    def _extra_meta(self) -> dict[str, Any]:
        params = None if self.decode_params is None else _params_dict(self.decode_params)
        return {"decode": params}

    def _load_extra(self, meta: dict[str, Any]) -> None:
        from biakit.segment import DecodeParams

        if meta.get("decode"):
            self.decode_params = DecodeParams(**meta["decode"])


def _params_dict(params: Any) -> dict[str, Any]:
    if hasattr(params, "model_dump"):
        return params.model_dump(mode="json")
    values = asdict(params)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


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


def _with_size(params: Any, cfg: InstanceConfig) -> Any:
    """Apply the config's ``spacing`` and ``min_size`` floor to tuned parameters."""
    from dataclasses import is_dataclass, replace

    floor = max(cfg.min_size, getattr(params, "min_size", 0))
    changes = {"min_size": floor, "spacing": cfg.spacing}
    if hasattr(params, "model_copy"):
        return params.model_copy(update=changes)
    return replace(params, **changes) if is_dataclass(params) else params
