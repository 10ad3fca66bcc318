"""Semantic segmentation with a U-Net: every pixel gets a class.

A trained model is a folder (see :mod:`biakit.workflows._folder`): ``model.json``,
``config.json`` (:class:`SemanticConfig`), ``weights.pt``, ``training/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import DataError
from biakit.workflows._base import channels_first, check_pairs
from biakit.workflows._config import SemanticConfig
from biakit.workflows._disk import DensityRange
from biakit.workflows._network import NetworkWorkflow
from biakit.workflows._results import Evaluation


class SemanticSegmenter(NetworkWorkflow):
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
    >>> _ = seg.train([d.image for d in data], [d.mask for d in data])
    >>> seg.predict_maps(data[0].image).shape, seg.predict(data[0].image).shape
    ((2, 64, 64), (64, 64))
    """

    task = "semantic"
    config_class = SemanticConfig

    def train(
        self,
        images: Sequence[Any],
        masks: Sequence[Any],
        *,
        output_dir: str | Path | None = None,
        val_images: Sequence[Any] | None = None,
        val_masks: Sequence[Any] | None = None,
        resume: bool = False,
        overwrite: bool = False,
        progress: bool = False,
    ) -> Any:
        """Train on images and class masks (0 = background, 1..n_classes-1).

        Without explicit validation data, ``config.val_fraction`` of the images
        are held out (by image, seeded). With ``output_dir`` the model folder is
        written there at the end (checkpoints in ``NAME.partial`` meanwhile:
        ``resume=True`` continues an interrupted run exactly; ``overwrite=True``
        starts afresh and replaces an existing folder). Returns the history.
        """
        cfg = self.config
        images = [channels_first(im, cfg.ndim, name=f"images[{i}]") for i, im in enumerate(images)]
        masks = _masks(masks, cfg.n_classes, "masks")
        check_pairs(images, masks, "mask")
        val = None
        if val_images is not None:
            vx = [channels_first(im, cfg.ndim, name="val_images") for im in val_images]
            val = (vx, _masks(val_masks or [], cfg.n_classes, "val_masks"))
            check_pairs(*val, "validation mask")
        else:
            images, masks, val = _split(images, masks, cfg)
        density = DensityRange("foreground fraction")
        density.values += [float(np.mean(m > 0)) for m in masks]
        self.training = {"density": density.as_dict()}
        work = self._fit(
            images, masks, target_kind="labels", output_dir=output_dir, val=val,
            metrics=_iou_metric, resume=resume, overwrite=overwrite, progress=progress,
        )  # fmt: skip
        self._finish(work, output_dir, overwrite=overwrite)
        return self.history

    def predict_maps(self, image: Any, *, tta: bool = False, **kwargs: Any) -> np.ndarray:
        """Class probabilities ``(n_classes, *spatial)`` (softmax), tile by tile."""
        return self._raw(image, activation="softmax", tta=tta, **kwargs)

    def predict_proba(self, image: Any, **kwargs: Any) -> np.ndarray:
        """Alias of :meth:`predict_maps` (channels first), kept from biakit 0.1."""
        return self.predict_maps(image, **kwargs)

    def postprocess(self, maps: np.ndarray) -> np.ndarray:
        """Most probable class of every pixel (uint8)."""
        return np.argmax(maps, axis=0).astype(np.uint8)

    def evaluate(self, images: Sequence[Any], masks: Sequence[Any]) -> Evaluation:
        """IoU, Dice and the other confusion metrics, pooled and per image."""
        import pandas as pd

        from biakit.metrics import confusion_metrics, confusion_metrics_dataset

        average = "binary" if self.config.n_classes == 2 else "macro"
        labels = None if average == "binary" else list(range(1, self.config.n_classes))
        truths = _masks(masks, self.config.n_classes, "masks")
        pairs = [(t, self.predict(im)) for im, t in zip(images, truths)]
        rows = [
            {"image": i, **confusion_metrics(t, p, average=average, labels=labels).as_dict()}
            for i, (t, p) in enumerate(pairs)
        ]
        pooled = confusion_metrics_dataset(pairs, average=average, labels=labels)
        summary = pd.DataFrame([pooled.as_dict()])
        return Evaluation(self.task, pooled, pd.DataFrame(rows), summary)

    # hooks of predict_to_disk
    def _write_outputs(self, names: dict, *, image: np.ndarray, meta: Any, raw: Any, result: Any,
                       overwrite: bool) -> list[Path]:  # fmt: skip
        return write_label_outputs(names, image, meta, raw, result, overwrite=overwrite)

    def _count(self, result: Any) -> int:
        return int(np.count_nonzero(result))

    def _density(self, result: Any, shape: tuple[int, ...]) -> float:
        return float(np.mean(result > 0))


def write_label_outputs(names: dict, image: np.ndarray, meta: Any, raw: Any, labels: Any, *,
                        overwrite: bool) -> list[Path]:  # fmt: skip
    """Write ``labels`` (and the maps, the overlay) for one image; return the files."""
    from biakit.io import ImageMeta, write_image
    from biakit.visualize import overlay_labels

    spatial = ImageMeta(meta.spatial_axes, meta.spatial_spacing, unit=meta.unit)
    write_image(names["labels"], labels, spatial, overwrite=overwrite)
    if "maps" in names:
        cmeta = ImageMeta("C" + meta.spatial_axes, (1.0, *meta.spatial_spacing), unit=meta.unit)
        write_image(names["maps"], raw.astype(np.float32), cmeta, overwrite=overwrite)
    if "overlay" in names:
        rgb = overlay_labels(image[0], np.asarray(labels).astype(np.int64), alpha=0.3)
        write_image(names["overlay"], rgb, ImageMeta("YXC", unit="pixel"), overwrite=overwrite)
    return list(names.values())


def _masks(masks: Sequence[Any], n_classes: int, name: str) -> list[np.ndarray]:
    from biakit.validation import check_labels

    out = []
    for i, m in enumerate(masks):
        m = check_labels(m, name=f"{name}[{i}]").astype(np.int64)
        if m.max(initial=0) >= n_classes:
            raise DataError(
                f"{name}[{i}] has values 0..{int(m.max())}; expected 0..{n_classes - 1} "
                "(set n_classes)"
            )
        out.append(m)
    return out


def _split(images: list, targets: list, cfg: Any) -> tuple[list, list, Any]:
    """Hold out ``cfg.val_fraction`` of the images (by image, seeded)."""
    from biakit.model_selection import train_val_test_split

    if cfg.val_fraction <= 0 or len(images) < 2:
        return images, targets, None
    split = train_val_test_split(len(images), val=cfg.val_fraction, test=0.0, seed=cfg.seed)
    pick = lambda idx, xs: [xs[i] for i in idx]  # noqa: E731
    val = (pick(split.val, images), pick(split.val, targets))
    return pick(split.train, images), pick(split.train, targets), val


def _iou_metric(logits: Any, target: Any) -> dict[str, float]:
    """Foreground IoU of a validation batch (all non-background classes pooled)."""
    pred = logits.argmax(dim=1) > 0
    true = target > 0
    inter = (pred & true).sum().item()
    union = (pred | true).sum().item()
    return {"iou": inter / union if union else 1.0}
