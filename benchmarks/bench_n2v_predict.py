"""Noise2Void prediction time: biakit's ``Denoiser.predict`` vs CAREamics 0.3.5, interleaved.

What a user runs after training: restore one large noisy image with each tool's defaults.
Both tools first train the same network (CAREamics' default 2D N2V U-Net: depth 2, 32
initial channels, batch norm) for a few steps on a small noisy image (prediction time
does not depend on the weights), then restore a ``--size`` x ``--size`` float32 image
(scikit-image's ``camera`` up-sampled, Gaussian noise sd 25; fixed seed).

* CAREamics: ``CAREamist.predict(image, axes="YX", data_type="array")`` -- its defaults:
  the whole image in one pass, float32, no test-time augmentation; clock around the call
  (normalisation, data loader, Lightning's predict loop included).
* biakit: ``Denoiser.predict(image)`` with its defaults for 2D N2V: automatic tiles,
  bf16 autocast on CPUs with native bfloat16, the four 90-degree turns of test-time
  augmentation averaged (eight flips / turns before 2026-12-06 session 8), the blind-spot
  blend (two float32 passes over a 128 x 128 crop to measure the network's centre gain);
  also ``tta=True`` (all eight), ``tta=False`` (one pass + the blend) and ``tta=False``
  without the blend (the network alone: the same work as CAREamics').

Rounds: a CAREamics prediction (in its worker process, started once, in its own venv),
then the four biakit ones, ``--rounds`` times; medians and ratios of medians.

Run: ``.venv/bin/python benchmarks/bench_n2v_predict.py [--size 2048] [--rounds 3]``
(needs ``benchmarks/_careamics_venv.py`` run once; about 8 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _careamics_venv import VENV_PYTHON  # noqa: E402

WORK = HERE / "_work" / "n2v_predict"
PATCH, BATCH = (64, 64), 16


def _images(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A 256 x 256 noisy training image and a ``size`` x ``size`` noisy test image."""
    from scipy import ndimage as ndi
    from skimage import data

    rng = np.random.default_rng(0)
    camera = data.camera().astype(np.float32)
    train = camera[128:384, 128:384] + 25 * rng.standard_normal((256, 256))
    big = ndi.zoom(camera, size / camera.shape[0], order=1)
    test = big + 25 * rng.standard_normal(big.shape)
    return train.astype(np.float32), test.astype(np.float32)


def _worker(spec_path: str) -> None:
    """Run in venv-careamics: train once, then answer each ``predict`` line with seconds."""
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # CAREamics / Lightning print to stdout: send that to the log
    from _careamics_venv import register_torchvision_stand_ins

    register_torchvision_stand_ins()
    import torch
    from careamics import CAREamist
    from careamics.config import create_n2v_config

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    spec = json.loads(Path(spec_path).read_text())
    train, test = np.load(spec["train"]), np.load(spec["test"])
    config = create_n2v_config("n2v_predict", data_type="array", axes="YX",
                               patch_size=list(PATCH), batch_size=BATCH, num_epochs=1)  # fmt: skip
    cm = CAREamist(config, work_dir=Path(spec["work"]), enable_progress_bar=False)
    cm.train(train_data=train)
    answer.write(json.dumps({"ready": True}) + "\n")
    answer.flush()
    for line in sys.stdin:
        if json.loads(line)["cmd"] == "quit":
            break
        t0 = time.perf_counter()
        pred, _ = cm.predict(test, axes="YX", data_type="array")
        seconds = time.perf_counter() - t0
        shape = list(np.asarray(pred[0] if isinstance(pred, list) else pred).squeeze().shape)
        answer.write(json.dumps({"seconds": seconds, "shape": shape}) + "\n")
        answer.flush()


class Peer:
    """The CAREamics worker process, driven one line at a time."""

    def __init__(self, work: Path, train: Path, test: Path) -> None:
        self.proc = None
        if not VENV_PYTHON.exists():
            print(f"CAREamics SKIPPED: {VENV_PYTHON} missing (run benchmarks/_careamics_venv.py)")
            return
        spec = work / "spec.json"
        spec.write_text(json.dumps({"train": str(train), "test": str(test),
                                    "work": str(work / "careamics")}))  # fmt: skip
        self.log = open(work / "careamics.log", "w")
        env = dict(os.environ, PYTHONPATH="", MPLBACKEND="Agg")
        self.proc = subprocess.Popen(
            [str(VENV_PYTHON), __file__, "--careamics-worker", str(spec)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env,
        )  # fmt: skip
        if not self._read():
            self.proc = None

    def _read(self) -> dict | None:
        line = self.proc.stdout.readline()
        if not line:
            print(f"CAREamics FAILED (log {self.log.name})")
            return None
        return json.loads(line)

    def predict(self) -> dict | None:
        if self.proc is None:
            return None
        self.proc.stdin.write(json.dumps({"cmd": "predict"}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def _biakit(train: np.ndarray) -> object:
    from biakit.workflows import DenoiseConfig, Denoiser

    cfg = DenoiseConfig(algorithm="n2v", patch_shape=PATCH, samples_per_epoch=4 * BATCH,
                        model={"depth": 2, "base_filters": 32},
                        train={"epochs": 1, "batch_size": BATCH, "device": "cpu",
                               "plot_every": 0})  # fmt: skip
    den = Denoiser(cfg)
    den.train([train])
    return den


def _timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--careamics-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.careamics_worker:
        return _worker(args.careamics_worker)
    import torch

    torch.set_num_threads(2)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{now}; load {os.getloadavg()}; torch {torch.__version__}, 2 threads; "
          f"image {args.size} x {args.size}")  # fmt: skip
    WORK.mkdir(parents=True, exist_ok=True)
    train, test = _images(args.size)
    np.save(WORK / "train.npy", train)
    np.save(WORK / "test.npy", test)
    peer = Peer(WORK, WORK / "train.npy", WORK / "test.npy")
    den = _biakit(train)
    den.predict(test[:256, :256])  # warm-up (oneDNN primitives), not timed
    variants = {
        "biakit default (TTA x4 + blend)": lambda: den.predict(test),
        "biakit tta=True (x8 + blend)": lambda: den.predict(test, tta=True),
        "biakit tta=False (+ blend)": lambda: den.predict(test, tta=False),
        "biakit network alone": lambda: _network_alone(den, test),
    }
    rows: list[dict[str, float]] = []
    try:
        for r in range(args.rounds):
            row = {}
            answer = peer.predict()
            if answer is not None:
                row["CAREamics default"] = answer["seconds"]
            for name, fn in variants.items():
                row[name] = _timed(fn)
            row["load1"] = os.getloadavg()[0]
            rows.append(row)
            print(f"  round {r + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()),
                  flush=True)  # fmt: skip
    finally:
        peer.close()
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "load1"}
    print(f"\nmedians of {len(rows)} interleaved rounds (s per {args.size}^2 image):")
    base = med.get("CAREamics default")
    for name, value in med.items():
        ratio = f"  ({base / value:.2f}x CAREamics' speed)" if base else ""
        print(f"  {name:34s} {value:7.2f} s{ratio}")
    print(f"load at end {os.getloadavg()}")


def _network_alone(den: object, image: np.ndarray) -> None:
    blend = den.config.blend_input
    den.config.blend_input = False
    try:
        den.predict(image, tta=False)
    finally:
        den.config.blend_input = blend


if __name__ == "__main__":
    main()
