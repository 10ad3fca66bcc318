"""Benchmark: biakit.measure.measure_objects vs skimage.measure.regionprops_table.

Same label and intensity images, same physical spacing, equivalent properties
(centroid, bbox, area/volume, equivalent diameter, perimeter (2D), eccentricity
(2D), axis lengths, solidity, extent, five intensity statistics). skimage has no
surface area, so 3D sphericity is timed separately for biakit only. The script
also checks that the shared columns agree.

Run: ``python benchmarks/bench_measure.py [--repeats N]`` (about a minute).
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import skimage
from scipy import ndimage as ndi
from skimage.measure import regionprops_table

from biakit.measure import measure_objects

INTENSITY = ["mean_intensity", "min_intensity", "max_intensity", "std_intensity",
             "median_intensity"]  # fmt: skip
SK_INTENSITY = ["intensity_mean", "intensity_min", "intensity_max", "intensity_std",
                "intensity_median"]  # fmt: skip


def make_labels(shape, n_objects, radius, seed=0):
    """Touching round objects: pixels within ``radius`` of their nearest random seed."""
    rng = np.random.default_rng(seed)
    seeds = np.zeros(shape, dtype=bool)
    seeds[tuple(rng.integers(0, s, n_objects) for s in shape)] = True
    dist, idx = ndi.distance_transform_edt(~seeds, return_indices=True)
    ids = np.zeros(shape, dtype=np.int32)
    ids[seeds] = np.arange(1, seeds.sum() + 1)
    labels = ids[tuple(idx)]
    labels[dist > radius] = 0
    image = ndi.gaussian_filter(rng.random(shape), 1.0) + (labels > 0)
    return labels, image


def median_time(func, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def compare(name, labels, image, spacing, ours, theirs, pairs, repeats):
    def run_ours():
        return measure_objects(labels, image, spacing=spacing, properties=ours)

    def run_theirs():
        with warnings.catch_warnings():  # skimage warns on flat 3D objects (solidity)
            warnings.simplefilter("ignore")
            return regionprops_table(labels, image, spacing=spacing, properties=theirs)

    t_ours, df = median_time(run_ours, repeats)
    t_sk, ref = median_time(run_theirs, repeats)
    worst = max(
        float(np.nanmax(np.abs(df[a].to_numpy() - ref[b]) / np.maximum(1e-12, np.abs(ref[b]))))
        for a, b in pairs.items()
        if np.all(np.isfinite(ref[b]))
    )
    print(f"{name:<34} {len(df):>6} {t_ours:>10.3f} {t_sk:>10.3f} {t_sk / t_ours:>8.1f}x"
          f"   max rel diff {worst:.1e}")  # fmt: skip


def main(repeats: int) -> None:
    cpu = platform.processor() or platform.machine()
    print(f"numpy {np.__version__}, scikit-image {skimage.__version__}, "
          f"python {platform.python_version()}, {cpu}")  # fmt: skip
    print(f"{'case':<34} {'objects':>6} {'biakit s':>10} {'skimage s':>10} {'speedup':>9}")
    labels2, image2 = make_labels((1024, 1024), 2000, 9.0, seed=0)
    sp2 = (0.5, 0.5)
    shape2 = ["centroid", "bbox", "area", "equivalent_diameter", "perimeter", "eccentricity",
              "major_axis_length", "minor_axis_length", "solidity", "extent"]  # fmt: skip
    sk2 = ["label", "centroid", "bbox", "area", "equivalent_diameter_area", "perimeter",
           "eccentricity", "axis_major_length", "axis_minor_length", "solidity",
           "extent"]  # fmt: skip
    pairs2 = {"area": "area", "centroid_y": "centroid-0", "perimeter": "perimeter",
              "solidity": "solidity", "major_axis_length": "axis_major_length",
              "eccentricity": "eccentricity", "mean_intensity": "intensity_mean",
              "median_intensity": "intensity_median"}  # fmt: skip
    compare("2D 1024^2, shape + intensity", labels2, image2, sp2, shape2 + INTENSITY,
            sk2 + SK_INTENSITY, pairs2, repeats)  # fmt: skip
    compare("2D 1024^2, intensity only", labels2, image2, sp2, INTENSITY,
            ["label", *SK_INTENSITY], {"mean_intensity": "intensity_mean"}, repeats)  # fmt: skip

    labels3, image3 = make_labels((64, 256, 256), 500, 8.0, seed=1)
    sp3 = (2.0, 0.5, 0.5)
    shape3 = ["centroid", "bbox", "volume", "equivalent_diameter", "major_axis_length",
              "minor_axis_length", "solidity", "extent"]  # fmt: skip
    sk3 = ["label", "centroid", "bbox", "area", "equivalent_diameter_area", "axis_major_length",
           "axis_minor_length", "solidity", "extent"]  # fmt: skip
    pairs3 = {"volume": "area", "centroid_z": "centroid-0", "solidity": "solidity",
              "major_axis_length": "axis_major_length", "mean_intensity": "intensity_mean",
              "median_intensity": "intensity_median"}  # fmt: skip
    compare("3D 64x256^2, shape + intensity", labels3, image3, sp3, shape3 + INTENSITY,
            sk3 + SK_INTENSITY, pairs3, repeats)  # fmt: skip
    t, df = median_time(lambda: measure_objects(labels3, image3, spacing=sp3), repeats)
    print(f"{'3D all (+ surface_area, sphericity)':<34} {len(df):>6} {t:>10.3f} {'n/a':>10}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
