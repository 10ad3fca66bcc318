"""Supervised CARE denoising on the CPU: biakit's ``Denoiser`` vs CAREamics 0.3.5, same budget.

Data (fixed seed): StarDist's shipped ``img2d.tif`` (512x512 nuclei), percentile-normalised
(1 / 99.8 %) as the clean image; the input is Poisson-Gaussian noise at low photon counts:
``noisy = (Poisson(PHOTONS * max(clean, 0)) + N(0, READ**2)) / PHOTONS`` with ``PHOTONS``
photons at the clean image's 99.8th percentile and a read noise of ``READ`` photons. Both
tools train on the top half (noisy -> clean) and restore the bottom half.

Scores (the same code for both): per image, the clean half normalised to its 0.1 / 99.9
percentiles, the prediction rescaled by :func:`biakit.metrics.normalize_minmse` (CARE's
affine least-squares fit), then :func:`biakit.metrics.restoration_metrics` with
``data_range=1``: PSNR and SSIM. Goal (issue 11): biakit's PSNR and SSIM >= CAREamics'.

Budget: both train for ``--minutes`` of wall-clock time AT THE SAME TIME, one process each
(CAREamics in its worker, biakit in this process), each limited to one thread
(``OMP_NUM_THREADS=1``): on a shared 2-core machine the load then hits both alike.
Both use 64x64 patches, batch 16 and 16 steps per epoch (CAREamics: ``num_steps=16``;
biakit: ``samples_per_epoch=256``), each with its own defaults otherwise (network,
optimiser, schedule, augmentation, validation). CAREamics is stopped by a callback once the
budget has passed (its ReduceLROnPlateau schedule needs no length). biakit is given the
budget as ``train.max_time`` with a large epoch count, as a user would: its cosine schedule
decays over the time budget (the trainer tracks the fraction of the budget used).

CAREamics runs in its own venv (create it once with ``benchmarks/_careamics_venv.py``);
without it the script runs biakit alone and says so. Run (about ``--minutes`` + 1 min)::

    .venv/bin/python benchmarks/bench_care_careamics.py [--minutes 3] [--photons 10]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch loads: one core each

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _careamics_venv import VENV_PYTHON  # noqa: E402

IMG2D = HERE / "_work" / "stardist_data" / "stardist" / "data" / "images" / "img2d.tif"
WORK = HERE / "_work" / "care_careamics"
PATCH, BATCH, STEPS_PER_EPOCH, SEED = (64, 64), 16, 16, 0


# ------------------------------------------------------------------ data and scores
def make_data(photons: float, read: float, seed: int = SEED) -> dict[str, np.ndarray]:
    """Clean / noisy halves of ``img2d.tif`` (float32, clean on a 0-1 percentile scale)."""
    import tifffile

    image = tifffile.imread(IMG2D).astype(np.float64)
    lo, hi = np.percentile(image, (1.0, 99.8))
    clean = (image - lo) / (hi - lo)
    rng = np.random.default_rng(seed)
    counts = rng.poisson(photons * np.clip(clean, 0, None)) + read * rng.standard_normal(
        clean.shape
    )
    noisy = counts / photons
    half = clean.shape[0] // 2
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    return {"train_noisy": f32(noisy[:half]), "train_clean": f32(clean[:half]),
            "test_noisy": f32(noisy[half:]), "test_clean": f32(clean[half:])}  # fmt: skip


def scores(pred: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """PSNR and SSIM after CARE's normalisation (see the module docstring)."""
    from biakit.metrics import normalize_minmse, restoration_metrics

    gt = clean.astype(np.float64)
    lo, hi = np.percentile(gt, (0.1, 99.9))
    gt = (gt - lo) / (hi - lo)
    m = restoration_metrics(gt, normalize_minmse(pred, gt), data_range=1.0)
    return {"psnr": float(m.psnr), "ssim": float(m.ssim)}


# ------------------------------------------------------------------ CAREamics worker
def _careamics_worker(spec_path: str) -> None:
    """Run in venv-careamics: train CARE for ``spec["seconds"]``, predict, save, report."""
    os.dup2(2, 1)  # Lightning prints to stdout: send it to the log
    from _careamics_venv import register_torchvision_stand_ins

    register_torchvision_stand_ins()
    from careamics import CAREamist
    from careamics.config import create_care_config
    from lightning.pytorch.callbacks import Callback

    spec = json.loads(Path(spec_path).read_text())
    data = np.load(spec["data"])

    class Budget(Callback):
        def __init__(self, seconds: float) -> None:
            self.seconds, self.start = seconds, time.perf_counter()

        def on_train_batch_end(self, trainer, *args: object) -> None:
            if time.perf_counter() - self.start >= self.seconds:
                trainer.should_stop = True

    config = create_care_config(
        experiment_name="care_bench", data_type="array", axes="YX", patch_size=list(PATCH),
        batch_size=BATCH, num_epochs=100_000, num_steps=STEPS_PER_EPOCH,
    )  # fmt: skip
    budget = Budget(spec["seconds"])
    cm = CAREamist(config, work_dir=spec["work"], callbacks=[budget], enable_progress_bar=False)
    budget.start = time.perf_counter()
    cm.train(train_data=data["train_noisy"], train_data_target=data["train_clean"])
    wall = time.perf_counter() - budget.start
    pred, _ = cm.predict(data["test_noisy"], axes="YX", data_type="array")
    np.save(spec["out"], np.asarray(pred, dtype=np.float32).reshape(data["test_noisy"].shape))
    info = {"wall_s": wall, "steps": int(cm.trainer.global_step),
            "epochs": int(cm.trainer.current_epoch)}  # fmt: skip
    Path(spec["out"]).with_suffix(".json").write_text(json.dumps(info))


