"""Benchmark: biakit FastForest.predict_proba vs scikit-learn forest predict_proba.

A 1024 x 1024 synthetic nuclei image (``biakit.data.synthetic_nuclei``) gives
40 float32 features per pixel (Gaussian, gradient magnitude, Laplacian of
Gaussian, Hessian eigenvalues at 7 scales, differences of Gaussians; scipy).
Three classes (background, nucleus interior, nucleus boundary) are "scribbled"
with random-walk brush strokes, ~10,000 training pixels in all.  A
RandomForestClassifier and an ExtraTreesClassifier (100 trees each) are trained
on them, and the whole image's feature matrix (1,048,576 rows x 40) is
predicted by sklearn (n_jobs=1, its default, and n_jobs=-1) and by
``FastForest`` built from the same trees.  Repeats are interleaved; medians are
reported, numba's first call (compile or cache load) separately.

Run: ``python benchmarks/bench_forest.py [--repeats N] [--size 1024]`` (about 1-2 minutes).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time

import numba
import numpy as np
import sklearn
from scipy import ndimage as ndi
from skimage.segmentation import find_boundaries
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from biakit.data import synthetic_nuclei
from biakit.pixel import _forest_kernels
from biakit.pixel._forest import FastForest

SIGMAS = (0.7, 1.0, 1.6, 2.5, 3.5, 5.0, 10.0)


def features(image):
    """40 float32 filter responses per pixel, features last."""
    image = image.astype(np.float32)
    out = []
    for s in SIGMAS:
        out.append(ndi.gaussian_filter(image, s))
        out.append(ndi.gaussian_gradient_magnitude(image, s))
        out.append(ndi.gaussian_laplace(image, s))
        hyy = ndi.gaussian_filter(image, s, order=(2, 0))
        hxx = ndi.gaussian_filter(image, s, order=(0, 2))
        hxy = ndi.gaussian_filter(image, s, order=(1, 1))
        mean, dev = (hyy + hxx) / 2, np.sqrt(((hyy - hxx) / 2) ** 2 + hxy**2)
        out += [mean + dev, mean - dev]
    for a, b in itertools.pairwise(SIGMAS[:-1]):  # 35 + 5 = 40 features
        out.append(ndi.gaussian_filter(image, a) - ndi.gaussian_filter(image, b))
    return np.stack(out, axis=-1).astype(np.float32)


def scribbles(classes, n_per_class, seed=0, stroke=60):
    """Flat indices of random-walk brush strokes inside each class region."""
    rng = np.random.default_rng(seed)
    height, width = classes.shape
    picked = []
    for c in np.unique(classes):
        mask = classes == c
        pixels = np.argwhere(mask)
        got: set[int] = set()
        while len(got) < n_per_class:
            y, x = pixels[rng.integers(len(pixels))].astype(float)
            d = rng.normal(size=2)
            for _ in range(stroke):
                iy, ix = round(y), round(x)
                if not (0 <= iy < height and 0 <= ix < width and mask[iy, ix]):
                    break
                got.add(iy * width + ix)
                d = d / np.linalg.norm(d)
                y, x = y + d[0], x + d[1]
                d = d + rng.normal(scale=0.3, size=2)
        picked.append(np.array(sorted(got))[:n_per_class])
    return np.concatenate(picked)


def timed(func):
    t0 = time.perf_counter()
    out = func()
    return time.perf_counter() - t0, out


def compare(name, model, X, repeats):
    print(f"\n== {name}: {model.n_estimators} trees, max_depth={model.max_depth}")
    ff = FastForest.from_sklearn(model)
    depth = np.mean([e.tree_.max_depth for e in model.estimators_])
    print(f"   {ff.n_nodes} nodes in all, mean tree depth {depth:.1f}")
    first, proba = timed(lambda: ff.predict_proba(X))
    stats = _forest_kernels.predict_parallel.stats
    times = {"biakit": [], "biakit 1 thread": [], "sklearn n_jobs=1": [], "sklearn n_jobs=-1": []}
    for _ in range(repeats):
        times["biakit"].append(timed(lambda: ff.predict_proba(X))[0])
        times["biakit 1 thread"].append(timed(lambda: ff.predict_proba(X, n_threads=1))[0])
        for n_jobs, key in ((1, "sklearn n_jobs=1"), (-1, "sklearn n_jobs=-1")):
            model.n_jobs = n_jobs
            elapsed, ref = timed(lambda: model.predict_proba(X))
            times[key].append(elapsed)
    med = {key: float(np.median(value)) for key, value in times.items()}
    for key, value in med.items():
        print(f"   {key:18s} median {value:7.3f} s  (min {min(times[key]):.3f})")
    hits, misses = sum(stats.cache_hits.values()), sum(stats.cache_misses.values())
    print(f"   biakit first call  {first:7.3f} s  (numba compile or cache load; "
          f"cache hits {hits}, misses {misses})")  # fmt: skip
    print(f"   speed-up vs sklearn n_jobs=1:  {med['sklearn n_jobs=1'] / med['biakit']:5.1f}x")
    print(f"   speed-up vs sklearn n_jobs=-1: {med['sklearn n_jobs=-1'] / med['biakit']:5.1f}x")
    one = med["sklearn n_jobs=1"] / med["biakit 1 thread"]
    print(f"   per core (biakit 1 thread vs sklearn n_jobs=1): {one:5.1f}x")
    diff = float(np.abs(proba.astype(np.float64) - ref).max())
    agree = float((ff.predict(X) == model.predict(X)).mean())
    print(f"   max |p_biakit - p_sklearn| = {diff:.2e}; predict agreement {agree:.6f}")
    return med, diff


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; numba "
          f"{numba.__version__} ({numba.get_num_threads()} threads), "
          f"sklearn {sklearn.__version__}")  # fmt: skip

    t0 = time.perf_counter()
    n_objects = max(30, round(120 * (args.size / 1024) ** 2))
    nuclei = synthetic_nuclei((args.size, args.size), n_objects=n_objects, seed=0)
    feats = features(nuclei.image)
    classes = np.where(nuclei.labels > 0, 2, 1)
    classes[find_boundaries(nuclei.labels)] = 3
    train = scribbles(classes, 3333, seed=0)
    X = feats.reshape(-1, feats.shape[-1])
    y = classes.ravel()
    print(f"features {X.shape} float32, {train.size} scribbled pixels "
          f"({time.perf_counter() - t0:.1f} s to prepare)")  # fmt: skip

    results = {}
    for name, cls in (("RandomForestClassifier", RandomForestClassifier),
                      ("ExtraTreesClassifier", ExtraTreesClassifier)):  # fmt: skip
        model = cls(n_estimators=100, n_jobs=-1, random_state=0).fit(X[train], y[train])
        results[name] = compare(name, model, X, args.repeats)
    model = RandomForestClassifier(100, max_depth=20, n_jobs=-1, random_state=0)
    results["RF max_depth=20"] = compare("RandomForestClassifier", model.fit(X[train], y[train]),
                                         X, args.repeats)  # fmt: skip

    print("\nsummary (median seconds; speed-up = sklearn / biakit):")
    for name, (med, diff) in results.items():
        print(f"  {name:24s} biakit {med['biakit']:.3f}  sklearn(1) {med['sklearn n_jobs=1']:.3f} "
              f"({med['sklearn n_jobs=1'] / med['biakit']:.1f}x)  sklearn(-1) "
              f"{med['sklearn n_jobs=-1']:.3f} ({med['sklearn n_jobs=-1'] / med['biakit']:.1f}x)  "
              f"max diff {diff:.1e}")  # fmt: skip


if __name__ == "__main__":
    main()
