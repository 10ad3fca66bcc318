"""Instance segmentation of real 2D nuclei: biakit vs BiaPy 3.7, same data, network and time.

The data is the one real, fully annotated 2D nuclei image that ships inside an installed
package: StarDist's ``img2d.tif`` / ``mask2d.tif`` (512x512 fluorescence nuclei from the
2018 Data Science Bowl, 125 labelled nuclei, about 24 px wide). It is read from the files
(StarDist is not imported) in the StarDist reference venv ``benchmarks/_work/venv-stardist``
or in any environment where ``stardist`` is installed; ``--image/--labels`` take other files.

The image is cut along X: both tools train on the left half (its last quarter along Y is
the validation image: best checkpoint, and biakit's decoding thresholds) and are scored on
the right half, whose 57 nuclei neither has seen. Nuclei cut by the split count in both
halves' truths. Both get:

* the same plain 2D U-Net: depth 4, feature maps 16-32-64-128-256, batch norm, transposed
  up-sampling (BiaPy ``MODEL.ARCHITECTURE: unet``, ``FEATURE_MAPS``, ``NORMALIZATION: bn``);
* the same 128x128 random patches, 48 per epoch (BiaPy: ``EXTRACT_RANDOM_PATCH`` with the
  training image replicated 48 times), batch size 6, AdamW at lr 1e-3, flips and 90-degree
  rotations as augmentation;
* the same wall-clock training budget (``--minutes``, default 10): biakit's
  ``TrainConfig.max_time``; BiaPy gets a very large ``TRAIN.EPOCHS`` and its early-stopping
  callback is replaced by one that stops after the first epoch ending past the budget.

Each tool keeps its own targets and decoding: BiaPy its default foreground + contour
channels (``DATA_CHANNELS: [F, C]``) with its marker-controlled watershed and automatic
thresholds; biakit its default foreground + contour + distance encoding with the watershed
thresholds tuned on the validation image. Both label images are scored here with
:func:`biakit.metrics.match_instances` (StarDist-compatible matching) at IoU 0.5 and 0.75;
the classical pipeline (``Pipeline.default()``) is printed as a reference.

BiaPy runs in its own venv (``benchmarks/_work/venv-biapy``, ``pip install biapy==3.7.0``;
see ``bench_biapy_unet.py``), started with ``subprocess``; the worker imports BiaPy and NumPy
only. Without that venv the script reports biakit alone.

Run (about 2 x ``--minutes`` plus 2 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_biapy_instance.py [--minutes 10] [--skip-biapy]

The script exits 1 if biakit's F1 at IoU 0.5 is below the goal (0.9).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _biapy_venv import run_worker

ROOT = Path(__file__).resolve().parents[1]
PATCH, BATCH, SAMPLES, LR = 128, 6, 48, 1e-3
FEATURE_MAPS = [16, 32, 64, 128, 256]
GOAL_F1 = 0.9

BIAPY_CONFIG = """\
SYSTEM:
  NUM_CPUS: -1
  NUM_WORKERS: 0
  SEED: 0
PROBLEM:
  TYPE: INSTANCE_SEG
  NDIM: 2D
  INSTANCE_SEG:
    DATA_CHANNELS: [F, C]
DATA:
  PATCH_SIZE: ({patch}, {patch}, 1)
  NORMALIZATION:
    TYPE: zero_mean_unit_variance
  TRAIN:
    PATH: {data}/train/x
    GT_PATH: {data}/train/y
    IN_MEMORY: True
    EXTRACT_RANDOM_PATCH: True
    REPLICATE: {samples}
  VAL:
    FROM_TRAIN: False
    PATH: {data}/val/x
    GT_PATH: {data}/val/y
    IN_MEMORY: True
  TEST:
    PATH: {data}/test/x
    IN_MEMORY: True
    LOAD_GT: False
AUGMENTOR:
  ENABLE: True
  VFLIP: True
  HFLIP: True
  ROT90: True
MODEL:
  ARCHITECTURE: unet
  FEATURE_MAPS: {feature_maps}
  NORMALIZATION: bn
  LOAD_CHECKPOINT: False
TRAIN:
  ENABLE: True
  OPTIMIZER: ADAMW
  LR: {lr}
  BATCH_SIZE: {batch}
  EPOCHS: 100000
  PATIENCE: -1
TEST:
  ENABLE: True
  FULL_IMG: False
