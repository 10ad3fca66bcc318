"""The deep widget's config form, generated from the task's pydantic config.

The main knobs (epochs, time budget, batch size, learning rate, patch size,
samples per epoch) plus the network's choice (the architectures of the config's
``model`` union) and its scalar options (depth, filters, ...) are read from the
config classes, so a new option of a network shows up without plugin changes.
The form's values are laid over a base mapping (a loaded YAML config, or the
task's defaults) and validated by :func:`biakit.workflows.parse_workflow_config`:
a wrong value raises its :class:`~biakit.errors.ConfigError` naming the field.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qtpy.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLineEdit, QVBoxLayout, QWidget

from biakit.errors import ConfigError

__all__ = ["MAIN_KNOBS", "ConfigForm", "architectures", "model_knobs", "nested_update"]

MAIN_KNOBS = ("train.epochs", "train.max_time", "train.batch_size", "train.lr", "patch_shape",
              "samples_per_epoch")  # fmt: skip
"""Dotted config paths shown for every task."""

_HIDDEN = {"ndim", "in_channels", "out_channels", "architecture", "n_input", "n_output", "scale"}


def architectures(config_class: type) -> dict[str, type]:
    """Return ``{architecture id: model config class}`` of a task config's ``model`` field.

    Examples
    --------
    >>> from biakit.workflows import SuperResolutionConfig, SemanticConfig
    >>> sorted(architectures(SuperResolutionConfig))
    ['edsr_lite', 'rcan_lite']
    >>> list(architectures(SemanticConfig))
    ['unet']
    """
    annotation = config_class.model_fields["model"].annotation
    members = typing.get_args(annotation) or (annotation,)
    out = {}
    for cls in members:
        field = cls.model_fields.get("architecture")
        arch = field.default if field is not None else getattr(config_class, "architecture", "")
        out[str(arch)] = cls
    return out


def model_knobs(model_class: type) -> dict[str, Any]:
    """Scalar options of a network config (int, float, bool, choices) with their defaults.

    Examples
    --------
    >>> from biakit.nn.models import UNetConfig
    >>> knobs = model_knobs(UNetConfig)
    >>> "depth" in knobs, "base_filters" in knobs, "ndim" in knobs
    (True, True, False)
    """
    out = {}
    for name, info in model_class.model_fields.items():
        if name in _HIDDEN:
            continue
        ann = info.annotation
        if ann in (int, float, bool) or typing.get_origin(ann) is typing.Literal:
            out[name] = info.default
    return out


def nested_update(base: Mapping[str, Any], dotted: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``{"a.b": value}`` entries set at ``base["a"]["b"]`` (copied).

    Examples
    --------
    >>> nested_update({"train": {"epochs": 5, "lr": 0.1}}, {"train.epochs": 2, "seed": 1})
    {'train': {'epochs': 2, 'lr': 0.1}, 'seed': 1}
    """
    out = dict(base)
    for key, value in dotted.items():
        head, _, rest = key.partition(".")
        if rest:
            inner = out.get(head)
            out[head] = nested_update(inner if isinstance(inner, Mapping) else {}, {rest: value})
        else:
            out[head] = value
    return out


def _get(mapping: Mapping[str, Any], dotted: str) -> Any:
    value: Any = mapping
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


