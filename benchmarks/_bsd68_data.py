"""The BSD68-style denoising set of ``bench_n2v_careamics.py``, built offline.

scikit-image's grey images (RGB ones through ``rgb2gray``) on the 0-255 scale with
Gaussian noise of sigma 25 added and not clipped: the noisy versions of ``TRAIN`` for
training, 68 crops of 180x180 from ``TEST`` (17 per image) with their clean crops.
"""

from __future__ import annotations

import numpy as np

SIGMA, SEED, CROP, N_TEST = 25.0, 0, 180, 68
TRAIN = ["brick", "grass", "gravel", "moon", "coins", "clock", "page", "text", "cell",
         "rocket", "immunohistochemistry"]  # fmt: skip
TEST = ["camera", "astronaut", "chelsea", "coffee"]


def _grey(name: str) -> np.ndarray:
    import skimage.data
    from skimage.color import rgb2gray

    im = np.asarray(getattr(skimage.data, name)())
    if im.ndim == 3:
        return rgb2gray(im[..., :3]) * 255.0
    return im.astype(np.float64)


def make_data(seed: int = SEED) -> dict[str, np.ndarray]:
    """Noisy training images, 68 clean / noisy test crops (0-255 floats, noise unclipped)."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i, name in enumerate(TRAIN):
        clean = _grey(name)
        data[f"train_{i}"] = (clean + SIGMA * rng.standard_normal(clean.shape)).astype(np.float32)
    crops = []
    per = N_TEST // len(TEST)
    for k, name in enumerate(TEST):
        im = _grey(name)
        n = per + (1 if k < N_TEST - per * len(TEST) else 0)
        for _ in range(n):
            y, x = (int(rng.integers(0, s - CROP + 1)) for s in im.shape)
            crops.append(im[y : y + CROP, x : x + CROP])
    clean = np.stack(crops).astype(np.float32)
    data["test_clean"] = clean
    data["test_noisy"] = (clean + SIGMA * rng.standard_normal(clean.shape)).astype(np.float32)
    return data


def psnr(pred: np.ndarray, clean: np.ndarray) -> float:
    """Mean over images of ``10 log10(255^2 / MSE)`` (0-255 scale, no clipping)."""
    mse = ((pred.astype(np.float64) - clean) ** 2).reshape(len(clean), -1).mean(axis=1)
    return float(np.mean(10 * np.log10(255.0**2 / mse)))


def intensity_variants(noisy: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The test crops as another acquisition would store them: ``name -> (x, gain, offset)``.

    ``x = gain * noisy + offset`` per crop (before rounding), so ``(restored(x) - offset) /
    gain`` is comparable with the clean crops: ``gain3_offset400`` (a brighter exposure
    with a camera offset, float32) and ``8bit_stretch`` (each crop's min..max stretched to
    0..255 and rounded to uint8, as a per-image contrast stretch saved as 8-bit).
    """
    n = len(noisy)
    x = noisy.astype(np.float64)
    lo = x.reshape(n, -1).min(axis=1)[:, None, None]
    hi = x.reshape(n, -1).max(axis=1)[:, None, None]
    gain8 = 255.0 / (hi - lo)
    return {
        "gain3_offset400": ((3 * x + 400).astype(np.float32), np.full_like(lo, 3.0),
                            np.full_like(lo, 400.0)),
        "8bit_stretch": (np.round((x - lo) * gain8).astype(np.uint8), gain8, -lo * gain8),
    }  # fmt: skip
