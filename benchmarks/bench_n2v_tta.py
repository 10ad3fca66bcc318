"""How many test-time transforms N2V's prediction needs: PSNR and time for 1, 2, 4 and 8.

biakit's 2D N2V / N2V2 default averages the four 90-degree turns (``tta: 4``); ``tta:
true`` averages all eight flips and turns. This script trains one network per data set
with ``DenoiseConfig()``'s defaults (nothing else set, fixed seed), then restores the
test images with ``Denoiser.predict(x, tta=n)`` for n = 1, 2, 4, 8 (the prefixes of
:func:`biakit.nn.infer.tta_transforms`: identity; + half turn; + quarter turns; + the
four mirrors), without and with the blind-spot blend, and prints mean PSNR, the
prediction time, and what the ``b + v/n`` model (a common error plus a transform-
specific one that averages out) fitted to n = 1 and 2 predicts for 4 and 8.

Data (built offline, fixed seeds):

* ``bsd68``: the BSD68-style set of ``_bsd68_data`` (scikit-image's grey images,
  Gaussian noise sd 25 on 0-255, unclipped; 68 test crops 180 x 180), training on the
  11 noisy training images.
* ``img2d``: StarDist's ``img2d.tif`` (unpacked as ``bench_restoration.py`` says),
  0.1 / 99.9-percentile normalised, Poisson noise at 10 photons plus Gaussian read
  noise sd 2; N2V trains on the noisy image itself and restores it (skipped without
  the file).

Run: ``.venv/bin/python benchmarks/bench_n2v_tta.py [--only bsd68|img2d]`` (about 8
minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _bsd68_data import TRAIN, make_data  # noqa: E402

IMG2D = HERE / "_work" / "stardist_data" / "stardist" / "data" / "images" / "img2d.tif"
COUNTS = (1, 2, 4, 8)


def _psnr(pred: list[np.ndarray], clean: list[np.ndarray], peak: float) -> float:
    """Mean over images of ``10 log10(peak^2 / MSE)``."""
    return float(np.mean([10 * np.log10(peak**2 / np.mean((p - c) ** 2))
                          for p, c in zip(pred, clean)]))  # fmt: skip


def _bsd68() -> tuple[list, list, list, float]:
    data = make_data()
    train = [data[f"train_{i}"] for i in range(len(TRAIN))]
    return train, list(data["test_noisy"]), list(data["test_clean"]), 255.0


def _img2d() -> tuple[list, list, list, float] | None:
    if not IMG2D.exists():
        return None
    import tifffile

    image = tifffile.imread(IMG2D).astype(np.float64)
    lo, hi = np.percentile(image, (0.1, 99.9))
    photons = 10.0 * np.clip((image - lo) / (hi - lo), 0, 1)
    rng = np.random.default_rng(0)
    noisy = (rng.poisson(photons) + rng.normal(0, 2.0, photons.shape)).astype(np.float32)
    return [noisy], [noisy], [photons], 10.0


def run(name: str, train: list, noisy: list, clean: list, peak: float) -> None:
    from biakit.workflows import DenoiseConfig, Denoiser

    den = Denoiser(DenoiseConfig())
    t0 = time.perf_counter()
    hist = den.train(train)
    print(f"\n{name}: {len(noisy)} test image(s); noisy {_psnr(noisy, clean, peak):.2f} dB; "
          f"trained {int(hist['steps'].iloc[-1])} steps in {time.perf_counter() - t0:.0f} s "
          f"(DenoiseConfig() defaults; default tta {den.config.resolved_tta})")  # fmt: skip
    print(f"  {'transforms':>10}  {'no blend':>9}  {'blend':>7}  {'s (blend)':>9}")
    plain: dict[int, float] = {}
    for n in COUNTS:
        plain[n] = _psnr([den.predict(x, tta=n, blend_input=False) for x in noisy], clean, peak)
        t1 = time.perf_counter()
        blended = _psnr([den.predict(x, tta=n) for x in noisy], clean, peak)
        seconds = time.perf_counter() - t1
        print(f"  {n:>10}  {plain[n]:9.3f}  {blended:7.3f}  {seconds:9.1f}")
    # b + v/n from n = 1 and 2 (MSE relative to peak^2), then its forecast for 4 and 8
    m1, m2 = 10 ** (-plain[1] / 10), 10 ** (-plain[2] / 10)
    v = 2 * (m1 - m2)
    b = m1 - v
    forecast = ", ".join(f"{n}: {-10 * np.log10(b + v / n):.3f}" for n in (4, 8))
    print(
        f"  b + v/n fitted to 1 and 2 forecasts (no blend) {forecast} dB; "
        f"4 under 8 by {plain[8] - plain[4]:.3f} dB measured"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["bsd68", "img2d"])
    args = ap.parse_args()
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; load {os.getloadavg()}")
    if args.only in (None, "bsd68"):
        run("bsd68", *_bsd68())
    if args.only in (None, "img2d"):
        sets = _img2d()
        if sets is None:
            print(f"\nimg2d: skipped ({IMG2D} missing; see bench_restoration.py)")
        else:
            run("img2d", *sets)
    print(f"\nload at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
