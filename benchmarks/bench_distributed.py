"""Block-wise processing on Dask distributed: bounded worker memory, 2 workers vs 1.

Parts (run one with ``--part``, default both):

* ``memory``: segment a lazily generated volume several times larger than the memory
  given to the workers (default 2 workers x 1 GiB on a 4 GiB uint8 volume) with the
  classical pipeline (Gaussian, Otsu, hole filling, instance labels stitched across
  blocks) into an OME-Zarr; record every worker's peak RSS (``getrusage`` of the
  worker process) against its limit. The volume is computed region by region from
  its coordinates (jittered grid of balls), so it never exists whole anywhere.
* ``speed``: a 4096 x 4096 image, local cluster of 1 worker vs 2 workers (1 thread
  each), interleaved A/B/A/B, medians: the classical pipeline and a tiny U-Net's
  block-wise prediction.

Usage::

    python benchmarks/bench_distributed.py --part memory --volume-gib 4 --memory-limit 1GiB
    python benchmarks/bench_distributed.py --part speed --repeats 3

The machine's load (``/proc/loadavg``) is printed with the figures.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import biakit  # noqa: F401  (first: OpenMP policy before torch)

CELL = 32


class BallVolume:
    """A uint8 volume of balls on a jittered grid, rendered for any region on demand."""

    def __init__(self, shape: tuple[int, ...], seed: int = 0) -> None:
        self.shape, self.dtype, self.seed = tuple(shape), np.dtype(np.uint8), seed
        self.ndim = len(shape)

    def _centres(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = (cells * np.array([73856093, 19349663, 83492791])[: cells.shape[-1]]).sum(-1)
        h = (h ^ self.seed) % 1000003
        jitter = np.stack([(h >> (4 * i)) % 9 - 4 for i in range(cells.shape[-1])], -1)
        radius = 6 + h % 7
        return cells * CELL + CELL // 2 + jitter, radius

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        ranges = [np.arange(*s.indices(n)) for s, n in zip(key, self.shape)]
        grids = np.meshgrid(*ranges, indexing="ij", sparse=True)
        cells = [g // CELL for g in grids]
        cell_index = np.stack(np.broadcast_arrays(*cells), -1)
        centre, radius = self._centres(cell_index)
        d2 = sum((np.broadcast_to(g, centre.shape[:-1]) - centre[..., i]) ** 2
                 for i, g in enumerate(grids))  # fmt: skip
        out = np.where(d2 <= radius**2, 180, 30).astype(np.uint8)
        return out + (np.broadcast_to(grids[-1], out.shape) % 4).astype(np.uint8)


def _source(shape: tuple[int, ...]):
    from biakit.distributed import LazySource
    from biakit.io import ImageMeta

    axes = "ZYX"[-len(shape) :]
    return LazySource("array", None, None, tuple(range(len(shape))), ImageMeta(axes),
                      shape, np.dtype(np.uint8), BallVolume(shape))  # fmt: skip


def _pipeline():
    from biakit import Pipeline

    return Pipeline([{"step": "gaussian", "sigma": 1.0}, {"step": "threshold", "method": "otsu"},
                     "fill_holes", "label"], name="balls")  # fmt: skip


def _peak_rss(client) -> dict[str, int]:
    import resource

    return client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def part_memory(args: argparse.Namespace, work: Path) -> None:
    from dask.utils import parse_bytes

    from biakit.distributed import run_pipeline
    from distributed import Client, LocalCluster

    n = round((args.volume_gib * 2**30) ** (1 / 3))
    shape = (n, n, n)
    limit = parse_bytes(args.memory_limit)
    print(f"memory: volume {shape} uint8 = {np.prod(shape) / 2**30:.2f} GiB; 2 workers x "
          f"{limit / 2**30:.2f} GiB limit; blocks {args.block}^3; load {_load()}")  # fmt: skip
    env = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=limit, env=env,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        t0 = time.perf_counter()
        report = run_pipeline(_pipeline(), _source(shape), work / "mem.ome.zarr", client=client,
                              block_shape=args.block, halo=CELL, levels=1)  # fmt: skip
        seconds = time.perf_counter() - t0
        peaks = _peak_rss(client)
    worst = max(peaks.values())
    print(
        f"memory: {report.n_objects} objects in {seconds:.0f} s; peak RSS per worker "
        + ", ".join(f"{v / 2**30:.2f} GiB" for v in peaks.values())
        + f"; worst / limit = {worst / limit:.2f} (goal <= 1.5); load {_load()}"
    )


def _timed(n_workers: int, job) -> float:
    from distributed import Client, LocalCluster

    env = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "BIAKIT_THREADS": "1"}
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, env=env,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        client.run(lambda: __import__("biakit.distributed._pipeline"))  # warm imports
        t0 = time.perf_counter()
        job(client)
        return time.perf_counter() - t0


def part_speed(args: argparse.Namespace, work: Path) -> None:
    import torch

    from biakit.distributed import predict_blockwise, run_pipeline
    from biakit.nn.models import build_network
    from biakit.workflows import SemanticConfig, SemanticSegmenter

    shape = (args.size, args.size)
    image = np.asarray(BallVolume(shape)[(slice(None),) * 2])
    cfg = SemanticConfig(patch_shape=(64, 64), model={"depth": 2, "base_filters": 8},
                         train={"amp": "none", "device": "cpu"})  # fmt: skip
    unet = SemanticSegmenter(cfg)
    unet.network_config = cfg.network_config(1)
    torch.manual_seed(0)
    unet.model = build_network(unet.architecture, unet.network_config).eval()
    jobs = {
        "classical pipeline": lambda c, d: run_pipeline(
            _pipeline(), image, d, client=c, block_shape=1024, halo=CELL, levels=1),
        "U-Net prediction": lambda c, d: predict_blockwise(
            unet, image, d, client=c, block_shape=1024, levels=1),
    }  # fmt: skip
    print(
        f"speed: image {shape}; {args.repeats} x (1 worker, 2 workers) interleaved; load {_load()}"
    )
    for name, job in jobs.items():
        times: dict[int, list[float]] = {1: [], 2: []}
        for r in range(args.repeats):
            for workers in (1, 2) if r % 2 == 0 else (2, 1):
                dest = work / f"speed-{workers}-{r}.ome.zarr"
                times[workers].append(_timed(workers, lambda c, d=dest, j=job: j(c, d)))
                shutil.rmtree(dest, ignore_errors=True)
        one, two = statistics.median(times[1]), statistics.median(times[2])
        goal = 1.7 if name.startswith("classical") else 1.3
        print(
            f"speed: {name}: 1 worker {one:.1f} s, 2 workers {two:.1f} s (medians), "
            f"speed-up {one / two:.2f}x (goal >= {goal}); load {_load()}"
        )


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ")[0]
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["memory", "speed", "all"], default="all")
    parser.add_argument("--volume-gib", type=float, default=4.0)
    parser.add_argument("--memory-limit", default="1GiB")
    parser.add_argument("--block", type=int, default=256)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    try:
        if args.part in ("memory", "all"):
            part_memory(args, work)
        if args.part in ("speed", "all"):
            part_speed(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
