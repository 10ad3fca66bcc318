"""U-Net on the CPU: biakit.nn (training + tiled prediction) vs BiaPy 3.7, side by side.

Both sides get the same synthetic nuclei (``biakit.data.synthetic_nuclei``: ``--train-images``
images of 512x512 for training, one for validation, one ``--test-size`` square image for
prediction), the same 2D U-Net (depth 4, feature maps 16-32-64-128-256, instance norm: BiaPy's
default ``unet``), the same 256x256x1 patches, batch size 8, AdamW (lr 1e-4, weight decay
0.02, BiaPy's defaults), no augmentation, z-score normalisation per image, the same number of
training steps (BiaPy cuts each training image into non-overlapping 256x256 patches, held in
memory; biakit's ``PatchDataset`` draws the same number of patches per epoch), and the same
tiling for prediction (256x256 tiles, 32 px of context on each side: BiaPy's
``DATA.TEST.PADDING: (32, 32)`` from its 2D templates).

Precision: BiaPy 3.7 runs float32 (no autocast or GradScaler anywhere in its code). biakit
runs twice: ``amp="auto"``, its default, which on a CPU with native bfloat16 (AVX512-BF16 or
AMX) trains and predicts under bf16 autocast (weights and optimiser in float32), and
``amp="none"`` (float32, the like-for-like figure); ``--amp`` picks which.

What is timed
-------------
* Training: the wall time of each epoch of the training loop proper. BiaPy: the calls to
  ``biapy.engine.train_one_epoch`` (forward, loss, per-step IoU, backward, AdamW step; its
  validation pass and checkpoint saving are outside). biakit: the time between two records
  of ``Trainer.iter_fit`` (no validation set; includes writing ``last.pt`` each epoch).
  The first epoch is reported apart (warm-up); patches/s is the median over the later ones.
* Prediction: BiaPy's ``process_test_sample`` for the test image (crop into padded patches,
  per-patch prediction in batches of 8, blended merge, Otsu binarisation) minus the time spent
  in ``save_tif`` writing its results; reading the image and loading the checkpoint are
  outside. The network part alone (``predict_batches_in_test``) is printed too. biakit:
  ``predict_tiled(model, image, tile_shape=(256, 256), batch_size=8)`` with 32 px of context,
  returning probabilities in memory, once with ``blending="none"`` (the same 121 tiles as
  BiaPy on a 2048^2 image) and once with its default ``"gaussian"`` (more tiles: 196).
  "best" is the fastest epoch, a guard against other processes on a busy machine.

BiaPy runs in its own virtual environment, started from this script with ``subprocess``
(``--biapy-worker``, which imports only BiaPy and NumPy, never biakit); set it up once with::

    python3 -m venv benchmarks/_work/venv-biapy
    benchmarks/_work/venv-biapy/bin/pip install biapy==3.7.0

BiaPy 3.7.0 pins ``torch>=2.12,<2.13`` and ``torchvision>=0.27,<0.28``, so pip takes torch
2.12.1 and torchvision 0.27.1 from PyPI (for x86_64 a CUDA build, about 6 GB in the venv; it
runs on the CPU). Without that venv the script times biakit alone and says so; without
``biakit.nn`` it prints "biakit.nn not available yet" and reports BiaPy alone.

Run (about 6-8 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_biapy_unet.py [--train-images 6] [--epochs 3] \
        [--test-size 2048] [--blending none gaussian]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _biapy_venv import run_worker

ROOT = Path(__file__).resolve().parents[1]
PATCH = 256
BATCH = 8
FEATURE_MAPS = [16, 32, 64, 128, 256]
LR, WEIGHT_DECAY = 1e-4, 0.02
CONTEXT = 32  # pixels of context on each side of a prediction tile (BiaPy DATA.TEST.PADDING)
TRAIN_SIZE = 512

BIAPY_CONFIG = """\
SYSTEM:
  NUM_CPUS: -1
  NUM_WORKERS: 0
  SEED: 0
PROBLEM:
  TYPE: SEMANTIC_SEG
  NDIM: 2D
