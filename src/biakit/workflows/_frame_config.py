"""Configuration of the next-frame (video) prediction workflow (:class:`FramePredictionConfig`).

One YAML file describes a training job::

    task: frame_prediction
    data:
      movies: train/movies           # folder or glob of time-lapses (TYX, TCYX, TZYX, ...)
      test_movies: test/movies       # optional: scored after training
    n_input: 4                       # frames seen (T)
    n_output: 4                      # frames predicted at once (K); longer: autoregressive
    patch_shape: [64, 64]            # random spatial crops of the training windows
    model: {architecture: simvp, hid_s: 16, hid_t: 128}    # or convlstm
    train: {epochs: 30, max_time: 480}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from biakit.nn.datasets._normalize import Normalizer
from biakit.nn.models._video_config import ConvLSTMConfig, SimVPConfig
from biakit.workflows._config import (
    WorkflowConfig,
    _resolve,
    model_section,
    register_task_config,
)

VideoModel = Annotated[SimVPConfig | ConvLSTMConfig, Field(discriminator="architecture")]

#: augmentations that act on every frame of a window alike and keep the motion physical
#: (plus the options that do not augment by themselves)
_FRAME_AUGMENTATIONS = ("flip", "flip_z", "rotate90", "p", "order", "continuous_order",
                        "target_mode", "elastic_sigma", "cutout_size")  # fmt: skip


class FrameDataOptions(BaseModel):
    """Where the training (and optional test) movies are."""

    model_config = ConfigDict(extra="forbid")

    movies: str
    test_movies: str | None = None

    def resolved(self, base: Path) -> FrameDataOptions:
        """Return a copy with relative paths taken relative to ``base`` (the YAML's folder)."""
        fields = {k: v for k, v in self.model_dump().items() if isinstance(v, str)}
        return self.model_copy(update={k: _resolve(v, base) for k, v in fields.items()})


class FramePredictionConfig(WorkflowConfig):
    """A next-frame prediction run: ``n_input`` frames in, the next ``n_output`` frames out.

    Training samples are windows of ``n_input + n_output`` consecutive frames
    of the training movies, cropped to ``patch_shape`` at random places (so
    large frames fit a CPU); ``foreground_fraction`` of the crops are centred on
    a pixel of the movie's foreground (above the Otsu threshold of its maximum
    projection over time), where the motion is. Intensities are normalised with
    statistics of all training movies (``normalizer``, percentile by default),
    stored with the model. ``augment`` may only flip and rotate by 90 degrees
    (applied to every frame of a window alike).

    ``model`` is a :class:`~biakit.nn.models.SimVPConfig` (``architecture:
    simvp``, default) or :class:`~biakit.nn.models.ConvLSTMConfig`
    (``convlstm``); its ``n_input``, ``n_output`` and ``ndim`` follow the task's.
    ``horizon`` is how many frames ``predict_to_disk`` forecasts (default
    ``n_output``).

    After training, the network's change from the last frame is shrunk toward
    persistence per horizon: ``last + a_h * (pred_h - last)`` with ``a_h`` in
    ``[0, 1]`` fitted by least squares (``_frame_tools.blend_weights``) on up to
    ``blend_forecasts`` roll-outs of ``blend_horizon`` frames from the
    validation movies (the training movies without them); longer horizons use
    the last weight. Where the roll-outs drift on those movies, the forecast
    falls back toward persistence. ``blend_horizon: 0`` turns it off.

    Examples
    --------
    >>> cfg = FramePredictionConfig(n_input=3, n_output=2, patch_shape=(32, 32))
    >>> cfg.model.architecture, cfg.model.n_input, cfg.model.n_output, cfg.train.loss
    ('simvp', 3, 2, 'mse')
    """

    task: Literal["frame_prediction"] = "frame_prediction"
    name: str = "frame_prediction"
    n_input: int = Field(4, ge=1, description="frames the network sees")
    n_output: int = Field(4, ge=1, description="frames predicted by one forward pass")
    horizon: int | None = Field(None, ge=1, description="frames predict_to_disk forecasts")
    blend_horizon: int = Field(
        12, ge=0, description="horizons fitted for the blend toward persistence; 0: no blend"
    )
    blend_forecasts: int = Field(32, ge=1, description="forecasts the blend is fitted on, at most")
    patch_shape: tuple[int, ...] = (64, 64)
    samples_per_epoch: int = Field(256, ge=1)
    foreground_fraction: float = Field(0.5, ge=0.0, le=1.0)
    normalizer: Normalizer = Field(default_factory=Normalizer)
    model: VideoModel = Field(default_factory=SimVPConfig)
    data: FrameDataOptions | None = None  # type: ignore[assignment]
    default_loss: ClassVar[str] = "mse"
    model_defaults: ClassVar[dict[str, Any]] = {"architecture": "simvp"}

    @model_validator(mode="before")
    @classmethod
    def _model_frames(cls, data: Any) -> Any:
        """Give the network the task's ``n_input`` / ``n_output``."""
        if isinstance(data, Mapping):
            model = model_section(data)
            if model is not None:
                for key, default in (("n_input", 4), ("n_output", 4)):
                    model.setdefault(key, data.get(key, default))
                data = {**data, "model": model}
        return data

    @model_validator(mode="after")
    def _check_frames(self) -> FramePredictionConfig:
        for key in ("n_input", "n_output"):
            if getattr(self.model, key) != getattr(self, key):
                raise ValueError(
                    f"model.{key}={getattr(self.model, key)} differs from {key}="
                    f"{getattr(self, key)}; set only {key}"
                )
        if self.train.loss not in ("mse", "mae"):
            raise ValueError(
                f"train.loss={self.train.loss!r}: frame prediction uses 'mse' or 'mae'"
            )
        defaults = type(self.augment)()
        active = sorted(
            name for name in type(self.augment).model_fields
            if name not in _FRAME_AUGMENTATIONS
            and getattr(self.augment, name) != getattr(defaults, name)
        )  # fmt: skip
        if active:
            raise ValueError(
                f"augment: {', '.join(active)} not supported for frame prediction; only flip "
                "and rotate90 act on every frame of a window alike: remove them"
            )
        return self

    @property
    def out_channels(self) -> int:
        """Frames keep their channels."""
        return self.model.in_channels

    @property
    def forecast_horizon(self) -> int:
        """Frames :meth:`FramePredictor.predict_to_disk` forecasts (``horizon`` or ``n_output``)."""
        return self.horizon or self.n_output

    def network_config(self, in_channels: int) -> Any:
        """Return the network's config for frames with ``in_channels`` channels."""
        data = {**self.model.model_dump(), "in_channels": in_channels, "out_channels": in_channels}
        return type(self.model).model_validate(data)


register_task_config(FramePredictionConfig)
