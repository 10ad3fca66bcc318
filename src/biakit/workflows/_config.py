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
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from biakit.pipeline import ConfigError
from biakit.pipeline._config import format_validation_error


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


class SemanticConfig(BaseModel):
    """Everything a semantic-segmentation training run needs.

    Cross-field checks happen here, before any training: the patch size
    against the U-Net's down-sampling, ``z_pool`` against 3D patches.
    """

    model_config = ConfigDict(extra="forbid")

    task: Literal["semantic"] = "semantic"
    name: str = "semantic"
    n_classes: int = Field(2, ge=2, description="classes including background (0)")
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

    @model_validator(mode="after")
    def _check(self) -> SemanticConfig:
        if len(self.patch_shape) not in (2, 3):
            raise ValueError(f"patch_shape must have 2 or 3 sizes, got {self.patch_shape}")
        self.unet_config().check_patch(self.patch_shape)
        self.train_config()  # validate the nested trainer options now
        self.augment_config()
        return self

    @property
    def ndim(self) -> int:
        """Spatial dimensionality (from ``patch_shape``)."""
        return len(self.patch_shape)

    def unet_config(self, in_channels: int = 1) -> Any:
        """Return the :class:`biakit.nn.models.UNetConfig` of this run."""
        from biakit.nn.models import UNetConfig

        options = self.model.model_dump()
        return UNetConfig(
            ndim=self.ndim, in_channels=in_channels, out_channels=self.n_classes, **options
        )

    def train_config(self) -> Any:
        """Return the :class:`biakit.nn.train.TrainConfig` of this run (seed shared)."""
        from biakit.nn.train import TrainConfig

        loss = "ce_dice"
        return TrainConfig(**({"loss": loss, "seed": self.seed} | self.train))

    def augment_config(self) -> Any:
        """Return the :class:`biakit.nn.augment.AugmentConfig` of this run."""
        from biakit.nn.augment import AugmentConfig

        return AugmentConfig(**self.augment)


def load_workflow_config(path: str | Path) -> SemanticConfig:
    """Read a training YAML; errors name the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'task', 'data', ... at the top level")
    task = data.get("task", "semantic")
    if task != "semantic":
        raise ConfigError(f"{path}: unknown task {task!r}; valid tasks: semantic")
    try:
        return SemanticConfig.model_validate(data)
    except pydantic.ValidationError as err:
        raise ConfigError(format_validation_error(err, str(path))) from None
    except ValueError as err:  # checks raised by nested configs built in validators
        raise ConfigError(f"{path}: invalid config: {err}") from None
