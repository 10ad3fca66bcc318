"""Give a blind-spot prediction back the pixel it could not see.

A Noise2Void network predicts each pixel from its neighbours only, so its
prediction ``mu`` ignores the pixel's own noisy value ``x``. Where the noise is
pixel-wise independent, ``mu``'s error is independent of the pixel's noise and
the best mix of the two, ``mu + w * (x - mu)``, takes

    ``w = var(error of mu) / (var(error of mu) + var(noise))``

(the minimum mean squared error combination of two independent estimates; the
same reasoning gives PN2V and Laine et al.'s blind-spot networks their edge over
N2V). ``var(x - mu) = var(error) + var(noise)`` is measured on the image; the
noise variance comes from a second-difference high-pass of the image itself
(its mean square is exactly the variance of white noise of any distribution;
image structure only adds to it, which makes ``w`` smaller: the safe side). So
nothing is learned and nothing depends on the intensity scale: ``w`` is the
same for ``a * x + b``.

Where N2V is already close to the truth (a smooth fluorescence image) ``w``
comes out near 0 and the blend changes little; where it is not (texture, short
training) ``w`` is larger and the blend recovers detail: +0.58 dB on the
BSD68-style set after 800 N2V steps (issue 11, ``benchmarks/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: the largest central region on which the weights are measured (in memory and block-wise
#: alike): Y and X of a 2D image; Y and X, and every other axis, of a 3D image (4 M voxels)
SAMPLE_2D, SAMPLE_YX, SAMPLE_OTHER = 2048, 512, 16


def pixel_noise_variance(image: Any) -> tuple[float, ...]:
    """Per-channel variance of pixel-wise independent noise, from a YX high-pass.

    The second difference along Y of the second difference along X (the 3x3
    kernel ``[1 -2 1]^T [1 -2 1]``, squared norm 36) removes constants, ramps
    and bilinear trends; for white noise its mean square divided by 36 is the
    noise variance, whatever the noise's distribution (Gaussian, Poisson,
    quantised). Edges and texture add to it, so the estimate errs high. 3D
    images pool every Z plane. Not :func:`biakit.preprocess.estimate_noise`: its
    median of absolute details is robust to edges but 0 on sparse photon counts
    (mostly zeros), where the blend needs the true variance.

    Parameters
    ----------
    image : ndarray
        ``(C, *spatial)`` with at least two spatial axes, each >= 3.

    Returns
    -------
    tuple of float
        One variance per channel, in the image's squared intensity units.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ramp = np.add.outer(np.arange(200.0), np.arange(200.0))
    >>> noisy = ramp + 5.0 * rng.standard_normal((200, 200))
    >>> round(pixel_noise_variance(noisy[None])[0], 0)
    25.0
    """
    x = np.asarray(image, dtype=np.float64)
    if x.ndim < 3 or min(x.shape[-2:]) < 3:
        raise ValueError(f"need (C, *spatial) with Y and X >= 3, got shape {x.shape}")
    d = x[..., :-2] - 2.0 * x[..., 1:-1] + x[..., 2:]
    d = d[..., :-2, :] - 2.0 * d[..., 1:-1, :] + d[..., 2:, :]
    return tuple(float(v) for v in (d**2).reshape(len(x), -1).mean(axis=1) / 36.0)


@dataclass(frozen=True)
class BlendWeights:
    """Per-channel weight of the noisy pixel and bound on the residual it adds back.

    Attributes
    ----------
    weights : tuple of float
        ``w`` per channel, 0..1.
    limits : tuple of float
        ``|image - prediction|`` is clipped to this before it is weighted: ``CLIP``
        times the residual's root mean square, so a hot pixel or a cosmic-ray hit
        (no noise the blend can use) comes back as at most ``w * limit``.
    """

    weights: tuple[float, ...]
    limits: tuple[float, ...]


#: residuals beyond this many root mean squares are outliers, not noise (Gaussian: 6e-5)
CLIP = 4.0


def blind_spot_weights(image: Any, prediction: Any) -> BlendWeights:
    """Per-channel weight ``w`` of the noisy pixel in ``prediction + w * (image - prediction)``.

    ``w = 1 - noise / residual`` clipped to 0..1, where ``residual`` is the mean of
    ``(image - prediction)**2`` and ``noise`` is :func:`pixel_noise_variance`: the
    share of the residual that is the prediction's own error. A residual no larger
    than the noise gives 0 (the prediction alone); an image without noise gives 1.

    Parameters
    ----------
    image, prediction : ndarray
        ``(C, *spatial)``, the same shape; ``prediction`` must come from a
        blind-spot network (it must not have seen each pixel's own value).

    Returns
    -------
    BlendWeights
        The weights and the residual bounds (``CLIP`` root mean squares).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> clean = np.add.outer(np.arange(256.0), np.zeros(256))
    >>> noisy = clean + 2.0 * rng.standard_normal(clean.shape)    # noise variance 4
    >>> guess = clean + 1.0 * rng.standard_normal(clean.shape)    # error variance 1
    >>> blend = blind_spot_weights(noisy[None], guess[None])
    >>> round(blend.weights[0], 1), round(blend.limits[0], 0)     # 1 / (1 + 4), 4 sqrt(5)
    (0.2, 9.0)
    """
    x = np.asarray(image, dtype=np.float64)
    mu = np.asarray(prediction, dtype=np.float64)
    if x.shape != mu.shape:
        raise ValueError(f"image {x.shape} and prediction {mu.shape} must have the same shape")
    residual = ((x - mu) ** 2).reshape(len(x), -1).mean(axis=1)
    noise = np.asarray(pixel_noise_variance(x))
    safe = np.where(residual > 0, residual, 1.0)
    w = np.clip(np.where(residual > 0, 1.0 - noise / safe, 0.0), 0.0, 1.0)
    return BlendWeights(tuple(float(v) for v in w),
                        tuple(float(v) for v in CLIP * np.sqrt(residual)))  # fmt: skip


def blend_blind_spot(image: Any, prediction: Any, blend: BlendWeights) -> np.ndarray:
    """``prediction + w * clip(image - prediction, -limit, limit)`` per channel, float32.

    Examples
    --------
    >>> out = blend_blind_spot(np.array([[[4.0, 100.0]]]), np.zeros((1, 1, 2)),
    ...                        BlendWeights((0.25,), (8.0,)))
    >>> out.tolist()  # the second pixel's residual is clipped to 8
    [[[1.0, 2.0]]]
    """
    mu = np.asarray(prediction, dtype=np.float32)
    shape = (-1, *(1,) * (mu.ndim - 1))
    w = np.asarray(blend.weights, dtype=np.float32).reshape(shape)
    limit = np.asarray(blend.limits, dtype=np.float32).reshape(shape)
    residual = np.clip(np.asarray(image, dtype=np.float32) - mu, -limit, limit)
    return mu + w * residual


def blend_weight_region(spatial_shape: tuple[int, ...]) -> tuple[slice, ...]:
    """Return the central region the weights are measured on (the whole image when small).

    At most ``SAMPLE_2D`` pixels along Y and X of a 2D image; at most ``SAMPLE_YX``
    along Y and X and ``SAMPLE_OTHER`` along every other axis of a 3D one. Block-wise
    prediction of a large image measures the weights on a region it can predict in
    memory, and in-memory prediction measures them on the same region (on the whole
    image, without a second pass, up to 2048 x 2048 pixels).

    Examples
    --------
    >>> blend_weight_region((1000, 3000))
    (slice(0, 1000, None), slice(476, 2524, None))
    >>> blend_weight_region((40, 1000, 300))
    (slice(12, 28, None), slice(244, 756, None), slice(0, 300, None))
    """
    if len(spatial_shape) == 2:
        limits: tuple[int, ...] = (SAMPLE_2D, SAMPLE_2D)
    else:
        limits = (SAMPLE_OTHER,) * (len(spatial_shape) - 2) + (SAMPLE_YX, SAMPLE_YX)
    out = []
    for n, cap in zip(spatial_shape, limits):
        size = min(int(n), cap)
        start = (int(n) - size) // 2
        out.append(slice(start, start + size))
    return tuple(out)
