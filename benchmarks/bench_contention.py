"""Sharing the machine: a training / tiled-prediction step alone and beside a CPU hog.

A U-Net of the size ``SemanticSegmenter`` trains (2D, depth 3, 16 base filters, batch
of 8 patches of 128x128; forward, cross-entropy, backward, AdamW step) and predicts
tiles (``predict_tiled`` on a 256x256 image: 9 tiles of 128, overlap 16, batch 4) on the CPU, in
two worker processes:

* **before**: torch's defaults -- torch imported before biakit, ``OMP_WAIT_POLICY``,
  ``GOMP_SPINCOUNT``, ``KMP_BLOCKTIME``, ``BIAKIT_THREADS`` and ``OMP_NUM_THREADS``
  unset, torch's default thread count: idle OpenMP threads spin.
* **after**: biakit's policy (:mod:`biakit.runtime`): ``import biakit`` first
  (``OMP_WAIT_POLICY=PASSIVE``), threads chosen by ``pick_device``.

Each step is timed with no hog, beside 1 busy-looping process and beside one per CPU
(the machine's cores all busy), the cases interleaved over rounds (before/after
order alternating) because a shared machine is noisy. The script prints the load
(``os.getloadavg``) at the start and end, median seconds per step and the slow-down
of each policy beside a hog relative to itself alone. Hogs are killed in all cases
(and stop by themselves after ``--hog-timeout`` seconds).

Run: ``.venv/bin/python benchmarks/bench_contention.py [--rounds 3] [--steps 2] [--budget 150]``
(1-3 minutes on 2 CPU cores: no round starts that would end past ``--budget`` s).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

_CLEAN = (
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "KMP_BLOCKTIME",
    "BIAKIT_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
_HOG = (
    "import sys, time\n"
    "end = time.monotonic() + float(sys.argv[1])\n"
    "while time.monotonic() < end:\n"
    "    pass\n"
)


# ------------------------------------------------------------------ worker side


def _worker(policy: str) -> None:
    """Build the model, then answer ``train N`` / ``infer N`` lines with N step times."""
    if policy == "before":
        import torch  # before biakit: its OpenMP runtime reads the unset variables
    else:
        import biakit  # sets OMP_WAIT_POLICY=PASSIVE before torch loads OpenMP
    wait = os.environ.get("OMP_WAIT_POLICY")  # what torch's OpenMP runtime reads
    import torch

    import biakit
    from biakit.nn.infer import predict_tiled
    from biakit.nn.models import unet

    if policy == "after":
        from biakit.nn.device import pick_device

        pick_device("cpu")  # what Trainer and predict_tiled do
    else:  # keep torch's default count through predict_tiled's pick_device
        biakit.runtime.set_threads(torch.get_num_threads())
    torch.manual_seed(0)
    model = unet(ndim=2, depth=3, base_filters=16)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.randn(8, 1, 128, 128)
    y = torch.randint(0, 2, (8, 128, 128))
    image = torch.randn(1, 256, 256).numpy()  # 9 tiles of 128 (overlap 16), 3 batches

    def train() -> None:
        model.train()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    def infer() -> None:
        model.eval()
        predict_tiled(
            model, image, tile_shape=128, overlap=16, blending="none", batch_size=4, device="cpu"
        )

    steps = {"train": train, "infer": infer}
    for step in steps.values():  # warm-up
        step()
    info = {"threads": torch.get_num_threads(), "wait": wait, "omp": _openmp_runtime()}
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        kind, n = line.split()
        times = []
        for _ in range(int(n)):
            t0 = time.perf_counter()
            steps[kind]()
            times.append(time.perf_counter() - t0)
        print(json.dumps(times), flush=True)


def _openmp_runtime() -> str:
    """File name of the OpenMP runtime loaded in this process (libgomp, libiomp5, libomp)."""
    try:
        with open("/proc/self/maps") as f:
            names = {line.split()[-1].rsplit("/", 1)[-1] for line in f if "omp" in line}
    except OSError:
        return "unknown"
    return ", ".join(sorted(n for n in names if n.startswith(("libgomp", "libiomp", "libomp"))))


# ------------------------------------------------------------------ driver side


def _start_worker(policy: str) -> tuple[subprocess.Popen, dict]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEAN}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", policy],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    return proc, json.loads(proc.stdout.readline())


def _ask(proc: subprocess.Popen, kind: str, n: int) -> list[float]:
    proc.stdin.write(f"{kind} {n}\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def _start_hogs(n: int, timeout: float) -> list[subprocess.Popen]:
    return [
        subprocess.Popen([sys.executable, "-c", _HOG, str(timeout)], start_new_session=True)
        for _ in range(n)
    ]


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _report(times: dict, loads: list[int], kinds: list[str]) -> None:
    print(f"\n{'step':6s} {'policy':7s} " + " ".join(f"{f'hogs={h}':>18s}" for h in loads))
    for kind in kinds:
        for policy in ("before", "after"):
            med = {h: statistics.median(times[kind, policy, h]) for h in loads}
            cells = [f"{med[h]:7.3f} s ({med[h] / med[0]:5.1f}x)" for h in loads]
            print(f"{kind:6s} {policy:7s} " + " ".join(f"{c:>18s}" for c in cells))
        for h in loads:
            b, a = (statistics.median(times[kind, p, h]) for p in ("before", "after"))
            print(f"  {kind} hogs={h}: before/after = {b / a:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per case and round")
    parser.add_argument("--budget", type=float, default=150, help="no new round after (s)")
    parser.add_argument("--hog-timeout", type=float, default=120.0, help="hogs stop after this")
    parser.add_argument("--worker", choices=["before", "after"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(args.worker)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally below
    cpus = os.cpu_count() or 1
    loads, kinds = [0, 1, cpus], ["train", "infer"]
    print(time.strftime("%Y-%m-%d %H:%M:%S %Z"), f"| {cpus} CPUs | load avg {_load()}", flush=True)
    workers, hogs = {}, []
    times: dict = {}
    t_start = time.perf_counter()
    try:
        for policy in ("before", "after"):
            workers[policy] = proc = _start_worker(policy)
            threads, wait = proc[1]["threads"], proc[1]["wait"]
            print(f"{policy:6s}: torch threads {threads}, OMP_WAIT_POLICY={wait} at torch import")
        print(f"OpenMP runtime: {proc[1]['omp']}")
        for r in range(args.rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for h in loads:
                hogs = _start_hogs(h, args.hog_timeout)
                time.sleep(0.3)
                for kind in kinds:
                    for policy in order:
                        got = _ask(workers[policy][0], kind, args.steps)
                        times.setdefault((kind, policy, h), []).extend(got)
                _stop(hogs)
            elapsed = time.perf_counter() - t_start
            print(f"round {r + 1}/{args.rounds} done ({elapsed:.0f} s)", flush=True)
            if r + 1 < args.rounds and elapsed * (r + 2) / (r + 1) > args.budget:
                print(f"stopping: another round would pass --budget {args.budget:.0f} s")
                break
    finally:
        _stop(hogs)
        for proc, _ in workers.values():
            try:
                proc.stdin.close()
            except OSError:
                pass
        _stop([proc for proc, _ in workers.values()])
    _report(times, loads, kinds)
    print(f"\nload avg at the end {_load()}; total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
