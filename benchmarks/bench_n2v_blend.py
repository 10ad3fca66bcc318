"""Noise2Void with and without the blind-spot blend (``DenoiseConfig.blend_input``).

N2V predicts each pixel from its neighbours only; biakit gives the pixel's own value back
with the weight that minimises the expected squared error given the noise variance it
measures on the image and the share ``a`` of the pixel the network kept anyway
(:func:`biakit.nn.infer.blind_spot_weights`, :func:`~biakit.nn.infer.centre_gain`).
This script trains biakit's default N2V once per case and restores the noisy images
twice, with and without the blend (the same network, the same TTA), so the difference is
the blend alone. The peer is N2V as CAREamics and the N2V paper predict: the network's
output.

Cases (fixed seeds; PSNR on the clean image's range, no clipping):

* ``bsd68``: the BSD68-style set of ``bench_n2v_careamics.py`` (Gaussian sigma 25 on
  0-255 natural images), 800 steps, the 68 test crops.
* StarDist's ``img2d.tif`` (fluorescent nuclei, percentile-normalised) under photon
  noise, trained on the image itself (400 steps): ``pg10`` (10 photons at the 99.8th
  percentile + 2% background, read noise sd 2), ``poisson3`` (3 photons, no background or
  read noise: mostly exact zeros), ``poisson3_8bit`` (the same stretched and saved as
  8-bit, clipped at 255), ``hot_pixels`` (``pg10`` with 0.2% pixels at 20x the maximum),
  ``correlated`` (Gaussian noise blurred with sigma 0.8 px: not what N2V assumes).

Run: ``.venv/bin/python benchmarks/bench_n2v_blend.py [--cases bsd68 pg10 ...]
[--algorithm n2v|n2v2]`` (about 9 minutes on 2 cores per algorithm).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
IMG2D = HERE / "_work" / "stardist_data" / "stardist" / "data" / "images" / "img2d.tif"


def _psnr(pred: np.ndarray, ref: np.ndarray) -> float:
    rng = float(ref.max() - ref.min())
    return float(10 * np.log10(rng**2 / np.mean((np.asarray(pred, np.float64) - ref) ** 2)))


def _fluorescence_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``name -> (noisy, expected)``: expected = the noise-free signal on the same scale."""
    import tifffile
    from scipy import ndimage as ndi

    img = tifffile.imread(IMG2D).astype(np.float64)
    lo, hi = np.percentile(img, [1, 99.8])
    clean = np.clip((img - lo) / (hi - lo), 0, None)
    rng = np.random.default_rng(1)
    lam10 = (clean + 0.02) * 10
    pg10 = rng.poisson(lam10) + 2.0 * rng.standard_normal(clean.shape)
    lam3 = clean * 3
    p3 = rng.poisson(lam3).astype(np.float64)
    gain8 = 255.0 / np.percentile(p3, 99.5)
    hot = pg10.copy()
    where = rng.choice(hot.size, hot.size // 500, replace=False)
    hot.flat[where] = 20 * pg10.max()
    blur = ndi.gaussian_filter(rng.standard_normal(clean.shape), 0.8)
    return {
        "pg10": (pg10, lam10),
        "poisson3": (p3, lam3),
        "poisson3_8bit": (np.clip(np.round(p3 * gain8), 0, 255), lam3 * gain8),
        "hot_pixels": (hot, lam10),
        "correlated": (100 * clean + 10 * blur / blur.std(), 100 * clean),
    }


def _config(steps: int, seed: int = 0, algorithm: str = "n2v") -> object:
    from biakit.workflows import DenoiseConfig

    train = {"epochs": steps // 16, "batch_size": 16, "device": "cpu"}
    return DenoiseConfig(algorithm=algorithm, patch_shape=(64, 64), samples_per_epoch=256,
                         seed=seed, train=train)  # fmt: skip


def _restore(den: object, images: list) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Both predictions (blend on / off), and the seconds each took for all images."""
    t0 = time.perf_counter()
    plain = np.stack([den.predict(x, blend_input=False) for x in images])
    t1 = time.perf_counter()
    blended = np.stack([den.predict(x) for x in images])
    return plain, blended, t1 - t0, time.perf_counter() - t1


def run_case(name: str, algorithm: str = "n2v") -> dict[str, object]:
    from biakit.workflows import Denoiser

    if name == "bsd68":
        from _bsd68_data import TRAIN, make_data

        data = make_data()
        train = [data[f"train_{i}"] for i in range(len(TRAIN))]
        images, refs, steps = list(data["test_noisy"]), data["test_clean"], 800
    else:
        noisy, ref = _fluorescence_cases()[name]
        train, images, refs, steps = [noisy.astype(np.float32)], [noisy], ref[None], 400
    den = Denoiser(_config(steps, algorithm=algorithm))
    t0 = time.perf_counter()
    den.train(train)
    seconds = time.perf_counter() - t0
    plain, blended, t_plain, t_blend = _restore(den, images)
    tta = den.config.resolved_tta
    used = [den.blend_weights(x[None].astype(np.float32), den.norm_stats(x[None]), tta=tta,
                              prediction=p[None]) for x, p in zip(images, plain)]  # fmt: skip
    w = [b.weights[0] for b in used]
    score = lambda preds: float(np.mean([_psnr(p, r) for p, r in zip(preds, refs)]))  # noqa: E731
    return {"case": name, "steps": steps, "train_s": seconds,
            "noisy": score(np.stack(images)), "n2v": score(plain), "blend": score(blended),
            "w": float(np.mean(w)), "gain": float(np.mean([b.centre_gains[0] for b in used])),
            "predict_s": t_plain, "predict_blend_s": t_blend}  # fmt: skip


def main() -> None:
    import torch

    cases = ["bsd68", "pg10", "poisson3", "poisson3_8bit", "hot_pixels", "correlated"]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="+", default=cases, choices=cases)
    ap.add_argument("--algorithm", default="n2v", choices=["n2v", "n2v2"])
    args = ap.parse_args()
    import os

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {os.getloadavg()}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{args.algorithm}")  # fmt: skip
    print(f"{'case':14s} {'steps':>5s} {'noisy':>7s} {'N2V':>7s} {'+blend':>7s} {'diff':>6s} "
          f"{'w':>6s} {'a':>6s} {'predict s (off / on)':>21s}")  # fmt: skip
    for name in args.cases:
        r = run_case(name, args.algorithm)
        print(f"{r['case']:14s} {r['steps']:5d} {r['noisy']:7.2f} {r['n2v']:7.2f} "
              f"{r['blend']:7.2f} {r['blend'] - r['n2v']:+6.2f} {r['w']:6.3f} {r['gain']:6.3f} "
              f"{r['predict_s']:10.1f} / {r['predict_blend_s']:.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
