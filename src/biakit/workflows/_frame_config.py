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
    rollout: {frames: 12, ramp_steps: 300}   # train on 12-frame roll-outs (3 passes of 4)
    objects: {kind: objects, method: otsu}   # or kind: monolayer (wound area), none
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


class RolloutOptions(BaseModel):
    """Multi-step (roll-out) training: the loss sees the network's own fed-back predictions.

    A training window holds ``n_input + frames`` frames; the network is rolled
    out autoregressively (``_frame_rollout.RolloutNet``) over ``k`` frames and
    the loss compares them with the window's next ``k``. ``k`` starts at
    ``start`` (default ``n_output``: one pass, teacher forcing) and grows
    linearly to ``frames`` over ``ramp_steps`` training batches; validation
    always rolls out ``frames``. ``frames: 0`` (or ``n_output``) trains one pass only.

    Examples
    --------
    >>> RolloutOptions(frames=12).ramp_steps
    300
    """

    model_config = ConfigDict(extra="forbid")

    frames: int = Field(0, ge=0, description="frames of a training roll-out; 0: one pass only")
    start: int | None = Field(None, ge=1, description="frames at the first batch (n_output)")
    ramp_steps: int = Field(300, ge=0, description="batches from start to frames")


class ObjectScoreOptions(BaseModel):
    """How true and predicted frames are segmented for the object-level scores.

    Pixel scores reward blur, so every frame (truth, model, baselines) is also
    segmented by one classical pipeline: Gaussian smoothing (``smooth_sigma``
    pixels), a global threshold per frame (``method``, Otsu by default;
    ``value`` for ``"manual"``), connected components, objects under
    ``min_size`` pixels removed. ``kind: objects`` scores the objects (count
    error, mean IoU of the true objects with their matched prediction, F1 at
    ``iou_thresh``); ``kind: monolayer`` scores the gap (wound) area: the
    background after removing background components under ``min_gap``
    pixels (holes between cells); ``kind: none`` turns object scores off.

    Examples
    --------
    >>> ObjectScoreOptions(kind="monolayer").min_gap
    64
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["objects", "monolayer", "none"] = "objects"
    method: Literal["otsu", "li", "triangle", "yen", "mean", "manual"] = "otsu"
    value: float | None = None
    smooth_sigma: float = Field(1.0, ge=0.0)
    min_size: int = Field(9, ge=0)
    min_gap: int = Field(64, ge=0)
    iou_thresh: float = Field(0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _check_value(self) -> ObjectScoreOptions:
        if (self.method == "manual") != (self.value is not None):
            raise ValueError(
                f"objects: method={self.method!r} with value={self.value!r}; a value is needed "
                "with (and only with) method 'manual'"
            )
        return self


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

    ``rollout`` trains on multi-step roll-outs (:class:`RolloutOptions`) so
    long horizons do not drift.

    After training, the network's change from the last frame is shrunk toward
    persistence per horizon: ``last + a_h * (pred_h - last)`` with ``a_h`` in
    ``[0, 1]`` fitted (``_frame_blend.fit_blend``: never worse than persistence
    on the frames it is fitted on) on up to ``blend_forecasts`` roll-outs of
    ``blend_horizon`` frames of held-out frames: the validation movies, or,
    without them, a band of every training movie (the right-most
    ``blend_holdout`` of its width) that training never sees; longer horizons
    use the last weight. Past ``n_output`` frames each horizon either rolls the
    network out (its predictions fed back) or holds its last direct frame,
    whichever the blended forecast scores higher on those held-out frames
    (roll-outs drift; on slowly changing movies the held frame wins).
    ``blend_horizon: 0`` turns the blend off; ``blend_holdout: 0`` with a
    single movie fits it on the training frames.

    ``tta`` averages every network pass of a forecast over the flips and
    quarter turns of its input frames (8x the prediction time; the blend is
    fitted with it too).

    ``objects`` (:class:`ObjectScoreOptions`) sets the segmentation behind
    the object-level scores of :meth:`FramePredictor.evaluate`.

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
    blend_holdout: float = Field(
        0.25, ge=0.0, lt=1.0, description="band of each movie held out without validation movies"
    )
    rollout: RolloutOptions = Field(default_factory=RolloutOptions)
    tta: bool = Field(False, description="average every pass over flips / quarter turns")
    objects: ObjectScoreOptions = Field(default_factory=ObjectScoreOptions)
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
        ro = self.rollout
        if ro.frames and ro.frames < self.n_output:
            raise ValueError(
                f"rollout.frames={ro.frames} is below n_output={self.n_output}; use 0 (one "
                f"pass) or at least {self.n_output}"
            )
        if ro.start is not None and ro.start > max(ro.frames, self.n_output):
            raise ValueError(
                f"rollout.start={ro.start} exceeds rollout.frames={ro.frames}; start at most there"
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
    def target_frames(self) -> int:
        """Frames after the inputs that a training window holds (``n_output`` or the roll-out)."""
        return max(self.n_output, self.rollout.frames)

    @property
    def forecast_horizon(self) -> int:
        """Frames :meth:`FramePredictor.predict_to_disk` forecasts (``horizon`` or ``n_output``)."""
        return self.horizon or self.n_output

    def network_config(self, in_channels: int) -> Any:
        """Return the network's config for frames with ``in_channels`` channels."""
        data = {**self.model.model_dump(), "in_channels": in_channels, "out_channels": in_channels}
        return type(self.model).model_validate(data)


register_task_config(FramePredictionConfig)
