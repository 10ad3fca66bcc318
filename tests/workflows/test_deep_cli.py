import numpy as np
import pytest

from biakit.cli import main
from biakit.data import synthetic_nuclei
from biakit.io import ImageMeta, read_image, write_image

pytest.importorskip("torch")

TRAIN = """\
task: {task}
data:
  images: {root}/img
  {targets}: {root}/{folder}
  test_images: {root}/img
  test_{targets}: {root}/{folder}
output: {root}/{output}
patch_shape: [32, 32]
samples_per_epoch: 8
model: {{depth: 2, base_filters: 4}}
train: {{epochs: {epochs}, batch_size: 4}}
"""


def _write_data(root, n=2):
    for seed in range(n):
        s = synthetic_nuclei((48, 48), n_objects=4, seed=seed)
        write_image(root / "img" / f"n{seed}.tif", s.image, ImageMeta("YX"))
        write_image(root / "mask" / f"n{seed}.tif", s.mask.astype(np.uint8), ImageMeta("YX"))


def test_train_and_predict_cli(tmp_path, capsys):
    _write_data(tmp_path, n=3)
    config = tmp_path / "train.yaml"
    config.write_text(TRAIN.format(root=tmp_path, task="semantic", targets="masks", folder="mask",
                                   output="model", epochs=2))  # fmt: skip
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


def test_detection_train_and_predict_cli(tmp_path, capsys):
    import pandas as pd

    from biakit.data import synthetic_spots

    for seed in range(2):
        s = synthetic_spots((48, 48), n_spots=6, seed=seed)
        write_image(tmp_path / "img" / f"s{seed}.tif", s.image, ImageMeta("YX"))
        (tmp_path / "pts").mkdir(exist_ok=True)
        pd.DataFrame(s.points, columns=["y", "x"]).to_csv(tmp_path / "pts" / f"s{seed}.csv")
    config = tmp_path / "det.yaml"
    config.write_text(TRAIN.format(root=tmp_path, task="detection", targets="points", folder="pts",
                                   output="det", epochs=1))  # fmt: skip
    assert main(["train", str(config)]) == 0
    assert "test set: precision" in capsys.readouterr().out
    pred = tmp_path / "pred"
    assert (
        main(["predict", str(tmp_path / "det"), "-i", str(tmp_path / "img"), "-o", str(pred)]) == 0
    )
    table = pd.read_csv(pred / "s0_points.csv", comment="#")
    assert {"y", "x", "score"} <= set(table.columns)
    assert (pred / "s0_overlay.png").exists()


RESUMABLE = """\
task: semantic
data: {{images: img, masks: mask}}
output: {out}
patch_shape: [32, 32]
samples_per_epoch: 8
val_fraction: 0.0
model: {{depth: 1, base_filters: 4}}
train: {{epochs: 3, batch_size: 4, device: cpu, plot_every: 0, amp: none}}
"""


def _weights(folder):
    import torch

    return torch.load(folder / "weights.pt", weights_only=True)


@pytest.mark.usefixtures("one_torch_thread")
def test_interrupted_training_resumes_exactly_from_the_command_line(tmp_path, monkeypatch, capsys):
    from biakit.nn.train import Trainer

    _write_data(tmp_path)  # data paths in the YAML are relative to the YAML's folder
    (tmp_path / "full.yaml").write_text(RESUMABLE.format(out="full"))
    (tmp_path / "cut.yaml").write_text(RESUMABLE.format(out="cut"))
    assert main(["train", str(tmp_path / "full.yaml")]) == 0
    real = Trainer._run_epoch

    def killed_in_epoch_2(self, *args, **kwargs):
        if self.epoch == 1:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_run_epoch", killed_in_epoch_2)
    assert main(["train", str(tmp_path / "cut.yaml")]) == 130
    assert not (tmp_path / "cut").exists()  # no half model: the folder appears only when done
    assert (tmp_path / "cut.partial" / "training" / "last.pt").exists()
    capsys.readouterr()
    assert main(["train", str(tmp_path / "cut.yaml")]) == 2
    assert "--resume" in capsys.readouterr().err
    monkeypatch.setattr(Trainer, "_run_epoch", real)
    assert main(["train", str(tmp_path / "cut.yaml"), "--resume"]) == 0
    assert "3 of 3 epoch(s)" in capsys.readouterr().out
    full, cut = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert full.keys() == cut.keys()
    for key in full:
        assert torch_equal(full[key], cut[key]), key
    assert not (tmp_path / "cut.partial").exists()
    # a finished model is never replaced without --overwrite; --overwrite trains afresh
    assert main(["train", str(tmp_path / "cut.yaml")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "cut.yaml"), "--overwrite"]) == 0
    assert main(["train", str(tmp_path / "cut.yaml"), "--resume"]) == 2


def torch_equal(a, b):
    import torch

    return bool(torch.equal(a, b))


@pytest.mark.usefixtures("one_torch_thread")
def test_predict_runs_the_network_once_per_image_and_reports(tmp_path, monkeypatch, capsys):
    import json

    from biakit.workflows._network import NetworkWorkflow

    _write_data(tmp_path, n=2)
    (tmp_path / "t.yaml").write_text(RESUMABLE.format(out="m").replace("epochs: 3", "epochs: 1"))
    assert main(["train", str(tmp_path / "t.yaml")]) == 0
    calls = []
    real = NetworkWorkflow._raw

    def counted(self, image, **kwargs):
        calls.append(image.shape)
        return real(self, image, **kwargs)

    monkeypatch.setattr(NetworkWorkflow, "_raw", counted)
    (tmp_path / "img" / "zz_broken.tif").write_bytes(b"garbage")
    # pretend training saw (almost) no foreground: every prediction is then flagged
    manifest = json.loads((tmp_path / "m" / "model.json").read_text())
    manifest["training"]["density"] = {"min": 1e-9, "max": 1e-9, "unit": "foreground fraction"}
    (tmp_path / "m" / "model.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    code = main(["predict", str(tmp_path / "m"), "-i", str(tmp_path / "img"), "-o",
                 str(tmp_path / "out"), "--maps"])  # fmt: skip
    assert code == 2  # one file failed, the others were predicted
    assert len(calls) == 2
    out, err = capsys.readouterr()
    assert "2 of 3 image(s) predicted" in out
    assert "FAILED" in err and "zz_broken.tif" in err and "Traceback" not in err
    assert err.count("biakit: warning:") == 2 and "far outside" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        ".biakit-outputs.json", "n0_labels.tif", "n0_maps.tif", "n0_overlay.png",
        "n1_labels.tif", "n1_maps.tif", "n1_overlay.png",
    ]  # fmt: skip


def test_tampered_weights_are_one_line_without_torch_advice(tmp_path, capsys):
    import shutil
    from pathlib import Path

    frozen = Path(__file__).parents[1] / "data" / "models" / "semantic_v1"
    shutil.copytree(frozen, tmp_path / "m")
    write_image(tmp_path / "a.tif", np.zeros((16, 16), np.float32), ImageMeta("YX"))
    (tmp_path / "m" / "weights.pt").write_bytes(b"\x80\x04K\x01.")  # a pickle, not a state dict
    code = main(["predict", str(tmp_path / "m"), "-i", str(tmp_path / "a.tif"), "-o",
                 str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "weights.pt" in err and "weights_only" not in err
    assert not (tmp_path / "out").exists()
