"""Shared by the U-Net workflows: data checks, training, tiled prediction, model folders."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def channels_first(image: Any, ndim: int) -> np.ndarray:
    """Return ``image`` as ``(C, *spatial)``; a plain ``ndim``-D image gets ``C = 1``."""
    array = np.asarray(image)
    if array.ndim == ndim:
        return array[None]
    if array.ndim == ndim + 1:
        return array
    raise ValueError(
        f"expected a {ndim}-D image or a channel-first {ndim + 1}-D image, got shape {array.shape}"
    )


def check_pairs(images: list[np.ndarray], targets: list[np.ndarray], what: str) -> None:
    """Equal counts, and each target's shape equal to its image's spatial shape."""
    if len(images) != len(targets) or not images:
        raise ValueError(
            f"got {len(images)} image(s) and {len(targets)} {what}(s); need equal, > 0"
        )
    for i, (im, t) in enumerate(zip(images, targets)):
        if im.shape[1:] != t.shape:
            raise ValueError(f"image {i} has spatial shape {im.shape[1:]} but {what} {t.shape}")


class UNetWorkflow:
    """Base of the U-Net workflows: holds the config, the network and the input channels."""

    FORMAT = "biakit.unet_workflow"
    WEIGHTS = "weights.pt"

    def __init__(self, config: Any) -> None:
        self.config = config
        self.model: Any = None
        self.in_channels: int = 1
        self.history: Any = None

    # ------------------------------------------------------------------ training
    def _fit(
        self,
        images: list[np.ndarray],
        targets: list[np.ndarray],
        *,
        target_kind: str,
        out_channels: int,
        output_dir: str | Path | None,
        val: tuple[list[np.ndarray], list[np.ndarray]] | None,
        loss_fn: Callable[..., Any] | None = None,
        metrics: Callable[..., dict[str, float]] | None = None,
        progress: bool = False,
    ) -> Any:
        """Train the U-Net on (image, target) pairs; keep the best weights in ``self.model``."""
        from biakit.nn.augment import Augmenter
        from biakit.nn.datasets import Normalizer, PatchDataset
        from biakit.nn.train import Trainer

        cfg = self.config
        self.in_channels = images[0].shape[0]
        normalizer = Normalizer(**cfg.normalizer.model_dump())
        augmenter = Augmenter(cfg.augment_config(), ndim=cfg.ndim)

        def dataset(ims: list, ts: list, samples: int, aug: Any) -> Any:
            return PatchDataset(
                ims, ts, cfg.patch_shape, samples_per_epoch=samples,
                foreground_fraction=cfg.foreground_fraction, augmenter=aug,
                normalizer=normalizer, target_kind=target_kind, seed=cfg.seed,
            )  # fmt: skip

        train_ds = dataset(images, targets, cfg.samples_per_epoch, augmenter)
        val_ds = dataset(*val, max(cfg.samples_per_epoch // 4, 4), None) if val else None
        self.model = self._build_model(out_channels)
        with contextlib.ExitStack() as stack:
            if output_dir is None:  # checkpoints still need a place; it is removed afterwards
                out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="biakit-")))
            else:
                out = Path(output_dir) / "training"
            trainer = Trainer(
                self.model, cfg.train_config(), train_ds, val_ds, output_dir=out,
                metrics=metrics, loss_fn=loss_fn,
            )  # fmt: skip
            self.history = trainer.fit(progress=progress)
        self.model = trainer.model.eval()
        return self.history

    def _build_model(self, out_channels: int) -> Any:
        import torch

        from biakit.nn.models import UNet

        torch.manual_seed(self.config.seed)
        return UNet(self.config.unet_config(self.in_channels, out_channels))

    def _split(self, images: list, targets: list) -> tuple[list, list, Any]:
        """Hold out ``config.val_fraction`` of the images (by image, seeded)."""
        from biakit.model_selection import train_val_test_split

        cfg = self.config
        if cfg.val_fraction <= 0 or len(images) < 2:
            return images, targets, None
        split = train_val_test_split(len(images), val=cfg.val_fraction, test=0.0, seed=cfg.seed)
        pick = lambda idx, xs: [xs[i] for i in idx]  # noqa: E731
        val = (pick(split.val, images), pick(split.val, targets))
        return pick(split.train, images), pick(split.train, targets), val

    # ---------------------------------------------------------------- prediction
    def _raw(self, image: Any, *, activation: str | None, tta: bool, **kwargs: Any) -> np.ndarray:
        """Normalised tiled prediction ``(out_channels, *spatial)``."""
        from biakit.nn.datasets import Normalizer
        from biakit.nn.infer import predict_tiled

        if self.model is None:
            name = type(self).__name__
            raise RuntimeError(f"this {name} is not trained; call train() or load()")
        array = channels_first(image, self.config.ndim)
        if array.shape[0] != self.in_channels:
            raise ValueError(
                f"the model expects {self.in_channels} channel(s), the image has {array.shape[0]}"
            )
        normalized = Normalizer(**self.config.normalizer.model_dump())(array)
        kwargs.setdefault("amp", self.config.train_config().amp)  # as trained: bf16 where fast
        return predict_tiled(self.model, normalized, activation=activation, tta=tta, **kwargs)

    # ---------------------------------------------------------------- persistence
    def _extra_meta(self) -> dict[str, Any]:
        return {}

    def save(self, path: str | Path, *, overwrite: bool = True) -> Path:
        """Write ``config.json`` and ``weights.pt`` into ``path`` (each file atomically)."""
        import torch

        from biakit._atomic import atomic_path, atomic_write_text
        from biakit.workflows._versions import versions

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": self.FORMAT,
            "config": self.config.model_dump(mode="json"),
            "in_channels": self.in_channels,
            "unet": self.model.config.model_dump(mode="json"),
            "versions": versions(),
            **self._extra_meta(),
        }
        atomic_write_text(path / "config.json", json.dumps(meta, indent=2), overwrite=overwrite)
        with atomic_path(path / self.WEIGHTS, overwrite=overwrite) as tmp:
            torch.save(self.model.state_dict(), tmp)
        return path

    @classmethod
    def _read_meta(cls, path: Path) -> dict[str, Any]:
        file = path / "config.json"
        if not file.is_file():
            raise FileNotFoundError(f"{path}: not a model folder (no config.json)")
        try:
            meta = json.loads(file.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{file}: not valid JSON ({err})") from None
        if meta.get("format") != cls.FORMAT:
            raise ValueError(f"{file}: not a {cls.FORMAT} model (format {meta.get('format')!r})")
        return meta

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """Load a model folder; weights with ``weights_only=True`` (no arbitrary unpickling)."""
        import torch

        from biakit.nn.models import UNet, UNetConfig

        path = Path(path)
        meta = cls._read_meta(path)
        workflow = cls(cls.config_class().model_validate(meta["config"]))
        workflow.in_channels = int(meta["in_channels"])
        workflow.model = UNet(UNetConfig.model_validate(meta["unet"]))
        state = torch.load(path / cls.WEIGHTS, map_location="cpu", weights_only=True)
        workflow.model.load_state_dict(state)
        workflow.model.eval()
        workflow._load_extra(meta)
        return workflow

    def _load_extra(self, meta: dict[str, Any]) -> None:
        """Restore subclass state saved by :meth:`_extra_meta`."""

    @classmethod
    def config_class(cls) -> type:
        """Pydantic config class of this workflow."""
        raise NotImplementedError


def model_format(path: str | Path) -> str:
    """Return the ``format`` field of a model folder's ``config.json`` (its workflow)."""
    file = Path(path) / "config.json"
    if not file.is_file():
        raise FileNotFoundError(f"{path}: not a model folder (no config.json)")
    try:
        return str(json.loads(file.read_text()).get("format"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{file}: not valid JSON ({err})") from None
