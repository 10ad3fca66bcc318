"""Pydantic configuration of deep-learning workflows, validated once at the edge.

One YAML file describes a training job::

    task: semantic
    data:
      images: data/train/images        # folder or glob
      masks: data/train/masks          # paired by name
      test_images: data/test/images    # optional: test-set metrics after training
      test_masks: data/test/masks
    output: models/nuclei
    n_classes: 2
    patch_shape: [128, 128]
    model: {depth: 3, base_filters: 16}
    augment: {flip: true, rotate90: true}
    train: {epochs: 30, batch_size: 8, lr: 0.001}

The Python API takes the same object (:class:`SemanticConfig`) without any YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from biakit.pipeline import ConfigError
from biakit.pipeline._config import format_validation_error, read_yaml_mapping


class ModelOptions(BaseModel):
    """U-Net options (see :class:`biakit.nn.models.UNetConfig`)."""

    model_config = ConfigDict(extra="forbid")

    depth: int = Field(3, ge=1, le=6)
    base_filters: int = Field(16, ge=1)
    norm: Literal["batch", "group", "instance", "none"] = "batch"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    residual: bool = False
    attention: bool = False
    z_pool: tuple[bool, ...] | None = None
    upsampling: Literal["transposed", "interpolation"] = "transposed"


class NormalizerOptions(BaseModel):
    """Intensity normalisation applied to every image (recorded with the model)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["percentile", "zscore", "range", "none"] = "percentile"
    low: float = 1.0
    high: float = 99.8
    value_range: tuple[float, float] | None = None


class DataOptions(BaseModel):
    """Where the training (and optional test) images and masks are."""

    model_config = ConfigDict(extra="forbid")

    images: str
    masks: str
    test_images: str | None = None
    test_masks: str | None = None

    @model_validator(mode="after")
    def _test_pair(self) -> DataOptions:
        if (self.test_images is None) != (self.test_masks is None):
            raise ValueError("give both test_images and test_masks, or neither")
        return self


class WorkflowConfig(BaseModel):
    """Options every U-Net workflow shares.

    Cross-field checks happen here, before any training: the patch size
    against the U-Net's down-sampling, ``z_pool`` against 3D patches, the
    nested trainer and augmentation options.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = "model"
    patch_shape: tuple[int, ...] = (128, 128)
    samples_per_epoch: int = Field(256, ge=1)
    foreground_fraction: float = Field(0.5, ge=0.0, le=1.0)
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    seed: int = 0
    model: ModelOptions = Field(default_factory=ModelOptions)
    normalizer: NormalizerOptions = Field(default_factory=NormalizerOptions)
    augment: dict[str, Any] = Field(default_factory=lambda: {"flip": True, "rotate90": True})
    train: dict[str, Any] = Field(default_factory=dict)
    data: DataOptions | None = None
    output: str | None = None
    default_loss: ClassVar[str] = "ce_dice"

    @model_validator(mode="after")
    def _check(self) -> WorkflowConfig:
        if len(self.patch_shape) not in (2, 3):
            raise ValueError(f"patch_shape must have 2 or 3 sizes, got {self.patch_shape}")
        self.unet_config(1, 2).check_patch(self.patch_shape)
        self.train_config()  # validate the nested trainer options now
        self.augment_config()
        return self

    @property
    def ndim(self) -> int:
        """Spatial dimensionality (from ``patch_shape``)."""
        return len(self.patch_shape)

    def unet_config(self, in_channels: int, out_channels: int) -> Any:
        """Return the :class:`biakit.nn.models.UNetConfig` of this run."""
        from biakit.nn.models import UNetConfig

        options = self.model.model_dump()
        return UNetConfig(
            ndim=self.ndim, in_channels=in_channels, out_channels=out_channels, **options
        )

    def train_config(self) -> Any:
        """Return the :class:`biakit.nn.train.TrainConfig` of this run (seed shared)."""
        from biakit.nn.train import TrainConfig

        return TrainConfig(**({"loss": self.default_loss, "seed": self.seed} | self.train))

    def augment_config(self) -> Any:
        """Return the :class:`biakit.nn.augment.AugmentConfig` of this run."""
        from biakit.nn.augment import AugmentConfig

        return AugmentConfig(**self.augment)


class SemanticConfig(WorkflowConfig):
    """A semantic-segmentation run: class masks 0..n_classes-1."""

    task: Literal["semantic"] = "semantic"
    name: str = "semantic"
    n_classes: int = Field(2, ge=2, description="classes including background (0)")


class InstanceConfig(WorkflowConfig):
    """An instance-segmentation run: label images, encoded as foreground + contour (+ ...)."""

    task: Literal["instance"] = "instance"
    name: str = "instance"
    encoding: Literal["fg_contour", "fg_contour_distance", "fg_contour_distance_centre"] = (
        "fg_contour_distance"
    )
    contour_width: int = Field(1, ge=1)
    spacing: tuple[float, ...] | None = None
    min_size: int = Field(10, ge=0)
    default_loss: ClassVar[str] = "bce"

    def instance_encoding(self) -> Any:
        """Return the :class:`biakit.nn.targets.InstanceEncoding` of this run."""
        from biakit.nn.targets import InstanceEncoding

        return InstanceEncoding(
            mode=self.encoding, contour_width=self.contour_width, spacing=self.spacing
        )


TASKS = {"semantic": SemanticConfig, "instance": InstanceConfig}


def load_workflow_config(path: str | Path) -> WorkflowConfig:
    """Read a training YAML; errors name the file and the field."""
    data = read_yaml_mapping(path, "'task', 'data', ...")
    from biakit.workflows._detection_config import DetectionConfig

    tasks = {**TASKS, "detection": DetectionConfig}
    task = data.get("task", "semantic")
    if task not in tasks:
        raise ConfigError(f"{path}: unknown task {task!r}; valid tasks: {', '.join(tasks)}")
    try:
        return tasks[task].model_validate(data)
    except pydantic.ValidationError as err:
        raise ConfigError(format_validation_error(err, str(path))) from None
    except ValueError as err:  # checks raised by nested configs built in validators
        raise ConfigError(f"{path}: invalid config: {err}") from None
