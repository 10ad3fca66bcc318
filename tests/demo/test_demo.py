import json

import pandas as pd
import pytest

from biakit.cli import main

pytest.importorskip("torch")


@pytest.mark.slow
def test_quick_demo_writes_report_and_scores(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out), "--quick", "--minutes", "0.3"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "instance segmentation" in printed and "report:" in printed
    # training progress on stderr (plain lines: not a terminal), then the budget line
    assert "epoch 1/200  train_loss " in captured.err
    assert "training stopped by the time budget (18 s) after " in captured.err
    results = pd.read_csv(out / "results.csv").set_index("method")
    assert list(results.index) == [
        "classical pipeline",
        "pixel classifier",
        "deep (instance U-Net)",
    ]
    assert results.loc["classical pipeline", "f1@0.5"] > 0.5
    assert results.loc["pixel classifier", "f1@0.5"] > 0.5
    html = (out / "report.html").read_text()
    assert "comparison.png" in html and "curves.png" in html
    assert "Training stopped by the time budget (18 s) after " in html
    for name in ("synthetic_nuclei_3D_errors", "nuclei_uneven_background_overlay",
                 "skimage_coins_overlay"):  # fmt: skip
        assert f"<img src='classical/{name}.png'" in html
    assert "<sup>1</sup>" in html and "without a label image" in html
    summary = json.loads((out / "instance_model" / "training" / "summary.json").read_text())
    assert summary["stop_reason"] == "max_time" and summary["epochs_planned"] == 200
    assert (out / "instance_model" / "weights.pt").exists()
    classical = pd.read_csv(out / "classical" / "results.csv").set_index("case")
    assert classical.loc["skimage coins", "n_found"] == 24
    assert classical.loc["synthetic nuclei 3D", "f1@0.5"] >= 0.9
