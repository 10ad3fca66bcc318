"""Small views shared by the widgets: a model row (load / save / status) and a table.

* :class:`ModelRow`: "Load model..." and "Save model..." buttons with their
  folder dialogs and a status label; the widget supplies what loading and saving
  do (its own ``load_model`` / ``save_model``) and where errors go.
* :class:`TableView`: a table of a :class:`pandas.DataFrame`, saved as CSV.

Qt is imported with the module: import this file only from widget code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtpy.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from biakit.errors import ParameterError
from biakit.napari._progress import notify_error

__all__ = ["ModelRow", "TableView"]


class ModelRow(QWidget):
    """Load / save buttons for a widget's model, with their dialogs and a status label.

    Parameters
    ----------
    load : callable
        ``load(path)``: open the model folder the user chose (the widget's ``load_model``).
    save : callable
        ``save(path, overwrite=True)``: write the model there (the widget's ``save_model``).
    default_name : str
        Folder name the save dialog proposes.
    status : str
        First text of :attr:`status` (the widget updates it as its model changes).
    on_error : callable, optional
        ``on_error(exc)`` for a ValueError, TypeError or OSError of ``load`` /
        ``save`` (e.g. the widget's message line); default: a napari notification.

    Attributes
    ----------
    load_button, save_button : QPushButton
        "Load model..." and "Save model..."; they open :meth:`ask_load` / :meth:`ask_save`.
    status : QLabel
        The model's status ("model: none", where it came from, ...).

    Examples
    --------
    >>> row = ModelRow(load=widget.load_model, save=widget.save_model)  # doctest: +SKIP
    >>> row.status.setText("model: loaded")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        load: Callable[[str], Any],
        save: Callable[..., Any],
        default_name: str = "model",
        status: str = "model: none",
        on_error: Callable[[BaseException], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.load, self.save, self.default_name = load, save, default_name
        self.on_error = on_error or notify_error
        self.status = QLabel(status)
        self.status.setWordWrap(True)
        self.load_button = QPushButton("Load model...")
        self.save_button = QPushButton("Save model...")
        self.load_button.clicked.connect(lambda _=False: self.ask_load())
        self.save_button.clicked.connect(lambda _=False: self.ask_save())
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.load_button, self.save_button, self.status):
            row.addWidget(widget)

    def ask_load(self) -> Any:
        """Ask for a model folder and load it; return the model (None: no choice or error)."""
        path = QFileDialog.getExistingDirectory(self, "Open model folder")
        return self.run(self.load, path) if path else None

    def ask_save(self) -> Any:
        """Ask for a folder name and save the model there (replacing it); return the path."""
        path = QFileDialog.getSaveFileName(self, "Save model folder", self.default_name)[0]
        return self.run(lambda p: self.save(p, overwrite=True), path) if path else None

    def run(self, action: Callable[[str], Any], path: str) -> Any:
        """``action(path)``, its ValueError / TypeError / OSError handed to ``on_error``."""
        try:
            return action(path)
        except (ValueError, TypeError, OSError) as err:
            self.on_error(err)
            return None


class TableView(QTableWidget):
    """A read-only table of a :class:`pandas.DataFrame`; :meth:`save_csv` writes it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame: Any = None
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

    def set_table(self, frame: Any, *, max_rows: int = 2000) -> None:
        """Show ``frame`` (first ``max_rows`` rows; floats with 4 significant digits)."""
        self.frame = frame
        shown = frame.head(max_rows)
        self.clear()
        self.setRowCount(len(shown))
        self.setColumnCount(len(shown.columns))
        self.setHorizontalHeaderLabels([str(c) for c in shown.columns])
        for j, column in enumerate(shown.columns):
            for i, value in enumerate(shown[column].tolist()):
                text = f"{value:.4g}" if isinstance(value, float) else str(value)
                self.setItem(i, j, QTableWidgetItem(text))

    def save_csv(self, path: str | Path) -> Path:
        """Write the whole table (not only the rows shown) to ``path`` as CSV."""
        if self.frame is None:
            raise ParameterError("the table is empty: run the analysis before saving a CSV")
        path = Path(path)
        self.frame.to_csv(path, index=False)
        return path
