"""Block-wise processing on Dask distributed: bounded worker memory, 2 workers vs 1.

Parts (run one with ``--part``, default both):

* ``memory``: segment a lazily generated volume several times larger than the memory
  given to the workers (default 2 workers x 1 GiB on a 4 GiB uint8 volume) with the
  classical pipeline (Gaussian, Otsu, hole filling, instance labels stitched across
  blocks) into an OME-Zarr; record every worker's peak RSS (``getrusage`` of the
  worker process, and the highest sample of the worker's own memory monitor) against
  its limit, and whether a worker was restarted. The volume is computed region by
  region from its coordinates (one ball per 32^3 cell, so the object count is known
  exactly), so it never exists whole anywhere. On a small machine use the same ratio
  at a smaller scale: a worker of this stack idles at ~235 MiB (Dask pauses it at 80%
  of its limit), so 512 MiB is the smallest useful limit, e.g.
  ``--volume-gib 2 --memory-limit 512MiB --block 192`` (4x one worker's limit).
* ``speed``: a 4096 x 4096 image (an OME-Zarr read block by block), local cluster of
  1 worker vs 2 workers (1 thread each), interleaved A/B/B/A/A/B, medians: the
  classical pipeline (its default blocks, 1024^2 here; ``--speed-block`` to set them)
  and a tiny U-Net's block-wise prediction (``--jobs`` picks one). Imports are warmed
  first in this process and on each worker (steady state, as on a running cluster;
  cluster start-up is not timed). It first waits (up to
  ``--quiet-wait`` s) for a 1-minute load average below ``--quiet-load``, and prints
  how many CPUs two busy processes get (``2 t(1 alone) / t(2 at once)`` of a
  pure-Python loop, 2.00 on an idle 2-core machine) next to each speed-up.

Usage::

    python benchmarks/bench_distributed.py --part memory --volume-gib 4 --memory-limit 1GiB
    python benchmarks/bench_distributed.py --part speed --repeats 3
    python benchmarks/bench_distributed.py --part speed --jobs classical --repeats 5

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
        """Render ``key`` (unit-step slices) cell by cell: each ball lies inside its cell."""
        bounds = [s.indices(n) for s, n in zip(key, self.shape)]
        if any(step != 1 for _, _, step in bounds):
            raise ValueError(f"BallVolume reads unit-step slices, got {key!r}")
        start = np.array([b[0] for b in bounds])
        stop = np.maximum(np.array([b[1] for b in bounds]), start)
        out = np.full(tuple(stop - start), 30, np.uint8)
        if out.size == 0:
            return out
        ranges = [np.arange(a // CELL, (b - 1) // CELL + 1) for a, b in zip(start, stop)]
        cells = np.stack(np.meshgrid(*ranges, indexing="ij"), -1).reshape(-1, self.ndim)
        centres, radii = self._centres(cells)
        for cell, centre, radius in zip(cells, centres, radii):
            lo = np.maximum(cell * CELL, start)
            hi = np.minimum((cell + 1) * CELL, stop)
            grids = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi))]
            d2 = sum((g - c) ** 2 for g, c in zip(grids, centre))
            box = tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, start))
            out[box][d2 <= radius**2] = 180
        x = np.arange(start[-1], stop[-1]) % 4
        return out + x.astype(np.uint8)


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


def _worker_memory(dask_worker) -> dict[str, int]:
    """A worker's own figures: peak RSS (kernel), its monitor's highest sample, pid."""
    import os
    import resource

    samples = dask_worker.monitor.quantities.get("memory") or [0]
    return {
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "monitor": int(max(samples)),
        "pid": os.getpid(),
    }


def _warm(dask_worker=None) -> None:
    """Import, and run once on a tiny image, what the classical pipeline runs on a worker.

    Imports are lazy: without this the first task on every worker of every timed run
    would import scikit-image, SciPy and the steps (about 0.5 s a worker), a cost a
    running cluster pays once, not per image.
    """
    import biakit.distributed._pipeline
    import biakit.distributed._stitch_block  # noqa: F401

    _pipeline().run(np.zeros((32, 32), np.float32))


def part_memory(args: argparse.Namespace, work: Path) -> None:
    import resource

    from dask.utils import parse_bytes

    from biakit.distributed import run_pipeline
    from distributed import Client, LocalCluster

    n = -(-round((args.volume_gib * 2**30) ** (1 / 3)) // CELL) * CELL  # whole cells
    shape = (n, n, n)
    limit, volume = parse_bytes(args.memory_limit), int(np.prod(shape))
    cells = int(np.prod([k // CELL for k in shape]))  # exactly one ball per cell
    print(f"memory: volume {shape} uint8 = {volume / 2**30:.2f} GiB; {args.workers} workers x "
          f"{limit / 2**30:.2f} GiB limit (volume = {volume / limit:.1f}x one worker's limit, "
          f"{volume / (args.workers * limit):.1f}x all workers'); blocks {args.block}^3; "
          f"load {_load()}")  # fmt: skip
    env = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, memory_limit=limit, env=env,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        client.run(_warm)
        before = client.run(_worker_memory)
        print("memory: worker RSS after imports "
              + ", ".join(f"{v['monitor'] / 2**20:.0f} MiB" for v in before.values()))  # fmt: skip
        t0 = time.perf_counter()
        report = run_pipeline(_pipeline(), _source(shape), work / "mem.ome.zarr", client=client,
                              block_shape=args.block, halo=CELL, levels=1)  # fmt: skip
        seconds = time.perf_counter() - t0
        after = client.run(_worker_memory)
    restarted = sorted({v["pid"] for v in before.values()} - {v["pid"] for v in after.values()})
    peaks = [v["peak"] for v in after.values()]
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        f"memory: {report.n_objects} objects (truth {cells}) in {seconds:.0f} s "
        f"({volume / 2**20 / seconds:.1f} MiB/s); peak RSS per worker (getrusage) "
        + ", ".join(f"{v / 2**30:.3f} GiB" for v in peaks)
        + " (monitor: "
        + ", ".join(f"{v['monitor'] / 2**30:.3f} GiB" for v in after.values())
        + f"); worst / limit = {max(peaks) / limit:.2f} (goal <= 1.5); workers restarted: "
        f"{len(restarted)}; client process peak {main_peak / 2**30:.2f} GiB; load {_load()}"
    )


def _warm_client(work: Path) -> None:
    """Import what a run imports in this process (the first timed run would pay it)."""
    from biakit.distributed import run_pipeline

    image = BallVolume((64, 64))[(slice(None),) * 2]
    run_pipeline(_pipeline(), image, work / "warm.ome.zarr", client="threads", block_shape=32,
                 halo=CELL, levels=1)  # fmt: skip
    shutil.rmtree(work / "warm.ome.zarr", ignore_errors=True)


def _timed(n_workers: int, job) -> float:
    from distributed import Client, LocalCluster

    env = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "BIAKIT_THREADS": "1"}
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, env=env,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        client.run(_warm)  # steady state: a cluster's workers have imported biakit already
        t0 = time.perf_counter()
        job(client)
        return time.perf_counter() - t0


_SPIN = "s = 0\nfor i in range(6_000_000):\n    s += i\n"


def _spin(n: int) -> float:
    """Wall time of ``n`` processes each running the same pure-Python loop at once."""
    import subprocess
    import sys

    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(n)]
    for proc in procs:
        proc.wait()
    return time.perf_counter() - t0


def _capacity() -> float:
    """CPUs two processes get right now: ``2 t(1 alone) / t(2 at once)`` (2.0 when idle)."""
    return 2 * _spin(1) / _spin(2)


def _wait_quiet(limit: float, patience: float) -> None:
    """Wait until the 1-minute load average is below ``limit`` (at most ``patience`` s)."""
    t0 = time.perf_counter()
    while float(_load()) >= limit and time.perf_counter() - t0 < patience:
        time.sleep(15)
    quiet = float(_load()) < limit
    print(f"speed: load {_load()} after waiting {time.perf_counter() - t0:.0f} s for < {limit} "
          f"({'quiet' if quiet else 'never quiet: figures under load'})")  # fmt: skip


def part_speed(args: argparse.Namespace, work: Path) -> None:
    import torch

    from biakit.distributed import predict_blockwise, run_pipeline
    from biakit.io import ImageMeta, write_image
    from biakit.nn.models import build_network
    from biakit.workflows import SemanticConfig, SemanticSegmenter

    shape = (args.size, args.size)
    image = work / "speed-input.ome.zarr"  # read lazily, block by block, as a big image is
    write_image(image, BallVolume(shape)[(slice(None),) * 2], ImageMeta("YX"),
                chunks=(1024, 1024))  # fmt: skip
    cfg = SemanticConfig(patch_shape=(64, 64), model={"depth": 2, "base_filters": 8},
                         train={"amp": "none", "device": "cpu"})  # fmt: skip
    unet = SemanticSegmenter(cfg)
    unet.network_config = cfg.network_config(1)
    torch.manual_seed(0)
    unet.model = build_network(unet.architecture, unet.network_config).eval()
    jobs = {
        "classical pipeline": lambda c, d: run_pipeline(  # default blocks: 1024^2 here
            _pipeline(), image, d, client=c, block_shape=args.speed_block or None, halo=CELL,
            levels=1),
        "U-Net prediction": lambda c, d: predict_blockwise(
            unet, image, d, client=c, block_shape=1024, levels=1),
    }  # fmt: skip
    jobs = {k: v for k, v in jobs.items() if args.jobs == "all" or k.startswith(args.jobs)}
    _warm_client(work)  # this process's imports are not part of any timed run
    if args.quiet_load > 0:
        _wait_quiet(args.quiet_load, args.quiet_wait)
    print(
        f"speed: image {shape}; {args.repeats} x (1 worker, 2 workers) interleaved; load {_load()}"
    )
    for name, job in jobs.items():
        times: dict[int, list[float]] = {1: [], 2: []}
        capacity, loads = [], []
        for r in range(args.repeats):
            capacity.append(_capacity())
            for workers in (1, 2) if r % 2 == 0 else (2, 1):
                dest = work / f"speed-{workers}-{r}.ome.zarr"
                loads.append(float(_load()))
                times[workers].append(_timed(workers, lambda c, d=dest, j=job: j(c, d)))
                shutil.rmtree(dest, ignore_errors=True)
        one, two = statistics.median(times[1]), statistics.median(times[2])
        goal = 1.7 if name.startswith("classical") else 1.3
        print(
            f"speed: {name}: 1 worker {one:.1f} s, 2 workers {two:.1f} s (medians of "
            f"{', '.join(f'{t:.1f}' for t in times[1])} / {', '.join(f'{t:.1f}' for t in times[2])}"
            f"), speed-up {one / two:.2f}x (goal >= {goal}); two busy processes got "
            f"{statistics.median(capacity):.2f} CPUs (2.00 on an idle machine); load at starts "
            f"{min(loads):.2f}-{max(loads):.2f}, now {_load()}"
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
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--block", type=int, default=256)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--speed-block",
        type=int,
        default=0,
        help="speed: block side of the classical pipeline (0: its default)",
    )
    parser.add_argument("--jobs", choices=["all", "classical", "U-Net"], default="all",
                        help="speed: which jobs to time")  # fmt: skip
    parser.add_argument(
        "--quiet-load",
        type=float,
        default=4.0,
        help="speed: first wait for a 1-minute load below this (0: don't wait)",
    )
    parser.add_argument("--quiet-wait", type=float, default=1800.0,
                        help="speed: wait at most this many seconds for that")  # fmt: skip
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
