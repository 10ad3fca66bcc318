"""Frame-prediction workflow: baselines, training, roll-out, evaluation, model folder, disk."""

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi

from biakit.errors import ConfigError, DataError
from biakit.io import read_image, write_timelapse
from biakit.metrics import psnr
from biakit.workflows import load_model, parse_workflow_config
from biakit.workflows._frame_blend import (
    ANCHOR_SIGMAS,
    choose_hold,
    fit_blend,
    forecast_sums,
    held_forecast,
)
from biakit.workflows._frame_config import FramePredictionConfig
from biakit.workflows._frame_tools import (
    FrameWindows,
    frame_scores,
    montage,
    pad_to_multiple,
)
from biakit.workflows.frame_prediction import (
    FramePredictor,
    _split_movies,
    linear_forecast,
    persistence_forecast,
)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread", "frame_workflow")


@pytest.fixture(scope="module")
def trained(frame_tiny, moving_square):
    fp = FramePredictor(FramePredictionConfig(**frame_tiny))
    fp.train([moving_square(seed=s) for s in range(3)])
    return fp


# ---------------------------------------------------------------- baselines
def test_persistence_of_a_constant_movie_is_perfect():
    movie = np.full((5, 8, 8), 7.0)
    pred = persistence_forecast(movie, 3)
    np.testing.assert_array_equal(pred, movie[:3])
    s = frame_scores(movie[:1], pred[:1], data_range=10.0)
    assert s["mse"] == 0.0 and s["mae"] == 0.0 and s["psnr"] == float("inf") and s["ssim"] == 1.0


def test_linear_extrapolation_of_a_ramp_is_exact():
    t = np.arange(8.0).reshape(-1, 1, 1)
    ramp = 3.0 + 2.5 * t + np.zeros((8, 4, 5))  # every pixel grows linearly in time
    np.testing.assert_allclose(linear_forecast(ramp[:4], 4), ramp[4:])
    with pytest.raises(DataError, match="need at least 2 frame"):
        linear_forecast(ramp[:1], 2)
    with pytest.raises(DataError, match="horizon must be >= 1"):
        persistence_forecast(ramp, 0)


def test_frame_scores_match_hand_values():
    truth, pred = np.zeros((1, 10, 10)), np.full((1, 10, 10), 0.5)
    s = frame_scores(truth, pred, data_range=5.0)
    assert s["mse"] == pytest.approx(0.25) and s["mae"] == pytest.approx(0.5)
    assert s["psnr"] == pytest.approx(10 * np.log10(25 / 0.25))


# ---------------------------------------------------------------- config
def test_config_through_the_union_and_its_errors():
    cfg = parse_workflow_config({"task": "frame_prediction", "n_input": 5, "patch_shape": [32, 32],
                                 "model": {"architecture": "convlstm"}})  # fmt: skip
    assert cfg.model.architecture == "convlstm" and cfg.model.n_input == 5
    assert cfg.train.loss == "mse" and cfg.forecast_horizon == 4
    with pytest.raises(ConfigError, match=r"model\.n_input=3 differs from n_input=4"):
        parse_workflow_config({"task": "frame_prediction", "model": {"n_input": 3}})
    with pytest.raises(ConfigError, match="uses 'mse' or 'mae'"):
        parse_workflow_config({"task": "frame_prediction", "train": {"loss": "ce"}})
    with pytest.raises(ValueError, match="augment: rotation not supported"):
        FramePredictionConfig(augment={"rotation": 30.0})
    with pytest.raises(ValueError, match=r"multiple of \(4, 4\)"):
        FramePredictionConfig(patch_shape=(30, 32))
    assert cfg.blend_horizon == 12 and cfg.blend_forecasts == 32
    with pytest.raises(ValueError, match="blend_horizon"):
        FramePredictionConfig(blend_horizon=-1)
    with pytest.raises(ValueError, match="blend_forecasts"):
        FramePredictionConfig(blend_forecasts=0)


