"""Mixed precision vs float32: U-Net training steps and tiled prediction, same device, one run.

The issue's goal is >= 1.5x from mixed precision on a GPU. The script times the biakit
``Trainer`` (AdamW steps, no validation) and ``predict_tiled`` with ``amp="none"`` (float32)
and ``amp="auto"`` (bf16 or fp16 autocast on CUDA; bf16 on a CPU with native bfloat16,
float32 elsewhere, in which case the ratio is about 1) on the device biakit picks, for a 2D
U-Net (depth 4, 16 base filters, 256x256 patches, batch 8) and a 3D U-Net (depth 3,
16 base filters, 32x96x96 patches, batch 2, z not pooled at the first level). It also
prints how far the two predictions differ.

Run: ``.venv/bin/python benchmarks/bench_amp.py [--steps 4] [--device auto]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training(net_config, patch, batch, steps, amp, device) -> tuple[float, str]:
    """Seconds per optimiser step (median over 2 epochs of ``steps`` steps after a warm-up)."""
    import tempfile

    import torch
    from torch.utils.data import TensorDataset

    from biakit.nn.models import UNet
    from biakit.nn.train import TrainConfig, Trainer

    torch.manual_seed(0)
    n = batch * steps
    x = torch.randn(n, 1, *patch)
    y = torch.randint(0, net_config.out_channels, (n, *patch))
    cfg = TrainConfig(
        epochs=3, batch_size=batch, lr=1e-4, schedule="none", loss="ce", amp=amp,
        device=str(device), plot_every=0, deterministic=False,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(UNet(net_config), cfg, TensorDataset(x, y), output_dir=tmp)
        rates = [r["samples_per_s"] for r in trainer.iter_fit()][1:]  # first epoch: warm-up
        dtype = {None: "float32"}.get(trainer.amp_dtype, str(trainer.amp_dtype))
    return batch / statistics.median(rates), dtype


def time_prediction(net_config, shape, amp, device) -> tuple[float, np.ndarray]:
    """Seconds for one tiled prediction of a random image (after a warm-up call)."""
    import torch

    from biakit.nn.infer import predict_tiled
    from biakit.nn.models import UNet

    torch.manual_seed(0)
    model = UNet(net_config).eval()
    image = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
    predict_tiled(model, image, device=device, amp=amp, activation="softmax")
    _sync(device)
    start = time.perf_counter()
    out = predict_tiled(model, image, device=device, amp=amp, activation="softmax")
    _sync(device)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    import torch

    from biakit.nn.device import pick_device
    from biakit.nn.models import UNetConfig

    device = pick_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} threads")
    cases = {
        "2D": (
            UNetConfig(ndim=2, in_channels=1, out_channels=2, depth=4, base_filters=16),
            (256, 256), 8, (1024, 1024),
        ),
        "3D": (
            UNetConfig(ndim=3, in_channels=1, out_channels=2, depth=3, base_filters=16,
                       z_pool=(False, True, True)),
            (32, 96, 96), 2, (64, 256, 256),
        ),
    }  # fmt: skip
    print(
        f"{'case':<5}{'fp32 step s':>12}{'amp step s':>12}{'dtype':>16}{'train x':>9}"
        f"{'fp32 pred s':>13}{'amp pred s':>12}{'pred x':>8}{'max |diff|':>11}"
    )
    for case, (net, patch, batch, image_shape) in cases.items():
        t32, _ = time_training(net, patch, batch, args.steps, "none", device)
        tamp, dtype = time_training(net, patch, batch, args.steps, "auto", device)
        p32, out32 = time_prediction(net, image_shape, "none", device)
        pamp, outamp = time_prediction(net, image_shape, "auto", device)
        diff = float(np.abs(out32 - outamp).max())
        print(
            f"{case:<5}{t32:>12.3f}{tamp:>12.3f}{dtype:>16}{t32 / tamp:>8.2f}x"
            f"{p32:>13.2f}{pamp:>12.2f}{p32 / pamp:>7.2f}x{diff:>11.4f}"
        )
    print("goal (GPU): mixed precision >= 1.5x float32 for training")


if __name__ == "__main__":
    main()
