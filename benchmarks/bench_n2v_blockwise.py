"""Noise2Void prediction block-wise (Dask) against in memory, interleaved in one process.

A 2D N2V model (``DenoiseConfig`` defaults: depth-2 U-Net with 32 filters, the four
90-degree turns as TTA, the blind-spot blend) trained briefly on a noisy ``img2d.tif``
(Poisson-Gaussian, 10 photons) restores a ``--size`` x ``--size`` mosaic of it both
ways: ``Denoiser.predict_maps`` in memory, and ``predict_blockwise`` into an OME-Zarr on
a threads client with the default block shape. Rounds alternate the two (A/B/A/B...);
medians and the ratio block-wise / in memory are printed, with the largest difference
of the outputs. A third step per round predicts in memory with ``blending="gaussian"`` (the
cross-faded tiles that were the default before session 10) for the speed and output of
cutting exact tiles instead. Before the blend became a second pass over the written output
(session 9), block-wise prediction predicted the blend's weight region (the whole
image up to 2048 x 2048) once more in the client: about 2x the in-memory time.

Run (about 4 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_n2v_blockwise.py [--size 2048] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
IMG2D = HERE / "_work" / "stardist_data" / "stardist" / "data" / "images" / "img2d.tif"


def noisy_mosaic(size: int) -> np.ndarray:
    """``img2d.tif`` tiled to ``size`` x ``size`` under 10-photon Poisson-Gaussian noise."""
    import tifffile

    img = tifffile.imread(IMG2D).astype(np.float64)
    lo, hi = np.percentile(img, [1, 99.8])
    clean = np.clip((img - lo) / (hi - lo), 0, None)
    reps = [-(-size // n) for n in clean.shape]
    clean = np.tile(clean, reps)[:size, :size]
    rng = np.random.default_rng(1)
    noisy = rng.poisson((clean + 0.02) * 10) + 2.0 * rng.standard_normal(clean.shape)
    return noisy.astype(np.float32)


def main() -> None:
    import torch

    from biakit.distributed import predict_blockwise
    from biakit.io import read_image
    from biakit.workflows import DenoiseConfig, Denoiser

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not IMG2D.exists():
        sys.exit(f"{IMG2D} missing: unpack StarDist's wheel there (see benchmarks/README.md)")
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, load "
          f"{os.getloadavg()[0]:.1f}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    image = noisy_mosaic(args.size)
    den = Denoiser(DenoiseConfig(train={"epochs": 2, "device": "cpu"}))
    den.train([image[:512, :512]])
    times: dict[str, list[float]] = {"memory": [], "blockwise": [], "faded": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            t0 = time.perf_counter()
            ref = den.predict_maps(image)
            times["memory"].append(time.perf_counter() - t0)
            dest = Path(tmp) / f"r{n}.ome.zarr"
            t0 = time.perf_counter()
            predict_blockwise(den, image, dest, client="threads")
            times["blockwise"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            faded = den.predict_maps(image, blending="gaussian")  # the default before session 10
            times["faded"].append(time.perf_counter() - t0)
            maps, _ = read_image(dest, lazy=False)
            diff = float(np.abs(np.asarray(maps).reshape(ref.shape) - ref).max())
            fade = float(np.abs(faded - ref).max())
            print(f"round {n + 1}: in memory {times['memory'][-1]:.1f} s, block-wise "
                  f"{times['blockwise'][-1]:.1f} s (max |diff| {diff:.2e}), in memory "
                  f"cross-faded {times['faded'][-1]:.1f} s (max |diff| {fade:.2e})")  # fmt: skip
    mem, blk, old = (statistics.median(v) for v in times.values())
    print(f"N2V {args.size}x{args.size} (4 turns + blend), load now {os.getloadavg()[0]:.1f}: "
          f"in memory {mem:.1f} s, block-wise {blk:.1f} s (ratio {blk / mem:.2f}), in memory "
          f"cross-faded {old:.1f} s (cut tiles {old / mem:.2f}x faster)")  # fmt: skip


if __name__ == "__main__":
    main()