# ---------------------------------------------------------------- data
def test_windows_are_consecutive_frames_of_one_crop():
    movie = np.arange(7, dtype=np.float32).reshape(7, 1, 1, 1) * 100 + np.zeros((7, 1, 12, 12))
    movie += np.arange(12).reshape(1, 1, 1, 12)  # x ramp
    ds = FrameWindows([movie.astype(np.float32)], 3, 2, (6, 6), samples_per_epoch=5, seed=1)
    for i in range(5):
        x, y = ds[i]
        frames = np.concatenate([x.numpy(), y.numpy()])  # (5, 6, 6)
        t0 = frames[0, 0, 0] // 100
        np.testing.assert_array_equal(frames[:, 0, 0] // 100, t0 + np.arange(5))
        steps = np.broadcast_to((np.arange(5) * 100.0)[:, None, None], frames.shape)
        np.testing.assert_array_equal(frames - frames[:1], steps)  # the same crop in every frame
    with pytest.raises(DataError, match="movie 0 has 4 frames; a training window needs"):
        FrameWindows([movie[:4]], 3, 2, (6, 6))


def test_padding_and_montage_geometry():
    padded, crop = pad_to_multiple(np.ones((2, 1, 9, 12)), (4, 4))
    assert padded.shape == (2, 1, 12, 12) and padded[crop].shape == (2, 1, 9, 12)
    pic = montage(np.zeros((3, 5, 6)), np.ones((3, 5, 6)), gap=1)
    assert pic.shape == (3 * 5 + 2, 3 * 6 + 2) and pic.dtype == np.uint8


# ---------------------------------------------------------------- training / prediction
def test_training_reduces_the_loss(frame_tiny, moving_square):
    # the untrained network is persistence (zero read-out); training must beat it
    train = {**frame_tiny["train"], "epochs": 6, "lr": 1e-2}
    cfg = FramePredictionConfig(**{**frame_tiny, "samples_per_epoch": 16, "train": train})
    fp = FramePredictor(cfg)
    movies = [moving_square(seed=s) for s in range(2)]
    history = fp.train(movies, progress=False)
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert fp.training["frames"] == [10]  # one of two movies held out for validation
    assert "val_loss" in history
    ev = fp.evaluate(movies, n_context=3, horizon=1, data_range=60.0)
    assert ev.summary["mse"][0] < ev.summary["persistence_mse"][0]


def test_prediction_shapes_and_autoregressive_rollout(trained, moving_square):
    movie = moving_square(seed=7)
    assert trained.predict(movie[:4]).shape == (2, 20, 24)  # n_output by default
    long = trained.predict(movie[:4], horizon=5, blend=False)
    assert long.shape == (5, 20, 24) and long.dtype == np.float32
    np.testing.assert_allclose(long[:2], trained.predict(movie[:4], 2, blend=False),
                               rtol=1e-5, atol=1e-4)  # fmt: skip
    # frames 3-4 are the network applied to the context extended by its own first two frames
    extended = np.concatenate([movie[:4], long[:2]])
    np.testing.assert_allclose(long[2:4], trained.predict(extended, 2, blend=False),
                               rtol=1e-5, atol=1e-4)  # fmt: skip
    assert trained.predict_maps(movie[:4]).shape == (2, 1, 20, 24)


def test_blend_fitted_on_validation_rollouts(trained, moving_square):
    # the held-out movie's roll-outs, scored in raw intensities (the weights are invariant to
    # the affine normalisation), give the stored weights; 7 origins, horizons up to 7
    movies = [moving_square(seed=s) for s in range(3)]
    (val,) = _split_movies(movies, trained.config.val_fraction, trained.config.seed)[1]
    weights = trained.training["horizon_blend"]
    assert len(weights) == 7
    assert trained.training["blend_fit"]["source"] == "validation movies"
    # the anchor: the last frame smoothed by the chosen sigma (scipy, frames as (1, 1, Y, X))
    sigma = trained.training["blend_anchor_sigma"]
    assert sigma in ANCHOR_SIGMAS
    anchors = {o: ndi.gaussian_filter(val[o - 1], sigma, mode="nearest") if sigma else val[o - 1]
               for o in range(3, 10)}  # fmt: skip
    preds = [(trained.predict(val[:o], 10 - o, blend=False), o) for o in range(3, 10)]
    sums = [forecast_sums(p, anchors[o][None], val[o:]) for p, o in preds]
    held = [forecast_sums(held_forecast(p, 2), anchors[o][None], val[o:]) for p, o in preds]
    hold, expected, _ = choose_hold(sums, held, 2)
    assert trained.training["horizon_hold"] == hold
    np.testing.assert_allclose(weights, expected, atol=6e-3)
    # the weights of the horizons that roll out are fit_blend's on the roll-outs alone
    rolled = [k for k, h in enumerate(hold) if not h]
    np.testing.assert_allclose(np.take(weights, rolled), np.take(fit_blend(sums), rolled),
                               atol=6e-3)  # fmt: skip
    # on those frames the blend is never worse than persistence (mean PSNR gain per horizon)
    assert min(trained.training["blend_fit"]["gain_db"]) >= 0.0
    # a still movie: any change the network predicts is wrong, so every weight is 0
    still = np.repeat(trained._normalize(val[:1, None]), 8, axis=0)
    assert trained._fit_blend([still])[0] == [0.0] * 5


def test_blend_anchor_denoises_a_noisy_static_scene(trained):
    # a still scene under fresh noise every frame: the best forecast is the denoised last
    # frame, so the fitted anchor is smoothed and beats copying the noisy last frame
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:20, :24]
    scene = 10 + 40 * np.exp(-((yy - 10) ** 2 + (xx - 12) ** 2) / 60.0)
    movie = (scene + rng.normal(0, 4.0, size=(12, 20, 24))).astype(np.float32)
    _, fit = trained._fit_blend([trained._normalize(movie[:, None])])
    assert fit["anchor_sigma"] > 0 and min(fit["gain_db"]) > 1.0
    saved = dict(trained.training)
    try:
        trained.training.update(horizon_blend=[0.0], horizon_hold=None,
                                blend_anchor_sigma=fit["anchor_sigma"])  # fmt: skip
        out = trained.predict(movie[:6], 2)  # weight 0: the smoothed last frame, twice
        smooth = ndi.gaussian_filter(movie[5], fit["anchor_sigma"], mode="nearest")
        np.testing.assert_allclose(out, np.stack([smooth, smooth]), rtol=1e-4, atol=1e-3)
        assert np.mean((out[0] - scene) ** 2) < 0.5 * np.mean((movie[5] - scene) ** 2)
    finally:
        trained.training.clear()
        trained.training.update(saved)


