"""Benchmark biakit.segment / biakit.postprocess against scikit-image / scipy.

Run:  python benchmarks/bench_segment.py [--repeats 3]

Prints, for each task and image size, the median wall time of biakit and of the
scikit-image (or scipy) recipe a user would otherwise write, and their ratio
(biakit / reference; < 1 means biakit is faster). Synthetic nuclei (random
discs of radius 6-12 px in 2D, spheres of radius 5-8 px in 3D, many touching)
are generated with a fixed seed. Takes about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
from scipy import ndimage as ndi
from skimage import feature, measure, morphology, segmentation

from biakit import postprocess, segment


def nuclei_mask(shape, n, rmin, rmax, seed=0):
    """Boolean mask of ``n`` random balls (many touching), fixed seed."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, bool)
    for _ in range(n):
        r = rng.uniform(rmin, rmax)
        c = rng.uniform(r, np.array(shape) - r)
        lo = np.maximum(np.floor(c - r).astype(int), 0)
        hi = np.minimum(np.ceil(c + r).astype(int) + 1, shape)
        grids = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi))]
        ball = sum((g - ci) ** 2 for g, ci in zip(grids, c)) < r * r
        mask[tuple(slice(a, b) for a, b in zip(lo, hi))] |= ball
    return mask


def timeit(func, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def classic_watershed(mask, min_distance=4):
    """The scikit-image gallery recipe: EDT, peak_local_max, watershed."""
    distance = ndi.distance_transform_edt(mask)
    coords = feature.peak_local_max(
        distance, min_distance=min_distance, labels=measure.label(mask), exclude_border=False
    )
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(coords.T)] = np.arange(1, len(coords) + 1)
    return segmentation.watershed(-distance, markers, mask=mask)


def skimage_flood_growing(image, points, tolerance):
    """Per-seed flood fill with a tolerance around the seed value (fixed reference)."""
    out = np.zeros(image.shape, np.int32)
    for i, p in enumerate(points, 1):
        out[segmentation.flood(image, tuple(p), tolerance=tolerance) & (out == 0)] = i
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    r = args.repeats
    images = {
        "1024x1024": nuclei_mask((1024, 1024), 2500, 6, 12, seed=0),
        "64x256x256": nuclei_mask((64, 256, 256), 1200, 5, 8, seed=1),
    }
    rows = []
    for name, mask in images.items():
        labels = segment.label(mask)
        holes = mask.copy()
        holes[np.random.default_rng(2).random(mask.shape) < 0.02] = False
        cases = [
            ("label", partial(segment.label, mask), partial(measure.label, mask, connectivity=1)),
            (
                "watershed_distance",
                partial(segment.watershed_distance, mask),
                partial(classic_watershed, mask),
            ),
            (
                "remove_small_objects",
                partial(postprocess.remove_small_objects, labels, 200),
                partial(morphology.remove_small_objects, labels, max_size=199),
            ),
            (
                "fill_holes (mask)",
                partial(postprocess.fill_holes, holes),
                partial(ndi.binary_fill_holes, holes),
            ),
            (
                "fill_holes (labels, per object)",
                partial(postprocess.fill_holes, np.where(holes, labels, 0)),
                partial(ndi.binary_fill_holes, holes),
            ),
        ]
        for task, ours, ref in cases:
            rows.append((task, name, timeit(ours, r), timeit(ref, r)))
    # region growing: 4 quadrants with noise, one seed each (2D only; pure-Python heap)
    for n in (512, 1024):
        rng = np.random.default_rng(3)
        image = np.kron(np.array([[10.0, 20.0], [30.0, 40.0]]), np.ones((n // 2, n // 2)))
        image += rng.normal(0, 1.0, image.shape)
        q = [n // 4, 3 * n // 4]
        pts = np.array([[y, x] for y in q for x in q])
        ours = partial(segment.region_growing, image, pts, tolerance=4.0)
        ref = partial(skimage_flood_growing, image, pts, 4.0)
        rows.append(
            ("region_growing (vs per-seed flood)", f"{n}x{n}", timeit(ours, 1), timeit(ref, 1))
        )
    print(f"{'task':38s} {'image':>11s} {'biakit s':>9s} {'skimage s':>9s} {'ratio':>6s}")
    for task, name, ours, ref in rows:
        print(f"{task:38s} {name:>11s} {ours:9.3f} {ref:9.3f} {ours / ref:6.2f}")


if __name__ == "__main__":
    main()
