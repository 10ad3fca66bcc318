"""Evaluate widget: metrics table, plot and error-coded objects against known outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from biakit.errors import DataError, ParameterError


def _scene():
    """Truth: 5 squares. Prediction: 1 hit, 1 shifted miss, 1 merge of 2, 1 split, 1 false alarm."""
    t = np.zeros((40, 60), np.int32)
    p = np.zeros_like(t)
    t[2:10, 2:10] = 1
    p[2:10, 2:10] = 11  # tp
    t[2:10, 20:28] = 2  # missed: nothing predicted there
    t[20:28, 2:8], t[20:28, 8:14] = 3, 4
    p[19:29, 1:15] = 12  # merges true 3 and 4
    t[20:30, 30:42] = 5
    p[20:30, 30:34], p[20:30, 34:38], p[20:30, 38:42] = 13, 14, 16  # true 5 split in 3
    p[32:38, 50:56] = 15  # false positive
    return t, p


def test_instance_errors_table_plot_layer(make_napari_viewer, screenshot):
    from biakit.napari._evaluate_widget import EvaluateWidget
    from biakit.visualize import ERROR_COLORS

    viewer = make_napari_viewer()
    truth, pred = _scene()
    viewer.add_labels(truth, name="truth")
    viewer.add_labels(pred, name="pred")
    widget = EvaluateWidget(viewer)
    viewer.window.add_dock_widget(widget, name="biakit evaluate")
    widget.truth.select("truth")
    widget.prediction.select("pred")
    job = widget.run()
    assert job.done and job.error is None, job.error
    counts = widget.result.errors.counts
    assert (counts.tp, counts.fp, counts.missed, counts.merged, counts.split) == (1, 1, 1, 1, 1)
    assert (counts.merged_true, counts.split_pred) == (2, 3)
    row = widget.table.frame.iloc[0]  # IoU 0.5: 1 tp of 6 predicted, 5 true objects
    assert (row["thresh"], row["tp"], row["fp"], row["fn"]) == (0.5, 1, 5, 4)
    assert row["precision"] == pytest.approx(1 / 6) and row["recall"] == pytest.approx(1 / 5)
    codes = viewer.layers["pred errors"].data
    code = {k: i for i, k in enumerate(ERROR_COLORS, start=1)}
    assert codes[5, 5] == code["tp"] and codes[5, 24] == code["missed"]
    assert codes[24, 5] == code["merged"] and codes[25, 32] == code["split"]
    assert codes[35, 52] == code["fp"] and codes[0, 0] == 0
    assert widget.plot.draws >= 1 and "false positive (1)" in widget.legend.text()
    screenshot(viewer, "evaluate")


def test_semantic_points_and_images(make_napari_viewer):
    from biakit.napari._evaluate_widget import EvaluateWidget

    viewer = make_napari_viewer()
    widget = EvaluateWidget(viewer)
    truth, pred = _scene()
    viewer.add_labels((truth > 0).astype(np.int32), name="t")
    viewer.add_labels((pred > 0).astype(np.int32), name="p")
    widget.truth.select("t")
    widget.prediction.select("p")
    widget.kind.setCurrentText("semantic")
    widget.run()
    t, p = truth > 0, pred > 0
    assert widget.table.frame.loc[0, "iou"] == pytest.approx((t & p).sum() / (t | p).sum())
    # points: within 3 pixels 2 of 3 found, one false alarm
    viewer.add_points([[5, 5], [20, 20], [30, 8]], name="true spots")
    viewer.add_points([[6, 5], [21, 21], [10, 40]], name="found spots")
    widget.kind.setCurrentText("auto")
    widget.truth.select("true spots")
    widget.prediction.select("found spots")
    widget.run()
    row = widget.table.frame.iloc[0]
    assert (row["tp"], row["fp"], row["fn"]) == (2, 1, 1)
    # images: PSNR as scikit-image computes it
    from skimage.metrics import peak_signal_noise_ratio

    rng = np.random.default_rng(0)
    clean = rng.random((32, 32)).astype(np.float32)
    noisy = (clean + 0.1 * rng.standard_normal(clean.shape)).astype(np.float32)
    viewer.add_image(clean, name="clean")
    viewer.add_image(noisy, name="noisy")
    widget.truth.select("clean")
    widget.prediction.select("noisy")
    widget.run()
    expected = peak_signal_noise_ratio(clean, noisy, data_range=float(clean.max() - clean.min()))
    assert widget.table.frame.loc[0, "psnr"] == pytest.approx(expected, rel=1e-4)
    # errors
    widget.prediction.select("t")
    with pytest.raises(ParameterError, match="same kind"):
        widget.run()
    widget.thresh.setText("half")
    widget.prediction.select("noisy")
    with pytest.raises(ParameterError, match="IoU threshold: expected a number"):
        widget.run()
    widget.thresh.setText("0.5")
    viewer.add_image(np.zeros((8, 8)), name="small")
    widget.prediction.select("small")
    assert widget.run().error is not None
    with pytest.raises(DataError, match="expected the ground truth's"):
        from biakit.napari._evaluate_widget import evaluate_layers

        evaluate_layers("restoration", clean, np.zeros((8, 8)))
    with pytest.raises(ParameterError, match="kind: expected one of"):
        evaluate_layers("colour", clean, clean)
