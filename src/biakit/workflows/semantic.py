"""Semantic segmentation with a U-Net: train, predict, evaluate, save, load.

A trained model is a folder::

    config.json    the SemanticConfig, U-Net config, classes, versions
    weights.pt     model state dict (loaded with ``weights_only=True``)
    training/      metrics.csv, curves.png, checkpoints (last.pt, best.pt)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biakit.workflows._base import UNetWorkflow, channels_first, check_pairs
from biakit.workflows._config import SemanticConfig


class SemanticSegmenter(UNetWorkflow):
    """Pixel classes with a U-Net (2D or 3D, binary or multi-class).

    Parameters
    ----------
    config : SemanticConfig, optional
        Training options; defaults to a small 2D U-Net.

    Examples
    --------
    >>> from biakit.data import synthetic_nuclei
    >>> from biakit.workflows import SemanticConfig, SemanticSegmenter
    >>> data = [synthetic_nuclei((64, 64), n_objects=5, seed=s) for s in range(3)]
    >>> config = SemanticConfig(patch_shape=(32, 32), samples_per_epoch=8,
    ...                         model={"depth": 2, "base_filters": 4}, train={"epochs": 1})
    >>> seg = SemanticSegmenter(config)
    >>> _ = seg.train([d.image for d in data], [d.mask for d in data], output_dir=None)
    >>> seg.predict(data[0].image).shape
    (64, 64)
    """

    FORMAT = "biakit.semantic_segmenter"

    def __init__(self, config: SemanticConfig | None = None) -> None:
        super().__init__(config or SemanticConfig())

    @classmethod
    def config_class(cls) -> type:
        """Return :class:`SemanticConfig`."""
        return SemanticConfig

    def train(
        self,
        images: Sequence[Any],
        masks: Sequence[Any],
        *,
        output_dir: str | Path | None,
        val_images: Sequence[Any] | None = None,
        val_masks: Sequence[Any] | None = None,
        progress: bool = False,
    ) -> Any:
        """Train on images and class masks (0 = background, 1..n_classes-1).

        Without explicit validation data, ``config.val_fraction`` of the images
        are held out (by image, seeded). Returns the per-epoch history and, with
        ``output_dir``, saves the model folder there.
        """
        cfg = self.config
        images = [channels_first(im, cfg.ndim) for im in images]
        masks = [np.asarray(m).astype(np.int64) for m in masks]
        _check_masks(images, masks, cfg.n_classes)
        val = None
        if val_images is not None:
            val = ([channels_first(im, cfg.ndim) for im in val_images],
                   [np.asarray(m).astype(np.int64) for m in val_masks])  # fmt: skip
        else:
            images, masks, val = self._split(images, masks)
        self._fit(
            images, masks, target_kind="labels", out_channels=cfg.n_classes,
            output_dir=output_dir, val=val, metrics=_iou_metric, progress=progress,
        )  # fmt: skip
        if output_dir is not None:
            self.save(output_dir)
        return self.history

    def predict_proba(self, image: Any, *, tta: bool = False, **kwargs: Any) -> np.ndarray:
        """Class probabilities ``(n_classes, *spatial)`` (softmax), tile by tile."""
        return self._raw(image, activation="softmax", tta=tta, **kwargs)

    def predict(self, image: Any, **kwargs: Any) -> np.ndarray:
        """Most probable class of every pixel (uint8)."""
        return np.argmax(self.predict_proba(image, **kwargs), axis=0).astype(np.uint8)

    def evaluate(self, images: Sequence[Any], masks: Sequence[Any]) -> dict[str, Any]:
        """IoU and Dice per image and pooled, with :func:`biakit.metrics.confusion_metrics`."""
        from biakit.metrics import confusion_metrics, confusion_metrics_dataset

        average = "binary" if self.config.n_classes == 2 else "macro"
        labels = None if average == "binary" else list(range(1, self.config.n_classes))
        pairs = [(np.asarray(m), self.predict(im)) for im, m in zip(images, masks)]
        per_image = [
            confusion_metrics(t, p, average=average, labels=labels).as_dict() for t, p in pairs
        ]
        pooled = confusion_metrics_dataset(pairs, average=average, labels=labels).as_dict()
        return {"pooled": pooled, "per_image": per_image}


def _iou_metric(logits: Any, target: Any) -> dict[str, float]:
    """Foreground IoU of a validation batch (all non-background classes pooled)."""
    pred = logits.argmax(dim=1) > 0
    true = target > 0
    inter = (pred & true).sum().item()
    union = (pred | true).sum().item()
    return {"iou": inter / union if union else 1.0}


def _check_masks(images: list[np.ndarray], masks: list[np.ndarray], n_classes: int) -> None:
    check_pairs(images, masks, "mask")
    for i, m in enumerate(masks):
        if m.min(initial=0) < 0 or m.max(initial=0) >= n_classes:
            raise ValueError(
                f"mask {i} has values {int(m.min())}..{int(m.max())}; "
                f"expected 0..{n_classes - 1} (set n_classes)"
            )