def test_blended_forecast_shrinks_toward_persistence(trained, moving_square):
    movie = moving_square(seed=4)[:5]
    raw = trained.predict(movie, 4, blend=False)
    saved = trained.training["horizon_blend"]
    sigma = trained.training.get("blend_anchor_sigma")
    try:
        trained.training["blend_anchor_sigma"] = 0.0  # anchor: the last frame as it is
        trained.training["horizon_blend"] = [1.0, 0.5, 0.0]  # horizon 4 uses the last weight
        out = trained.predict(movie, 4)
        expected = movie[-1] + np.array([1.0, 0.5, 0.0, 0.0])[:, None, None] * (raw - movie[-1])
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3)
        hold_saved = trained.training.get("horizon_hold")
        trained.training["horizon_hold"] = [False, False, True]  # n_output 2: frame 2 held
        held = np.stack([raw[0], raw[1], raw[1], raw[1]])
        expected = movie[-1] + np.array([1.0, 0.5, 0.0, 0.0])[:, None, None] * (held - movie[-1])
        np.testing.assert_allclose(trained.predict(movie, 4), expected, rtol=1e-4, atol=1e-3)
        trained.training["horizon_blend"] = [1.0]
        np.testing.assert_allclose(trained.predict(movie, 4), held, rtol=1e-4, atol=1e-3)
        trained.training["horizon_hold"] = hold_saved
        trained.training.pop("horizon_blend")  # models saved before the blend: no blend
        np.testing.assert_array_equal(trained.predict(movie, 4), raw)
    finally:
        trained.training["horizon_blend"] = saved
        trained.training["blend_anchor_sigma"] = sigma


