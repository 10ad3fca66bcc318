"""Frame prediction on the common training path (the hook) and its test report after training."""

import json

import numpy as np
import pandas as pd
import pytest

from biakit.errors import DataError
from biakit.io import write_timelapse
from biakit.metrics import psnr
from biakit.workflows import load_model
from biakit.workflows._frame_config import FramePredictionConfig
from biakit.workflows._network import NetworkWorkflow
from biakit.workflows.frame_prediction import FramePredictor

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread", "frame_workflow")


# ---------------------------------------------------------------- the training hook
def test_training_model_hook_wraps_only_for_rollouts(frame_tiny):
    from biakit.workflows._frame_rollout import RolloutNet

    net = torch.nn.Conv2d(3, 2, 1)
    assert NetworkWorkflow._training_model(FramePredictor(), net) is net  # the default
    assert FramePredictor(FramePredictionConfig(**frame_tiny))._training_model(net) is net
    fp = FramePredictor(FramePredictionConfig(**frame_tiny, rollout={"frames": 6, "ramp_steps": 2}))
    fp.network_config = fp.config.network_config(1)
    wrapped = fp._training_model(net)
    assert isinstance(wrapped, RolloutNet) and wrapped.base is net
    assert (wrapped.frames, wrapped.start, wrapped.ramp_steps) == (6, 2, 2)


@pytest.mark.parametrize("frames", [0, 6])
def test_common_training_path_equals_a_hand_built_trainer(
    frames, tmp_path, frame_tiny, moving_square
):
    # the workflow's training (hook, common path) against the trainer driven by hand on the
    # same windows: the network seeded as config.seed, wrapped in RolloutNet for roll-outs
    from biakit.nn.models import build_network
    from biakit.nn.train import Trainer
    from biakit.workflows._frame_rollout import RolloutLoss, RolloutNet
    from biakit.workflows._frame_tools import FrameWindows

    cfg = FramePredictionConfig(
        **frame_tiny, blend_horizon=0, rollout={"frames": frames, "ramp_steps": 2}
    )
    movie = moving_square(n_frames=12)
    fp = FramePredictor(cfg)
    fp.train([movie])  # one movie, no blend: no validation, every frame trained on
    windows = FrameWindows([fp._normalize(movie[:, None])], cfg.n_input, cfg.target_frames,
                           cfg.patch_shape, samples_per_epoch=cfg.samples_per_epoch,
                           foreground_fraction=cfg.foreground_fraction, flip=cfg.augment.flip,
                           rotate90=cfg.augment.rotate90, seed=cfg.seed)  # fmt: skip
    torch.manual_seed(cfg.seed)
    net = build_network("simvp", fp.network_config)
    model, loss = net, None
    if frames:
        model = RolloutNet(net, n_input=3, n_output=2, channels=1, frames=frames, start=2,
                           ramp_steps=2)  # fmt: skip
        loss = RolloutLoss("mse")
    Trainer(model, cfg.train, windows, None, output_dir=tmp_path / "t", plots=False,
            loss_fn=loss).fit()  # fmt: skip
    assert type(fp.model).__name__ == "SimVP"  # the network is kept, not the wrapper
    for a, b in zip(fp.model.state_dict().values(), net.state_dict().values(), strict=True):
        assert torch.equal(a, b)


