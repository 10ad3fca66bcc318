"""Semantic segmentation with a U-Net: train, predict, evaluate, save, load.

A trained model is a folder::

    config.json    the SemanticConfig, U-Net config, normaliser, classes, versions
    weights.pt     model state dict (loaded with ``weights_only=True``)
    metrics.csv    per-epoch training history;  curves.png  its plot
    test_metrics.json   IoU / Dice on the test set, when one was given
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biakit.workflows._config import SemanticConfig

FORMAT = "biakit.semantic_segmenter"


def _channels_first(image: Any, ndim: int) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == ndim:
        return array[None]
    if array.ndim == ndim + 1:
        return array
    raise ValueError(
        f"expected a {ndim}-D image or a channel-first {ndim + 1}-D image, got shape {array.shape}"
    )


class SemanticSegmenter:
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

    def __init__(self, config: SemanticConfig | None = None) -> None:
        self.config = config or SemanticConfig()
        self.model: Any = None
        self.in_channels: int = 1
        self.history: Any = None

    # ------------------------------------------------------------------ training
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
        are held out (by image, seeded). Returns the per-epoch history.
        """
        from biakit.nn.datasets import Normalizer, PatchDataset
        from biakit.nn.train import Trainer

        cfg = self.config
        images = [_channels_first(im, cfg.ndim) for im in images]
        masks = [np.asarray(m).astype(np.int64) for m in masks]
        _check_pairs(images, masks, cfg)
        if val_images is None and cfg.val_fraction > 0 and len(images) > 1:
            images, masks, val_images, val_masks = _split(images, masks, cfg)
        self.in_channels = images[0].shape[0]
        normalizer = Normalizer(**cfg.normalizer.model_dump())
        augmenter = _augmenter(cfg)

        def dataset(ims, ms, samples, aug):
            return PatchDataset(
                ims, ms, cfg.patch_shape, samples_per_epoch=samples,
                foreground_fraction=cfg.foreground_fraction, augmenter=aug,
                normalizer=normalizer, target_kind="labels", seed=cfg.seed,
            )  # fmt: skip

        train_ds = dataset(images, masks, cfg.samples_per_epoch, augmenter)
        val_ds = None
        if val_images:
            val_images = [_channels_first(im, cfg.ndim) for im in val_images]
            val_masks = [np.asarray(m).astype(np.int64) for m in val_masks]
            val_ds = dataset(val_images, val_masks, max(cfg.samples_per_epoch // 4, 4), None)
        self.model = _build_model(cfg, self.in_channels)
        out = None if output_dir is None else Path(output_dir) / "training"
        trainer = Trainer(
            self.model, cfg.train_config(), train_ds, val_ds, output_dir=out,
            metrics=_iou_metric,
        )  # fmt: skip
        self.history = trainer.fit(progress=progress)
        self.model = trainer.model.eval()
        if output_dir is not None:
            self.save(output_dir)
        return self.history

    # ---------------------------------------------------------------- prediction
    def predict_proba(self, image: Any, *, tta: bool = False, **kwargs: Any) -> np.ndarray:
        """Class probabilities ``(n_classes, *spatial)`` (softmax), tile by tile."""
        from biakit.nn.datasets import Normalizer
        from biakit.nn.infer import predict_tiled

        if self.model is None:
            raise RuntimeError("this SemanticSegmenter is not trained; call train() or load()")
        array = _channels_first(image, self.config.ndim)
        if array.shape[0] != self.in_channels:
            raise ValueError(
                f"the model expects {self.in_channels} channel(s), the image has {array.shape[0]}"
            )
        normalized = Normalizer(**self.config.normalizer.model_dump())(array)
        return predict_tiled(self.model, normalized, activation="softmax", tta=tta, **kwargs)

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

    # ---------------------------------------------------------------- persistence
    def save(self, path: str | Path, *, overwrite: bool = True) -> Path:
        """Write config.json and weights.pt into ``path`` (atomically, file by file)."""
        import torch

        from biakit._atomic import atomic_path, atomic_write_text
        from biakit.workflows._versions import versions

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT,
            "config": self.config.model_dump(mode="json"),
            "in_channels": self.in_channels,
            "unet": self.model.config.model_dump(mode="json"),
            "versions": versions(),
        }
        atomic_write_text(path / "config.json", json.dumps(meta, indent=2), overwrite=overwrite)
        with atomic_path(path / "weights.pt", overwrite=overwrite) as tmp:
            torch.save(self.model.state_dict(), tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SemanticSegmenter:
        """Load a model folder; weights with ``weights_only=True`` (no arbitrary unpickling)."""
        import torch

        path = Path(path)
        file = path / "config.json"
        if not file.is_file():
            raise FileNotFoundError(f"{path}: not a model folder (no config.json)")
        meta = json.loads(file.read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{file}: not a biakit semantic segmenter ({meta.get('format')!r})")
        seg = cls(SemanticConfig.model_validate(meta["config"]))
        seg.in_channels = int(meta["in_channels"])
        seg.model = _build_model(seg.config, seg.in_channels)
        state = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
        seg.model.load_state_dict(state)
        seg.model.eval()
        return seg


def _build_model(cfg: SemanticConfig, in_channels: int) -> Any:
    import torch

    from biakit.nn.models import UNet

    torch.manual_seed(cfg.seed)
    return UNet(cfg.unet_config(in_channels))


def _augmenter(cfg: SemanticConfig) -> Any:
    from biakit.nn.augment import Augmenter

    return Augmenter(cfg.augment_config(), ndim=cfg.ndim)


def _iou_metric(logits: Any, target: Any) -> dict[str, float]:
    """Foreground IoU of a validation batch (all non-background classes pooled)."""
    pred = logits.argmax(dim=1) > 0
    true = target > 0
    inter = (pred & true).sum().item()
    union = (pred | true).sum().item()
    return {"iou": inter / union if union else 1.0}


def _check_pairs(images: list[np.ndarray], masks: list[np.ndarray], cfg: SemanticConfig) -> None:
    if len(images) != len(masks) or not images:
        raise ValueError(f"got {len(images)} image(s) and {len(masks)} mask(s); need equal, > 0")
    for i, (im, m) in enumerate(zip(images, masks)):
        if im.shape[1:] != m.shape:
            raise ValueError(f"image {i} has spatial shape {im.shape[1:]} but mask {m.shape}")
        if m.min(initial=0) < 0 or m.max(initial=0) >= cfg.n_classes:
            raise ValueError(
                f"mask {i} has values {int(m.min())}..{int(m.max())}; "
                f"expected 0..{cfg.n_classes - 1} (set n_classes)"
            )


def _split(images, masks, cfg):
    from biakit.model_selection import train_val_test_split

    split = train_val_test_split(len(images), val=cfg.val_fraction, test=0.0, seed=cfg.seed)
    pick = lambda idx, xs: [xs[i] for i in idx]  # noqa: E731
    return (
        pick(split.train, images), pick(split.train, masks),
        pick(split.val, images), pick(split.val, masks),
    )  # fmt: skip
