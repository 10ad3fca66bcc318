"""Evaluate a prediction layer against a ground truth: metrics table, plot, error-coded objects.

The kind of evaluation follows the layers: label images are scored as instances
(:func:`biakit.metrics.match_instances` over IoU thresholds, the errors of every
object from :func:`biakit.metrics.instance_errors`) or as semantic classes
(:func:`biakit.metrics.confusion_metrics`); points by
:func:`biakit.metrics.match_points` within a tolerance; images by
:func:`biakit.metrics.restoration_metrics`. Instance evaluation adds a Labels layer
whose values are the outcome of each object (true positive, false positive,
missed, merged, split) coloured as :data:`biakit.visualize.ERROR_COLORS`, with a legend.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from biakit.errors import DataError, ParameterError
from biakit.napari._plot_widget import CurvePlot
from biakit.napari._widgets_common import LayerPicker, ProgressRow, TableView

__all__ = ["EvaluateWidget", "EvaluationResult", "error_labels", "evaluate_layers"]

KINDS = ("instance", "semantic", "detection", "restoration")
IOU_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def error_labels(y_true: np.ndarray, y_pred: np.ndarray, errors: Any) -> np.ndarray:
    """Paint each object with the code of its outcome (1 tp, 2 fp, 3 missed, 4 merged, 5 split).

    Predicted objects carry their own outcome; true objects without any predicted
    pixel (missed ones) are painted where the prediction is background. Codes follow
    the order of :data:`biakit.visualize.ERROR_COLORS`.

    Examples
    --------
    >>> from biakit.metrics import instance_errors
    >>> t = np.array([[1, 1, 0, 2, 2]]); p = np.array([[3, 3, 0, 0, 0]])
    >>> error_labels(t, p, instance_errors(t, p)).tolist()
    [[1, 1, 0, 3, 3]]
    """
    from biakit.visualize import ERROR_COLORS

    code = {name: i for i, name in enumerate(ERROR_COLORS, start=1)}

    def paint(labels: np.ndarray, values: tuple, outcomes: tuple) -> np.ndarray:
        lut = np.zeros(int(labels.max(initial=0)) + 1, np.uint8)
        if values:
            lut[np.asarray(values)] = [code[o] for o in outcomes]
        return lut[labels]

    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    out = paint(y_pred, errors.pred_labels, errors.pred_outcomes)
    truth = paint(y_true, errors.true_labels, errors.true_outcomes)
    empty = out == 0
    out[empty] = truth[empty]
    return out


@dataclasses.dataclass
class EvaluationResult:
    """What an evaluation shows: the metrics table, values to plot, the error layer."""

    kind: str
    table: Any
    plot: dict[str, Any]
    errors: Any = None
    error_image: np.ndarray | None = None


def _scalars(obj: Any) -> dict[str, Any]:
    data = obj.as_dict() if hasattr(obj, "as_dict") else dataclasses.asdict(obj)
    return {k: v for k, v in data.items() if isinstance(v, int | float | str) and k != "by_image"}


def evaluate_layers(kind: str, truth: Any, pred: Any, *, thresh: float = 0.5,
                    tolerance: float = 3.0, spacing: Any = None) -> EvaluationResult:  # fmt: skip
    """Score ``pred`` against ``truth`` (arrays of two layers) as ``kind``.

    Restoration of floating-point images uses the ground truth's range as
    ``data_range`` (integer images: their type's range).

    Examples
    --------
    >>> t = np.zeros((8, 8), int); t[1:4, 1:4] = 1; t[5:7, 5:7] = 2
    >>> p = np.zeros((8, 8), int); p[1:4, 1:4] = 7
    >>> r = evaluate_layers("instance", t, p)
    >>> int(r.table.loc[0, "tp"]), int(r.table.loc[0, "fn"]), r.errors.counts.missed
    (1, 1, 1)
    """
    import pandas as pd

    from biakit import metrics

    if kind not in KINDS:
        raise ParameterError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    truth, pred = np.asarray(truth), np.asarray(pred)
    if kind != "detection" and truth.shape != pred.shape:
        raise DataError(
            f"prediction: shape {pred.shape}, expected the ground truth's {truth.shape}"
        )
    if kind == "instance":
        thresholds = sorted({*IOU_THRESHOLDS, float(thresh)})
        rows = [_scalars(m) for m in metrics.match_instances(truth, pred, thresh=thresholds)]
        table = pd.DataFrame(rows)
        errors = metrics.instance_errors(truth, pred, thresh=thresh)
        curves = {k: table[k].tolist() for k in ("precision", "recall", "f1")}
        return EvaluationResult(kind, table, {"x": thresholds, "ys": curves}, errors,
                                error_image=error_labels(truth, pred, errors))  # fmt: skip
    if kind == "semantic":
        top = max(int(truth.max(initial=0)), int(pred.max(initial=0)))
        average = "binary" if top <= 1 else "macro"
        row = _scalars(metrics.confusion_metrics(truth, pred, average=average))
    elif kind == "detection":
        row = _scalars(metrics.match_points(truth, pred, tolerance=tolerance, spacing=spacing))
    else:  # float images: the ground truth's range, as CARE and scikit-image's examples
        floating = np.issubdtype(truth.dtype, np.floating)
        data_range = float(truth.max() - truth.min()) if floating else None
        row = _scalars(metrics.restoration_metrics(truth, pred, data_range=data_range))
    table = pd.DataFrame([row])
    keys = {"semantic": ("iou", "f1", "precision", "tpr", "accuracy"),
            "detection": ("precision", "recall", "f1"),
            "restoration": ("ssim", "nrmse")}[kind]  # fmt: skip
    return EvaluationResult(kind, table, {"bars": {k: float(row[k]) for k in keys if k in row}})


class EvaluateWidget(QWidget):
    """Metrics of a prediction layer against a ground-truth layer, with error-coded objects.

    Examples
    --------
    >>> widget = EvaluateWidget(viewer)  # doctest: +SKIP
    >>> widget.truth.select("truth"); widget.prediction.select("labels")  # doctest: +SKIP
    >>> widget.run()  # doctest: +SKIP
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        kinds = ("labels", "points", "image")
        self.truth = LayerPicker(napari_viewer, kinds)
        self.prediction = LayerPicker(napari_viewer, kinds)
        self.kind = QComboBox()
        self.kind.addItems(["auto", *KINDS])
        self.thresh, self.tolerance = QLineEdit("0.5"), QLineEdit("3")
        self.run_button = QPushButton("Evaluate")
        self.run_button.clicked.connect(lambda: self.run())
        self.progress = ProgressRow()
        self.table = TableView()
        self.plot = CurvePlot(title="evaluation")
        self.legend = QLabel("")
        self.result: EvaluationResult | None = None
        form = QFormLayout()
        form.addRow("ground truth", self.truth)
        form.addRow("prediction", self.prediction)
        form.addRow("evaluate as", self.kind)
        form.addRow("IoU threshold", self.thresh)
        form.addRow("tolerance (points)", self.tolerance)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for widget in (self.run_button, self.progress, self.table, self.plot, self.legend):
            layout.addWidget(widget)

    def _kind(self, truth: Any, pred: Any) -> str:
        chosen = self.kind.currentText()
        if chosen != "auto":
            return chosen
        kinds = {truth._type_string, pred._type_string}
        if kinds == {"points"}:
            return "detection"
        if kinds == {"image"}:
            return "restoration"
        if kinds == {"labels"}:
            return "instance"
        raise ParameterError(
            f"prediction: a {pred._type_string} layer against a {truth._type_string} ground "
            "truth; expected two layers of the same kind (labels, points or images)"
        )

    def _number(self, edit: QLineEdit, name: str) -> float:
        try:
            return float(edit.text())
        except ValueError:
            raise ParameterError(f"{name}: expected a number, got {edit.text()!r}") from None

    def run(self) -> Any:
        """Evaluate in a worker; show the table, the plot and (instances) the error layer."""
        truth, pred = self.truth.layer(), self.prediction.layer()
        if truth is None or pred is None:
            raise ParameterError("ground truth / prediction: choose both layers")
        kind = self._kind(truth, pred)
        kwargs = {"thresh": self._number(self.thresh, "IoU threshold"),
                  "tolerance": self._number(self.tolerance, "tolerance"),
                  "spacing": tuple(truth.scale)[-(truth.data.shape[1] if kind == "detection"
                                                  else truth.ndim):]}  # fmt: skip
        return self.progress.run(evaluate_layers, kind, truth.data, pred.data,
                                 on_done=lambda r: self._show(r, pred), text="evaluating",
                                 **kwargs)  # fmt: skip

    def _show(self, result: EvaluationResult, pred: Any) -> None:
        self.result = result
        self.table.set_table(result.table)
        if "bars" in result.plot:
            ylim = None if result.kind == "restoration" else (0.0, 1.0)
            self.plot.bars(result.plot["bars"], title=result.kind, ylim=ylim)
        else:
            self.plot.curve(result.plot["x"], result.plot["ys"], xlabel="IoU threshold",
                            title="instance matching")  # fmt: skip
        if result.error_image is None:
            self.legend.setText("")
            return
        self._error_layer(result, pred)

    def _error_layer(self, result: EvaluationResult, pred: Any) -> None:
        from napari.utils.colormaps import DirectLabelColormap

        from biakit.visualize import ERROR_COLORS, OUTCOME_NAMES

        colors = {None: (0, 0, 0, 0), 0: (0, 0, 0, 0)}
        for i, rgb in enumerate(ERROR_COLORS.values(), start=1):
            colors[i] = (*(c / 255 for c in rgb), 1.0)
        name = f"{pred.name} errors"
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)
        colormap = DirectLabelColormap(color_dict=colors)
        self.viewer.add_labels(
            result.error_image, name=name, scale=pred.scale, colormap=colormap, opacity=0.6
        )
        counts = result.errors.counts.as_dict()
        items = []
        for key, rgb in ERROR_COLORS.items():
            hex_color = "#{:02x}{:02x}{:02x}".format(*rgb)
            items.append(f"<span style='color:{hex_color}'>■</span> {OUTCOME_NAMES[key]} "
                         f"({counts[key]})")  # fmt: skip
        self.legend.setText(" &nbsp; ".join(items))
