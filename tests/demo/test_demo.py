import pandas as pd
import pytest

from biakit.cli import main

pytest.importorskip("torch")


@pytest.mark.slow
def test_quick_demo_writes_report_and_scores(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out), "--quick", "--minutes", "0.3"]) == 0
    printed = capsys.readouterr().out
    assert "instance segmentation" in printed and "report:" in printed
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
    assert (out / "instance_model" / "weights.pt").exists()
    classical = pd.read_csv(out / "classical" / "results.csv").set_index("case")
    assert classical.loc["skimage coins", "n_found"] == 24
    assert classical.loc["synthetic nuclei 3D", "f1@0.5"] >= 0.9