class ConfigForm(QWidget):
    """Editable main options of a task's config; :meth:`config` validates them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = ""
        self.base: dict[str, Any] = {}
        self.source = "config"
        self.fields: dict[str, QWidget] = {}
        self.network = QComboBox()
        self.network.currentTextChanged.connect(self._network_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QFormLayout()
        top.addRow("network", self.network)
        layout.addLayout(top)
        self.main, self.model = QFormLayout(), QFormLayout()
        layout.addLayout(self.main)
        layout.addLayout(self.model)

    # ----------------------------------------------------------------- building
    def set_task(self, task: str, base: Mapping[str, Any] | None = None, *,
                 source: str = "widget") -> None:  # fmt: skip
        """Show ``task``'s options with the values of ``base`` (default: the task's defaults)."""
        from biakit.workflows import TASKS

        self.task, self.source = task, source
        self.base = dict(base) if base is not None else {"task": task}
        values = {**_defaults(task), **self._flatten(self.base)}
        _empty(self.main)
        self.fields = {}
        for key in MAIN_KNOBS:
            self._add(self.main, key, values.get(key))
        archs = architectures(TASKS[task])
        self.network.blockSignals(True)
        self.network.clear()
        self.network.addItems(list(archs))
        current = _get(self.base, "model.architecture") or next(iter(archs))
        self.network.setCurrentText(str(current))
        self.network.setEnabled(len(archs) > 1)
        self.network.blockSignals(False)
        self._add_model_knobs(values)

    def _add_model_knobs(self, values: Mapping[str, Any]) -> None:
        from biakit.workflows import TASKS

        _empty(self.model)
        for key in [k for k in self.fields if k.startswith("model.")]:
            del self.fields[key]
        model_class = architectures(TASKS[self.task])[self.network.currentText()]
        for name, default in model_knobs(model_class).items():
            key = f"model.{name}"
            annotation = model_class.model_fields[name].annotation
            self._add(self.model, key, values.get(key, default), annotation)

    def _network_changed(self, _: str) -> None:
        self._add_model_knobs({})

    def _flatten(self, mapping: Mapping[str, Any]) -> dict[str, Any]:
        keys = [*MAIN_KNOBS, *(f"model.{k}" for k in _get(mapping, "model") or {})]
        return {k: v for k in keys if (v := _get(mapping, k)) is not None}

    def _add(self, form: QFormLayout, key: str, value: Any, annotation: Any = None) -> None:
        if annotation is bool:
            widget: QWidget = QCheckBox()
            widget.setChecked(bool(value))
        elif annotation is not None and typing.get_origin(annotation) is typing.Literal:
            widget = QComboBox()
            widget.addItems([str(v) for v in typing.get_args(annotation)])
            widget.setCurrentText(str(value))
        else:
            widget = QLineEdit(_text(value))
            widget.setPlaceholderText("none")
        widget.setObjectName(key)
        self.fields[key] = widget
        form.addRow(key.removeprefix("train.").removeprefix("model."), widget)

    # ------------------------------------------------------------------ values
    def set_value(self, key: str, value: Any) -> None:
        """Set the field ``key`` (a dotted config path shown in the form)."""
        widget = self.fields.get(key)
        if widget is None:
            raise ConfigError(f"{key}: not an option of this form; one of {', '.join(self.fields)}")
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QComboBox):
            widget.setCurrentText(str(value))
        else:
            widget.setText(_text(value))

    def values(self) -> dict[str, Any]:
        """Return the form's values as ``{dotted path: value}`` (empty text: None)."""
        out: dict[str, Any] = {}
        for key, widget in self.fields.items():
            if isinstance(widget, QCheckBox):
                out[key] = widget.isChecked()
            elif isinstance(widget, QComboBox):
                text = widget.currentText()
                out[key] = int(text) if text.lstrip("-").isdigit() else text
            else:
                text = widget.text().strip()
                if not text:
                    out[key] = None
                elif "," in text or key == "patch_shape":
                    out[key] = [p.strip() for p in text.split(",") if p.strip()]
                else:
                    out[key] = text
        out["model.architecture"] = self.network.currentText()
        return out

    def config(self) -> Any:
        """Validate base + form values into the task's config object.

        Raises
        ------
        ConfigError
            A value the config refuses, named by its field (``train.epochs: ...``).
        """
        from biakit.workflows import parse_workflow_config

        values = self.values()
        if "architecture" not in _model_fields_of(self.task):
            values.pop("model.architecture")
        data = nested_update({**self.base, "task": self.task}, values)
        return parse_workflow_config(data, source=self.source)

    def load_yaml(self, path: str | Path) -> Any:
        """Read a training YAML (``biakit train``'s format), show its task and values."""
        from biakit.workflows import load_workflow_config

        cfg = load_workflow_config(path)
        self.set_task(cfg.task, cfg.model_dump(mode="json", exclude_none=True), source=str(path))
        return cfg


def _empty(form: QFormLayout) -> None:
    """Remove (and delete) every row of a form."""
    while form.rowCount():
        form.removeRow(0)


def _model_fields_of(task: str) -> set[str]:
    from biakit.workflows import TASKS

    fields: set[str] = set()
    for cls in architectures(TASKS[task]).values():
        fields |= set(cls.model_fields)
    return fields


def _defaults(task: str) -> dict[str, Any]:
    """Return the main knobs' defaults of a task (from its config class)."""
    from biakit.workflows import TASKS

    cls = TASKS[task]
    out: dict[str, Any] = {}
    for key in MAIN_KNOBS:
        head, _, rest = key.partition(".")
        info = cls.model_fields.get(head)
        if info is None:
            continue
        default = info.get_default(call_default_factory=True)
        out[key] = getattr(default, rest, None) if rest else default
    return out