DATA:
  PATCH_SIZE: ({patch}, {patch}, 1)
  N_CLASSES: 2
  NORMALIZATION:
    TYPE: zero_mean_unit_variance
  TRAIN:
    PATH: {data}/train/x
    GT_PATH: {data}/train/y
    IN_MEMORY: True
  VAL:
    FROM_TRAIN: False
    PATH: {data}/val/x
    GT_PATH: {data}/val/y
    IN_MEMORY: True
  TEST:
    PATH: {data}/test/x
    IN_MEMORY: True
    LOAD_GT: False
    PADDING: ({context}, {context})
AUGMENTOR:
  ENABLE: False
MODEL:
  ARCHITECTURE: unet
  FEATURE_MAPS: {feature_maps}
  LOAD_CHECKPOINT: False
TRAIN:
  ENABLE: True
  OPTIMIZER: ADAMW
  LR: {lr}
  W_DECAY: {weight_decay}
  BATCH_SIZE: {batch}
  EPOCHS: {epochs}
  PATIENCE: -1
TEST:
  ENABLE: True
  FULL_IMG: False
"""


# --------------------------------------------------------------------------- data


def make_data(folder: Path, n_train: int, test_size: int) -> dict[str, list[np.ndarray]]:
    """Write the synthetic data set as TIFF files (BiaPy's layout) and return it in memory."""
    import tifffile

    from biakit.data import synthetic_nuclei

    per_area = 120 / 512**2  # nuclei per pixel, as in the other benchmarks
    sets = {"train": [(TRAIN_SIZE, i) for i in range(n_train)], "val": [(TRAIN_SIZE, 100)]}
    sets["test"] = [(test_size, 200)]
    data: dict[str, list[np.ndarray]] = {}
    for name, items in sets.items():
        (folder / name / "x").mkdir(parents=True, exist_ok=True)
        (folder / name / "y").mkdir(parents=True, exist_ok=True)
        for k, (size, seed) in enumerate(items):
            s = synthetic_nuclei(
                (size, size), n_objects=int(per_area * size**2), touching=0.3, seed=seed
            )
            mask = s.mask.astype(np.uint8)
            tifffile.imwrite(folder / name / "x" / f"{name}{k:02d}.tif", s.image)
            tifffile.imwrite(folder / name / "y" / f"{name}{k:02d}.tif", mask)
            data.setdefault(f"{name}_x", []).append(s.image)
            data.setdefault(f"{name}_y", []).append(mask)
    return data


# --------------------------------------------------------------------------- BiaPy side


def _biapy_worker(spec_path: str) -> None:
    """Run inside venv-biapy: train + test with BiaPy, time its own loop, write JSON."""
    import torch
    from biapy import BiaPy
    from biapy.data import data_manipulation
    from biapy.engine import base_workflow, semantic_seg

    spec = json.loads(Path(spec_path).read_text())
    times: dict[str, list[float]] = {"epoch": [], "steps": [], "sample": [], "net": [], "save": []}

    def timed(fn, key, steps=False):
        def wrapper(*a, **k):
            start = time.perf_counter()
            out = fn(*a, **k)
            times[key].append(time.perf_counter() - start)
            if steps:
                times["steps"].append(out[1] + 1)  # returns the last step index
            return out

        return wrapper

    base_workflow.train_one_epoch = timed(base_workflow.train_one_epoch, "epoch", steps=True)
    base_workflow.save_tif = timed(base_workflow.save_tif, "save")
    semantic_seg.save_tif = timed(data_manipulation.save_tif, "save")
    cls = base_workflow.Base_Workflow
    cls.process_test_sample = timed(cls.process_test_sample, "sample")
    cls.predict_batches_in_test = timed(cls.predict_batches_in_test, "net")

    start = time.perf_counter()
    job = BiaPy(spec["config"], result_dir=spec["result_dir"], name="bench", run_id=1, gpu="")
    job.run_job()
    model = job.workflow.model_without_ddp
    result = {
        "times": times,
        "total_s": time.perf_counter() - start,
        "params": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "amp": "none (fp32: BiaPy 3.7 has no autocast/GradScaler)",
    }
    Path(spec["out"]).write_text(json.dumps(result))


def run_biapy(work: Path, epochs: int, test_mp: float) -> dict | None:
    """Write BiaPy's YAML config, run it in its venv and return patches/s and MP/s."""
    config = work / "biapy.yaml"
    config.write_text(
        BIAPY_CONFIG.format(
            patch=PATCH,
            data=work / "data",
            context=CONTEXT,
            feature_maps=FEATURE_MAPS,
            lr=LR,
            weight_decay=WEIGHT_DECAY,
            batch=BATCH,
            epochs=epochs,
        )
    )
    spec = {"config": str(config), "result_dir": str(work / "biapy"), "out": str(work / "b.json")}
    res = run_worker(__file__, spec, work, "running")
    if res is None:
        return None
    t = res["times"]
    sample_s = t["sample"][0] - sum(t["save"])
    return {
        "epoch_s": t["epoch"],
        "steps": t["steps"],
        "patches_s": _patches_per_s(t["epoch"], t["steps"]),
        "infer_s": sample_s,
        "net_s": t["net"][0],
        "mp_s": test_mp / sample_s,
        "params": res["params"],
        "info": f"torch {res['torch']}, {res['threads']} threads, AMP: {res['amp']}",
    }


def _patches_per_s(epoch_s: list[float], steps: list[int]) -> float:
    """Median patches/s over the epochs after the first (all epochs if there is only one)."""
    pairs = list(zip(epoch_s, steps))[1:] or list(zip(epoch_s, steps))
    return statistics.median(n * BATCH / s for s, n in pairs)


def _best_patches_per_s(r: dict) -> float:
    """Patches/s of the fastest epoch: less sensitive to other processes on a busy machine."""
    return max(n * BATCH / s for s, n in zip(r["epoch_s"], r["steps"]))


# --------------------------------------------------------------------------- biakit side


def run_biakit(
    work: Path, data: dict, epochs: int, blendings: list[str], amp: str = "auto"
) -> dict | None:
    """Train and predict with biakit.nn on the same data; None if it is not importable."""
    try:
        import torch

        from biakit.nn.datasets import Normalizer, PatchDataset
        from biakit.nn.infer import predict_tiled
        from biakit.nn.models import UNet, UNetConfig
        from biakit.nn.train import TrainConfig, Trainer
    except ImportError as exc:
        print(f"biakit.nn not available yet ({exc})")
        return None
    print(f"biakit: training (amp={amp}) ...", flush=True)
    torch.manual_seed(0)
    model = UNet(
        UNetConfig(
            ndim=2, in_channels=1, out_channels=2, depth=len(FEATURE_MAPS) - 1,
            base_filters=FEATURE_MAPS[0], norm="instance", upsampling="transposed",
        )
    )  # fmt: skip
    n_patches = len(data["train_x"]) * (TRAIN_SIZE // PATCH) ** 2  # as BiaPy cuts them
    ds = PatchDataset(
        [x[None] for x in data["train_x"]],
        [y.astype(np.int64) for y in data["train_y"]],
        (PATCH, PATCH),
        samples_per_epoch=n_patches,
        normalizer=Normalizer(kind="zscore"),
        seed=0,
    )
    cfg = TrainConfig(
        epochs=epochs, batch_size=BATCH, lr=LR, optimizer="adamw", weight_decay=WEIGHT_DECAY,
        schedule="none", loss="ce", amp=amp, device="cpu", num_workers=0, seed=0,
        plot_every=0,
    )  # fmt: skip
    trainer = Trainer(model, cfg, ds, None, output_dir=work / "biakit", overwrite=True)
    dtype = {None: "float32"}.get(trainer.amp_dtype, str(trainer.amp_dtype))
    epoch_s, last = [], time.perf_counter()
    for _record in trainer.iter_fit():
        now = time.perf_counter()
        epoch_s.append(now - last)
        last = now
    steps = [-(-n_patches // BATCH)] * len(epoch_s)
    image = Normalizer(kind="zscore")(data["test_x"][0][None])
    infer = {}
    for blending in blendings:
        print(f"biakit: predicting (blending={blending}, amp={amp}) ...", flush=True)
        tiles = []
        start = time.perf_counter()
        predict_tiled(
            model, image, tile_shape=(PATCH, PATCH), overlap=CONTEXT, batch_size=BATCH,
            blending=blending, device="cpu", activation="softmax", amp=amp,
            progress=lambda done, total, t=tiles: t.append(total),
        )  # fmt: skip
        infer[blending] = (time.perf_counter() - start, tiles[-1] if tiles else "?")
    return {
        "epoch_s": epoch_s,
        "steps": steps,
        "patches_s": _patches_per_s(epoch_s, steps),
        "infer": infer,
        "params": sum(p.numel() for p in model.parameters()),
        "info": f"torch {torch.__version__}, {torch.get_num_threads()} threads, amp={amp} "
        f"-> {dtype}",
    }


# --------------------------------------------------------------------------- report


def report(bp: dict | None, runs: dict[str, dict], test_mp: float) -> None:
    """Print the figures of every side and the ratios (biakit / BiaPy throughput)."""
    rows = [("BiaPy 3.7", bp)] + [(f"biakit {amp}", r) for amp, r in runs.items()]
    print(f"\n{'':12s} {'params':>9s} {'epochs (s)':>24s} {'patches/s':>10s} {'best':>6s}")
    for name, r in rows:
        if r:
            ep = " ".join(f"{s:.1f}" for s in r["epoch_s"])
            best = _best_patches_per_s(r)
            print(f"{name:12s} {r['params']:9d} {ep:>24s} {r['patches_s']:10.2f} {best:6.2f}")
            print(f"{'':12s} {r['info']}")
    if bp:
        print(
            f"\nBiaPy prediction {test_mp:.2f} MP: {bp['infer_s']:.1f} s -> {bp['mp_s']:.3f} MP/s "
            f"(network alone {bp['net_s']:.1f} s)"
        )
    for amp, bk in runs.items():
        for blending, (sec, tiles) in bk["infer"].items():
            print(
                f"biakit (amp={amp}) prediction {test_mp:.2f} MP, blending={blending}: "
                f"{sec:.1f} s, {tiles} tiles -> {test_mp / sec:.3f} MP/s"
            )
    if not bp:
        return
    print()
    for amp, bk in runs.items():
        ratio, best = bk["patches_s"] / bp["patches_s"], _best_patches_per_s(bk)
        best /= _best_patches_per_s(bp)
        print(
            f"training  biakit (amp={amp}) / BiaPy: {ratio:.2f}x median, {best:.2f}x best "
            "(goal 1.5x)"
        )
        for blending, (sec, _) in bk["infer"].items():
            ratio = (test_mp / sec) / bp["mp_s"]
            print(f"inference biakit (amp={amp}, {blending}) / BiaPy: {ratio:.2f}x (goal 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-images", type=int, default=6, help="512x512 images (even)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--test-size", type=int, default=2048)
    parser.add_argument("--blending", nargs="+", default=["none", "gaussian"])
    parser.add_argument(
        "--amp", nargs="+", default=["auto", "none"],
        help="biakit precision(s): auto = its default (bf16 on CPUs with native bf16), none = fp32",
    )  # fmt: skip
    parser.add_argument("--skip-biapy", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args()
    if args.train_images < 2 or args.train_images % 2:
        parser.error(f"--train-images must be even and >= 2, got {args.train_images}")

    with tempfile.TemporaryDirectory(prefix="bench_biapy_") as tmp:
        work = (args.workdir or Path(tmp)).resolve()
        data = make_data(work / "data", args.train_images, args.test_size)
        test_mp = args.test_size**2 / 1e6
        n_patches = args.train_images * (TRAIN_SIZE // PATCH) ** 2
        print(
            f"U-Net {FEATURE_MAPS}, patches {PATCH}x{PATCH}x1, batch {BATCH}, {n_patches} patches "
            f"x {args.epochs} epochs, test image {args.test_size}^2, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        bp = None if args.skip_biapy else run_biapy(work, args.epochs, test_mp)
        runs = {}
        for amp in args.amp:
            run = run_biakit(work, data, args.epochs, args.blending, amp)
            if run is not None:
                runs[amp] = run
        report(bp, runs, test_mp)
        print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--biapy-worker":
        _biapy_worker(sys.argv[2])
    else:
        main()