def test_odd_frame_sizes_are_padded(trained, moving_square):
    # the network needs multiples of 2; whole frames of any size come back at their size
    assert trained.predict(moving_square(shape=(17, 21))[:3], 1).shape == (1, 17, 21)


def test_multichannel_movie(frame_tiny, moving_square):
    movies = [np.stack([moving_square(seed=s), moving_square(seed=s + 5)], axis=1)
              for s in range(2)]  # fmt: skip
    fp = FramePredictor(
        FramePredictionConfig(**{**frame_tiny, "val_fraction": 0.0, "blend_horizon": 0})
    )
    fp.train(movies)
    assert fp.training["horizon_blend"] is None  # blend turned off
    assert fp.predict(movies[0][:3], 3).shape == (3, 2, 20, 24)
    with pytest.raises(DataError, match="has 1 channel"):
        fp.predict(movies[0][:3, :1], 1)


def test_save_load_round_trip(trained, tmp_path, moving_square):
    trained.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert type(loaded) is FramePredictor
    movie = moving_square(seed=9)
    np.testing.assert_array_equal(loaded.predict(movie[:3], 3), trained.predict(movie[:3], 3))
    assert loaded.training["normalization"] == trained.training["normalization"]


# ---------------------------------------------------------------- evaluation / disk
def test_evaluate_rolls_origins_and_scores_baselines(trained, moving_square):
    movie = (moving_square(n_frames=9, seed=3)).astype(np.float32)
    ev = trained.evaluate([movie], n_context=6, horizon=2, data_range=60.0)
    table = ev.per_image
    # origins 6, 7, 8: horizons (1, 2), (1, 2), (1)
    assert list(zip(table["origin"], table["horizon"])) == [(6, 1), (6, 2), (7, 1), (7, 2), (8, 1)]
    for _, row in table.iterrows():
        o, h = int(row["origin"]), int(row["horizon"])
        expected = psnr(movie[o + h - 1], movie[o - 1], data_range=60.0)
        assert row["persistence_psnr"] == pytest.approx(expected)
    assert list(ev.summary["n"]) == [3, 2] and "linear_ssim" in ev.summary
    assert ev.headline().startswith("PSNR")
    assert len(ev.metrics) == 2 and ev.metrics[0].psnr == pytest.approx(ev.summary["psnr"][0])
    assert ev.metrics[0].data_range == 60.0
    # one square on a noisy background: found in every true frame; persistence copies it
    assert list(table["n_objects"]) == [1.0] * 5
    assert (table["persistence_count_error"] == 0).all()
    with pytest.raises(DataError, match="n_context=2: need >= 3"):
        trained.evaluate([movie], n_context=2, horizon=1)
    with pytest.raises(DataError, match="not more than n_context=9"):
        trained.evaluate([movie], n_context=9, horizon=1)


def test_evaluate_writes_tables_and_plot(trained, tmp_path, moving_square):
    movie = moving_square(n_frames=8, seed=5)
    ev = trained.evaluate([movie], n_context=5, horizon=2, objects="none",
                          output_dir=tmp_path / "ev")  # fmt: skip
    assert "count_error" not in ev.summary
    summary = pd.read_csv(tmp_path / "ev" / "horizon_summary.csv")
    np.testing.assert_allclose(summary["psnr"], ev.summary["psnr"])
    assert len(pd.read_csv(tmp_path / "ev" / "horizon_scores.csv")) == len(ev.per_image) == 5
    assert (tmp_path / "ev" / "horizon.png").stat().st_size > 0
    with pytest.raises(FileExistsError, match=r"horizon_summary\.csv exists"):
        trained.evaluate([movie], n_context=5, horizon=2, output_dir=tmp_path / "ev")
    mono = trained.evaluate([movie], n_context=6, horizon=1, objects={"kind": "monolayer"})
    assert {"gap_area", "gap_area_error", "linear_gap_area_error"} <= set(mono.summary)