# ---------------------------------------------------------------- the test report
def test_train_scores_test_movies_into_the_model_folder(tmp_path, frame_tiny, moving_square):
    movies = [moving_square(seed=s) for s in range(2)]
    test = moving_square(n_frames=8, seed=7)
    fp = FramePredictor(FramePredictionConfig(**frame_tiny, horizon=3))
    fp.train(movies, output_dir=tmp_path / "m", test_movies=[test])
    folder = tmp_path / "m"
    summary = pd.read_csv(folder / "test_metrics.csv")
    table = pd.read_csv(folder / "test_per_image.csv")
    assert (folder / "test_horizon.png").stat().st_size > 0
    # defaults: context n_input = 3 frames, horizon = config horizon 3, every origin 3..7
    pairs = [(o, h) for o in range(3, 8) for h in range(1, 4) if o + h <= 8]
    assert list(zip(table["origin"], table["horizon"])) == pairs
    rng = float(test.max() - test.min())  # float movie: data range max - min
    for _, row in table.iterrows():  # persistence scored by hand: frame o - 1 for o + h - 1
        o, h = int(row["origin"]), int(row["horizon"])
        assert row["persistence_psnr"] == pytest.approx(psnr(test[o + h - 1], test[o - 1],
                                                             data_range=rng))  # fmt: skip
    assert list(summary["horizon"]) == [1, 2, 3] and list(summary["n"]) == [5, 4, 3]
    np.testing.assert_allclose(summary["psnr"], fp.test_evaluation.summary["psnr"])
    again = fp.evaluate([test])  # the same defaults through evaluate
    np.testing.assert_allclose(again.summary["psnr"], summary["psnr"], rtol=1e-6)
    record = json.loads((folder / "model.json").read_text())["training"]["test"]
    assert record == {"movies": 1, "n_context": 3, "horizon": 3,
                      "headline": fp.test_evaluation.headline()}  # fmt: skip
    assert load_model(folder).training["test"] == record


def test_without_test_movies_nothing_is_scored(tmp_path, frame_tiny, moving_square):
    fp = FramePredictor(FramePredictionConfig(**frame_tiny))
    fp.train([moving_square()], output_dir=tmp_path / "m", test_movies=())
    assert fp.test_evaluation is None and "test" not in fp.training
    assert not (tmp_path / "m" / "test_metrics.csv").exists()


def test_test_movie_errors_come_before_training(tmp_path, frame_tiny, moving_square):
    fp = FramePredictor(FramePredictionConfig(**frame_tiny))
    movie = moving_square()
    with pytest.raises(DataError, match=r"test_movies\[0\] has 3 frames; .* = 3"):
        fp.train([movie], output_dir=tmp_path / "m", test_movies=[movie[:3]])
    with pytest.raises(DataError, match=r"test_movies must be a list of movies .*got ndarray"):
        fp.train([movie], test_movies=movie)
    assert not fp.is_trained and not (tmp_path / "m").exists()


YAML = """\
task: frame_prediction
data:
  movies: {root}/train
  test_movies: {root}/test
output: {root}/model
n_input: 3
n_output: 2
horizon: 3
patch_shape: [16, 16]
samples_per_epoch: 8
model: {{hid_s: 4, hid_t: 8, n_s: 2, n_t: 1, groups: 2}}
train: {{epochs: 1, batch_size: 4, device: cpu, plot_every: 0}}
"""


def test_biakit_train_scores_data_test_movies(tmp_path, moving_square):
    from biakit.cli import main

    for s in range(2):
        movie = np.clip(moving_square(seed=s), 0, 255).astype(np.uint8)
        write_timelapse(tmp_path / "train" / f"m{s}.tif", movie, axes="TYX")
    test = np.clip(moving_square(n_frames=7, seed=5), 0, 255).astype(np.uint8)
    write_timelapse(tmp_path / "test" / "t.tif", test, axes="TYX")
    (tmp_path / "train.yaml").write_text(YAML.format(root=tmp_path))
    assert main(["train", str(tmp_path / "train.yaml")]) == 0
    model = tmp_path / "model"
    table = pd.read_csv(model / "test_per_image.csv")
    assert table["origin"].min() == 3 and table["horizon"].max() == 3  # n_input, horizon
    row = table.iloc[0]  # origin 3, horizon 1; uint8: data range 255
    assert row["persistence_psnr"] == pytest.approx(psnr(test[3], test[2], data_range=255))
    assert list(pd.read_csv(model / "test_metrics.csv")["horizon"]) == [1, 2, 3]
    assert (model / "test_horizon.png").exists()
    (tmp_path / "bad.yaml").write_text(
        YAML.format(root=tmp_path).replace("/test\n", "/missing\n").replace("/model", "/m2")
    )
    assert main(["train", str(tmp_path / "bad.yaml")]) == 2  # no test movies there: one line
    assert not (tmp_path / "m2").exists()
