"""Paired augmentation speed: biakit.nn.augment vs albumentations (2D) and TorchIO (3D).

The pipeline is the same for every library, each transform applied to every sample
(p = 1): flip Y and X, a random rotation of up to 30 degrees in the YX plane, an elastic
deformation (about 3 px standard deviation, correlation length ~8 px), random brightness
(±10 % of the range) and contrast (±20 %), on a float32 image plus an int32 label map
resampled nearest-neighbour. Patches: 2D 256 x 256 and 3D 64 x 128 x 128.

- biakit composes rotation and elastic field into one coordinate map and interpolates
  once (``scipy.ndimage``); its elastic field is coarse knot noise upsampled by matrix
  products.
- albumentations (OpenCV) applies ``Rotate`` then ``ElasticTransform``: two resamplings.
- TorchIO (SimpleITK) uses ``RandomAffineElasticDeformation``, one resampling with a
  B-spline field; brightness/contrast, which TorchIO lacks, is a ``tio.Lambda``.

The elastic strengths were calibrated so the measured displacement is similar; the script
prints the measured standard deviation of each library's displacement (x component,
interior pixels) next to the timings. Everything runs single-threaded (one DataLoader
worker's view; ``--threads`` changes it). Throughput is samples per second, median of
``--repeats`` runs of ``--samples`` samples.

Comparison environment (git-ignored; the script re-runs itself there when the libraries
are missing here, and skips a comparison with a message when they are missing there too)::

    python3.11 -m venv benchmarks/_work/venv-augment
    benchmarks/_work/venv-augment/bin/pip install torch==2.13.0 torchio albumentations \
        opencv-python-headless

Run: ``.venv/bin/python benchmarks/bench_augment.py [--samples 10] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / "benchmarks" / "_work" / "venv-augment" / "bin" / "python"
ALB_ALPHA = 385.0  # albumentations ElasticTransform alpha giving ~3 px at sigma 8
TIO_MAX_DISPLACEMENT = 17.0  # TorchIO control-point displacement (uniform) giving ~3 px


def _have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _throughputs(fns: dict, samples: int, repeats: int) -> dict:
    """Median samples/s of each function; runs are interleaved so that a busy machine
    slows every library alike."""
    for fn in fns.values():
        fn()  # warm-up (caches, lazy imports)
    rates: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(samples):
                fn()
            rates[name].append(samples / (time.perf_counter() - start))
    return {name: statistics.median(r) for name, r in rates.items()}


def _nuclei(shape, n, seed):
    """Random balls (labels) and a blurred, noisy image of them: NumPy/SciPy only, so the
    comparison environment needs nothing of biakit's I/O stack."""
    import numpy as np
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    grids = np.ogrid[tuple(slice(0, m) for m in shape)]
    labels = np.zeros(shape, np.int32)
    for i in range(1, n + 1):
        centre, radius = rng.uniform(0, shape), rng.uniform(6, 12)
        inside = sum((g - c) ** 2 for g, c in zip(grids, centre)) < radius**2
        labels[inside & (labels == 0)] = i
    image = ndi.gaussian_filter((labels > 0).astype(np.float32), 1.5)
    image += 0.1 * rng.standard_normal(shape).astype(np.float32)
    return image, labels