def test_predict_to_disk_writes_stack_table_and_montage(trained, tmp_path, moving_square):
    movie = np.clip(moving_square(n_frames=8), 0, 255).astype(np.uint8)
    write_timelapse(tmp_path / "mov.tif", movie, axes="TYX")
    report = trained.predict_to_disk(tmp_path / "mov.tif", tmp_path / "out")
    assert report.failures == ()
    stack, meta = read_image(tmp_path / "out" / "mov_predicted.tif")
    assert stack.shape == (2, 20, 24) and meta.axes == "TYX"
    np.testing.assert_allclose(stack, trained.predict(movie, 2), rtol=1e-5, atol=1e-4)
    table = pd.read_csv(tmp_path / "out" / "mov_horizon.csv")
    assert list(table["horizon"]) == [1, 2] and list(table["origin"]) == [6, 6]
    expected = psnr(movie[6], movie[5])  # uint8: data range 255
    assert table["persistence_psnr"].iloc[0] == pytest.approx(expected)
    picture, _ = read_image(tmp_path / "out" / "mov_montage.png")
    assert picture.shape[:2] == (2 * 20 + 2, 3 * 24 + 4)
    # object scores beside the pixel scores; the per-horizon plot
    assert {"n_objects", "count_error", "persistence_mean_iou", "linear_object_f1"} <= set(table)
    assert (tmp_path / "out" / "mov_horizon.png").stat().st_size > 0
    with pytest.raises(FileExistsError):
        trained.predict_to_disk(tmp_path / "mov.tif", tmp_path / "out")


def test_errors(trained, frame_tiny, moving_square):
    fp = FramePredictor(FramePredictionConfig(**frame_tiny))
    with pytest.raises(DataError, match="targets must be None"):
        fp.train([moving_square()], [moving_square()])
    with pytest.raises(DataError, match="must be a list of movies"):
        fp.train(moving_square())
    with pytest.raises(DataError, match="a training window needs n_input"):
        fp.train([moving_square(n_frames=4)])
    with pytest.raises(RuntimeError, match="not trained"):
        fp.predict(moving_square()[:3])
    with pytest.raises(DataError, match="the model needs the last n_input=3"):
        trained.predict(moving_square()[:2])
    with pytest.raises(DataError, match="expected a 2D movie"):
        trained.predict(np.zeros((8, 8)))
    with pytest.raises(DataError, match="NaN"):
        trained.predict(np.full((3, 8, 8), np.nan))


def test_3d_movie_trains_and_forecasts():
    rng = np.random.default_rng(0)
    base = ndi.gaussian_filter(rng.random((10, 12, 12)), 2)
    movie = np.stack([np.roll(base, t, axis=2) for t in range(8)])[:, None].astype(np.float32)
    cfg = FramePredictionConfig(
        n_input=2, n_output=1, patch_shape=(8, 8, 8), samples_per_epoch=4, val_fraction=0.0,
        blend_horizon=0, model={"hid_s": 2, "hid_t": 4, "n_t": 1, "groups": 1, "n_s": 2},
        train={"epochs": 1, "batch_size": 2, "device": "cpu", "plot_every": 0, "amp": "none"},
    )  # fmt: skip
    fp = FramePredictor(cfg)
    fp.train([movie])
    # per-channel statistics over every frame and voxel (the 3D reshape keeps the channel)
    stats = fp.training["normalization"]
    assert len(stats["offset"]) == 1
    assert fp.predict(movie[:2], 3).shape == (3, 1, 10, 12, 12)
