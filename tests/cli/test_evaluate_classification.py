"""``biakit evaluate --task classification``: predictions.csv scored against class folders / CSV."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biakit.data import phenotype_crops
from biakit.io import ImageMeta, write_image
from biakit.metrics.classification import classification_metrics

pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

MODEL = Path(__file__).resolve().parents[1] / "data" / "models" / "classification_v1"


def _class_folders(root: Path) -> tuple[Path, list[str]]:
    from biakit import load_model

    names = list(load_model(MODEL).class_names)
    crops = phenotype_crops(3, (16, 16), seed=5)
    assert list(crops.class_names) == names  # the frozen model's phenotypes
    for i, (image, label) in enumerate(zip(crops.images, crops.labels)):
        write_image(root / names[label] / f"c{i}.tif", np.asarray(image, np.float32),
                    ImageMeta("YX"))  # fmt: skip
    return root, names


def test_scores_equal_the_metrics_of_the_predictions(cli, tmp_path):
    gt, names = _class_folders(tmp_path / "gt")
    assert cli("predict", str(MODEL), "-i", f"{gt}/*/*.tif", "-o", str(tmp_path / "pred")).code == 0
    r = cli("evaluate", "--task", "classification", "--gt", str(gt),
            "--pred", str(tmp_path / "pred"), "-o", str(tmp_path / "ev"))  # fmt: skip
    assert r.code == 0, r.err
    pred = pd.read_csv(tmp_path / "pred" / "predictions.csv")
    truth = [names.index(Path(f).parent.name) for f in pred["file"]]
    probs = pred[[f"p_{n}" for n in names]].to_numpy()
    m = classification_metrics(truth, probabilities=probs, class_names=names)
    assert f"macro F1 {m.macro_f1:.4f}" in r.out and f"accuracy {m.accuracy:.4f}" in r.out
    report = pd.read_csv(tmp_path / "ev" / "report.csv").set_index("class")
    np.testing.assert_allclose(report.loc["macro avg", "f1"], m.macro_f1, atol=1e-9)
    cm = pd.read_csv(tmp_path / "ev" / "confusion_matrix.csv", index_col=0)
    np.testing.assert_array_equal(cm.to_numpy(), np.asarray(m.confusion))
    assert (tmp_path / "ev" / "roc_curves.png").stat().st_size > 1000
    # a CSV ground truth (path, class) pairs by file name as well
    rows = [{"path": f"imgs/{Path(f).name}", "class": Path(f).parent.name} for f in pred["file"]]
    pd.DataFrame(rows).to_csv(tmp_path / "gt.csv", index=False)
    r2 = cli("evaluate", "--task", "classification", "--gt", str(tmp_path / "gt.csv"),
             "--pred", str(tmp_path / "pred" / "predictions.csv"),
             "-o", str(tmp_path / "ev2"))  # fmt: skip
    assert r2.code == 0, r2.err
    assert f"macro F1 {m.macro_f1:.4f}" in r2.out


def test_errors_exit_2(cli, tmp_path):
    gt, names = _class_folders(tmp_path / "gt")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"file": ["x.tif"], "class": ["a"]}).to_csv(bad, index=False)
    r = cli("evaluate", "-t", "classification", "--gt", str(gt), "--pred", str(bad),
            "-o", str(tmp_path / "ev"))  # fmt: skip
    assert r.code == 2 and "p_CLASS" in r.err
    other = tmp_path / "other.csv"
    pd.DataFrame({"file": ["nowhere.tif"], **{f"p_{n}": [1 / 3] for n in names}}).to_csv(
        other, index=False
    )
    r = cli("evaluate", "-t", "classification", "--gt", str(gt), "--pred", str(other),
            "-o", str(tmp_path / "ev"))  # fmt: skip
    assert r.code == 2 and "no ground truth" in r.err and "nowhere.tif" in r.err


def test_train_with_a_test_set_writes_the_full_report(cli, tmp_path):
    train, _ = _class_folders(tmp_path / "train")
    test, _ = _class_folders(tmp_path / "test")
    config = tmp_path / "classify.yaml"
    config.write_text(
        "task: classification\ninput_shape: [16, 16]\n"
        f"data: {{images: {train}, test_images: {test}}}\noutput: {tmp_path / 'model'}\n"
        "model: {base_filters: 2, stages: [1]}\ntrain: {epochs: 1, batch_size: 8}\n"
    )
    r = cli("train", str(config))
    assert r.code == 0, r.err
    assert "test set:" in r.out
    for name in ("report.csv", "confusion_matrix.png", "roc_curves.png", "grad_cam.png"):
        assert (tmp_path / "model" / name).stat().st_size > 0, name