def _disp_std(warp, shape) -> float:
    """Std of the x displacement a warp applies to an x-ramp image (interior only)."""
    import numpy as np

    ramp = np.broadcast_to(np.arange(shape[-1], dtype=np.float32), shape).copy()
    inner = tuple(slice(n // 4, n - n // 4) for n in shape)
    return float(np.mean([(warp(ramp) - ramp)[inner].std() for _ in range(3)]))


def _biakit(ndim, *, elastic_only=False):
    from biakit.nn.augment import AugmentConfig, Augmenter

    if elastic_only:
        cfg = AugmentConfig(flip=False, rotate90=False, elastic=3.0, elastic_sigma=8.0, p=1.0)
    else:
        cfg = AugmentConfig(
            flip=True, flip_z=False, rotate90=False, rotation=30.0, elastic=3.0,
            elastic_sigma=8.0, brightness=0.1, contrast=0.2, p=1.0,
        )  # fmt: skip
    return Augmenter(cfg, ndim=ndim)


def _report(title: str, rates: dict, disp: dict, missing: str | None) -> None:
    print(title)
    for name, rate in rates.items():
        print(f"   {name:15s} {rate:8.2f} samples/s   (displacement {disp[name]:.2f} px)")
    if missing:
        print(f"   {missing} not installed: comparison skipped (see the module docstring)")
    else:
        other = next(n for n in rates if n != "biakit")
        print(f"   ratio biakit / {other}: {rates['biakit'] / rates[other]:.2f}x")


def bench_2d(image, labels, args) -> None:
    import numpy as np

    aug, el = _biakit(2), _biakit(2, elastic_only=True)
    rng = np.random.default_rng(0)
    fns = {"biakit": lambda: aug(image[None], labels, rng=rng)}
    disp = {"biakit": _disp_std(lambda x: el(x[None], rng=rng)[0][0], image.shape)}
    missing = None if _have("albumentations") else "albumentations"
    if not missing:
        import albumentations as A
        import cv2

        cv2.setNumThreads(args.threads)
        reflect = cv2.BORDER_REFLECT_101
        elastic = A.ElasticTransform(alpha=ALB_ALPHA, sigma=8, border_mode=reflect, p=1)
        pipe = A.Compose(
            [
                A.HorizontalFlip(p=1),
                A.VerticalFlip(p=1),
                A.Rotate(limit=30, border_mode=reflect, p=1),
                elastic,
                A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.2, p=1),
            ],
            seed=0,
        )
        fns["albumentations"] = lambda: pipe(image=image, mask=labels)
        disp["albumentations"] = _disp_std(lambda x: elastic(image=x)["image"], image.shape)
    rates = _throughputs(fns, args.samples, args.repeats)
    _report(f"2D {image.shape}:", rates, disp, missing)


def bench_3d(image, labels, args) -> None:
    import numpy as np

    aug, el = _biakit(3), _biakit(3, elastic_only=True)
    rng = np.random.default_rng(0)
    fns = {"biakit": lambda: aug(image[None], labels, rng=rng)}
    disp = {"biakit": _disp_std(lambda x: el(x[None], rng=rng)[0][0], image.shape)}
    missing = None if _have("torchio") else "torchio"
    if not missing:
        import SimpleITK as sitk
        import torch
        import torchio as tio

        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(args.threads)

        def bright_contrast(x):
            b = (torch.rand(1) * 0.2 - 0.1) * (x.max() - x.min())
            c = 1 + (torch.rand(1) * 0.4 - 0.2)
            mean = x.mean()
            return (x - mean) * c + mean + b

        elastic_kwargs = {
            "num_control_points": (7, 11, 11),
            "max_displacement": TIO_MAX_DISPLACEMENT,
        }
        affine_kwargs = {"degrees": (-30, 30, 0, 0, 0, 0), "image_interpolation": "linear"}
        pipe = tio.Compose(
            [
                tio.RandomFlip(axes=(1, 2), flip_probability=1.0),
                tio.RandomAffineElasticDeformation(
                    affine_kwargs=affine_kwargs, elastic_kwargs=elastic_kwargs
                ),
                tio.Lambda(bright_contrast, types_to_apply=[tio.INTENSITY]),
            ]
        )
        timg, tlab = torch.from_numpy(image[None]), torch.from_numpy(labels[None])

        def run_tio():
            subject = tio.Subject(
                image=tio.ScalarImage(tensor=timg), labels=tio.LabelMap(tensor=tlab)
            )
            out = pipe(subject)
            return out["image"].data.numpy(), out["labels"].data.numpy()

        warp = tio.RandomElasticDeformation(**elastic_kwargs)
        fns["torchio"] = run_tio
        disp["torchio"] = _disp_std(
            lambda x: warp(tio.ScalarImage(tensor=torch.from_numpy(x[None]))).data.numpy()[0],
            image.shape,
        )
    rates = _throughputs(fns, max(1, args.samples // 4), args.repeats)
    _report(f"3D {image.shape}:", rates, disp, missing)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10, help="samples per timed run (2D)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    missing = [m for m in ("albumentations", "torchio") if not _have(m)]
    if missing and VENV_PYTHON.exists() and os.environ.get("BIAKIT_BENCH_CHILD") != "1":
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "BIAKIT_BENCH_CHILD": "1"}
        print(f"{', '.join(missing)} not importable here; re-running with {VENV_PYTHON}")
        sys.stdout.flush()
        return subprocess.call([str(VENV_PYTHON), __file__, *sys.argv[1:]], env=env)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before NumPy / torch load BLAS
    print(f"threads={args.threads}, samples={args.samples}, repeats={args.repeats}; "
          f"python {sys.executable}")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bench_2d(*_nuclei((256, 256), 60, seed=0), args)
        bench_3d(*_nuclei((64, 128, 128), 60, seed=0), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
