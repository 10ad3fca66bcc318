"""Open a bioimage.io model package or a biakit model folder and run it on a layer.

Packages (``.zip``, a folder or its ``rdf.yaml``, from any tool) open through
:func:`biakit.bioimageio.load_package` and are described by
:func:`biakit.bioimageio.describe_package`; biakit model folders open through
:func:`biakit.load_model` and are described from their manifest. Running a model
predicts the chosen image layer tile by tile in a worker (cancel stops at the next
tile batch) and adds the result as layers (labels, points or images).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from biakit.errors import ParameterError
from biakit.napari._deep_run import iter_call
from biakit.napari._deep_tasks import predict_layers
from biakit.napari._deep_widget import add_layers
from biakit.napari._widgets_common import LayerPicker, ProgressRow, layer_to_array

__all__ = ["ModelZooWidget", "describe_model", "open_model"]


def describe_model(path: str | Path) -> list[str]:
    """Lines describing a bioimage.io package or a biakit model folder.

    Examples
    --------
    >>> from pathlib import Path
    >>> folder = Path(__file__).parents[3] / "tests/data/models/semantic_v1"
    >>> describe_model(folder)[1]
    'task:    semantic (SemanticSegmenter)'
    """
    from biakit.bioimageio import describe_package, is_package
    from biakit.workflows import read_manifest

    if is_package(path):
        return describe_package(path)
    manifest = read_manifest(path)
    arch = manifest.get("architecture") or {}
    training = manifest.get("training") or {}
    lines = [f"folder:  {path}",
             f"task:    {manifest.get('task')} ({manifest.get('workflow', '?')})",
             f"network: {arch.get('id', '?')} (version {arch.get('version', '?')})",
             f"format:  {manifest.get('format_version', 0)}"]  # fmt: skip
    summary = (training.get("summary") or {}).get("message")
    if training.get("epochs") is not None:
        lines.append(f"trained: {training['epochs']} epoch(s), {training.get('n_images', '?')} "
                     f"image(s)" + (f"; {summary}" if summary else ""))  # fmt: skip
    if training.get("class_names"):
        lines.append(f"classes: {', '.join(map(str, training['class_names']))}")
    return lines


def open_model(path: str | Path) -> tuple[Any, list[str]]:
    """Load a package or model folder and describe it (what the widget's worker runs)."""
    from biakit.workflows import load_model

    path = Path(path)
    if not path.exists():
        raise ParameterError(f"model: {path} does not exist; expected a bioimage.io package "
                             "(.zip, folder, rdf.yaml) or a biakit model folder")  # fmt: skip
    return load_model(path), describe_model(path)


class ModelZooWidget(QWidget):
    """Open a bioimage.io package or a biakit model folder, read its description, run it.

    Examples
    --------
    >>> widget = ModelZooWidget(viewer)  # doctest: +SKIP
    >>> widget.open("model.zip"); widget.run(viewer.layers["cells"])  # doctest: +SKIP
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.model: Any = None
        self._cancel = threading.Event()
        self.path = QLineEdit()
        self.path.setPlaceholderText("package .zip / rdf.yaml / model folder")
        self.description = QPlainTextEdit()
        self.description.setReadOnly(True)
        self.run_on = LayerPicker(napari_viewer, ("image",))
        self.tile = QLineEdit()
        self.tile.setPlaceholderText("automatic")
        self.progress = ProgressRow()
        self.progress.cancel_button.clicked.connect(self._cancel.set)
        buttons = QHBoxLayout()
        for text, slot in (("File…", self._ask_file), ("Folder…", self._ask_folder),
                           ("Open", lambda: self.open(self.path.text()))):  # fmt: skip
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, s=slot: s())
            buttons.addWidget(button)
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(lambda: self.run())
        form = QFormLayout()
        form.addRow("model", self.path)
        form.addRow("", buttons)
        form.addRow("run on", self.run_on)
        form.addRow("tile size", self.tile)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.description)
        layout.addWidget(self.run_button)
        layout.addWidget(self.progress)

    def open(self, path: str | Path) -> Any:
        """Load the package / model folder in a worker; show its description when done."""
        if not str(path).strip():
            raise ParameterError("model: give the path of a package or a model folder")
        self.path.setText(str(path))

        def done(loaded: tuple[Any, list[str]]) -> None:
            self.model = loaded[0]
            self.description.setPlainText("\n".join(loaded[1]))

        return self.progress.run(open_model, path, on_done=done, text="opening")

    def run(self, layer: Any = None) -> Any:
        """Predict ``layer`` (default: the "run on" layer) with the open model, tile by tile."""
        if self.model is None:
            raise ParameterError("model: open a package or a model folder first")
        layer = layer if layer is not None else self.run_on.layer()
        if layer is None:
            raise ParameterError("run on: choose an image layer")
        kwargs: dict[str, Any] = {}
        if self.tile.text().strip():
            try:
                kwargs["tile_shape"] = int(self.tile.text())
            except ValueError:
                raise ParameterError(
                    f"tile size: expected a whole number of pixels, got {self.tile.text()!r}"
                ) from None
        data, meta = layer_to_array(layer)
        self._cancel.clear()
        return self.progress.run(
            iter_call, predict_layers, self.model, data, meta, name=layer.name,
            what="tile batch", cancel=self._cancel, text="predicting",
            on_done=lambda p: add_layers(self.viewer, p), **kwargs,
        )  # fmt: skip

    def cancel(self) -> None:
        """Stop the running prediction at its next tile batch."""
        self._cancel.set()
        self.progress.cancel()

    def _ask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model package", "",
                                              "bioimage.io (*.zip *.yaml)")  # fmt: skip
        if path:
            self.open(path)

    def _ask_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Model folder")
        if path:
            self.open(path)
