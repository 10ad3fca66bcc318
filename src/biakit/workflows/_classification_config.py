"""Pydantic configuration of the image-classification workflow (:class:`ClassificationConfig`).

One YAML file describes a training job::

    task: classification
    data:
      images: train/                   # one folder per class (train/CLASS/*.tif) or a CSV
      test_images: test/               # optional: test-set report after training
    output: models/phenotypes
    input_shape: [64, 64]              # every image is resized (or padded) to this
    network: resnet_small              # or vit_tiny (a tiny vision transformer)
    model: {base_filters: 16, stages: [1, 1, 1]}   # the network's config (ResNetConfig / ViTConfig)
    train: {epochs: 30, batch_size: 32, lr: 0.001}

A CSV has the columns ``path`` and ``class`` (paths relative to the CSV).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from biakit.nn.models._resnet_config import ResNetConfig
from biakit.nn.models._vit_config import ViTConfig
from biakit.workflows._config import (
    WorkflowConfig,
    _resolve,
    model_section,
    register_task_config,
)

#: ResNet defaults of the classification task
CLASSIFICATION_MODEL_DEFAULTS = {"base_filters": 16, "stages": (1, 1, 1)}
#: tiny-ViT defaults of the classification task (``patch_size`` follows ``input_shape``)
VIT_MODEL_DEFAULTS = {"embed_dim": 64, "depth": 4, "heads": 4, "mlp_ratio": 2.0}
#: the networks a classification can use (registry ids)
NETWORKS = ("resnet_small", "vit_tiny")

ClassificationModel = Annotated[ResNetConfig | ViTConfig, Field(discriminator="architecture")]


class ClassificationDataOptions(BaseModel):
    """Training (and optional test) images: a folder with one sub-folder per class, or a CSV."""

    model_config = ConfigDict(extra="forbid")

    images: str
    test_images: str | None = None

    def resolved(self, base: Path) -> ClassificationDataOptions:
        """Return a copy with relative paths taken relative to ``base`` (the YAML's folder)."""
        fields = {k: v for k, v in self.model_dump().items() if isinstance(v, str)}
        return self.model_copy(update={k: _resolve(v, base) for k, v in fields.items()})


class ClassificationConfig(WorkflowConfig):
    """An image-classification run: one class id per image, a small ResNet or a tiny ViT.

    ``network`` chooses the network: ``"resnet_small"`` (default; ``model`` is a
    :class:`~biakit.nn.models._resnet_config.ResNetConfig`) or ``"vit_tiny"``
    (``model`` is a :class:`~biakit.nn.models._vit_config.ViTConfig`; its
    ``patch_size`` defaults to the largest of 8, 4, 2, 1 dividing every size of
    ``input_shape`` into at least 4 patches per axis).

    Every image (any size, grey or multi-channel) is brought to ``input_shape``
    (``resize="resize"``: linear interpolation, aspect not kept;
    ``"pad"``: centred, constant padding with the image's median or central
    cropping, pixel size kept) and normalised on its own (``normalizer``,
    percentile by default). ``input_shape`` also sets ``model.ndim``.

    ``class_weighting="balanced"`` weights the cross-entropy by inverse class
    frequency ``N / (n_classes * N_k)`` (scikit-learn's ``"balanced"``);
    ``train.class_weights`` given explicitly wins. An epoch is one pass over the
    training images (``samples_per_epoch`` and ``foreground_fraction`` are not
    used). ``n_classes`` and ``class_names`` default to those of the training
    labels.

    Examples
    --------
    >>> cfg = ClassificationConfig(input_shape=(32, 32, 32), n_classes=3)
    >>> cfg.ndim, cfg.model.ndim, cfg.model.out_channels, cfg.train.loss
    (3, 3, 3, 'ce')
    >>> vit = ClassificationConfig(network="vit_tiny", input_shape=(48, 48))
    >>> type(vit.model).__name__, vit.model.patch_size
    ('ViTConfig', 8)
    """

    task: Literal["classification"] = "classification"
    name: str = "classification"
    input_shape: tuple[int, ...] = (64, 64)
    resize: Literal["resize", "pad"] = "resize"
    n_classes: int | None = Field(None, ge=2, description="default: from the training labels")
    class_names: tuple[str, ...] | None = None
    class_weighting: Literal["balanced", "none"] = "balanced"
    network: Literal["resnet_small", "vit_tiny"] = "resnet_small"
    model: ClassificationModel = Field(  # type: ignore[assignment]
        default_factory=lambda: ResNetConfig(**CLASSIFICATION_MODEL_DEFAULTS)
    )
    data: ClassificationDataOptions | None = None  # type: ignore[assignment]
    default_loss: ClassVar[str] = "ce"
    architecture: ClassVar[str] = "resnet_small"
    model_defaults: ClassVar[dict[str, Any]] = {}  # per network: see _network_model

    @model_validator(mode="before")
    @classmethod
    def _network_model(cls, data: Any) -> Any:
        """``network`` picks the model config (``model.architecture``) and its defaults."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        raw = data.get("model", {})
        given = getattr(raw, "architecture", None)
        model = model_section(data)
        if model is None:
            return data
        given = model.get("architecture", given)
        net = data.get("network", given or "resnet_small")
        if given is not None and net != given:
            raise ValueError(f"network={net!r} but model.architecture={given!r}; "
                             "give only network")  # fmt: skip
        if net not in NETWORKS:
            raise ValueError(f"network={net!r}: expected one of {', '.join(NETWORKS)}")
        if net == "vit_tiny":
            defaults = {**VIT_MODEL_DEFAULTS, "patch_size": _patch_size(data.get("input_shape"))}
        else:
            defaults = dict(CLASSIFICATION_MODEL_DEFAULTS)
        data["network"] = net
        data["model"] = {**defaults, **model, "architecture": net}
        return data

    @model_validator(mode="before")
    @classmethod
    def _input_shape(cls, data: Any) -> Any:
        """``patch_shape`` follows ``input_shape``; ``model.out_channels`` follows the classes."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        if "patch_shape" in data and "input_shape" not in data:
            raise ValueError("set input_shape (the shape every image is brought to), "
                             "not patch_shape")  # fmt: skip
        shape = data.get("input_shape", (64, 64))
        if "patch_shape" in data and tuple(data["patch_shape"]) != tuple(shape):
            raise ValueError(f"patch_shape {data['patch_shape']} differs from input_shape "
                             f"{shape}; leave patch_shape out")  # fmt: skip
        data["patch_shape"] = shape
        return data

    @model_validator(mode="after")
    def _check_classes(self) -> ClassificationConfig:
        if self.train.loss != "ce":
            raise ValueError(f"train.loss={self.train.loss!r}: classification trains with 'ce'")
        names = self.class_names
        if names is not None:
            if len(set(names)) != len(names) or len(names) < 2:
                raise ValueError(f"class_names must be >= 2 distinct names, got {names}")
            if self.n_classes is not None and self.n_classes != len(names):
                raise ValueError(
                    f"n_classes={self.n_classes} but class_names has {len(names)} names"
                )
        weights = self.train.class_weights
        if (
            weights is not None
            and len(weights) != self.out_channels
            and (self.n_classes is not None or names is not None)
        ):
            raise ValueError(
                f"train.class_weights has {len(weights)} entries for {self.out_channels} classes"
            )
        return self

    @property
    def out_channels(self) -> int:
        """One logit per class (2 until the classes are known)."""
        if self.n_classes is not None:
            return self.n_classes
        return len(self.class_names) if self.class_names is not None else 2


def _patch_size(shape: Any) -> int:
    """Largest of 8, 4, 2, 1 that cuts every size of ``shape`` into >= 4 whole patches."""
    sizes = [int(s) for s in shape] if isinstance(shape, list | tuple) else [64, 64]
    for p in (8, 4, 2):
        if all(s % p == 0 and s // p >= 4 for s in sizes):
            return p
    return 1


register_task_config(ClassificationConfig)
