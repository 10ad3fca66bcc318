"""Running a bioimage.io package: biakit's tiled prediction vs bioimageio.core, one process.

The packages are the hand-written plain PyTorch networks under ``tests/data/bioimageio``
(format 0.5, pytorch_state_dict): ``plain_unet`` (a 2D U-Net) on a ``--size`` x
``--size`` image, and ``plain_video`` (a time axis: ``--frames`` frames of
``--size / 2`` squared, tiled along space only). Both tools run the package's own
pre- and post-processing; the steps alternate (one bioimageio.core prediction, one
biakit prediction, ``--rounds`` times) and the medians and the ratio are printed,
with the largest difference between the two outputs (goal of issue 14: <= 1e-4).

    .venv/bin/python benchmarks/bench_bioimageio.py [--size 1024] [--frames 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).parents[1] / "tests" / "data" / "bioimageio"


def _race(name: str, image: np.ndarray, dims: tuple[str, ...], rounds: int) -> None:
    """Interleave bioimageio.core's ``predict`` and biakit's ``predict_maps``; print medians."""
    from bioimageio.core import Sample, Tensor, create_prediction_pipeline, load_description
    from bioimageio.core import predict as core_predict

    from biakit.bioimageio import load_package
    from biakit.bioimageio._quiet import quiet_bioimageio

    rdf = DATA / name / "rdf.yaml"
    ours = load_package(rdf)
    lay = ours.geometry.inputs[0]
    # biakit's layout ([T,] C, *space) of the package's (batch, channel, [time,] *space)
    mine_in = image[0].transpose(1, 0, 2, 3) if lay.time else image[0]
    times: dict[str, list[float]] = {"bioimageio.core": [], "biakit": []}
    with quiet_bioimageio():
        pipeline = create_prediction_pipeline(load_description(rdf))
        for _ in range(rounds):
            t0 = time.perf_counter()
            sample = Sample(members={lay.id: Tensor(image, dims=dims)}, stat={}, id="x")
            out = next(iter(core_predict(model=pipeline, inputs=sample).members.values()))
            core = np.asarray(out.data)[0]
            times["bioimageio.core"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            mine = ours.predict_maps(mine_in)
            times["biakit"].append(time.perf_counter() - t0)
    if lay.time:
        core = core.transpose(1, 0, 2, 3)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{name}: input {image.shape} {dims}")
    for k, v in med.items():
        print(f"  {k:16s} median {v:.3f} s over {rounds} interleaved rounds")
    print(f"  bioimageio.core / biakit = {med['bioimageio.core'] / med['biakit']:.2f}x; "
          f"max |difference| {float(np.abs(core - mine).max()):.2e} (goal <= 1e-4)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()}")
    rng = np.random.default_rng(0)
    image = rng.random((1, 1, args.size, args.size)).astype(np.float32)
    _race("plain_unet", image, ("batch", "channel", "y", "x"), args.rounds)
    half = args.size // 2
    movie = rng.random((1, 1, args.frames, half, half)).astype(np.float32)
    _race("plain_video", movie, ("batch", "channel", "time", "y", "x"), args.rounds)
    print(f"load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