"""


# --------------------------------------------------------------------------- data


def find_sample() -> tuple[Path, Path]:
    """Locate StarDist's shipped ``img2d.tif`` / ``mask2d.tif`` without importing StarDist."""
    folders = []
    spec = importlib.util.find_spec("stardist")
    if spec is not None and spec.submodule_search_locations:
        folders += [Path(p) / "data" / "images" for p in spec.submodule_search_locations]
    venvs = ROOT / "benchmarks" / "_work"
    folders += sorted(venvs.glob("venv-*/lib/python*/site-packages/stardist/data/images"))
    for folder in folders:
        if (folder / "img2d.tif").is_file() and (folder / "mask2d.tif").is_file():
            return folder / "img2d.tif", folder / "mask2d.tif"
    raise SystemExit(
        "StarDist's sample image was not found: pip install stardist into "
        "benchmarks/_work/venv-stardist, or pass --image and --labels"
    )


def split_halves(image: np.ndarray, labels: np.ndarray) -> dict[str, tuple[np.ndarray, ...]]:
    """Left half = training (last quarter along Y for validation), right half = test."""
    from biakit.postprocess import relabel_sequential

    half, cut = image.shape[1] // 2, image.shape[0] * 3 // 4
    left, right = (image[:, :half], labels[:, :half]), (image[:, half:], labels[:, half:])
    parts = {
        "train": (left[0][:cut], left[1][:cut]),
        "val": (left[0][cut:], left[1][cut:]),
        "test": right,
    }
    return {k: (x, relabel_sequential(y)) for k, (x, y) in parts.items()}


def write_folders(folder: Path, parts: dict) -> None:
    """BiaPy's layout: ``<set>/x/*.tif`` and ``<set>/y/*.tif``."""
    import tifffile

    for name, (x, y) in parts.items():
        for sub, array in (("x", x), ("y", y.astype(np.uint16))):
            (folder / name / sub).mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(folder / name / sub / f"{name}.tif", array)


# --------------------------------------------------------------------------- BiaPy side


