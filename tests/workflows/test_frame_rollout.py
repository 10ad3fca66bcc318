"""Multi-step (roll-out) training and the blend fitted on held-out frames."""

import numpy as np
import pytest

from biakit.errors import DataError
from biakit.workflows import load_model
from biakit.workflows._frame_blend import blend_forecast, fit_blend, forecast_sums, holdout_band
from biakit.workflows._frame_config import FramePredictionConfig
from biakit.workflows.frame_prediction import FramePredictor

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread", "frame_workflow")

from biakit.nn.models import build_network  # noqa: E402
from biakit.workflows._frame_rollout import (  # noqa: E402
    DihedralTTA,
    RolloutLoss,
    RolloutNet,
    _transforms,
    rollout,
)


@pytest.fixture(scope="module")
def rollout_tiny(frame_tiny):
    """The tiny configuration, trained on roll-outs of 6 frames."""
    return {**frame_tiny, "rollout": {"frames": 6, "ramp_steps": 2}}


def _simvp(seed=0, n_input=3, n_output=2, channels=1):
    torch.manual_seed(seed)
    net = build_network("simvp", {"n_input": n_input, "n_output": n_output, "hid_s": 4,
                                  "hid_t": 8, "n_s": 2, "n_t": 1, "groups": 2,
                                  "in_channels": channels, "out_channels": channels})  # fmt: skip
    for p in net.parameters():  # the residual read-out starts at zero: make it move
        torch.nn.init.normal_(p, std=0.2)
    return net.eval()


# ---------------------------------------------------------------- the wrapper
@pytest.mark.parametrize("channels", [1, 2])
def test_rollout_equals_manual_autoregressive_application(channels):
    net = _simvp(channels=channels)
    x = torch.randn(2, 3 * channels, 8, 8)
    wrapped = RolloutNet(net, n_input=3, n_output=2, channels=channels, frames=5, start=2,
                         ramp_steps=0).eval()  # fmt: skip
    with torch.no_grad():
        out = wrapped(x)
        # by hand: frames as (B, T, C, H, W), each pass on the last 3, 2 new frames appended
        seq = x.reshape(2, 3, channels, 8, 8)
        for _ in range(3):
            new = net(seq[:, -3:].reshape(2, 3 * channels, 8, 8)).reshape(2, 2, channels, 8, 8)
            seq = torch.cat([seq, new], dim=1)
        manual = seq[:, 3:8].reshape(2, 5 * channels, 8, 8)
    assert out.shape == (2, 5 * channels, 8, 8)
    assert torch.equal(out, manual)  # exactly the same operations


def test_schedule_grows_from_start_to_frames_and_counts_only_training_passes():
    net = RolloutNet(_simvp(), n_input=3, n_output=2, channels=1, frames=8, start=2,
                     ramp_steps=4).train()  # fmt: skip
    x = torch.zeros(1, 3, 8, 8)
    shapes = [net(x).shape[1] for _ in range(6)]
    assert shapes == [2, 3, 5, 6, 8, 8]  # 2 + 6 * min(seen / 4, 1), floored
    assert int(net.seen) == 6
    net.eval()
    assert net(x).shape[1] == 8 and int(net.seen) == 6  # validation: the full roll-out
    with torch.no_grad():
        net.train()(x)
    assert int(net.seen) == 6  # no gradient: not a training step
    assert "seen" in net.state_dict()  # saved in checkpoints (exact resume)


def test_rollout_loss_compares_the_first_frames():
    pred = torch.full((1, 2, 1, 1), 1.0)
    target = torch.tensor([0.0, 3.0, 100.0, 100.0]).reshape(1, 4, 1, 1)
    assert RolloutLoss("mse")(pred, target).item() == pytest.approx((1 + 4) / 2)
    assert RolloutLoss("mae")(pred, target).item() == pytest.approx((1 + 2) / 2)


