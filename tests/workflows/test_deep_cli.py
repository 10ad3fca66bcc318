import numpy as np
import pytest

from biakit.cli import main
from biakit.data import synthetic_nuclei
from biakit.io import ImageMeta, read_image, write_image

pytest.importorskip("torch")

CONFIG = """\
task: semantic
data:
  images: {root}/img
  masks: {root}/mask
  test_images: {root}/img
  test_masks: {root}/mask
output: {root}/model
patch_shape: [32, 32]
samples_per_epoch: 8
model: {{depth: 2, base_filters: 4}}
train: {{epochs: 2, batch_size: 4}}
"""


def test_train_and_predict_cli(tmp_path, capsys):
    for seed in range(3):
        s = synthetic_nuclei((48, 48), n_objects=4, seed=seed)
        write_image(tmp_path / "img" / f"n{seed}.tif", s.image, ImageMeta("YX"))
        write_image(tmp_path / "mask" / f"n{seed}.tif", s.mask.astype(np.uint8), ImageMeta("YX"))
    config = tmp_path / "train.yaml"
    config.write_text(CONFIG.format(root=tmp_path))
    assert main(["train", str(config)]) == 0
    out = capsys.readouterr().out
    assert "test set: IoU" in out
    assert (tmp_path / "model" / "weights.pt").exists()
    assert main(["train", str(config)]) == 2  # refuses to overwrite a model
    pred = tmp_path / "pred"
    code = main(["predict", str(tmp_path / "model"), "-i", str(tmp_path / "img"), "-o", str(pred),
                 "--probabilities", "--tta"])  # fmt: skip
    assert code == 0
    labels, _ = read_image(pred / "n0_labels.tif")
    assert labels.shape == (48, 48) and set(np.unique(labels)) <= {0, 1}
    proba, meta = read_image(pred / "n0_maps.tif")
    assert meta.axes == "CYX" and np.allclose(np.asarray(proba).sum(axis=0), 1, atol=1e-4)


DETECTION = """\
task: detection
data:
  images: {root}/img
  points: {root}/pts
  test_images: {root}/img
  test_points: {root}/pts
output: {root}/det
patch_shape: [32, 32]
samples_per_epoch: 8
model: {{depth: 2, base_filters: 4}}
train: {{epochs: 1, batch_size: 4}}
"""


def test_detection_train_and_predict_cli(tmp_path, capsys):
    import pandas as pd

    from biakit.data import synthetic_spots

    for seed in range(2):
        s = synthetic_spots((48, 48), n_spots=6, seed=seed)
        write_image(tmp_path / "img" / f"s{seed}.tif", s.image, ImageMeta("YX"))
        (tmp_path / "pts").mkdir(exist_ok=True)
        pd.DataFrame(s.points, columns=["y", "x"]).to_csv(tmp_path / "pts" / f"s{seed}.csv")
    config = tmp_path / "det.yaml"
    config.write_text(DETECTION.format(root=tmp_path))
    assert main(["train", str(config)]) == 0
    assert "test set: precision" in capsys.readouterr().out
    pred = tmp_path / "pred"
    assert (
        main(["predict", str(tmp_path / "det"), "-i", str(tmp_path / "img"), "-o", str(pred)]) == 0
    )
    table = pd.read_csv(pred / "s0_points.csv", comment="#")
    assert {"y", "x", "score"} <= set(table.columns)
    assert (pred / "s0_overlay.png").exists()
