"""Tiled U-Net inference: biakit.nn.infer.predict_tiled vs a naive tile-by-tile loop.

A depth-4, 32-filter 2D U-Net (``biakit.nn.models.unet``, or a plain U-Net defined
here when that module is missing) predicts a synthetic image on the CPU. biakit
(tile 256 / 512, batch 1 / 4, ``blending="none"``) is timed against the loop a user
would otherwise write: reflect-pad the image, run every tile separately (batch 1),
keep its centre. Both use the same tile size and overlap (context per side). The
script prints median seconds, megapixels per second and the speed ratios.

Run: ``.venv/bin/python benchmarks/bench_infer.py [--size 2048] [--repeats 1]``
(about 2-3 minutes at the default size 1024 on 2 CPU cores; --size 2048 takes ~4x).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class _Cfg:
    ndim: int = 2
    divisor: tuple = (16, 16)
    halo: tuple = (107, 107)
    out_channels: int = 2


class _PlainUNet(nn.Module):
    """Fallback U-Net (2 convs + batch norm per level, max-pool, transposed convs)."""

    def __init__(self, depth: int = 4, base: int = 32, out: int = 2):
        super().__init__()

        def block(i, o):
            return nn.Sequential(
                nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
                nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
            )  # fmt: skip

        chans = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList(
            [block(1, chans[0])] + [block(chans[i], chans[i + 1]) for i in range(depth)]
        )
        self.ups = nn.ModuleList(
            [nn.ConvTranspose2d(chans[i + 1], chans[i], 2, 2) for i in range(depth)]
        )
        self.dec = nn.ModuleList([block(2 * chans[i], chans[i]) for i in range(depth)])
        self.head = nn.Conv2d(chans[0], out, 1)
        self.config = _Cfg()

    def forward(self, x):
        skips = []
        for i, b in enumerate(self.down):
            x = b(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
        for i in reversed(range(len(self.ups))):
            x = self.dec[i](torch.cat([self.ups[i](x), skips.pop()], 1))
        return self.head(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    try:
        from biakit.nn.models import unet
    except ImportError:
        print("biakit.nn.models not available: using the plain U-Net defined in this script")
        return _PlainUNet().eval()
    return unet(ndim=2, depth=4, base_filters=32, out_channels=2).eval()


def naive_loop(model, image, tile: int, overlap: int) -> tuple[np.ndarray, int]:
    """Tile by tile, batch 1: the loop a user would write by hand."""
    core = tile - 2 * overlap
    _, h, w = image.shape
    ny, nx = -(-h // core), -(-w // core)
    pad = [(0, 0), (overlap, ny * core - h + overlap), (overlap, nx * core - w + overlap)]
    padded = np.pad(image, pad, mode="reflect")
    out = np.empty((model.config.out_channels, h, w), np.float32)
    with torch.inference_mode():
        for y in range(0, h, core):
            for x in range(0, w, core):
                t = torch.from_numpy(
                    np.ascontiguousarray(padded[None, :, y : y + tile, x : x + tile])
                )
                pred = model(t)[0].numpy()[:, overlap : overlap + core, overlap : overlap + core]
                out[:, y : y + core, x : x + core] = pred[:, : h - y, : w - x]
    return out, ny * nx


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--overlap", type=int, default=32, help="context per side (pixels)")
    parser.add_argument("--tiles", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()

    from biakit.nn.infer import plan_tiles, predict_tiled

    model = build_model()
    image = np.random.default_rng(0).random((1, args.size, args.size), dtype=np.float32)
    mpix = args.size**2 / 1e6
    print(
        f"image {args.size}x{args.size} ({mpix:.2f} MP), U-Net depth 4 / 32 filters, "
        f"overlap {args.overlap} (exact halo {model.config.halo[0]}), CPU, "
        f"{torch.get_num_threads()} threads, repeats={args.repeats}"
    )
    print(f"{'method':34s} {'tiles':>5s} {'median s':>9s} {'MP/s':>7s} {'vs naive':>8s}")
    for tile in args.tiles:
        t_naive = median_time(
            lambda t=tile: naive_loop(model, image, t, args.overlap), args.repeats
        )
        naive_n = (-(-args.size // (tile - 2 * args.overlap))) ** 2
        print(f"{'naive loop, tile ' + str(tile):34s} {naive_n:5d} {t_naive:9.2f} "
              f"{mpix / t_naive:7.3f} {1.0:8.2f}")  # fmt: skip
        for batch in args.batches:
            plan = plan_tiles(image.shape[1:], (tile, tile), (args.overlap,) * 2, (16, 16), "none")
            t = median_time(
                lambda b=batch, t=tile: predict_tiled(
                    model, image, tile_shape=t, overlap=args.overlap, batch_size=b,
                    blending="none", device="cpu",
                ),
                args.repeats,
            )  # fmt: skip
            label = f"predict_tiled, tile {tile}, batch {batch}"
            print(f"{label:34s} {plan.n_tiles:5d} {t:9.2f} {mpix / t:7.3f} {t_naive / t:8.2f}")


if __name__ == "__main__":
    main()
