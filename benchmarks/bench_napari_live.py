"""Live pixel classification: retrain + repaint a 1024 x 1024 view after each stroke.

Issue 15's goal: in the napari widget, retrain on all scribbles and repaint the
visible 1024 x 1024 view in <= 1.0 s on 2 cores. This times the loop the widget
runs (:class:`biakit.pixel.LiveClassifier`: features computed once, a fresh
forest on the painted pixels, the view predicted, written into the prediction
and uncertainty arrays) side by side with napari-convpaint 1.2.0 (its Python API,
``ConvpaintModel``, with its classical ``gaussian`` feature extractor: the
pretrained ones need weights from the internet), on the same image and the
same strokes. Strokes alternate: biakit stroke k, convpaint stroke k, biakit
stroke k+1, ... (convpaint runs in a worker process of its own venv, answering
one stroke at a time). Medians of wall-clock and CPU seconds per stroke are
printed with the ratio, the foreground IoU of the last prediction against the
exact ground truth, and the machine load.

Image: ``biakit.data.synthetic_nuclei`` 1024 x 1024 (200 nuclei); strokes:
``biakit.data.synthetic_scribbles`` on the ground truth, 0.5 % of the pixels,
split into a first batch and then one new stroke per step.

napari-convpaint's venv (torch and torchvision that import together; biakit's
own venv has torch 2.13 only)::

    python3 -m venv benchmarks/_work/napari_convpaint
    benchmarks/_work/napari_convpaint/bin/python -m pip install \\
        torch==2.14.1 torchvision==0.29.1 napari-convpaint==1.2.0 PyQt6==6.11.0

(PyQt6 because ``napari_convpaint``'s package imports its Qt widget; PyPI's torch
brings its CUDA libraries: the venv takes about 5 GB.)

Without it the convpaint column is skipped with a message.

Run: ``.venv/bin/python benchmarks/bench_napari_live.py [--strokes 6]`` (about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VENV_PYTHON = HERE / "_work" / "napari_convpaint" / "bin" / "python"


# ----------------------------------------------------------------- convpaint worker
def convpaint_worker() -> None:
    """Line protocol on stdin/stdout: load an image, then one ``@@{json}`` answer per stroke."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from napari_convpaint.convpaint_model import ConvpaintModel

    model, image = None, None
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "load":
            image = np.load(cmd["image"])
            model = ConvpaintModel("gaussian")
            print("@@" + json.dumps({"ok": True}), flush=True)
            continue
        scribbles = np.load(cmd["scribbles"])
        wall, cpu = time.perf_counter(), time.process_time()
        model.train(image, scribbles)
        labels = np.asarray(model.segment(image))
        out = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
        if cmd.get("save"):
            np.save(cmd["save"], labels)
        print("@@" + json.dumps(out), flush=True)


