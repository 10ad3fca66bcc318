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
    proba, meta = read_image(pred / "n0_probabilities.tif")
    assert meta.axes == "CYX" and np.allclose(np.asarray(proba).sum(axis=0), 1, atol=1e-4)
