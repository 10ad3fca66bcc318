"""Detection building blocks: heat-map rendering and peak finding vs the usual tools.

* ``point_heatmap`` (vectorised bounding boxes, ``np.maximum.at``) vs the common
  per-point loop (slice a box, ``np.maximum`` a Gaussian into it), 10,000 points in a
  2048 x 2048 image, sigma 2 px; outputs are checked to be equal.
* ``find_peaks`` (maximum filter with a disc footprint, plateau merge, greedy spacing,
  Gaussian sub-pixel refinement) vs ``skimage.feature.peak_local_max`` with the same
  footprint (no refinement), on that heat map; the peak sets are checked to be equal.

Single-threaded NumPy / SciPy. Run: ``.venv/bin/python benchmarks/bench_detection.py``
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from skimage.feature import peak_local_max

from biakit.nn.targets import point_heatmap
from biakit.segment import find_peaks


def loop_heatmap(points, shape, sigma, truncate=4.0):
    out = np.zeros(shape, np.float32)
    r = int(np.ceil(truncate * sigma))
    off = np.arange(-r, r + 1)
    for p in np.rint(points).astype(int):
        ys, xs = p[0] + off, p[1] + off
        ky, kx = (ys >= 0) & (ys < shape[0]), (xs >= 0) & (xs < shape[1])
        g = np.exp(-0.5 * (off[ky, None] ** 2 + off[None, kx] ** 2) / sigma**2)
        box = out[ys[ky][0] : ys[ky][-1] + 1, xs[kx][0] : xs[kx][-1] + 1]
        np.maximum(box, g.astype(np.float32), out=box)
    return out


def median_time(fn, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    rng = np.random.default_rng(0)
    shape, sigma, n = (2048, 2048), 2.0, 10_000
    points = rng.uniform(0, 2047, (n, 2))
    t_ours, ours = median_time(lambda: point_heatmap(points, shape, sigma=sigma))
    t_loop, ref = median_time(lambda: loop_heatmap(points, shape, sigma))
    assert np.allclose(ours[0], ref, atol=1e-6)
    print(f"heatmap  {n} points {shape}: biakit {t_ours * 1e3:7.1f} ms   per-point loop "
          f"{t_loop * 1e3:7.1f} ms   ratio {t_loop / t_ours:5.1f}x")  # fmt: skip

    heat = point_heatmap(points, shape, sigma=sigma, subpixel=True)
    md = 3
    yy, xx = np.mgrid[-md : md + 1, -md : md + 1]
    footprint = (yy**2 + xx**2 <= md**2) | ((abs(yy) <= 1) & (abs(xx) <= 1))
    t_fp, found = median_time(
        lambda: find_peaks(heat, threshold=0.5, min_distance=md, subpixel=True)
    )
    t_sk, sk = median_time(
        lambda: peak_local_max(
            heat[0],
            footprint=footprint,
            threshold_abs=0.5,
            exclude_border=False,
            min_distance=1,
        )
    )
    same = {tuple(p) for p in np.rint(found[0]).astype(int).tolist()} == {
        tuple(p) for p in sk.tolist()
    }
    print(f"peaks    {len(found[0])} found: biakit {t_fp * 1e3:7.1f} ms   skimage "
          f"{t_sk * 1e3:7.1f} ms   ratio {t_sk / t_fp:5.2f}x   same voxels: {same}")  # fmt: skip


if __name__ == "__main__":
    main()