def test_rollout_doctest_helper_counts():
    out = rollout(torch.nn.Identity(), torch.arange(3.0).reshape(1, 3, 1, 1), n_input=3,
                  n_output=3, channels=1, frames=7)  # fmt: skip
    assert out.flatten().tolist() == [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0]


def test_tta_is_the_mean_over_the_dihedral_group():
    net = _simvp()
    x = torch.randn(1, 3, 8, 12)  # not square: quarter turns swap the axes
    with torch.no_grad():
        out = DihedralTTA(net)(x)
        manual = torch.zeros(1, 2, 8, 12)
        for flip in (False, True):
            xf = x.flip(-1) if flip else x
            for k in range(4):
                y = torch.rot90(net(torch.rot90(xf, k, (-2, -1))), -k, (-2, -1))
                manual += (y.flip(-1) if flip else y) / 8
    torch.testing.assert_close(out, manual, rtol=1e-5, atol=1e-6)
    three_d = _transforms(3)
    assert len(set(three_d)) == 8 and all(turns == 0 for _, turns in three_d)


# ---------------------------------------------------------------- the blend
def test_fit_blend_hand_computed():
    last = np.zeros((1, 3))
    truth = np.ones((3, 3))
    pred = np.stack([np.full(3, 2.0), np.full(3, -1.0), np.zeros(3)])
    # h1 overshoots 2x -> 1/2; h2 moves the wrong way -> 0; h3 predicts no change -> 1
    assert fit_blend([forecast_sums(pred, last, truth)]) == [0.5, 0.0, 1.0]
    # two forecasts of 2 pixels: A d = (1, 0), B d = (2, 0), both e = (1, 1). Pooled least
    # squares gives 3 / 5; the weight maximises the mean per-frame PSNR instead, i.e. minimises
    # log(2 - 2a + a^2) + log(2 - 4a + 4a^2), whose minimum (scipy) is at a = 0.5905
    from scipy.optimize import minimize_scalar

    e = np.ones((1, 2))
    sums = [forecast_sums(np.array([[d, 0.0]]), np.zeros((1, 2)), e) for d in (1.0, 2.0)]
    best = minimize_scalar(lambda a: np.log(2 - 2 * a + a * a) + np.log(2 - 4 * a + 4 * a * a),
                           bounds=(0, 1), method="bounded").x  # fmt: skip
    assert best == pytest.approx(0.5905, abs=1e-3)
    assert fit_blend(sums) == [pytest.approx(best, abs=0.0026)]  # grid step 0.005
    # no pooled signal (one forecast right, one as wrong): persistence
    sums = [forecast_sums(np.array([[2.0]]), np.zeros((1, 1)), np.array([[s]])) for s in (1, -1)]
    assert fit_blend(sums) == [0.0]
    with pytest.raises(DataError, match=r"must be \(1, \.\.\.\)"):
        forecast_sums(pred, np.zeros((2, 3)), truth)


def test_blend_is_never_worse_than_persistence_on_its_fit_frames():
    rng = np.random.default_rng(0)
    for trial in range(20):
        n, h = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        truth = rng.normal(size=(n, h, 12))
        last = rng.normal(size=(n, 1, 12))
        pred = truth + rng.normal(scale=rng.uniform(0.2, 3.0), size=truth.shape)  # noisy
        if trial % 3 == 0:
            pred = last + rng.normal(size=truth.shape)  # unrelated to the truth
        sums = [forecast_sums(p, l_, t) for p, l_, t in zip(pred, last, truth)]
        weights = fit_blend(sums)
        blended = np.stack([blend_forecast(p, l_, weights) for p, l_ in zip(pred, last)])
        err_b = ((blended - truth) ** 2).mean(axis=2)  # (n, h) per-frame MSE
        err_p = ((last - truth) ** 2).mean(axis=2)
        assert np.all(err_b.sum(axis=0) <= err_p.sum(axis=0) + 1e-9)  # pooled MSE
        psnr_gain = np.mean(np.log10(err_p / err_b), axis=0)  # mean per-frame PSNR gain / 10
        assert np.all(psnr_gain >= -1e-9)


