"""Does the structured-noise advice pay? N2V against structN2V on noise correlated along X.

``img2d.tif`` (StarDist's wheel), percentile-normalised, under Poisson noise at 20 photons
plus Gaussian noise averaged over ``--length`` pixels along X (line-scan stripes). biakit
measures the noise structure (:func:`biakit.preprocess.noise_structure`), then trains
three denoisers the same number of steps: N2V (the default), structN2V with the advised
axis and line, and structN2V with a line as long as the averaging (CAREamics' examples
mask the correlated extent). The peer: CAREamics 0.3.5's structN2V
(``create_structn2v_config``, ``struct_n2v_axes="horizontal"``, its default span 5 = a
masked line of 11 pixels; patches 64 x 64, its batch of 16 where biakit's default is 8, the
same number of steps) in its own
venv (``benchmarks/_careamics_venv.py``). Each restores the image; PSNR / SSIM against the
clean image (after CARE's affine fit) and the error's neighbour correlation along X (what
is left of the stripes: near 0 when they are removed) are printed.

Run: ``.venv/bin/python benchmarks/bench_structn2v.py [--steps 400] [--length 5]``
(about 4 minutes per 400 steps and run on 2 cores).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
IMG2D = HERE / "_work" / "stardist_data" / "stardist" / "data" / "images" / "img2d.tif"
WORK = HERE / "_work" / "structn2v"
sys.path.insert(0, str(HERE))


def _careamics_worker(spec_path: str) -> None:
    """Run in venv-careamics: train CAREamics' structN2V, predict, save the restoration."""
    os.dup2(2, 1)  # Lightning prints to stdout: keep it in the log
    from _careamics_venv import register_torchvision_stand_ins

    register_torchvision_stand_ins()
    from careamics import CAREamist
    from careamics.config import create_structn2v_config

    spec = json.loads(Path(spec_path).read_text())
    noisy = np.load(spec["data"])
    from lightning.pytorch.callbacks import Callback

    class Steps(Callback):  # an epoch is the patches one image gives: stop at the step count
        def on_train_batch_end(self, trainer, *args: object) -> None:
            if trainer.global_step >= spec["steps"]:
                trainer.should_stop = True

    config = create_structn2v_config(
        "structn2v_bench", data_type="array", axes="YX", patch_size=[64, 64], batch_size=16,
        struct_n2v_axes="horizontal", num_epochs=100_000,
    )  # fmt: skip
    cm = CAREamist(config, work_dir=spec["work"], callbacks=[Steps()], enable_progress_bar=False)
    t0 = time.perf_counter()
    cm.train(train_data=noisy)
    wall = time.perf_counter() - t0
    pred, _ = cm.predict(noisy, axes="YX", data_type="array")
    np.save(spec["pred"], np.asarray(pred, dtype=np.float32).reshape(noisy.shape))
    Path(spec["out"]).write_text(json.dumps({"wall_s": wall, "steps": cm.trainer.global_step}))


def careamics_structn2v(noisy: np.ndarray, steps: int) -> tuple[np.ndarray, dict] | None:
    """CAREamics' structN2V restoration of ``noisy`` after ``steps`` steps, or None."""
    from _careamics_venv import run_worker

    WORK.mkdir(parents=True, exist_ok=True)
    np.save(WORK / "noisy.npy", noisy)
    spec = {
        "data": str(WORK / "noisy.npy"),
        "steps": steps,
        "work": str(WORK / "careamics"),
        "pred": str(WORK / "careamics_pred.npy"),
        "out": str(WORK / "careamics.json"),
    }
    info = run_worker(__file__, spec, WORK, f"structN2V, {steps} steps", timeout=3600)
    return None if info is None else (np.load(spec["pred"]), info)


def striped_pair(length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy, clean)``: img2d.tif at 20 photons plus stripes averaged over ``length`` px."""
    import tifffile
    from scipy import ndimage as ndi

    img = tifffile.imread(IMG2D).astype(np.float64)
    lo, hi = np.percentile(img, [1, 99.8])
    clean = np.clip((img - lo) / (hi - lo), 0, None)
    rng = np.random.default_rng(seed)
    photons = rng.poisson((clean + 0.05) * 20) / 20.0
    stripes = ndi.uniform_filter1d(rng.standard_normal(clean.shape), length, axis=-1)
    noisy = photons + 0.15 * stripes * np.sqrt(length)  # stripe sd 0.15 per pixel
    return noisy.astype(np.float32), clean.astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--length", type=int, default=5)
    ap.add_argument("--careamics-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.careamics_worker:  # in CAREamics' venv: no biakit there
        return _careamics_worker(args.careamics_worker)
    import torch

    from biakit.metrics import normalize_minmse, restoration_metrics
    from biakit.preprocess import noise_structure
    from biakit.workflows import DenoiseConfig, Denoiser

    if not IMG2D.exists():
        sys.exit(f"{IMG2D} missing: unpack StarDist's wheel there (see benchmarks/README.md)")
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, load "
          f"{os.getloadavg()[0]:.1f}, torch {torch.__version__}")  # fmt: skip
    noisy, clean = striped_pair(args.length)
    found = noise_structure(noisy)
    print(f"noise structure: correlation (Y, X) {tuple(round(c, 3) for c in found.correlation)}"
          f", axis {found.axis}, line {found.line}")  # fmt: skip
    base = {"train": {"epochs": args.steps // 16, "device": "cpu", "plot_every": 0},
            "samples_per_epoch": 16 * 16}  # fmt: skip
    runs = {
        "n2v (default)": {},
        f"structn2v, advised line {found.line}": {"algorithm": "structn2v", "struct_axis": -1,
                                                  "struct_length": found.line},
        f"structn2v, line {2 * (args.length // 2) + 1}": {
            "algorithm": "structn2v", "struct_axis": -1,
            "struct_length": 2 * (args.length // 2) + 1},
    }  # fmt: skip
    psnr_noisy = restoration_metrics(clean, normalize_minmse(noisy, clean), data_range=1.0).psnr
    print(f"noisy input: PSNR {psnr_noisy:.2f} dB")

    def report(name: str, restored: np.ndarray, seconds: float) -> None:
        m = restoration_metrics(clean, normalize_minmse(restored, clean), data_range=1.0)
        left = noise_structure(restored - clean).correlation[-1]
        print(
            f"{name:38s} PSNR {m.psnr:.2f} dB  SSIM {m.ssim:.3f}  error's X correlation "
            f"{left:+.2f}  ({seconds:.0f} s)",
            flush=True,
        )

    peer = careamics_structn2v(noisy, args.steps)
    if peer is not None:
        report("CAREamics structn2v (span 5: line 11)", peer[0], peer[1]["wall_s"])
    for name, extra in runs.items():
        den = Denoiser(DenoiseConfig(**{**base, **extra}))
        t0 = time.perf_counter()
        den.train([noisy])
        report(f"biakit {name}", den.predict(noisy), time.perf_counter() - t0)


if __name__ == "__main__":
    main()
