"""Pydantic configuration of the point-detection workflow (:class:`DetectionConfig`).

One YAML file describes a training job::

    task: detection
    data:
      images: data/train/images        # folder or glob
      points: data/train/points        # CSVs (columns y,x or z,y,x, optional class), paired by name
      test_images: data/test/images    # optional
      test_points: data/test/points
    output: models/spots
    n_classes: 1
    sigma: 2.0
    patch_shape: [64, 64]
    tolerance: 3.0
    model: {depth: 3, base_filters: 16}
    train: {epochs: 30, batch_size: 8, lr: 0.001}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from biakit.validation import check_spacing
from biakit.workflows._config import WorkflowConfig, _resolve, register_task_config

#: thresholds tried when tuning on validation images (inclusive grid 0.05 .. 0.95)
DEFAULT_THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))


class DetectionDataOptions(BaseModel):
    """Where the training (and optional test) images and point tables are."""

    model_config = ConfigDict(extra="forbid")

    images: str
    points: str
    test_images: str | None = None
    test_points: str | None = None

    @model_validator(mode="after")
    def _test_pair(self) -> DetectionDataOptions:
        if (self.test_images is None) != (self.test_points is None):
            raise ValueError("give both test_images and test_points, or neither")
        return self

    def resolved(self, base: Path) -> DetectionDataOptions:
        """Return a copy with relative paths taken relative to ``base`` (the YAML's folder)."""
        fields = {k: v for k, v in self.model_dump().items() if isinstance(v, str)}
        return self.model_copy(update={k: _resolve(v, base) for k, v in fields.items()})


class DetectionConfig(WorkflowConfig):
    """Everything a point-detection (heat-map U-Net) training run needs.

    The network predicts one heat-map channel per point class, trained
    against :func:`biakit.nn.targets.point_heatmap` targets (Gaussian blobs
    of sd ``sigma``) with the ``loss`` below (``train.loss`` is not used).
    Points are read back with :func:`biakit.segment.find_peaks` at
    ``threshold`` / ``min_distance``; with ``tune=True`` (default) training
    tunes both on the validation images (the grid ``threshold_grid`` x
    ``min_distance_grid`` maximising the pooled :func:`biakit.metrics.match_points`
    F1 at ``tolerance``) and stores them with the model (``thresholds.json``),
    leaving this config as it was; the values here are used when ``tune=False``.

    Distances (``sigma``, ``min_distance``, ``tolerance``) are in pixels, or in
    physical units when ``spacing`` is set.

    Examples
    --------
    >>> cfg = DetectionConfig(patch_shape=(32, 32), model={"depth": 2})
    >>> cfg.ndim, cfg.loss, cfg.distance_grid(), cfg.model.out_channels
    (2, 'bce', (2.0, 3.0, 4.0, 6.0), 1)
    """

    task: Literal["detection"] = "detection"
    name: str = "detection"
    n_classes: int = Field(1, ge=1, description="point classes = heat-map channels")
    sigma: float = Field(2.0, gt=0, description="heat-map blob sd")
    subpixel_targets: bool = True
    spacing: float | tuple[float, ...] | None = None
    foreground_fraction: float = Field(0.8, ge=0.0, le=1.0)
    loss: Literal["bce", "mse"] = "bce"
    foreground_weight: float = Field(
        5.0, ge=0.0, description="loss weight 1 + foreground_weight * target per voxel"
    )
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    min_distance: float = Field(2.0, ge=0.0)
    tolerance: float = Field(3.0, gt=0)
    tune: bool = True
    threshold_grid: tuple[float, ...] = DEFAULT_THRESHOLDS
    min_distance_grid: tuple[float, ...] | None = None
    subpixel: bool | Literal["gaussian", "quadratic", "centroid"] = True
    data: DetectionDataOptions | None = None  # type: ignore[assignment]
    default_loss: ClassVar[str] = "mse"

    @field_validator("threshold_grid", "min_distance_grid")
    @classmethod
    def _check_grid(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None and (not value or any(v < 0 for v in value)):
            raise ValueError(f"a tuning grid needs at least one value, all >= 0; got {value}")
        return value

    @classmethod
    def _check_raw_train(cls, train: Mapping[str, Any]) -> None:
        if "loss" in train and train["loss"] != cls.default_loss:  # saved configs hold the default
            raise ValueError(
                f"train.loss={train['loss']!r} is not used by detection; set the "
                "heat-map loss with the top-level 'loss' ('bce' or 'mse')"
            )

    @model_validator(mode="after")
    def _check_detection(self) -> DetectionConfig:
        self.spacing = check_spacing(self.spacing, self.ndim)
        return self

    @property
    def out_channels(self) -> int:
        """One heat-map channel per point class."""
        return self.n_classes

    def distance_grid(self) -> tuple[float, ...]:
        """``min_distance`` values tried when tuning (default: 1, 1.5, 2, 3 x sigma)."""
        if self.min_distance_grid is not None:
            return self.min_distance_grid
        return tuple(round(f * self.sigma, 3) for f in (1.0, 1.5, 2.0, 3.0))


register_task_config(DetectionConfig)
