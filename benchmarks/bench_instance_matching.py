"""Benchmark: biakit.metrics.match_instances vs stardist.matching.matching.

A 3D volume (default 128 x 512 x 512) of ~10,000 touching ellipsoids; the
prediction is the ground truth shifted by a few voxels with 5 % of the objects
removed and a few hundred pairs merged.  Both tools are timed in one run on
the same arrays; the medians, their ratio and the agreement of every reported
number (to 1e-6) are printed.

StarDist is not a biakit dependency.  Create its environment once with::

    python -m venv benchmarks/_work/venv-stardist
    benchmarks/_work/venv-stardist/bin/pip install stardist pycocotools

Run ``python benchmarks/bench_instance_matching.py`` from the repository root
with biakit's environment: if StarDist is not importable there, the script
re-runs itself with that venv's Python (``PYTHONPATH=src``); without the venv
it times biakit only and says so.  ``--small`` uses a 64 x 256 x 256 volume.
``--fixtures`` prints StarDist's numbers for the seeded pairs used in
tests/metrics/test_instance.py (run it with the StarDist venv's Python).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / "benchmarks" / "_work" / "venv-stardist" / "bin" / "python"
FIELDS = (
    "tp", "fp", "fn", "precision", "recall", "accuracy", "f1", "n_true", "n_pred",
    "mean_true_score", "mean_matched_score", "panoptic_quality",
)  # fmt: skip

sys.path.insert(0, str(ROOT / "src"))


def make_volume(shape=(128, 512, 512), cell=(8, 16, 16), seed=0):
    """Ellipsoids (~one per cell, ~60 % kept) that nearly fill their cells."""
    rng = np.random.default_rng(seed)
    grid = tuple(s // c for s, c in zip(shape, cell))
    n_cells = int(np.prod(grid))
    centre = rng.uniform(0.4, 0.6, size=(n_cells, 3)) * np.array(cell)
    radii = rng.uniform(0.45, 0.62, size=(n_cells, 3)) * np.array(cell)
    present = rng.random(n_cells) < 0.62
    labels = np.where(present, np.cumsum(present), 0).astype(np.uint32)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    cid = (z // cell[0]) * grid[1] * grid[2] + (y // cell[1]) * grid[2] + (x // cell[2])
    acc = np.zeros(shape, np.float32)
    for d, coord in enumerate((z % cell[0], y % cell[1], x % cell[2])):
        acc += (((coord - centre[cid, d]) / radii[cid, d]) ** 2).astype(np.float32)
    y_true = np.where(acc <= 1, labels[cid], 0).astype(np.uint32)
    y_pred = np.roll(y_true, (1, 1, -1), axis=(0, 1, 2))
    ids = np.flatnonzero(np.bincount(y_pred.ravel()))[1:]
    lut = np.arange(int(y_true.max()) + 1, dtype=np.uint32)
    lut[rng.choice(ids, size=len(ids) // 20, replace=False)] = 0
    merge = rng.choice(ids, size=300, replace=False)
    lut[merge] = np.maximum(merge - 1, 1)
    return y_true, lut[y_pred]


def timeit(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def fixtures():
    sys.path.insert(0, str(ROOT / "tests" / "metrics"))
    from _instance_labels import coins_pair, random_label_pair
    from stardist.matching import matching, matching_dataset

    cases = {
        "seed3": random_label_pair(3),
        "seed7": random_label_pair(7),
        "seed5_3d": random_label_pair(5, (16, 32, 32), 40),
        "coins": coins_pair(),
    }
    for name, (t, p) in cases.items():
        for crit in ("iou", "iot", "iop"):
            for m in matching(t, p, thresh=[0.3, 0.5, 0.8], criterion=crit):
                print(name, crit, m.thresh, [round(float(getattr(m, f)), 10) for f in FIELDS])
    pairs = [random_label_pair(s) for s in (3, 7, 11)]
    for by_image in (False, True):
        m = matching_dataset(*zip(*pairs), thresh=0.5, by_image=by_image, show_progress=False)
        print("dataset", by_image, [round(float(getattr(m, f)), 10) for f in FIELDS])
    coco_fixtures()


AREAS = {"all": (0, 1e10), "small": (0, 50), "medium": (50, 150), "large": (150, 1e10)}


def coco_fixtures():
    """pycocotools' COCOeval (segm) on seeded pairs; 3D volumes are reshaped to 2D."""
    from _instance_labels import coins_pair, random_label_pair
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    cases = {"seed3": [3], "seeds4_6": [4, 5, 6], "seed8_3d": [8], "coins": [0]}
    for name, seeds in cases.items():
        gts, dts, images = [], [], []
        for img_id, seed in enumerate(seeds, start=1):
            shape = (16, 32, 32) if name.endswith("3d") else (64, 64)
            t, p = random_label_pair(seed, shape, 40 if len(shape) == 3 else 25)
            if name == "coins":
                t, p = coins_pair()
            t, p = t.reshape(-1, shape[-1]), p.reshape(-1, shape[-1])
            labels = np.unique(p[p > 0])
            scores = np.random.default_rng(seed + 100).random(len(labels))
            images.append({"id": img_id, "height": t.shape[0], "width": t.shape[1]})
            for lab in np.unique(t[t > 0]):
                rle = mask_utils.encode(np.asfortranarray((t == lab).astype(np.uint8)))
                gts.append({"id": len(gts) + 1, "image_id": img_id, "category_id": 1,
                            "segmentation": rle, "area": float((t == lab).sum()),
                            "iscrowd": 0, "bbox": list(mask_utils.toBbox(rle))})  # fmt: skip
            for lab, sc in zip(labels, scores):
                rle = mask_utils.encode(np.asfortranarray((p == lab).astype(np.uint8)))
                dts.append({"image_id": img_id, "category_id": 1, "segmentation": rle,
                            "score": float(sc)})  # fmt: skip
        coco = COCO()
        coco.dataset = {"images": images, "annotations": gts, "categories": [{"id": 1}]}
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dts), "segm")
        ev.params.areaRng = [list(v) for v in AREAS.values()]
        ev.params.areaRngLbl = list(AREAS)
        ev.params.maxDets = [1, 10, 100]
        ev.evaluate()
        ev.accumulate()
        prec = ev.eval["precision"][:, :, 0, :, -1]  # T, R, A at maxDets=100
        rec = ev.eval["recall"][:, 0, :, -1]

        def m(x):
            return round(float(x[x > -1].mean()), 10) if (x > -1).any() else -1

        print(name, "ap", m(prec[:, :, 0]), "ap50", m(prec[0, :, 0]), "ap75", m(prec[5, :, 0]),
              "by_area", [m(prec[:, :, a]) for a in range(4)], "ar", m(rec[:, 0]))  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="64 x 256 x 256 volume")
    parser.add_argument("--fixtures", action="store_true", help="print StarDist test fixtures")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.fixtures:
        return fixtures()
    try:
        from stardist.matching import matching
    except ImportError:
        matching = None
        if VENV_PYTHON.exists() and os.environ.get("BIAKIT_BENCH_CHILD") != "1":
            env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "BIAKIT_BENCH_CHILD": "1"}
            print(f"stardist not importable here; re-running with {VENV_PYTHON}", flush=True)
            return subprocess.call([str(VENV_PYTHON), __file__, *sys.argv[1:]], env=env)
    from biakit.metrics import match_instances

    shape = (64, 256, 256) if args.small else (128, 512, 512)
    t0 = time.perf_counter()
    y_true, y_pred = make_volume(shape)
    n_true = len(np.unique(y_true)) - 1
    n_pred = len(np.unique(y_pred)) - 1
    print(f"volume {shape}: {n_true} true / {n_pred} predicted objects "
          f"(made in {time.perf_counter() - t0:.1f} s)")  # fmt: skip

    t_bia, ours = timeit(lambda: match_instances(y_true, y_pred, thresh=0.5), args.repeats)
    print(f"biakit  match_instances      median {t_bia:8.3f} s  ({args.repeats} runs)")
    if matching is None:
        print("stardist not installed: comparison skipped (see the module docstring)")
        return 0
    matching(y_true[:4, :4, :4], y_pred[:4, :4, :4])  # numba compilation outside the timing
    reps = max(1, min(3, args.repeats))
    t_sd, ref = timeit(lambda: matching(y_true, y_pred, thresh=0.5), reps)
    print(f"stardist matching            median {t_sd:8.3f} s  ({reps} runs)")
    print(f"speed-up stardist / biakit: {t_sd / t_bia:.1f}x")
    diff = max(abs(float(getattr(ours, f)) - float(getattr(ref, f))) for f in FIELDS)
    print(
        f"tp={ours.tp} fp={ours.fp} fn={ours.fn} mean_matched_score={ours.mean_matched_score:.6f}"
    )
    print(
        f"max |difference| over all numbers: {diff:.2e} -> {'AGREE' if diff < 1e-6 else 'DIFFER'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
