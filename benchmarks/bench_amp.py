"""Mixed precision vs float32 training throughput, and DDP throughput, of biakit's ``Trainer``.

**AMP** (default mode): two :class:`~biakit.nn.train.Trainer` objects train the 2D U-Net
of the instance workflow (``InstanceConfig()``: depth 3, 16 base filters, batch norm,
3 outputs, 128x128 patches, batch 8, AdamW, its instance loss stand-in: MSE on 3 maps)
on random data, one with ``amp="none"`` (float32) and one with ``amp=AMP`` (``auto``: bf16
on CUDA GPUs that support it, else fp16 with a gradient scaler; bf16 on a CPU with
native bfloat16, else float32 -- then the ratio is about 1). Epochs of ``--steps``
optimiser steps alternate between the two (interleaved, so a busy machine slows both
alike); the first epoch of each is a warm-up. Prints the median samples/s of each and
the ratio. ``--predict`` also times tiled prediction of a 1024x1024 image both ways and
prints the largest difference of the outputs. The issue's goal: >= 1.5x on a GPU.
``--network denoise3d`` times the 3D N2V U-Net instead (``DenoiseConfig`` defaults with
16x64x64 patches, batch 8; prediction of a 32x256x256 stack); ``--quality STEPS`` then
also trains biakit's 3D N2V on noisy ``nuclei.tif`` for STEPS steps in float32 and with
``AMP`` and prints both PSNRs (:func:`bench_n2v3d_quality`).

**DDP** (``--ddp``, run under torchrun): every rank trains the same U-Net with
``--batch`` samples per process; rank 0 prints the global samples/s (median of the
epochs after the first). Compare ``--nproc_per_node 1`` and ``2``; goal >= 1.8x on 2 GPUs.
With more ranks than GPUs the ranks share GPU 0 over gloo: a smoke test, not a figure.

Run::

    .venv/bin/python benchmarks/bench_amp.py [--device auto] [--steps 6] [--rounds 5]
    .venv/bin/python benchmarks/bench_amp.py --network denoise3d --steps 3 --rounds 4 \
        --predict --quality 150
    .venv/bin/torchrun --standalone --nproc_per_node 2 benchmarks/bench_amp.py --ddp

(``--tiny``: a 32x32, depth-2 stand-in for dry runs.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

DENOISE3D_PATCH = (16, 64, 64)
NETWORKS = {
    "instance2d": "2D instance U-Net",
    "denoise3d": "3D N2V U-Net (DenoiseConfig defaults, 16x64x64 patches)",
}


def _network(args):
    from biakit.workflows import DenoiseConfig, InstanceConfig

    if args.network == "denoise3d":
        config = DenoiseConfig(patch_shape=DENOISE3D_PATCH)
    else:
        config = InstanceConfig()
    net = config.network_config(1)
    patch, batch = config.patch_shape, config.train.batch_size
    if args.tiny:
        net = net.model_copy(update={"depth": 2, "base_filters": 4})
        patch, batch = (16, 32, 32)[-config.ndim :], 2
    return net, tuple(patch), batch


def _trainer(net, patch, batch, steps, epochs, amp, device, out, ranks=1):
    import torch
    from torch.utils.data import TensorDataset

    from biakit.nn.models import UNet
    from biakit.nn.train import TrainConfig, Trainer

    torch.manual_seed(0)
    n = batch * steps * ranks
    x = torch.randn(n, 1, *patch)
    y = torch.rand(n, net.out_channels, *patch)
    cfg = TrainConfig(
        epochs=epochs, batch_size=batch, lr=1e-4, schedule="none", loss="mse", amp=amp,
        device=str(device), plot_every=0, deterministic=False,
    )  # fmt: skip
    return Trainer(UNet(net), cfg, TensorDataset(x, y), output_dir=out, plots=False)


def _dtype(trainer) -> str:
    return {None: "float32"}.get(trainer.amp_dtype, str(trainer.amp_dtype).replace("torch.", ""))


def bench_training(args, device) -> dict[str, float]:
    """Interleaved epochs of float32 and mixed-precision training; median samples/s."""
    net, patch, batch = _network(args)
    batch = args.batch or batch
    epochs = args.rounds + 1
    rates: dict[str, list[float]] = {"float32": [], "amp": []}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {
            "float32": _trainer(net, patch, batch, args.steps, epochs, "none", device, f"{tmp}/a"),
            "amp": _trainer(net, patch, batch, args.steps, epochs, args.amp, device, f"{tmp}/b"),
        }
        dtype = _dtype(runs["amp"])
        iters = {k: t.iter_fit() for k, t in runs.items()}
        for epoch in range(epochs):
            for key, it in iters.items():  # alternate: float32 epoch, amp epoch, ...
                record = next(it)
                if epoch:  # the first epoch of each is a warm-up
                    rates[key].append(record["samples_per_s"])
        for it in iters.values():
            it.close()
    f32, amp = statistics.median(rates["float32"]), statistics.median(rates["amp"])
    print(f"{NETWORKS[args.network]} {patch}, batch {batch}, {args.steps} steps x "
          f"{args.rounds} rounds")  # fmt: skip
    print(f"  float32   {f32:9.1f} samples/s")
    print(f"  {dtype:<9} {amp:9.1f} samples/s   ratio {amp / f32:.2f}x (goal on a GPU: >= 1.5x)")
    return {"float32_samples_per_s": f32, "amp_samples_per_s": amp, "ratio": amp / f32}


def bench_prediction(args, device) -> None:
    """Tiled prediction float32 vs amp, alternating, median of 3 after a warm-up."""
    import torch

    from biakit.nn.infer import predict_tiled
    from biakit.nn.models import UNet

    net, _, _ = _network(args)
    torch.manual_seed(0)
    model = UNet(net).eval()
    shape = {2: (1024, 1024), 3: (32, 256, 256)}[net.ndim]
    if args.tiny:
        shape = (*shape[:-2], 256, 256)
    image = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
    times: dict[str, list[float]] = {"none": [], args.amp: []}
    outs = {}
    for i in range(4):
        for amp in times:
            start = time.perf_counter()
            outs[amp] = predict_tiled(model, image, device=device, amp=amp)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i:
                times[amp].append(time.perf_counter() - start)
    t32, tamp = (statistics.median(v) for v in times.values())
    diff = float(np.abs(outs["none"] - outs[args.amp]).max())
    print(f"tiled prediction {shape}: float32 {t32:.3f} s, amp {tamp:.3f} s, "
          f"ratio {t32 / tamp:.2f}x, max |diff| {diff:.4f}")  # fmt: skip


def bench_n2v3d_quality(args) -> None:
    """3D N2V on napari's ``nuclei.tif`` under photon noise: PSNR after the same steps, both ways.

    The noisy stack: the image scaled to 20 photons at its 99.8th percentile (+2%
    background), Poisson noise, read noise sd 2 (a fixed seed). Each run trains
    ``DenoiseConfig(patch_shape=(16, 64, 64))``'s defaults for ``--quality`` steps
    (batch 8) in float32 and with ``amp``, then predicts in the same precision.
    Sequential (fixed steps: the PSNR does not depend on the load; the times do).
    """
    from bench_n2v3d_careamics import noisy_nuclei

    from biakit import Denoiser
    from biakit.workflows import DenoiseConfig

    noisy, expected = noisy_nuclei()  # expected: the noise-free signal on the noisy scale
    span = float(expected.max() - expected.min())
    batch = 8
    print(f"3D N2V on nuclei.tif {noisy.shape}, 20 photons: {args.quality} steps of batch {batch}")
    for amp in ("none", args.amp) if not args.quality_amp_only else (args.amp,):
        config = DenoiseConfig(
            patch_shape=DENOISE3D_PATCH, samples_per_epoch=args.quality * batch, seed=0,
            train={"epochs": 1, "batch_size": batch, "amp": amp, "device": "cpu"},
        )  # fmt: skip
        start = time.perf_counter()
        denoiser = Denoiser(config)
        denoiser.train([noisy])
        trained = time.perf_counter() - start
        start = time.perf_counter()
        restored = denoiser.predict(noisy)
        predicted = time.perf_counter() - start
        mse = float(np.mean((np.asarray(restored, np.float64) - expected) ** 2))
        retries = denoiser.training["float32_retries"]
        psnr = 10 * np.log10(span**2 / mse)
        print(f"  amp={amp:<5} PSNR {psnr:6.2f} dB   train {trained:6.1f} s   predict "
              f"{predicted:5.1f} s   float32 redos {retries}")  # fmt: skip


def bench_ddp(args) -> None:
    """Under torchrun: global samples/s of data-parallel training (rank 0 prints)."""
    import torch

    from biakit.nn.train import distributed_context, shutdown_distributed

    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = args.device
    shared = False
    if device != "cpu" and torch.cuda.is_available() and world > torch.cuda.device_count():
        # more ranks than GPUs: all on GPU 0 over gloo (NCCL refuses two ranks per GPU)
        os.environ["LOCAL_RANK"] = "0"
        torch.cuda.set_device(0)
        torch.distributed.init_process_group("gloo")
        shared = True
    net, patch, batch = _network(args)
    batch = args.batch or batch
    with tempfile.TemporaryDirectory() as tmp:
        trainer = _trainer(net, patch, batch, args.steps, args.rounds + 1, args.amp, device, tmp,
                           ranks=world)  # fmt: skip
        rates = [r["samples_per_s"] for r in trainer.iter_fit()][1:]
    ctx = distributed_context()
    if ctx.is_main:
        name = (
            f" ({torch.cuda.get_device_name(trainer.device)})"
            if trainer.device.type == "cuda"
            else ""
        )
        note = "  (ranks share one GPU over gloo: smoke test only)" if shared else ""
        print(f"DDP {world} process(es) on {trainer.device}{name}, {_dtype(trainer)}, batch "
              f"{batch}/process: {statistics.median(rates):.1f} samples/s{note}")  # fmt: skip
    shutdown_distributed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16"])
    parser.add_argument("--steps", type=int, default=6, help="optimiser steps per epoch")
    parser.add_argument("--rounds", type=int, default=5, help="timed epochs of each")
    parser.add_argument("--batch", type=int, default=None, help="default: the workflow's (8)")
    parser.add_argument("--predict", action="store_true", help="also time tiled prediction")
    parser.add_argument("--ddp", action="store_true", help="DDP throughput (under torchrun)")
    parser.add_argument("--tiny", action="store_true", help="a tiny network (dry runs)")
    parser.add_argument("--network", default="instance2d", choices=sorted(NETWORKS))
    parser.add_argument("--quality", type=int, default=0, metavar="STEPS",
                        help="denoise3d: also train 3D N2V on nuclei.tif for STEPS steps "
                        "in float32 and in amp, and compare the PSNR")  # fmt: skip
    parser.add_argument("--quality-amp-only", action="store_true",
                        help="--quality: train with AMP only (longer runs)")  # fmt: skip
    args = parser.parse_args()

    import torch

    if args.ddp:
        return bench_ddp(args)
    from biakit.nn.device import pick_device

    device = pick_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    threads, py = torch.get_num_threads(), sys.version.split()[0]
    print(f"{time.strftime('%Y-%m-%d')} device {device} ({name}), torch {torch.__version__}, "
          f"{threads} threads, load {load:.1f}, python {py}")  # fmt: skip
    bench_training(args, device)
    if args.predict:
        bench_prediction(args, device)
    if args.quality:
        bench_n2v3d_quality(args)
    return None


if __name__ == "__main__":
    main()
