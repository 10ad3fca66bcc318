"""A form generated from a pydantic model's fields, so new parameters need no GUI code.

``bool`` fields get a check box, ``Literal`` fields a combo box, every other field a
line edit whose text is read as YAML; each edit is checked by the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QWidget

__all__ = ["ParamsForm"]


class ParamsForm(QWidget):
    """A form for the fields of a pydantic model: check box, choice or YAML text per field.

    ``bool`` fields get a check box, ``Literal`` fields a combo box, every other
    field a line edit whose text is read as YAML (``1.5``, ``[2, 1, 1]``, ``otsu``;
    empty = the default). Each edit is checked by the model; a valid set of values
    (missing required fields aside) is emitted by ``changed`` as a dict holding only
    the values that differ from the defaults.
    """

    changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: Any = None
        self.editors: dict[str, QWidget] = {}
        self.layout_ = QFormLayout(self)
        self.error = QLabel("")
        self.error.setWordWrap(True)

    def set_model(self, model: Any, values: dict[str, Any]) -> None:
        """Show the fields of ``model`` (a pydantic model class, or None) filled with ``values``."""
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.model, self.editors = model, {}
        self.error = QLabel("")
        self.error.setWordWrap(True)
        if model is None:
            return
        for name, field in model.model_fields.items():
            value = values.get(name, None if field.is_required() else field.default)
            editor = self._editor(field, value)
            editor.setToolTip(f"{name}: {_type_text(field.annotation)}")
            self.editors[name] = editor
            self.layout_.addRow(name, editor)
        if not model.model_fields:
            self.layout_.addRow(QLabel("(no parameters)"))
        self.layout_.addRow(self.error)

    def _editor(self, field: Any, value: Any) -> QWidget:
        import typing

        annotation = field.annotation
        if annotation is bool:
            box = QCheckBox()
            box.setChecked(bool(value))
            box.toggled.connect(self._emit)
            return box
        if typing.get_origin(annotation) is typing.Literal:
            combo = QComboBox()
            for option in typing.get_args(annotation):
                combo.addItem(str(option))
            combo.setCurrentText(str(value))
            combo.currentTextChanged.connect(self._emit)
            return combo
        line = QLineEdit("" if value is None else _yaml_text(value))
        line.setPlaceholderText("required" if field.is_required() else "default")
        line.editingFinished.connect(self._emit)
        return line

    def values(self) -> dict[str, Any]:
        """Return the values that differ from the defaults (text read as YAML)."""
        import yaml

        out: dict[str, Any] = {}
        for name, editor in self.editors.items():
            field = self.model.model_fields[name]
            if isinstance(editor, QCheckBox):
                value: Any = editor.isChecked()
            elif isinstance(editor, QComboBox):
                options = {str(o): o for o in __import__("typing").get_args(field.annotation)}
                value = options.get(editor.currentText(), editor.currentText())
            else:
                text = editor.text().strip()
                if not text:
                    continue
                try:
                    value = yaml.safe_load(text)
                except yaml.YAMLError:
                    value = text
            if field.is_required() or value != field.default:
                out[name] = value
        return out

    def set_value(self, name: str, text: str) -> None:
        """Type ``text`` into the editor of ``name`` and apply it (as a user would)."""
        editor = self.editors[name]
        if isinstance(editor, QCheckBox):
            editor.setChecked(str(text).lower() in ("1", "true", "yes", "on"))
        elif isinstance(editor, QComboBox):
            editor.setCurrentText(str(text))
        else:
            editor.setText(str(text))
            self._emit()

    def _emit(self, *_: Any) -> None:
        import pydantic

        values = self.values()
        try:
            self.model(**values)
        except pydantic.ValidationError as err:
            problems = [e for e in err.errors() if e["type"] != "missing"]
            if problems:
                first = problems[0]
                where = ".".join(str(x) for x in first["loc"])
                self.error.setText(f"{where}: {first['msg']} (got {first.get('input')!r})")
                return
        self.error.setText("")
        self.changed.emit(values)


def _yaml_text(value: Any) -> str:
    import yaml

    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("...").strip()


def _type_text(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
