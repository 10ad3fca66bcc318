"""The shared model row: load / save dialogs, errors to the widget, used by three widgets."""

from __future__ import annotations

import pytest


def test_model_row_dialogs_call_load_and_save(qtbot, monkeypatch, tmp_path):
    from biakit.napari import _panels
    from biakit.napari._panels import ModelRow

    calls, errors = [], []

    def load(path):
        calls.append(("load", path))
        if path.endswith("bad"):
            raise OSError(f"{path}: not a model folder")
        return "model"

    def save(path, *, overwrite=False):
        calls.append(("save", path, overwrite))
        return path

    row = ModelRow(load=load, save=save, default_name="pixel_model", on_error=errors.append)
    qtbot.addWidget(row)
    assert row.status.text() == "model: none"
    asked = {}

    def folder(parent, caption):
        asked["load"] = caption
        return str(tmp_path / "m")

    def save_name(parent, caption, name):
        asked["save"] = name
        return str(tmp_path / "out"), ""

    monkeypatch.setattr(_panels.QFileDialog, "getExistingDirectory", folder)
    monkeypatch.setattr(_panels.QFileDialog, "getSaveFileName", save_name)
    row.load_button.click()
    row.save_button.click()
    assert calls == [("load", str(tmp_path / "m")), ("save", str(tmp_path / "out"), True)]
    assert asked == {"load": "Open model folder", "save": "pixel_model"}
    # an error of load goes to on_error (the widget's message line), not up the Qt slot
    monkeypatch.setattr(_panels.QFileDialog, "getExistingDirectory", lambda *a: "/x/bad")
    assert row.ask_load() is None
    assert [str(e) for e in errors] == ["/x/bad: not a model folder"]
    # a cancelled dialog (empty path) does nothing
    monkeypatch.setattr(_panels.QFileDialog, "getSaveFileName", lambda *a: ("", ""))
    assert row.ask_save() is None and len(calls) == 3


@pytest.mark.parametrize(
    ("module", "cls", "load_key"),
    [
        ("_pixel_widget", "PixelClassifierWidget", "load"),
        ("_objects_widget", "ObjectClassifierWidget", "load"),
        ("_deep_widget", "DeepWidget", "Load model…"),
    ],
)
def test_widgets_share_the_model_row(make_napari_viewer, module, cls, load_key):
    import importlib

    from biakit.napari._panels import ModelRow

    widget = getattr(importlib.import_module(f"biakit.napari.{module}"), cls)(make_napari_viewer())
    assert isinstance(widget.model_row, ModelRow)
    assert widget.model_label is widget.model_row.status
    assert widget.buttons[load_key] is widget.model_row.load_button
    assert widget.model_row.load == widget.load_model
    assert widget.model_row.save == widget.save_model
