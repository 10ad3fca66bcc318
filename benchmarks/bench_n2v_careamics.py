"""Noise2Void on the CPU: biakit's ``Denoiser`` vs CAREamics 0.3.5, side by side.

Data (built offline, fixed seed): a BSD68-style set from scikit-image's images, grey (RGB
ones through ``rgb2gray``) on the 0-255 scale, with Gaussian noise of sigma 25 added and
not clipped. Training: the noisy versions of ``TRAIN`` (11 images, 2.3 MP); test: 68 noisy
180x180 crops (17 random crops of each of ``TEST``: camera, astronaut, chelsea, coffee)
with their clean crops. Both tools train on the same noisy training images, each with its
own defaults for what is not set here (validation, augmentation, optimiser, schedule).

Network, patches, batch (CAREamics' default 2D N2V config, ``create_n2v_config``): a U-Net
of depth 2 with 32 initial channels and batch norm, 64x64 patches, batch 16, 0.2% of the
pixels masked (uniform replacement in an 11x11 window). The two U-Nets differ in their
up-sampling (CAREamics: bilinear, 333 k parameters; biakit's default: transposed
convolutions, 467 k).

Parts
-----
``speed``: wall-clock steps/s, INTERLEAVED: ``--rounds`` rounds (no new round after
``--speed-limit`` seconds), each a CAREamics run then a biakit run (A/B/A/B...), medians
over rounds. CAREamics: a fresh ``CAREamist`` trains for ``--epochs`` epochs (one epoch =
one pass over its patches of the training images; its validation, checkpointing and epoch
overhead included); the clock runs over ``CAREamist.train``. Its in-loop step (batch start
to batch end, Lightning callback) is reported too. biakit: ``Denoiser.train`` on the same
images with as many patches per epoch and as many epochs (its validation, checkpoints and
curves included), 0.2% masked like CAREamics. Bare step: a fresh copy of the same network
as biakit's, plain forward + masked MSE + backward + AdamW step on a fixed batch in
PyTorch's default layout, under the precision biakit's training resolved to
(``amp="auto"``: bf16 autocast on a CPU with native bfloat16, else float32; CAREamics runs
float32); one bare step runs right after each of biakit's optimiser steps (interleaved step
by step, so load changes hit both alike), and its time is taken out of biakit's wall clock.
biakit's in-loop step is the time from the end of one bare step to the end of biakit's next
optimiser step (patches, masking, forward, backward, optimiser, schedule), steps across an
epoch boundary left out; medians over the run. ``bare``: the same without CAREamics.
Goals: biakit >= 2.0x CAREamics' wall-clock steps/s; biakit's in-loop step <= 1.05x the
bare step.

``quality``: both tools train AT THE SAME TIME for ``--minutes`` of wall time, one thread
each (so the machine's load hits both alike), then denoise the 68 test crops; mean PSNR on
the 0-255 scale, the same computation for both (``10 log10(255^2 / MSE)`` per crop, no
clipping). CAREamics is stopped by a callback once the budget has passed (its
ReduceLROnPlateau schedule needs no length); biakit gets ``train.max_time`` = the budget
(its cosine schedule decays over the budget). Same network, patches and batch on both
sides; everything else at each tool's defaults: biakit's ``mask_fraction`` (1.5% since
issue 11, ``--quality-mask`` to change it), its test-time augmentation for 2D N2V and its
blind-spot blend (``blend_input``; the PSNR without each is printed too). The training
steps each did in the same wall time are the concurrent throughput figure. Goal (issue 11):
biakit >= CAREamics + 1.0 dB in 10 CPU minutes. Both models then also restore the test
crops stored as another acquisition would (``_bsd68_data.intensity_variants``: 3x the gain
plus an offset of 400; each crop stretched to 0..255 and saved as 8-bit), mapped back to the
original scale before the same PSNR.

CAREamics runs in its own venv (``benchmarks/_careamics_venv.py`` creates it: torch 2.13.0
CPU, ``--no-deps torchvision==0.28.0 careamics==0.3.5`` and its other requirements), in a
worker process started once (``--careamics-worker``; it imports CAREamics and NumPy, never
biakit) and driven line by line, so rounds interleave without re-importing. Without that
venv the script runs biakit alone and says what it skipped.

Run (about 8-9 minutes on 2 busy cores with the defaults; ``--minutes 10`` is the issue's
budget and takes about 23 minutes)::

    .venv/bin/python benchmarks/_careamics_venv.py          # once
    .venv/bin/python benchmarks/bench_n2v_careamics.py [--part all|speed|bare|quality] \
        [--rounds 3] [--epochs 1] [--speed-limit 100] [--minutes 2.5] [--quality-mask F]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _careamics_venv import VENV_PYTHON  # noqa: E402

WORK = HERE / "_work" / "n2v_careamics"
PATCH, BATCH, MASK = (64, 64), 16, 0.002
from _bsd68_data import (  # noqa: E402
    CROP,
    SEED,
    SIGMA,
    TRAIN,
    intensity_variants,
    make_data,
    psnr,
)


# ------------------------------------------------------------------ CAREamics worker
def _careamics_worker(spec_path: str) -> None:
    """Run in venv-careamics: read JSON commands on stdin, answer JSON lines on stdout."""
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # CAREamics / Lightning print to stdout: send that to the log
    from _careamics_venv import register_torchvision_stand_ins

    register_torchvision_stand_ins()
    from careamics import CAREamist
    from careamics.config import create_n2v_config
    from lightning.pytorch.callbacks import Callback

    spec = json.loads(Path(spec_path).read_text())
    data = np.load(spec["data"])
    train = [data[f"train_{i}"] for i in range(len(TRAIN))]

    class Clock(Callback):
        def __init__(self, budget: float | None) -> None:
            self.budget, self.steps, self.start = budget, [], time.perf_counter()

        def on_train_batch_start(self, *args: object) -> None:
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, *args: object) -> None:
            self.steps.append(time.perf_counter() - self.t0)
            if self.budget is not None and time.perf_counter() - self.start >= self.budget:
                trainer.should_stop = True

    for n, line in enumerate(sys.stdin):
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        if cmd.get("threads"):
            import torch

            torch.set_num_threads(int(cmd["threads"]))
        epochs = cmd.get("epochs", 100_000)
        config = create_n2v_config(
            "n2v_bench", data_type="array", axes="YX", patch_size=list(PATCH),
            batch_size=BATCH, num_epochs=epochs,
        )  # fmt: skip
        clock = Clock(cmd.get("seconds"))
        work = Path(spec["work"]) / f"run{n}"
        cm = CAREamist(config, work_dir=work, callbacks=[clock], enable_progress_bar=False)
        t0 = clock.start = time.perf_counter()
        cm.train(train_data=train)
        wall = time.perf_counter() - t0
        steps = int(cm.trainer.global_step)
        out = {"wall_s": wall, "steps": steps, "epochs": int(cm.trainer.current_epoch),
               "step_median_s": float(np.median(clock.steps[2:] or clock.steps)),
               "steps_per_epoch": int(cm.trainer.num_training_batches)}  # fmt: skip
        if "predict" in cmd:
            t1 = time.perf_counter()
            pred, _ = cm.predict(data["test_noisy"], axes="SYX", data_type="array")
            pred = np.asarray(pred, dtype=np.float32).reshape(data["test_noisy"].shape)
            np.save(cmd["predict"], pred)
            out["predict_s"] = time.perf_counter() - t1
            for name, (x, gain, offset) in intensity_variants(data["test_noisy"]).items():
                pred, _ = cm.predict(x, axes="SYX", data_type="array")
                pred = np.asarray(pred, dtype=np.float64).reshape(x.shape)
                np.save(f"{cmd['predict']}.{name}.npy", (pred - offset) / gain)
        answer.write(json.dumps(out) + "\n")
        answer.flush()


class Peer:
    """The CAREamics worker process, started once and driven one command at a time."""

    def __init__(self, data_path: Path, work: Path) -> None:
        self.proc = None
        if not VENV_PYTHON.exists():
            print(
                f"CAREamics SKIPPED: {VENV_PYTHON} missing (create it with "
                "`.venv/bin/python benchmarks/_careamics_venv.py`); biakit runs alone"
            )
            return
        spec = work / "spec.json"
        spec.write_text(json.dumps({"data": str(data_path), "work": str(work / "careamics")}))
        self.log_path = work / "careamics.log"
        self.log = open(self.log_path, "w")
        env = dict(os.environ, PYTHONPATH="", MPLBACKEND="Agg")
        cmd = [str(VENV_PYTHON), __file__, "--careamics-worker", str(spec)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, env=env)  # fmt: skip

    @classmethod
    def none(cls) -> Peer:
        """A peer that runs nothing (``--part bare``)."""
        peer = cls.__new__(cls)
        peer.proc = None
        return peer

    def __call__(self, **cmd: object) -> dict | None:
        if self.proc is None:
            return None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.log.flush()
            tail = self.log_path.read_text().splitlines()[-15:]
            print(f"CAREamics FAILED (log {self.log_path}):\n" + "\n".join(tail))
            self.proc = None
            return None
        return json.loads(line)

    def close(self) -> None:
        if getattr(self, "proc", None) is not None:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        if hasattr(self, "log"):
            self.log.close()


# ------------------------------------------------------------------ biakit
def _config(
    samples: int, epochs: int, amp: str, max_time: float | None = None, mask: float | None = MASK
) -> object:
    """biakit's config: CAREamics' network, patches and batch; ``mask=None``: biakit's default."""
    from biakit.workflows import DenoiseConfig

    train = {"epochs": epochs, "batch_size": BATCH, "amp": amp, "device": "cpu"}
    if max_time is not None:
        train["max_time"] = max_time
    extra = {} if mask is None else {"mask_fraction": mask}
    return DenoiseConfig(algorithm="n2v", patch_shape=PATCH, samples_per_epoch=samples,
                         model={"depth": 2, "base_filters": 32}, train=train,
                         **extra)  # fmt: skip


