"""Benchmark: biakit.features.compute_features vs skimage.feature.multiscale_basic_features.

Same features: per scale (sigma 0.5, 1, 2, 4, 8, 16 — skimage's defaults) the
Gaussian-smoothed image, its Sobel magnitude and the Hessian eigenvalues from
``np.gradient`` twice, i.e. ``skimage_equivalent_spec(ndim)``.  skimage runs with
its default ``num_workers`` (None = one thread per core).  biakit is warmed up
once (numba's on-disk cache load), then timed.  The script checks that both
give the same values away from the border (skimage smooths with
``mode="nearest"``, biakit reflects), and measures the peak memory of one
call with ``tracemalloc`` (NumPy registers its buffers there) relative to the
size of the returned feature array.

Run: ``python benchmarks/bench_features.py [--repeats N]`` (about 1.5 minutes).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc

import numpy as np
import skimage
from scipy import ndimage as ndi
from skimage.feature import multiscale_basic_features

from biakit.features import compute_features, skimage_equivalent_spec


def median_time(func, repeats):
    times, out = [], None
    for _ in range(repeats):
        out = None  # free the previous result before the next run
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def peak_ratio(func):
    """Peak traced memory of one call divided by the size of its result."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    out = func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / out.nbytes, out.nbytes


def max_interior_diff(ours, theirs, spec, ndim):
    """Largest |difference| over features and pixels at least a kernel radius from the border."""
    names = spec.names()
    worst = 0.0
    for i, s in enumerate(spec.filters[0].sigmas):
        r = int(4 * s + 0.5) + 2
        inner = tuple(slice(r, n - r) for n in ours.shape[:-1])
        if any(sl.start >= sl.stop for sl in inner):
            continue
        cols = [f"gaussian_s{s!r}", f"sobel_s{s!r}"] + [
            f"hessian_eig{k + 1}_s{s!r}" for k in range(ndim)
        ]
        for j, c in enumerate(cols):
            a = ours[..., names.index(c)][inner]
            b = theirs[..., i * (2 + ndim) + j][inner]
            worst = max(worst, float(np.abs(a - b).max()))
    return worst


def case(label, shape, repeats_ours, repeats_sk, seed=0):
    img = ndi.gaussian_filter(np.random.default_rng(seed).random(shape), 2.0).astype(np.float32)
    ndim = img.ndim
    spec = skimage_equivalent_spec(ndim)
    compute_features(img, spec)  # warm-up: numba cache load / compile
    t_ours, ours = median_time(lambda: compute_features(img, spec), repeats_ours)
    t_sk, theirs = median_time(lambda: multiscale_basic_features(img), repeats_sk)
    diff = max_interior_diff(ours, theirs, spec, ndim)
    del theirs
    mem_ours, nbytes = peak_ratio(lambda: compute_features(img, spec))
    mem_sk = peak_ratio(lambda: multiscale_basic_features(img))[0]
    print(
        f"{label:<18} {ours.shape[-1]:>4} {t_ours:>9.3f} {t_sk:>9.3f} {t_sk / t_ours:>8.1f}x"
        f" {nbytes / 2**20:>8.0f} {mem_ours:>9.2f}x {mem_sk:>9.2f}x   max |diff| {diff:.1e}"
    )


def main(repeats: int) -> None:
    cpu = platform.processor() or platform.machine()
    print(
        f"numpy {np.__version__}, scikit-image {skimage.__version__}, "
        f"python {platform.python_version()}, {cpu}, {os.cpu_count()} cores"
    )
    print(
        f"{'case':<18} {'F':>4} {'biakit s':>9} {'skimage s':>9} {'speedup':>9} {'out MiB':>8}"
        f" {'peak/out':>10} {'sk peak/out':>10}"
    )
    case("2D 1024x1024", (1024, 1024), repeats, repeats)
    case("3D 64x256x256", (64, 256, 256), repeats, max(1, repeats - 1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
