"""``biakit cross-validate``: fold tables, mean +- sd equal to the Python API, groups, errors."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biakit.data import phenotype_crops
from biakit.io import ImageMeta, write_image

pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

CONFIG = """\
task: classification
input_shape: [16, 16]
data: {images: DATA}
model: {base_filters: 2, stages: [1]}
train: {epochs: 1, batch_size: 8}
"""


def _dataset(root: Path, csv: bool) -> tuple[Path, list, np.ndarray, list[str]]:
    crops = phenotype_crops(4, (16, 16), seed=3)
    rows = []
    for i, (image, label) in enumerate(zip(crops.images, crops.labels)):
        name = crops.class_names[label]
        path = root / "crops" / name / f"c{i:02d}.tif"
        write_image(path, np.asarray(image, np.float32), ImageMeta("YX"))
        rows.append({"path": str(path.relative_to(root)), "class": name, "group": f"g{i % 4}"})
    source = root / "crops"
    if csv:
        source = root / "crops.csv"
        pd.DataFrame(rows).to_csv(source, index=False)
    config = root / "cv.yaml"
    config.write_text(CONFIG.replace("DATA", str(source)))
    return config, crops.images, np.asarray(crops.labels), [r["group"] for r in rows]


def test_folds_and_summary_match_the_python_api(cli, tmp_path):
    from biakit.model_selection import cross_validate_classifier
    from biakit.workflows import load_workflow_config

    config, _, _, groups = _dataset(tmp_path, csv=True)
    r = cli("cross-validate", str(config), "-o", str(tmp_path / "cv"), "--folds", "2")
    assert r.code == 0, r.err
    assert "over 2 folds" in r.out and "grouped by 4 groups" in r.out
    out = tmp_path / "cv"
    for name in ("folds.csv", "summary.csv", "predictions.csv", "report.csv",
                 "confusion_matrix.csv", "confusion_matrix.png", "roc_curves.png"):  # fmt: skip
        assert (out / name).is_file(), name
    folds = pd.read_csv(out / "folds.csv")
    summary = pd.read_csv(out / "summary.csv").set_index("score")
    assert len(folds) == 2
    np.testing.assert_allclose(summary.loc["f1", "mean"], folds["f1"].mean(), atol=1e-9)
    np.testing.assert_allclose(summary.loc["f1", "sd"], folds["f1"].std(ddof=1), atol=1e-9)
    # same folds, same training as the Python API on the same images (read back from disk)
    from biakit.workflows._classification_io import classification_training_data

    cfg = load_workflow_config(config)
    (images, labels), _ = classification_training_data(cfg)
    api = cross_validate_classifier(cfg, images, labels, k=2, groups=groups)
    np.testing.assert_allclose(folds["f1"], [f.scores["f1"] for f in api.folds], atol=1e-6)
    pred = pd.read_csv(out / "predictions.csv")
    # a group never spans two folds
    assert pred.groupby("group")["fold"].nunique().max() == 1
    cols = [c for c in pred.columns if c.startswith("p_")]
    np.testing.assert_allclose(pred[cols].to_numpy(), api.probabilities, atol=1e-5)
    # a second run refuses to replace outputs without --overwrite, then does with it
    again = cli("cross-validate", str(config), "-o", str(out), "--folds", "2")
    assert again.code == 2 and "exists" in again.err
    assert cli("cross-validate", str(config), "-o", str(out), "-k", "2", "--overwrite").code == 0


def test_errors_exit_2(cli, tmp_path):
    config, *_ = _dataset(tmp_path, csv=False)
    r = cli("cross-validate", str(config), "-o", str(tmp_path / "cv"), "--folds", "1")
    assert r.code == 2 and "k must be an int >= 2" in r.err
    semantic = tmp_path / "sem.yaml"
    semantic.write_text("task: semantic\ndata: {images: a, masks: b}\n")
    r = cli("cross-validate", str(semantic), "-o", str(tmp_path / "cv2"))
    assert r.code == 2 and "takes a classification config" in r.err
