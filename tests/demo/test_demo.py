import pandas as pd
import pytest

from biakit.cli import main


@pytest.mark.slow
def test_demo_writes_outputs_and_scores_well(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out)]) == 0
    assert "biakit demo" in capsys.readouterr().out
    results = pd.read_csv(out / "results.csv").set_index("case")
    assert results.loc["synthetic nuclei 2D", "f1@0.5"] >= 0.9
    assert results.loc["synthetic nuclei 3D", "f1@0.5"] >= 0.9
    assert results.loc["nuclei, uneven background", "f1@0.5"] >= 0.9
    assert results.loc["skimage coins", "n_found"] == 24
    for case in results.index:
        stem = case.replace(" ", "_")
        for suffix in ("_labels.tif", "_overlay.png", "_measurements.csv"):
            assert (out / f"{stem}{suffix}").exists(), stem + suffix
