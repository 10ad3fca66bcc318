"""Configuration of the super-resolution workflow (:class:`SuperResolutionConfig`).

One YAML file describes a training job::

    task: super_resolution
    scale: 2                       # or [1, 2, 2] / [4, 1, 1] (3D, per axis)
    data:
      high: train/high             # high-resolution images
      low: train/low               # optional: their low-resolution versions (paired by name);
                                   # without it they are made with `degradation`
      test_high: test/high         # optional test set (test_low optional too)
    degradation: {sigma: null, gaussian_noise: 0.0}   # blur sd (default scale / 2), noise
    patch_shape: [48, 48]          # low-resolution patch
    augment: {flip: true, rotate90: true}   # the only augmentations (exact on both images)
    model: {architecture: edsr_lite, n_features: 32, n_blocks: 8}   # or rcan_lite
    train: {epochs: 100, max_time: 600}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from biakit.errors import ConfigError
from biakit.nn.models._sr_config import EDSRConfig, RCANConfig
from biakit.workflows._config import (
    WorkflowConfig,
    _resolve,
    model_section,
    register_task_config,
)


class SRDataOptions(BaseModel):
    """Where the high-resolution (and optional low-resolution) images are."""

    model_config = ConfigDict(extra="forbid")

    high: str
    low: str | None = None
    test_high: str | None = None
    test_low: str | None = None

    def resolved(self, base: Path) -> SRDataOptions:
        """Return a copy with relative paths taken relative to ``base`` (the YAML's folder)."""
        fields = {k: v for k, v in self.model_dump().items() if isinstance(v, str)}
        return self.model_copy(update={k: _resolve(v, base) for k, v in fields.items()})


class DegradationOptions(BaseModel):
    """How low-resolution images are made from high-resolution ones (see ``degrade``)."""

    model_config = ConfigDict(extra="forbid")

    sigma: float | tuple[float, ...] | None = None
    gaussian_noise: float = Field(0.0, ge=0.0)


_PAIRED_AUGMENTATIONS = (
    "rotation", "tilt", "translation", "zoom", "shear", "elastic", "brightness", "contrast",
    "gamma", "blur", "gaussian_noise", "poisson_noise", "cutout",
)  # fmt: skip

SRModel = Annotated[EDSRConfig | RCANConfig, Field(discriminator="architecture")]


class SuperResolutionConfig(WorkflowConfig):
    """A super-resolution run: low-resolution in, ``scale`` times more pixels out.

    ``model`` is an :class:`~biakit.nn.models.EDSRConfig` (``architecture:
    edsr_lite``, default) or :class:`~biakit.nn.models.RCANConfig`
    (``rcan_lite``); its ``scale`` and ``ndim`` follow from the task's.
    ``augment`` may only flip and rotate by 90 degrees (both on by default):
    they map a low/high pair onto an exact pair, where resampling, intensity
    changes or noise would have to be applied consistently at two resolutions
    (the degradation's ``gaussian_noise`` is the way to train for noisy inputs).

    Examples
    --------
    >>> cfg = SuperResolutionConfig(scale=4, patch_shape=(32, 32))
    >>> cfg.model.architecture, cfg.model.factors, cfg.train.loss
    ('edsr_lite', (4, 4), 'mae')
    """

    task: Literal["super_resolution"] = "super_resolution"
    name: str = "super_resolution"
    scale: int | tuple[int, ...] = 2
    patch_shape: tuple[int, ...] = (48, 48)
    samples_per_epoch: int = Field(128, ge=1)
    model: SRModel = Field(default_factory=lambda: EDSRConfig(n_features=32, n_blocks=8))
    degradation: DegradationOptions = Field(default_factory=DegradationOptions)
    data: SRDataOptions | None = None  # type: ignore[assignment]
    default_loss: ClassVar[str] = "mae"
    model_defaults: ClassVar[dict[str, Any]] = {"architecture": "edsr_lite", "n_features": 32}

    @model_validator(mode="before")
    @classmethod
    def _model_scale(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            model = model_section(data)
            if model is not None and "scale" not in model:
                data = {**data, "model": {**model, "scale": data.get("scale", 2)}}
        return data

    @model_validator(mode="after")
    def _check_scale(self) -> SuperResolutionConfig:
        factors = (self.scale,) * self.ndim if isinstance(self.scale, int) else self.scale
        if tuple(factors) != self.model.factors:
            raise ValueError(f"model.scale={self.model.scale} differs from scale={self.scale}")
        return self

    @model_validator(mode="after")
    def _check_augment(self) -> SuperResolutionConfig:
        defaults = type(self.augment)()
        active = sorted(
            name for name in _PAIRED_AUGMENTATIONS
            if getattr(self.augment, name) != getattr(defaults, name)
        )  # fmt: skip
        if active:
            raise ConfigError(
                f"augment: {', '.join(active)} not supported for {self.task} (got "
                f"{ {k: getattr(self.augment, k) for k in active} }); only flip and rotate90 "
                "keep low/high pairs exact: remove them (use degradation.gaussian_noise for noise)"
            )
        return self

    @property
    def out_channels(self) -> int:
        """As many output channels as input channels."""
        return self.model.in_channels

    def network_config(self, in_channels: int) -> Any:
        """Return the network's config for images with ``in_channels`` channels."""
        data = {**self.model.model_dump(), "in_channels": in_channels, "out_channels": in_channels}
        return type(self.model).model_validate(data)


register_task_config(SuperResolutionConfig)