def _biapy_worker(spec_path: str) -> None:
    """Run inside venv-biapy: train within the time budget, predict the test half."""
    import torch
    from biapy import BiaPy
    from biapy.engine import base_workflow

    spec = json.loads(Path(spec_path).read_text())
    budget = float(spec["seconds"])
    times: dict[str, float] = {}
    epochs = [0]

    class TimeBudget:
        """Stands in for BiaPy's EarlyStopping: stop after the first epoch past the budget."""

        def __init__(self) -> None:
            self.start = time.perf_counter()
            self.early_stop = False

        def __call__(self, val_loss: float) -> None:
            epochs[0] += 1
            self.early_stop = time.perf_counter() - self.start >= budget

    base_workflow.build_callbacks = lambda cfg: TimeBudget()
    cls = base_workflow.Base_Workflow

    def timed(fn, key):
        def wrapper(*a, **k):
            start = time.perf_counter()
            out = fn(*a, **k)
            times[key] = times.get(key, 0.0) + time.perf_counter() - start
            return out

        return wrapper

    cls.train = timed(cls.train, "train_s")
    cls.process_test_sample = timed(cls.process_test_sample, "predict_s")
    job = BiaPy(spec["config"], result_dir=spec["result_dir"], name="inst", run_id=1, gpu="")
    job.run_job()
    outputs = sorted(Path(spec["result_dir"]).glob("**/per_image_instances/*.tif"))
    result = {
        **times,
        "epochs": epochs[0],
        "outputs": [str(p) for p in outputs],
        "params": sum(p.numel() for p in job.workflow.model_without_ddp.parameters()),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    Path(spec["out"]).write_text(json.dumps(result))


def run_biapy(work: Path, seconds: float) -> dict | None:
    """Train and predict with BiaPy in its venv; return its labels and timings."""
    import tifffile

    config = work / "biapy.yaml"
    values = {"patch": PATCH, "data": work / "data", "samples": SAMPLES, "lr": LR}
    config.write_text(BIAPY_CONFIG.format(**values, feature_maps=FEATURE_MAPS, batch=BATCH))
    spec = {
        "config": str(config), "result_dir": str(work / "biapy"), "out": str(work / "b.json"),
        "seconds": seconds,
    }  # fmt: skip
    res = run_worker(__file__, spec, work, f"training {seconds / 60:.1f} min")
    if res is None:
        return None
    if not res["outputs"]:
        print(f"BiaPy wrote no instance labels; see {work / 'biapy.log'}")
        return None
    labels = tifffile.imread(res["outputs"][0]).squeeze()  # float32 holding integer ids
    if not np.array_equal(labels, np.round(labels)):
        raise SystemExit(f"{res['outputs'][0]}: BiaPy's labels are not integers")
    res["labels"] = labels.astype(np.int32)
    return res


# --------------------------------------------------------------------------- biakit side


def run_biakit(parts: dict, seconds: float) -> dict:
    """Train biakit's InstanceSegmenter on the same data for the same time; predict the test."""
    import torch

    from biakit.workflows import InstanceConfig, InstanceSegmenter

    config = InstanceConfig(
        patch_shape=(PATCH, PATCH),
        samples_per_epoch=SAMPLES,
        model={"depth": len(FEATURE_MAPS) - 1, "base_filters": FEATURE_MAPS[0], "norm": "batch"},
        augment={"flip": True, "rotate90": True},
        train={"epochs": 100000, "batch_size": BATCH, "lr": LR, "optimizer": "adamw",
               "max_time": seconds, "plot_every": 0},
    )  # fmt: skip
    seg = InstanceSegmenter(config)
    print(f"biakit: training {seconds / 60:.1f} min ...", flush=True)
    start = time.perf_counter()
    (x, y), (vx, vy) = parts["train"], parts["val"]
    seg.train([x], [y], val_images=[vx], val_labels=[vy], output_dir=None)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    labels = seg.predict(parts["test"][0])
    return {
        "labels": labels,
        "train_s": train_s,
        "predict_s": time.perf_counter() - start,
        "epochs": len(seg.history),
        "params": sum(p.numel() for p in seg.model.parameters()),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


# --------------------------------------------------------------------------- report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per tool")
    parser.add_argument("--image", type=Path, help="default: StarDist's img2d.tif")
    parser.add_argument("--labels", type=Path, help="default: StarDist's mask2d.tif")
    parser.add_argument("--skip-biapy", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args()

    import tifffile

    from biakit.metrics import match_instances
    from biakit.pipeline import Pipeline

    image_path, labels_path = (args.image, args.labels) if args.image else find_sample()
    image, labels = tifffile.imread(image_path), tifffile.imread(labels_path)
    parts = split_halves(image, labels)
    truth = parts["test"][1]
    print(
        f"{image_path.name} {image.shape}: train {parts['train'][0].shape} + val "
        f"{parts['val'][0].shape} (left half), test {truth.shape} with {truth.max()} nuclei; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    seconds = 60 * args.minutes
    with tempfile.TemporaryDirectory(prefix="bench_biapy_inst_") as tmp:
        work = (args.workdir or Path(tmp)).resolve()
        write_folders(work / "data", parts)
        results = {}
        if not args.skip_biapy:
            results["BiaPy 3.7 (F+C)"] = run_biapy(work, seconds)
        results["biakit"] = run_biakit(parts, seconds)
    start = time.perf_counter()
    classical = Pipeline.default().run(parts["test"][0]).labels
    results["classical pipeline"] = {"labels": classical, "predict_s": time.perf_counter() - start}

    header = f"{'method':<20}{'train s':>8}{'epochs':>7}{'predict s':>10}"
    print(f"\n{header}{'F1@0.5':>8}{'acc@0.5':>8}{'F1@0.75':>8}{'acc@0.75':>9}{'found':>6}")
    for name, r in results.items():
        if r is None:
            continue
        m50, m75 = match_instances(truth, r["labels"], thresh=[0.5, 0.75])
        r["f1"] = m50.f1
        print(
            f"{name:<20}{r.get('train_s', 0):>8.0f}{r.get('epochs', 0):>7d}{r['predict_s']:>10.2f}"
            f"{m50.f1:>8.3f}{m50.accuracy:>8.3f}{m75.f1:>8.3f}{m75.accuracy:>9.3f}{m50.n_pred:>6d}"
        )
    for name, r in results.items():
        if r is not None and "params" in r:
            print(f"{name}: {r['params']} parameters, torch {r['torch']}, {r['threads']} threads")
    ok = results["biakit"]["f1"] >= GOAL_F1
    print(f"goal: biakit F1@0.5 >= {GOAL_F1}: {'PASS' if ok else 'FAIL'}")
    bp = results.get("BiaPy 3.7 (F+C)")
    if bp is not None:
        print(f"F1@0.5 biakit - BiaPy: {results['biakit']['f1'] - bp['f1']:+.3f}")
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--biapy-worker":
        _biapy_worker(sys.argv[2])
    else:
        sys.exit(main())