class Convpaint:
    """The convpaint worker process, driven one stroke at a time."""

    def __init__(self, image_path: Path) -> None:
        env = dict(os.environ, PYTHONPATH="", OMP_WAIT_POLICY="PASSIVE", MPLBACKEND="Agg")
        self.proc = subprocess.Popen(
            [str(VENV_PYTHON), __file__, "--convpaint-worker"], env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        self.ask({"cmd": "load", "image": str(image_path)})

    def ask(self, cmd: dict) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        while True:  # convpaint prints its own messages: answers start with "@@"
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the convpaint worker stopped (see its messages above)")
            if line.startswith("@@"):
                return json.loads(line[2:])

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# ---------------------------------------------------------------------------- biakit
def make_data(n_strokes: int):
    """Image, truth mask and cumulative scribbles (first batch, then one stroke per step)."""
    from scipy import ndimage as ndi

    from biakit.data import synthetic_nuclei, synthetic_scribbles

    s = synthetic_nuclei((1024, 1024), n_objects=200, radius=(6, 12), seed=0)
    strokes = synthetic_scribbles(s.mask.astype(np.uint8) + 1, fraction=0.005, seed=0)
    parts, n = ndi.label(strokes > 0)
    order = np.random.default_rng(0).permutation(np.arange(1, n + 1))
    first = np.isin(parts, order[: n - n_strokes])
    steps = [np.where(first, strokes, 0).astype(np.uint8)]
    for label in order[n - n_strokes :]:
        steps.append(np.where(parts == label, strokes, steps[-1]).astype(np.uint8))
    return s.image, s.mask, steps


def iou(labels: np.ndarray, mask: np.ndarray, foreground: int) -> float:
    pred = labels == foreground
    return float((pred & mask).sum() / (pred | mask).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strokes", type=int, default=6, help="timed strokes after the first")
    parser.add_argument("--convpaint-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.convpaint_worker:
        convpaint_worker()
        return
    from biakit.pixel import LiveClassifier, warm_up

    print(f"{time.strftime('%Y-%m-%d %H:%M')} load at start: {open('/proc/loadavg').read()[:14]}")
    warm_up(background=False)
    image, mask, steps = make_data(args.strokes)
    tmp = Path(tempfile.mkdtemp(prefix="bench_live_"))
    np.save(tmp / "image.npy", image)
    peer = None
    if VENV_PYTHON.exists():
        try:
            peer = Convpaint(tmp / "image.npy")
        except (OSError, RuntimeError, ValueError) as err:
            print(f"napari-convpaint skipped: its worker failed to start ({err})")
    else:
        print(f"napari-convpaint skipped: no venv at {VENV_PYTHON} (see this file's docstring)")
    wall, cpu = time.perf_counter(), time.process_time()
    live = LiveClassifier(image)  # features once, as the widget does when painting starts
    print(f"biakit features of the 1024x1024 image: {time.perf_counter() - wall:.3f} s")
    prediction = np.zeros(image.shape, np.uint16)
    uncertainty = np.zeros(image.shape, np.float32)
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    for k, scribbles in enumerate(steps):
        wall, cpu = time.perf_counter(), time.process_time()
        result = live.update(scribbles, view=(slice(0, 1024), slice(0, 1024)))
        prediction[result.view], uncertainty[result.view] = result.labels, result.uncertainty
        if k:  # the first stroke batch is the warm-up of both sides
            ours.append((time.perf_counter() - wall, time.process_time() - cpu))
        if peer is not None:
            np.save(tmp / "scribbles.npy", scribbles)
            last = k == len(steps) - 1
            answer = peer.ask({"cmd": "stroke", "scribbles": str(tmp / "scribbles.npy"),
                               "save": str(tmp / "convpaint.npy") if last else None})  # fmt: skip
            if k:
                theirs.append((answer["wall"], answer["cpu"]))
    report(ours, theirs, iou(prediction, mask, 2), tmp if peer is not None else None, mask)
    if peer is not None:
        peer.close()
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"load at end: {open('/proc/loadavg').read()[:14]}")


def report(ours, theirs, our_iou, tmp, mask) -> None:
    med = [statistics.median(x[i] for x in ours) for i in (0, 1)]
    print(f"\nretrain + repaint a 1024x1024 view, median of {len(ours)} strokes:")
    print(f"  biakit LiveClassifier ('fast' features, 24 trees): {med[0]:.3f} s wall, "
          f"{med[1]:.3f} s CPU; foreground IoU {our_iou:.4f}")  # fmt: skip
    if not theirs or tmp is None:
        return
    peer = [statistics.median(x[i] for x in theirs) for i in (0, 1)]
    their_iou = iou(np.load(tmp / "convpaint.npy"), mask, 2)
    print(f"  napari-convpaint 1.2.0 (gaussian features):        {peer[0]:.3f} s wall, "
          f"{peer[1]:.3f} s CPU; foreground IoU {their_iou:.4f}")  # fmt: skip
    print(f"  ratio (convpaint / biakit): {peer[0] / med[0]:.2f}x wall, "
          f"{peer[1] / med[1]:.2f}x CPU")  # fmt: skip


if __name__ == "__main__":
    main()
