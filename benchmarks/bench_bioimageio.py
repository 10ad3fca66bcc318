"""Running a bioimage.io package: biakit's tiled prediction vs bioimageio.core, one process.

The package is the hand-written plain PyTorch U-Net under ``tests/data/bioimageio``
(format 0.5, pytorch_state_dict). Both run the package's own pre- and
post-processing on a ``--size`` x ``--size`` image; the steps alternate (one
bioimageio.core prediction, one biakit prediction, ``--rounds`` times) and the
medians and the ratio are printed, with the largest difference between the two
outputs (goal of issue 14: <= 1e-4).

    .venv/bin/python benchmarks/bench_bioimageio.py [--size 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time
from pathlib import Path

import numpy as np

PACKAGE = Path(__file__).parents[1] / "tests" / "data" / "bioimageio" / "plain_unet" / "rdf.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from bioimageio.core import create_prediction_pipeline, load_description, predict

    from biakit.bioimageio import load_package
    from biakit.bioimageio._quiet import quiet_bioimageio

    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()}")
    rng = np.random.default_rng(0)
    image = rng.random((1, args.size, args.size)).astype(np.float32)
    ours = load_package(PACKAGE)
    times = {"bioimageio.core": [], "biakit": []}
    with quiet_bioimageio():
        pipeline = create_prediction_pipeline(load_description(PACKAGE))
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            sample = predict(model=pipeline, inputs=image[None])
            core = np.asarray(next(iter(sample.members.values())).data)[0]
            times["bioimageio.core"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            mine = ours.predict_maps(image)
            times["biakit"].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"  {k:16s} median {v:.3f} s over {args.rounds} interleaved rounds")
    print(f"  bioimageio.core / biakit = {med['bioimageio.core'] / med['biakit']:.2f}x; "
          f"max |difference| {float(np.abs(core - mine).max()):.2e} (goal <= 1e-4)")  # fmt: skip
    print(f"load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
