"""Benchmark: instance labels stitched across blocks, biakit vs dask-image's face merging.

A 2D image of touching synthetic nuclei (``synthetic_nuclei``, 2048 x 2048 by
default) is segmented by a classical instance decoder (Gaussian, Otsu, distance
transform, watershed from its peaks) that separates touching nuclei. The
reference is the decoder on the whole image. The decoder is not exactly local
(scikit-image's watershed breaks ties on distance plateaus differently in a block
than in the whole image), so a few pixels may differ: the column ``pixels`` counts
them. Block-wise (256 x 256 blocks):

* ``biakit label_blockwise`` -- halo, ownership, IoU matching in the overlap band;
* ``dask-image label (mask)`` -- ``dask_image.ndmeasure.label`` on the thresholded
  mask: connected components with labels merged where they touch across a face
  (it takes no decoder, so touching nuclei are one object by construction);
* ``decoder + touching merge`` -- the decoder on each block without halo, merged
  across faces where labels touch, with dask-image's own face-merging plumbing
  (``label_adjacency_graph`` / ``relabel_blocks``): what a user wiring a decoder
  into dask-image (or Cellpose's distributed stitching by touching) gets.

Printed per method: objects, false merges (reference nuclei fused into another's
label: each extra reference object covered > 50 % by one label counts one), false
splits, identical to the reference (up to relabelling), and the median time of
interleaved repeats with the machine load.

dask-image is not a biakit dependency; install it beside the repository once with::

    pip install --no-deps --target benchmarks/_work/dask_image_pkg dask-image

(pure Python; its dependencies are biakit's). Without it the two dask-image rows are
skipped with a message. ``--small`` uses a 1024 x 1024 image.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
DASK_IMAGE = ROOT / "benchmarks" / "_work" / "dask_image_pkg"


def make_decoder(threshold: float):
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    from biakit.blocks import declare_halo

    @declare_halo(4)
    def decode(block: np.ndarray) -> np.ndarray:
        mask = ndi.gaussian_filter(block.astype(np.float32), 1.0) > threshold
        dist = ndi.distance_transform_edt(mask)
        clumps = ndi.label(mask)[0]
        peaks = peak_local_max(dist, min_distance=4, labels=clumps, exclude_border=False)
        markers = np.zeros(mask.shape, np.int32)
        markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
        return watershed(-dist, markers, mask=mask)

    return decode


def errors(reference: np.ndarray, labels: np.ndarray) -> tuple[int, int]:
    """False merges and false splits of ``labels`` against ``reference`` (> 50 % overlaps)."""
    r, p = reference.ravel().astype(np.int64), labels.ravel().astype(np.int64)
    both = (r > 0) & (p > 0)
    pairs, n = np.unique(np.stack([r[both], p[both]]), axis=1, return_counts=True)
    r_size, p_size = np.bincount(r), np.bincount(p)
    covered = n > 0.5 * r_size[pairs[0]]  # the reference object lies mostly in that label
    per_label = np.bincount(pairs[1][covered], minlength=len(p_size))
    merges = int(np.sum(np.maximum(per_label - 1, 0)))
    mostly = n > 0.5 * p_size[pairs[1]]  # the label lies mostly in that reference object
    per_ref = np.bincount(pairs[0][mostly], minlength=len(r_size))
    return merges, int(np.sum(np.maximum(per_ref - 1, 0)))


def differing_pixels(reference: np.ndarray, labels: np.ndarray) -> int:
    """Pixels whose label differs from the reference after the best one-to-one relabelling."""
    r, p = reference.ravel().astype(np.int64), labels.ravel().astype(np.int64)
    pairs, n = np.unique(np.stack([r, p]), axis=1, return_counts=True)
    order = np.argsort(-n, kind="stable")
    used_r, used_p, agree = set(), set(), 0
    for i in order:  # greedy by overlap: exact for partitions equal up to relabelling
        a, b = int(pairs[0, i]), int(pairs[1, i])
        if a not in used_r and b not in used_p and (a == 0) == (b == 0):
            used_r.add(a)
            used_p.add(b)
            agree += int(n[i])
    return int(r.size - agree)


def _decode_count(decode, block: np.ndarray) -> tuple[np.ndarray, int]:
    labels = decode(block)
    return labels, int(labels.max())


def dask_image_runs(decode, image: np.ndarray, threshold: float, block: int):
    """The two dask-image variants, or None when dask-image is not importable."""
    if DASK_IMAGE.exists():
        sys.path.insert(0, str(DASK_IMAGE))
    try:
        import dask
        import dask.array as da
        from dask_image.ndmeasure import label as di_label
        from dask_image.ndmeasure._utils import _label
    except ImportError:
        return None

    def mask_label() -> np.ndarray:
        smooth = ndi.gaussian_filter(image.astype(np.float32), 1.0)  # the decoder's mask
        labels, _ = di_label(da.from_array(smooth > threshold, chunks=block))
        return labels.compute(scheduler="threads")

    def touching_merge() -> np.ndarray:
        arr = da.from_array(image, chunks=block)
        blocks = np.empty(arr.numblocks, dtype=object)
        total = 0
        for index, sl in zip(np.ndindex(*arr.numblocks), da.core.slices_from_chunks(arr.chunks)):
            lab, n = dask.delayed(_decode_count, nout=2)(decode, arr[sl])
            lab = da.from_delayed(lab, shape=arr[sl].shape, dtype=_label.LABEL_DTYPE)
            blocks[index] = da.where(lab > 0, lab + total, 0).astype(_label.LABEL_DTYPE)
            total = total + da.from_delayed(n, shape=(), dtype=_label.LABEL_DTYPE)
        labeled = da.block(blocks.tolist())
        structure = ndi.generate_binary_structure(2, 1)
        graph = _label.label_adjacency_graph(labeled, structure, total)
        merged = _label.relabel_blocks(labeled, _label.connected_components_delayed(graph))
        return merged.compute(scheduler="threads")

    return {"dask-image label (mask)": mask_label, "decoder + touching merge": touching_merge}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="1024 x 1024 image")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from skimage.filters import threshold_otsu

    from biakit.data import synthetic_nuclei
    from biakit.distributed._stitch import label_blockwise

    side = 1024 if args.small else 2048
    data = synthetic_nuclei(
        (side, side), n_objects=side * side // 900, radius=(6, 11), touching=0.6, seed=0
    )
    image = data.image
    threshold = float(threshold_otsu(ndi.gaussian_filter(image, 1.0)))
    decode = make_decoder(threshold)
    block = 256
    start = time.perf_counter()
    reference = decode(image)
    whole_s = time.perf_counter() - start
    clumps = ndi.label(reference > 0)[0]
    halo = int(max(max(s.stop - s.start for s in b) for b in ndi.find_objects(clumps))) + 4
    runs = {
        "biakit label_blockwise": lambda: label_blockwise(
            image, decode, block_shape=block, halo=halo
        )
    }
    others = dask_image_runs(decode, image, threshold, block)
    if others is None:
        print(f"dask-image not importable: its rows are skipped (install it into {DASK_IMAGE})")
    else:
        runs.update(others)
    times: dict[str, list[float]] = {name: [] for name in runs}
    results = {}
    for _ in range(args.repeats):  # interleaved
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - start)
    load = f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    print(f"{side} x {side} image, {reference.max()} nuclei (decoder on the whole image: "
          f"{whole_s:.2f} s), blocks {block} x {block}, biakit halo {halo}; {load}; "
          f"median of {args.repeats}")  # fmt: skip
    base = statistics.median(times["biakit label_blockwise"])
    print(f"{'method':28s} {'objects':>8s} {'merges':>7s} {'splits':>7s} {'pixels':>7s} "
          f"{'time s':>7s} {'/ biakit':>8s}")  # fmt: skip
    for name, labels in results.items():
        merges, splits = errors(reference, labels)
        n = len(np.unique(labels)) - 1
        t = statistics.median(times[name])
        pixels = differing_pixels(reference, labels)
        print(f"{name:28s} {n:8d} {merges:7d} {splits:7d} {pixels:7d} {t:7.2f} {t / base:8.2f}")


if __name__ == "__main__":
    main()