def start_careamics(data_path: Path, seconds: float, work: Path) -> subprocess.Popen | None:
    """Start the CAREamics worker (training begins at once); None without its venv."""
    if not VENV_PYTHON.exists():
        print(f"CAREamics SKIPPED: {VENV_PYTHON} missing (create it with "
              "`.venv/bin/python benchmarks/_careamics_venv.py`); biakit runs alone")  # fmt: skip
        return None
    spec = {"data": str(data_path), "seconds": seconds, "work": str(work / "careamics"),
            "out": str(work / "careamics_pred.npy")}  # fmt: skip
    (work / "spec.json").write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH="", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    log = open(work / "careamics.log", "w")
    cmd = [str(VENV_PYTHON), __file__, "--careamics-worker", str(work / "spec.json")]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


# ------------------------------------------------------------------ biakit
def _config(epochs: int, max_time: float | None) -> object:
    from biakit.workflows import DenoiseConfig

    return DenoiseConfig(algorithm="care", patch_shape=PATCH, samples_per_epoch=BATCH *
                         STEPS_PER_EPOCH, seed=SEED, train={"epochs": epochs, "batch_size": BATCH,
                         "max_time": max_time, "device": "cpu", "plot_every": 0})  # fmt: skip


def biakit_care(data: dict, seconds: float) -> tuple[np.ndarray, dict]:
    """Train with ``train.max_time = seconds`` (the schedule follows the budget)."""
    from biakit.workflows import Denoiser

    x, y = [data["train_noisy"]], [data["train_clean"]]
    start = time.perf_counter()
    den = Denoiser(_config(100_000, seconds))
    hist = den.train(x, y)
    wall = time.perf_counter() - start
    t1 = time.perf_counter()
    pred = den.predict(data["test_noisy"])
    info = {
        "wall_s": wall,
        "steps": int(hist["steps"].iloc[-1]),
        "epochs": f"{len(hist)}",
        "predict_s": time.perf_counter() - t1,
    }
    return pred, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0, help="training budget of each tool")
    ap.add_argument("--photons", type=float, default=10.0, help="photons at the 99.8th pct")
    ap.add_argument("--read", type=float, default=2.0, help="read noise sd, in photons")
    ap.add_argument("--careamics-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.careamics_worker:
        return _careamics_worker(args.careamics_worker)
    if not IMG2D.exists():
        print(f"SKIPPED: {IMG2D} missing (see benchmarks/bench_restoration.py for how to get it)")
        return
    import torch

    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; load at start "
          f"{os.getloadavg()}; torch {torch.__version__}, {torch.get_num_threads()} thread(s) "
          f"per tool, both training at the same time")  # fmt: skip
    WORK.mkdir(parents=True, exist_ok=True)
    data = make_data(args.photons, args.read)
    seconds = 60.0 * args.minutes
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        work = Path(tmp)
        np.savez(work / "data.npz", **data)
        proc = start_careamics(work / "data.npz", seconds, work)
        pred, info = biakit_care(data, seconds)
        rows = {"noisy input": (scores(data["test_noisy"], data["test_clean"]), None),
                "biakit": (scores(pred, data["test_clean"]), info)}  # fmt: skip
        if proc is not None:
            rc = proc.wait(timeout=seconds + 600)
            out = work / "careamics_pred.npy"
            if rc == 0 and out.exists():
                c_info = json.loads(out.with_suffix(".json").read_text())
                rows["CAREamics"] = (scores(np.load(out), data["test_clean"]), c_info)
            else:
                tail = (work / "careamics.log").read_text().splitlines()[-15:]
                print(f"CAREamics FAILED (exit {rc}):\n" + "\n".join(tail))
    print(f"\nCARE on img2d.tif, {args.photons:g} photons, read noise {args.read:g}; train top "
          f"half, test bottom half; {args.minutes:g} min each, concurrently")  # fmt: skip
    for name, (s, extra) in rows.items():
        how = (
            ""
            if extra is None
            else "  "
            + ", ".join(
                f"{k} {v:.0f}" if isinstance(v, float) else f"{k} {v}" for k, v in extra.items()
            )
        )
        print(f"  {name:12s} PSNR {s['psnr']:.2f} dB  SSIM {s['ssim']:.4f}{how}")
    if "CAREamics" in rows:
        b, c = rows["biakit"][0], rows["CAREamics"][0]
        print(f"  biakit - CAREamics: PSNR {b['psnr'] - c['psnr']:+.2f} dB, SSIM "
              f"{b['ssim'] - c['ssim']:+.4f}  (goal: both >= 0)")  # fmt: skip
    print(f"load at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