def test_holdout_band_and_its_errors():
    movie = np.arange(2 * 1 * 3 * 10, dtype=np.float32).reshape(2, 1, 3, 10)
    train, band = holdout_band([movie], 0.3)
    np.testing.assert_array_equal(np.concatenate([train[0], band[0]], axis=-1), movie)
    assert band[0].shape[-1] == 3
    with pytest.raises(DataError, match=r"too narrow to hold out blend_holdout=0\.9"):
        holdout_band([movie[..., :1]], 0.9)


# ---------------------------------------------------------------- the workflow
def test_config_options_and_errors(rollout_tiny, moving_square):
    cfg = FramePredictionConfig(**rollout_tiny)
    assert cfg.target_frames == 6 and cfg.rollout.start is None
    assert FramePredictionConfig().target_frames == 4  # one pass by default
    with pytest.raises(ValueError, match=r"rollout.frames=1 is below n_output=2"):
        FramePredictionConfig(**{**rollout_tiny, "rollout": {"frames": 1}})
    with pytest.raises(ValueError, match=r"rollout.start=7 exceeds rollout.frames=6"):
        FramePredictionConfig(**{**rollout_tiny, "rollout": {"frames": 6, "start": 7}})
    with pytest.raises(ValueError, match="blend_holdout"):
        FramePredictionConfig(blend_holdout=1.0)
    with pytest.raises(DataError, match=r"has 8 frames; a training window needs .* = 9"):
        FramePredictor(FramePredictionConfig(**rollout_tiny)).train([moving_square(n_frames=8)])


def test_rollout_training_on_one_movie_holds_out_a_band_and_is_deterministic(
    tmp_path, rollout_tiny, moving_square
):
    movie = moving_square(n_frames=12)
    runs = []
    for _ in range(2):
        fp = FramePredictor(FramePredictionConfig(**rollout_tiny))
        history = fp.train([movie])
        runs.append(fp)
    a, b = runs
    assert a.training["frame_shape"] == [[20, 18]]  # 24 - round(0.25 * 24) columns trained on
    assert a.training["blend_fit"]["source"].startswith("held-out band")
    assert a.training["rollout_frames"] == 6 and "val_loss" in history
    assert min(a.training["blend_fit"]["gain_db"]) >= 0.0
    assert type(a.model).__name__ == "SimVP"  # the wrapper is gone after training
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    assert a.training["horizon_blend"] == b.training["horizon_blend"]
    np.testing.assert_array_equal(a.predict(movie[:4], 5), b.predict(movie[:4], 5))
    a.config.tta = True  # forecasts averaged over flips and quarter turns
    assert a.predict(movie[:4], 5).shape == (5, 20, 24)
    a.config.tta = False
    a.save(tmp_path / "m")  # the folder holds the base network only
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(movie[:4], 5), a.predict(movie[:4], 5))


def test_rollout_training_resumes_exactly(tmp_path, rollout_tiny, moving_square):
    movies = [moving_square(n_frames=12, seed=s) for s in range(2)]
    # the schedule "seen" is in the checkpoint: a run stopped after epoch 1 and resumed ends
    # with the weights of an uninterrupted one (constant learning rate: the epoch counts differ)
    cfg = {
        **rollout_tiny,
        "blend_horizon": 0,
        "train": {**rollout_tiny["train"], "epochs": 2, "schedule": "none"},
    }
    full = FramePredictor(FramePredictionConfig(**cfg))
    full.train(movies, output_dir=tmp_path / "full")
    part = FramePredictor(FramePredictionConfig(**{**cfg, "train": {**cfg["train"], "epochs": 1}}))
    part.train(movies, output_dir=tmp_path / "part")
    import shutil

    shutil.copytree(tmp_path / "part" / "training", tmp_path / "res.partial" / "training")
    resumed = FramePredictor(FramePredictionConfig(**cfg))
    resumed.train(movies, output_dir=tmp_path / "res", resume=True)
    for pa, pb in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(pa, pb)