class BareSteps:
    """Plain PyTorch N2V steps of a fresh copy of biakit's network, timed one by one.

    Forward + masked MSE + backward + AdamW step on a fixed batch, in PyTorch's default
    memory layout, under the precision biakit's training resolved to (``amp="auto"``:
    bf16 autocast on a CPU with native bfloat16, else float32): what a user would write.
    """

    def __init__(self, amp: str, samples: int, epochs: int) -> None:
        import torch

        from biakit.nn.models import build_network
        from biakit.nn.train._precision import resolve_amp

        torch.manual_seed(SEED)
        self.net = build_network("unet", _config(samples, epochs, amp).network_config(1)).train()
        self.dtype = resolve_amp(amp, torch.device("cpu"))
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=4e-4)
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(BATCH, 1, *PATCH, generator=g)
        mask = (torch.rand(BATCH, 1, *PATCH, generator=g) < MASK).float()
        self.y = torch.cat([self.x, mask], 1)
        self.times: list[float] = []

    def __call__(self) -> None:
        import torch

        from biakit.nn.targets import n2v_loss

        t0 = time.perf_counter()
        dtype = self.dtype or torch.float32
        with torch.autocast("cpu", dtype=dtype, enabled=self.dtype is not None):
            loss = n2v_loss(self.net(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.times.append(time.perf_counter() - t0)


def biakit_speed(train: list, samples: int, epochs: int, amp: str) -> dict:
    """Wall-clock steps/s of ``Denoiser.train`` (everything included), with bare steps between.

    After each of biakit's optimiser steps one :class:`BareSteps` step runs (a hook on
    ``Trainer._optimizer_step``), so both see the same load at the same moments
    (interleaved step by step); their time is taken out of biakit's wall clock. biakit's
    in-loop step is the time from the end of one bare step to the end of biakit's next
    optimiser step (data, masking, forward, backward, optimiser, schedule); steps across
    an epoch boundary (validation, checkpoint) are left out of its median.
    """
    from biakit.nn.train import Trainer
    from biakit.workflows import Denoiser

    bare = BareSteps(amp, samples, epochs)
    for _ in range(2):
        bare()  # warm-up, not counted
    bare.times.clear()
    original = Trainer._optimizer_step
    marks: list[tuple[float, float, int]] = []  # (biakit step ended, bare step ended, epoch)

    def step_then_bare(self: Trainer, per_step: bool) -> None:
        original(self, per_step)
        t = time.perf_counter()
        bare()
        marks.append((t, time.perf_counter(), self.epoch))

    den = Denoiser(_config(samples, epochs, amp))
    Trainer._optimizer_step = step_then_bare
    try:
        t0 = time.perf_counter()
        hist = den.train(train)
        wall = time.perf_counter() - t0 - sum(bare.times)
    finally:
        Trainer._optimizer_step = original
    steps = int(hist["steps"].iloc[-1])
    loop = [a[0] - b[1] for a, b in zip(marks[1:], marks[:-1]) if a[2] == b[2]]
    # where biakit's wall clock goes: before its first step ends (set-up, first batch),
    # between steps (all of them, mean: load bursts and epoch ends included), after the last
    gaps = [a[0] - b[1] for a, b in zip(marks[1:], marks[:-1])]
    return {"wall_s": wall, "steps": steps, "step_in_loop_s": float(np.median(loop[1:])),
            "bare_s": float(np.median(bare.times[1:])), "setup_s": marks[0][0] - t0,
            "gap_mean_s": float(np.mean(gaps)) if gaps else 0.0,
            "tail_s": t0 + wall + sum(bare.times) - marks[-1][1]}  # fmt: skip


def run_speed(
    peer: Peer, train: list, rounds: int, epochs: int, amp: str, limit: float, batches: int = 36
) -> dict:
    """Interleaved rounds: a CAREamics run, then a biakit run with bare steps between; medians."""
    rows, t0 = [], time.perf_counter()
    samples = BATCH * batches  # replaced by CAREamics' own epoch length once known
    for r in range(rounds):
        if r and time.perf_counter() - t0 > limit:
            print(f"  (stopping after {r} rounds: the speed part passed {limit:.0f} s)")
            break
        c = peer(cmd="speed", epochs=epochs)
        if c is not None:
            samples = BATCH * c["steps_per_epoch"]
        b = biakit_speed(train, samples, epochs, amp)
        row = {"round": r + 1, "biakit_sps": b["steps"] / b["wall_s"],
               "biakit_loop_s": b["step_in_loop_s"], "bare_s": b["bare_s"],
               "biakit_steps": b["steps"], "biakit_setup_s": b["setup_s"],
               "biakit_gap_mean_s": b["gap_mean_s"], "biakit_tail_s": b["tail_s"],
               "load1": os.getloadavg()[0]}  # fmt: skip
        if c is not None:
            row.update(careamics_sps=c["steps"] / c["wall_s"], careamics_loop_s=c["step_median_s"],
                       careamics_steps=c["steps"])  # fmt: skip
        rows.append(row)
        print("  round", json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
    rounds = len(rows)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(f"\nSPEED (interleaved rounds, medians of {rounds}; {epochs} epochs per run, "
          f"{samples} patches per epoch)")  # fmt: skip
    print(
        f"  biakit     Denoiser.train: {med['biakit_sps']:.3f} steps/s wall "
        f"({1 / med['biakit_sps']:.3f} s/step), in-loop step {med['biakit_loop_s']:.3f} s"
    )
    print(
        f"  biakit's wall clock: {med['biakit_setup_s']:.2f} s to its first step's end, "
        f"{med['biakit_gap_mean_s']:.3f} s mean between steps, {med['biakit_tail_s']:.2f} s "
        "after the last (validation, checkpoint, model)"
    )
    print(f"  bare PyTorch step (same net and precision, between biakit's): {med['bare_s']:.3f} s")
    ratio_bare = (1 / med["biakit_sps"]) / med["bare_s"]
    print(
        f"  biakit in-loop step / bare step = {med['biakit_loop_s'] / med['bare_s']:.3f}  "
        f"(goal <= 1.05); wall step (epochs, validation, checkpoints) / bare = {ratio_bare:.3f}"
    )
    if "careamics_sps" in med and peer.proc is not None:
        print(
            f"  CAREamics  CAREamist.train: {med['careamics_sps']:.3f} steps/s wall "
            f"({1 / med['careamics_sps']:.3f} s/step), in-loop step "
            f"{med['careamics_loop_s']:.3f} s (float32)"
        )
        print(
            f"  biakit / CAREamics wall-clock steps/s = "
            f"{med['biakit_sps'] / med['careamics_sps']:.2f}x  (goal >= 2.0x)"
        )
    else:
        print("  CAREamics: skipped (no venv), no ratio")
    return med


# ------------------------------------------------------------------ quality
def run_quality(peer: Peer, data: dict, minutes: float, amp: str, mask: float | None) -> None:
    """Both tools train AT THE SAME TIME for ``minutes``, one thread each (load hits both)."""
    import threading

    import torch

    from biakit.workflows import Denoiser

    budget = 60.0 * minutes
    train = [data[f"train_{i}"] for i in range(len(TRAIN))]
    clean, noisy = data["test_clean"], data["test_noisy"]
    print(
        f"\nQUALITY ({minutes:g} min of wall-clock training each, concurrently, one thread each; "
        f"{len(clean)} test crops {CROP}x{CROP}, sigma {SIGMA:g}; noisy input PSNR "
        f"{psnr(noisy, clean):.2f} dB)"
    )
    pred_path = WORK / "careamics_pred.npy"
    answer: dict = {}
    worker = threading.Thread(target=lambda: answer.update(
        c=peer(cmd="quality", seconds=budget, predict=str(pred_path), threads=1)))  # fmt: skip
    from biakit.runtime import set_threads

    threads = torch.get_num_threads()
    set_threads(1)  # biakit's own thread setting (wins over torch.set_num_threads)
    torch.set_num_threads(1)
    try:
        worker.start()
        # biakit's defaults for the masked fraction and test-time augmentation
        cfg = _config(256, 100_000, amp, max_time=budget, mask=mask)  # schedule follows time
        den = Denoiser(cfg)
        t0 = time.perf_counter()
        hist = den.train(train)
        wall = time.perf_counter() - t0
        worker.join()
        t1 = time.perf_counter()
        pred = np.stack([den.predict(x) for x in noisy])  # the default: TTA for 2D N2V
        t_pred = time.perf_counter() - t1
        plain = np.stack([den.predict(x, tta=False) for x in noisy])
        unblended = np.stack([den.predict(x, blend_input=False) for x in noisy])
        variants = {}  # the crops stored otherwise, restored, then mapped back
        for name, (x, gain, offset) in intensity_variants(noisy).items():
            variants[name] = (np.stack([den.predict(v) for v in x]) - offset) / gain
    finally:
        set_threads(None)
        torch.set_num_threads(threads)
    pb = psnr(pred, clean)
    print(
        f"  biakit:    {pb:.2f} dB  ({int(hist['steps'].iloc[-1])} steps, {len(hist)} epochs, "
        f"train {wall:.0f} s, predict {t_pred:.1f} s; mask_fraction {cfg.mask_fraction:g}, "
        f"tta {cfg.resolved_tta}, blend_input {cfg.resolved_blend_input}; without TTA "
        f"{psnr(plain, clean):.2f} dB, without the blend {psnr(unblended, clean):.2f} dB)"
    )
    c = answer.get("c")
    if c is None:
        print("  CAREamics: skipped (no venv), no difference")
        return
    p = psnr(np.load(pred_path), clean)
    print(
        f"  CAREamics: {p:.2f} dB  ({c['steps']} steps, {c['epochs']} epochs, "
        f"train {c['wall_s']:.0f} s, predict {c['predict_s']:.1f} s)"
    )
    print(f"  biakit - CAREamics = {pb - p:+.2f} dB  (goal >= +1.0 dB)")
    print("  the same test crops stored otherwise (restored, then mapped back; PSNR as above):")
    for name, restored in variants.items():
        peer_psnr = psnr(np.load(f"{pred_path}.{name}.npy"), clean)
        print(f"    {name:16s} biakit {psnr(restored, clean):.2f} dB, CAREamics {peer_psnr:.2f} dB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["all", "speed", "bare", "quality"], default="all")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=1, help="epochs per speed run")
    ap.add_argument(
        "--batches", type=int, default=36, help="batches per epoch without CAREamics (bare)"
    )
    ap.add_argument(
        "--speed-limit",
        type=float,
        default=100.0,
        help="start no new speed round after this many seconds",
    )
    ap.add_argument("--minutes", type=float, default=2.5, help="quality: training budget each")
    ap.add_argument("--amp", default="auto", help="biakit's train.amp (auto | none | bf16)")
    ap.add_argument(
        "--quality-mask",
        type=float,
        default=None,
        help="quality: biakit's mask_fraction (default: biakit's own default)",
    )
    ap.add_argument("--careamics-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.careamics_worker:
        return _careamics_worker(args.careamics_worker)
    import torch

    t_start = time.perf_counter()
    print(
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; load at start "
        f"{os.getloadavg()}; torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    WORK.mkdir(parents=True, exist_ok=True)
    data = make_data()
    data_path = WORK / "data.npz"
    np.savez(data_path, **data)
    train = [data[f"train_{i}"] for i in range(len(TRAIN))]
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        peer = Peer(data_path, Path(tmp)) if args.part != "bare" else Peer.none()
        try:
            if args.part in ("all", "speed", "bare"):  # bare: biakit vs bare PyTorch only
                run_speed(peer, train, args.rounds, args.epochs, args.amp, args.speed_limit,
                          args.batches)  # fmt: skip
            if args.part in ("all", "quality"):
                run_quality(peer, data, args.minutes, args.amp, args.quality_mask)
        finally:
            peer.close()
    print(f"\nload at end {os.getloadavg()}; total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
