"""Pydantic configuration of the trainable workflows, composed of the components' own configs.

One YAML file describes a training job::

    task: semantic                     # semantic | instance | detection
    data:
      images: train/images             # folder or glob, relative to this YAML file
      masks: train/masks               # paired by name
      test_images: test/images         # optional: test-set metrics after training
      test_masks: test/masks
    output: models/nuclei
    n_classes: 2
    patch_shape: [128, 128]
    model: {depth: 3, base_filters: 16}          # biakit.nn.models.UNetConfig
    normalizer: {kind: percentile}               # biakit.nn.datasets.Normalizer
    augment: {flip: true, rotate90: true}        # biakit.nn.augment.AugmentConfig
    train: {epochs: 30, batch_size: 8, lr: 0.001}  # biakit.nn.train.TrainConfig

The sections ``model``, ``normalizer``, ``augment`` and ``train`` *are* the
components' configs (no copies), so every option of the U-Net, the normaliser,
the augmenter and the trainer is available and documented in the JSON schema
(``biakit config schema TASK``). ``model.ndim`` and ``model.out_channels`` follow
from ``patch_shape`` and the task, ``model.in_channels`` from the training images.
Any config loads through one discriminated union on ``task``
(:func:`parse_workflow_config`); errors name the field (``train.epochz: unknown key``).

>>> cfg = parse_workflow_config({"task": "semantic", "patch_shape": [64, 64],
...                              "train": {"epochs": 3}})
>>> type(cfg).__name__, cfg.model.ndim, cfg.model.out_channels, cfg.train.loss
('SemanticConfig', 2, 2, 'ce_dice')
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

import pydantic
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from biakit.errors import ConfigError
from biakit.nn.augment._config import AugmentConfig
from biakit.nn.datasets._normalize import Normalizer
from biakit.nn.models._config import UNetConfig
from biakit.nn.targets._instance import InstanceEncoding
from biakit.nn.train._config import TrainConfig
from biakit.validation import check_spacing

#: U-Net options of the workflows when the config does not set them (smaller than UNetConfig's)
MODEL_DEFAULTS = {"depth": 3, "base_filters": 16}


class DataOptions(BaseModel):
    """Where the training (and optional test) images and masks / label images are."""

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

    def resolved(self, base: Path) -> DataOptions:
        """Return a copy with relative paths taken relative to ``base`` (the YAML's folder)."""
        fields = {k: v for k, v in self.model_dump().items() if isinstance(v, str)}
        return self.model_copy(update={k: _resolve(v, base) for k, v in fields.items()})


def model_section(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the raw ``model`` section of a config mapping as a new dict (None if not one).

    A config object given from Python counts with the fields its caller set, so
    task defaults still apply to the others.
    """
    model = data.get("model", {})
    if isinstance(model, BaseModel):
        model = model.model_dump(exclude_unset=True)
    return dict(model) if isinstance(model, Mapping) else None


def _resolve(path: str, base: Path) -> str:
    return path if Path(path).is_absolute() else str(base / path)


class WorkflowConfig(BaseModel):
    """Options every network workflow shares, composed of the component configs.

    Cross-field checks happen here, before any training: the patch size
    against the U-Net's down-sampling, ``z_pool`` against 3D patches, the
    trainer's and the augmenter's own checks.
    """

    model_config = ConfigDict(extra="forbid")

    task: str
    name: str = "model"
    patch_shape: tuple[int, ...] = (128, 128)
    samples_per_epoch: int = Field(256, ge=1)
    foreground_fraction: float = Field(0.5, ge=0.0, le=1.0)
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    seed: int = Field(0, ge=0)
    model: UNetConfig = Field(default_factory=lambda: UNetConfig(**MODEL_DEFAULTS))
    normalizer: Normalizer = Field(default_factory=Normalizer)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    data: DataOptions | None = None
    output: str | None = None
    default_loss: ClassVar[str] = "ce_dice"
    architecture: ClassVar[str] = "unet"
    model_defaults: ClassVar[dict[str, Any]] = MODEL_DEFAULTS

    @model_validator(mode="before")
    @classmethod
    def _fill_components(cls, data: Any) -> Any:
        """Derive ``model.ndim`` from ``patch_shape``; give ``train`` the task's loss, the seed."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        patch = data.get("patch_shape", (128, 128))
        model = model_section(data)
        if model is not None:
            model = {**cls.model_defaults, **model}
            if isinstance(patch, list | tuple) and len(patch) in (2, 3) and "ndim" not in model:
                model["ndim"] = len(patch)
            data["model"] = model
        train = data.get("train", {})
        if isinstance(train, Mapping):
            cls._check_raw_train(train)
            defaults = {"loss": cls.default_loss, "seed": data.get("seed", 0)}
            data["train"] = {**defaults, **train}
        return data

    @classmethod
    def _check_raw_train(cls, train: Mapping[str, Any]) -> None:
        """Refuse trainer options that this task does not use (overridden by tasks)."""

    @model_validator(mode="after")
    def _check(self) -> WorkflowConfig:
        if len(self.patch_shape) not in (2, 3):
            raise ValueError(f"patch_shape must have 2 or 3 sizes, got {self.patch_shape}")
        if self.model.ndim != len(self.patch_shape):
            raise ValueError(
                f"model.ndim={self.model.ndim} but patch_shape {self.patch_shape} has "
                f"{len(self.patch_shape)} sizes; leave model.ndim out"
            )
        out = self.out_channels
        if "out_channels" in self.model.model_fields_set and self.model.out_channels != out:
            raise ValueError(
                f"model.out_channels={self.model.out_channels} but this {self.task} task needs "
                f"{out}; leave model.out_channels out"
            )
        self.model = self.model.model_copy(update={"out_channels": out})
        self.model.check_patch(self.patch_shape)
        return self

    @property
    def ndim(self) -> int:
        """Spatial dimensionality (from ``patch_shape``)."""
        return len(self.patch_shape)

    @property
    def out_channels(self) -> int:
        """Output channels of the network for this task."""
        raise NotImplementedError

    def network_config(self, in_channels: int) -> Any:
        """Return the network's config for images with ``in_channels`` channels."""
        given = self.model.in_channels
        if "in_channels" in self.model.model_fields_set and given != in_channels:
            raise ConfigError(
                f"model.in_channels={given} but the images have {in_channels} channel(s)"
            )
        data = {**self.model.model_dump(), "in_channels": in_channels}
        return type(self.model).model_validate(data)


class SemanticConfig(WorkflowConfig):
    """A semantic-segmentation run: class masks 0..n_classes-1.

    Examples
    --------
    >>> SemanticConfig(n_classes=3, patch_shape=(32, 32)).model.out_channels
    3
    """

    task: Literal["semantic"] = "semantic"
    name: str = "semantic"
    n_classes: int = Field(2, ge=2, description="classes including background (0)")

    @property
    def out_channels(self) -> int:
        """One softmax channel per class."""
        return self.n_classes


class InstanceConfig(WorkflowConfig):
    """An instance-segmentation run: label images, encoded as foreground + contour (+ ...).

    ``encoding`` is the :class:`biakit.nn.targets.InstanceEncoding` (a bare mode
    name is accepted); its ``spacing`` is the top-level ``spacing``.

    Examples
    --------
    >>> cfg = InstanceConfig(encoding="fg_contour", patch_shape=(32, 32))
    >>> cfg.encoding.n_channels, cfg.model.out_channels
    (2, 2)
    """

    task: Literal["instance"] = "instance"
    name: str = "instance"
    encoding: InstanceEncoding = Field(default_factory=InstanceEncoding)
    spacing: float | tuple[float, ...] | None = None
    min_size: int = Field(10, ge=0)
    default_loss: ClassVar[str] = "bce"

    @model_validator(mode="before")
    @classmethod
    def _encoding_name(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("encoding"), str):
            data = {**data, "encoding": {"mode": data["encoding"]}}
        return data

    @model_validator(mode="after")
    def _check_spacing(self) -> InstanceConfig:
        self.spacing = check_spacing(self.spacing, self.ndim)
        enc = check_spacing(self.encoding.spacing, self.ndim, name="encoding.spacing")
        if "spacing" in self.encoding.model_fields_set and enc is not None and enc != self.spacing:
            raise ValueError(
                f"encoding.spacing={enc} differs from spacing={self.spacing}; set only spacing"
            )
        self.encoding = self.encoding.model_copy(update={"spacing": self.spacing})
        return self

    @property
    def out_channels(self) -> int:
        """One sigmoid channel per encoded map."""
        return self.encoding.n_channels

    def instance_encoding(self) -> InstanceEncoding:
        """Return the target encoding (kept for callers of the previous release)."""
        return self.encoding


TASKS: dict[str, type[WorkflowConfig]] = {}


def register_task_config(config_class: type[WorkflowConfig]) -> type[WorkflowConfig]:
    """Make ``config_class`` loadable through :func:`parse_workflow_config`."""
    task = config_class.model_fields["task"].default
    TASKS[task] = config_class
    _ADAPTER.cache_clear()
    return config_class


class _AdapterCache:
    """The discriminated-union validator, rebuilt when a task is registered."""

    def __init__(self) -> None:
        self._adapter: TypeAdapter | None = None

    def cache_clear(self) -> None:
        self._adapter = None

    def get(self) -> TypeAdapter:
        if self._adapter is None:
            union = Union[tuple(TASKS.values())]  # noqa: UP007 (built at run time)
            self._adapter = TypeAdapter(Annotated[union, Field(discriminator="task")])
        return self._adapter


_ADAPTER = _AdapterCache()


def parse_workflow_config(data: Mapping[str, Any], *, source: str = "config") -> WorkflowConfig:
    """Validate a config mapping into the config class of its ``task``.

    Raises
    ------
    ConfigError
        One line: ``source``, the field's location and the problem, e.g.
        ``train.yaml: train.epochz: unknown key (valid: epochs, ...)``.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping with 'task', 'data', ...")
    if "task" not in data:
        raise ConfigError(f"{source}: task: missing; one of {', '.join(TASKS)}")
    if data["task"] not in TASKS:
        raise ConfigError(
            f"{source}: task: unknown task {data['task']!r}; one of {', '.join(TASKS)}"
        )
    try:
        return _ADAPTER.get().validate_python(dict(data))
    except pydantic.ValidationError as err:
        model = TASKS[data["task"]]
        raise ConfigError(describe_validation_error(err, source, model=model, skip=1)) from None


def load_workflow_config(path: str | Path) -> WorkflowConfig:
    """Read a training YAML; data paths are taken relative to the YAML file's folder."""
    from biakit.pipeline._config import read_yaml_mapping

    path = Path(path)
    mapping = read_yaml_mapping(path, "'task', 'data', ...")
    # a task's config class may fill options left out from its data files (isotropic
    # restoration: the stacks' spacing), before validation
    complete = getattr(TASKS.get(mapping.get("task")), "complete_from_files", None)  # type: ignore[arg-type]
    if complete is not None:
        try:
            mapping = complete(mapping, path.parent)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None
    cfg = parse_workflow_config(mapping, source=str(path))
    if cfg.data is not None:
        cfg = cfg.model_copy(update={"data": cfg.data.resolved(path.parent)})
    if cfg.output is not None:
        cfg = cfg.model_copy(update={"output": _resolve(cfg.output, path.parent)})
    return cfg


def config_schema(task: str) -> dict[str, Any]:
    """JSON schema of a task's config (every nested component option included).

    >>> schema = config_schema("instance")
    >>> sorted(schema["$defs"])[:3]
    ['AugmentConfig', 'DataOptions', 'InstanceEncoding']
    """
    if task not in TASKS:
        raise ConfigError(f"task: unknown task {task!r}; one of {', '.join(TASKS)}")
    return TASKS[task].model_json_schema()


def describe_validation_error(
    err: pydantic.ValidationError, source: str, *, model: Any = None, skip: int = 0
) -> str:
    """One line: the source, the dotted location of the first error and the problem.

    ``skip`` drops leading location parts (the union's task tag). Unknown keys
    are reported as ``unknown key`` with the valid keys of ``model`` at that place.
    """
    first = err.errors()[0]
    loc = [str(x) for x in first["loc"][skip:]]
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    if first["type"] == "extra_forbidden":
        valid = _valid_keys(model, first["loc"][skip:], loc[-1]) if model is not None else ""
        return f"{source}: {'.'.join(loc)}: unknown key{valid}{more}"
    msg = first["msg"].removeprefix("Value error, ")
    where = f"{'.'.join(loc)}: " if loc else ""
    return f"{source}: {where}{msg}{more}"


def _valid_keys(model: Any, loc: tuple, key: str) -> str:
    """``" (did you mean 'epochs'? valid: ...)"`` for an unknown key at ``loc``."""
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return ""
        model = _model_of(field.annotation)
    fields = list(getattr(model, "model_fields", {}))
    if not fields:
        return ""
    close = difflib.get_close_matches(key, fields, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f" ({hint}valid: {', '.join(fields)})"


def _model_of(annotation: Any) -> Any:
    """Return the pydantic model inside ``X`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


register_task_config(SemanticConfig)
register_task_config(InstanceConfig)
