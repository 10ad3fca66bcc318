"""Super-resolution training speed on the CPU: biakit vs BiaPy 3.7's RCAN, interleaved.

Set-up of BiaPy's 2D super-resolution template: x2, low-resolution patches of 128x128,
batch 8, one channel, L1 (MAE) loss, AdamW (lr 1e-4, BiaPy's weight decay 0.02), float32
(BiaPy 3.7 has no autocast). BiaPy's network is its own ``rcan`` class at BiaPy's defaults
(``MODEL.RCAN_RG_BLOCK_NUM: 10``, ``RCAN_RCAB_BLOCK_NUM: 20``, ``RCAN_CONV_FILTERS: 16``,
``RCAN_REDUCTION_RATIO: 16``, pixel-shuffle up-scaling: 414 3x3 convolutions, 0.97 M weights).

How BiaPy is driven (and why not its own loop): BiaPy 3.7 pins torch < 2.13 and
torchvision 0.27, about 6 GB of CUDA wheels in a venv of its own, plus bioimageio.core,
xarray, timm and others. Instead, its ``rcan.py`` and ``blocks.py`` are loaded from its
wheel, unpacked once (no install)::

    cd benchmarks/_work && ../../.venv/bin/pip download --no-deps biapy==3.7.0 -d .
    unzip -o biapy-3.7.0-py3-none-any.whl 'biapy/models/*' -d biapy_src

into this process, on biakit's torch (2.13); ``blocks.py`` imports two torchvision ops
that RCAN does not use, so stand-ins are registered for them when torchvision is absent.
BiaPy's side is a bare PyTorch step (forward, L1, backward, AdamW step on batches held in
memory): a lower bound on BiaPy's ``train_one_epoch``, which adds its per-step metric,
logger and data loader. Without the unpacked wheel the script times biakit alone and says
so.

biakit's side is its real training loop: :class:`biakit.nn.train.Trainer` on a
:class:`biakit.nn.datasets.ScaledPairDataset` (random aligned crops, flips and quarter
turns drawn per sample), with epochs of ``--steps`` optimiser steps; the time between two
epoch records of ``Trainer.iter_fit`` includes the patch sampling, the epoch overhead and
the checkpoint written each epoch. Two networks: biakit's default (EDSR-lite, 32 features,
8 blocks) and an RCAN-lite of BiaPy's size (10 groups of 20 blocks, 16 features, reduction
16: the same convolutions; biakit's blocks use ReLU where BiaPy's use SiLU), each under
biakit's default precision (``amp="auto"``: bf16 autocast on a CPU with native bfloat16,
else float32) and in float32 (``--amp none``).

Timing: INTERLEAVED in one process, round after round: one BiaPy step, then one biakit
epoch per biakit variant; patches/s = batch / step time; medians over the rounds after a
warm-up round. The load average at start and end is printed. A step of a network of
BiaPy's size is heavy on a CPU (about 1 TFLOP at batch 8: tens of seconds on 2 cores), so
the defaults are 2 timed rounds of one step each; ``--batch 2`` gives a quick look (the
patches/s of these networks hardly depend on the batch on a CPU).

Run (about 4-6 minutes on 2 idle cores with the defaults)::

    .venv/bin/python benchmarks/bench_sr_biapy.py [--rounds 2] [--steps 1] [--batch 8] \
        [--amp auto]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BIAPY_MODELS = HERE / "_work" / "biapy_src" / "biapy" / "models"
PATCH, BATCH, SCALE = 128, 8, 2
LR, WEIGHT_DECAY = 1e-4, 0.02
EDSR_SIZE = {"n_features": 32, "n_blocks": 8}
RCAN_SIZE = {"n_groups": 10, "n_blocks": 20, "n_features": 16, "reduction": 16}


def load_biapy_rcan() -> type | None:
    """BiaPy's ``rcan`` class from its unpacked wheel, or None when it is missing."""
    if not (BIAPY_MODELS / "rcan.py").exists():
        return None
    import torch

    try:
        import torchvision.ops  # noqa: F401
    except Exception:  # stand-ins for the two ops blocks.py imports (unused by RCAN)

        class _StandIn(torch.nn.Module):
            def __init__(self, *args: object, **kwargs: object) -> None:
                raise RuntimeError("torchvision stand-in: not available in this benchmark")

        for name in ("torchvision", "torchvision.ops"):
            sys.modules[name] = types.ModuleType(name)
        for name, attr in (("stochastic_depth", "StochasticDepth"), ("misc", "Permute")):
            module = types.ModuleType(f"torchvision.ops.{name}")
            setattr(module, attr, _StandIn)
            sys.modules[module.__name__] = module
    for name in ("biapy", "biapy.models"):
        sys.modules.setdefault(name, types.ModuleType(name))
    for name in ("blocks", "rcan"):
        spec = importlib.util.spec_from_file_location(
            f"biapy.models.{name}", BIAPY_MODELS / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["biapy.models.rcan"].rcan


def make_pairs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One 512x512 high-resolution image and its low-resolution version (blur sd 1, 2x2 mean)."""
    from biakit.data import low_high_resolution_pair
    from biakit.nn.datasets import degrade

    high = low_high_resolution_pair((512, 512), seed=seed)[1].astype(np.float32)[None]
    return degrade(high, (SCALE, SCALE), sigma=1.0), high


class BiapyStep:
    """A bare float32 training step of BiaPy's RCAN on batches held in memory."""

    def __init__(
        self, rcan: type, low: np.ndarray, high: np.ndarray, batch: int, seed: int = 0
    ) -> None:
        import torch

        torch.manual_seed(seed)
        self.model = rcan(ndim=2, num_channels=1, filters=16, scale=SCALE, num_rg=10, num_rcab=20,
                          reduction=16, upscaling_layer=True)  # fmt: skip
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
        rng = np.random.default_rng(seed)
        xs, ys = [], []
        for _ in range(4 * batch):  # 4 batches of random aligned crops, cycled
            y0, x0 = (int(rng.integers(0, n - PATCH + 1)) for n in low.shape[1:])
            xs.append(low[:, y0 : y0 + PATCH, x0 : x0 + PATCH])
            ys.append(high[:, 2 * y0 : 2 * (y0 + PATCH), 2 * x0 : 2 * (x0 + PATCH)])
        self.batches = [(torch.from_numpy(np.stack(xs[i : i + batch])),
                         torch.from_numpy(np.stack(ys[i : i + batch])))
                        for i in range(0, len(xs), batch)]  # fmt: skip
        self.n = 0
        self.weights = sum(p.numel() for p in self.model.parameters())

    def __call__(self) -> float:
        import torch

        x, y = self.batches[self.n % len(self.batches)]
        self.n += 1
        t0 = time.perf_counter()
        self.model.train()
        loss = torch.nn.functional.l1_loss(self.model(x), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return time.perf_counter() - t0


def biakit_epochs(model_cfg: dict, low: np.ndarray, high: np.ndarray, steps: int, batch: int,
                  amp: str, work: Path):  # fmt: skip
    """A generator of biakit's training: each ``next`` runs one epoch, returns its seconds."""
    import torch

    from biakit.nn.datasets import ScaledPairDataset
    from biakit.nn.models import build_network
    from biakit.nn.train import Trainer

    torch.manual_seed(0)
    arch = model_cfg.pop("architecture")
    model = build_network(arch, {"ndim": 2, "scale": SCALE, **model_cfg})
    ds = ScaledPairDataset([low], [high], (PATCH, PATCH), (SCALE, SCALE),
                           samples_per_epoch=steps * batch, flip=True, rotate90=True)  # fmt: skip
    cfg = {"epochs": 10_000, "batch_size": batch, "lr": LR, "loss": "mae", "amp": amp,
           "device": "cpu", "plot_every": 0, "num_workers": 0}  # fmt: skip
    trainer = Trainer(model, cfg, ds, output_dir=work, overwrite=True)
    records = trainer.iter_fit()
    while True:
        t0 = time.perf_counter()
        next(records)
        yield time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds (plus one warm-up)")
    parser.add_argument("--steps", type=int, default=1, help="optimiser steps per biakit epoch")
    parser.add_argument("--batch", type=int, default=BATCH, help="patches per step (template: 8)")
    parser.add_argument("--amp", default="auto", choices=("auto", "none", "bf16"),
                        help="biakit's precision (BiaPy runs float32)")  # fmt: skip
    args = parser.parse_args()
    import torch

    print(time.strftime("%Y-%m-%d %H:%M %Z"), f"load {os.getloadavg()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)  # fmt: skip
    low, high = make_pairs()
    rcan = load_biapy_rcan()
    biapy = None
    if rcan is None:
        print(f"BiaPy skipped: {BIAPY_MODELS} missing (see the module docstring)")
    else:
        biapy = BiapyStep(rcan, low, high, args.batch)
        print(f"BiaPy rcan: {biapy.weights / 1e6:.2f} M weights")
    variants = {
        "biakit EDSR-lite 32x8 (default)": {"architecture": "edsr_lite", **EDSR_SIZE},
        "biakit RCAN-lite of BiaPy's size": {"architecture": "rcan_lite", **RCAN_SIZE},
    }
    times: dict[str, list[float]] = {"BiaPy RCAN (bare step, float32)": []}
    with tempfile.TemporaryDirectory(prefix="bench-sr-") as tmp:
        gens = {name: biakit_epochs(dict(cfg), low, high, args.steps, args.batch, args.amp,
                                    Path(tmp) / str(i))
                for i, (name, cfg) in enumerate(variants.items())}  # fmt: skip
        times.update({name: [] for name in gens})
        for r in range(args.rounds + 1):
            step = {} if biapy is None else {"BiaPy RCAN (bare step, float32)": biapy()}
            step.update({name: next(gen) / args.steps for name, gen in gens.items()})
            for name, t in step.items():
                if r:  # round 0 warms up
                    times[name].append(t)
            shown = ", ".join(f"{k.split(' (')[0]} {v:.1f} s" for k, v in step.items())
            print(f"  round {r}{' (warm-up)' if r == 0 else ''}: {shown}", flush=True)
    print(f"\nLR patch {PATCH}, batch {args.batch}, x{SCALE}; biakit amp={args.amp}; "
          f"medians of {args.rounds} interleaved rounds (seconds per step, patches/s)")  # fmt: skip
    base = statistics.median(times["BiaPy RCAN (bare step, float32)"]) if biapy else None
    for name, ts in times.items():
        if not ts:
            continue
        med = statistics.median(ts)
        ratio = f"  {base / med:.2f}x BiaPy" if base else ""
        print(f"  {name:36s} {med:7.3f} s/step  {args.batch / med:7.2f} patches/s{ratio}")
    print(f"goal: biakit >= 1.5x BiaPy's patches/s\nload at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
