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

A network trained blind is not blind when it predicts: the pixel is not masked
then, and a network that learned the masked value is informative (N2V2's median
replacement) lets a share ``a`` of it through, so its prediction carries ``a``
times the pixel's noise. :func:`centre_gain` measures ``a`` (the mean diagonal of
the prediction's Jacobian, by a seeded random probe) and :func:`blind_spot_weights`
takes it into account (+0.18 dB for N2V2 on the BSD68-style set, where it had
dropped ``w`` to 0.01).

Two guards keep the blend from adding back what is not independent noise: hot
pixels (residuals beyond 8 root mean squares) are left out of both variances, and
:func:`whiteness` (the lag-1 correlation of second differences, -2/3 for white
noise) fades the blend out where the image's high frequencies are not white
noise: spatially correlated noise, where N2V2 + blend had lost 0.76 dB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: the largest central region on which the weights are measured (in memory and block-wise
#: alike): Y and X of a 2D image; Y and X, and every other axis, of a 3D image (4 M voxels)
SAMPLE_2D, SAMPLE_YX, SAMPLE_OTHER = 2048, 512, 16
#: the central crop (of that region) on which :func:`centre_gain` probes the network:
#: 2D 128 x 128, 3D 8 x 128 x 128 (16 k / 131 k pixels: its own noise sd is ~0.002 / 0.001)
PROBE_2D, PROBE_YX, PROBE_OTHER = 128, 128, 8


def pixel_noise_variance(image: Any, keep: Any = None) -> tuple[float, ...]:
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
    keep : ndarray of bool, optional
        The image's shape: only high-pass values whose 3 x 3 window is all kept
        count (outliers left out).

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
    if keep is None:
        return tuple(float(v) for v in (d**2).reshape(len(x), -1).mean(axis=1) / 36.0)
    k = np.asarray(keep, dtype=bool)
    if k.shape != x.shape:
        raise ValueError(f"keep {k.shape} must have the image's shape {x.shape}")
    k = k[..., :-2] & k[..., 1:-1] & k[..., 2:]  # every pixel of the 3 x 3 window kept
    k = (k[..., :-2, :] & k[..., 1:-1, :] & k[..., 2:, :]).reshape(len(x), -1)
    return tuple(float(v) for v in _masked_mean(d.reshape(len(x), -1) ** 2, k) / 36.0)


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
    centre_gains : tuple of float
        The :func:`centre_gain` the weights allowed for (0: a strict blind spot).
    whiteness : tuple of float
        The image's :func:`whiteness` (lag-1 correlation of second differences).
    """

    weights: tuple[float, ...]
    limits: tuple[float, ...]
    centre_gains: tuple[float, ...] = ()
    whiteness: tuple[float, ...] = ()


#: residuals beyond this many root mean squares are clipped when added back (Gaussian: 6e-5)
CLIP = 4.0
#: residuals beyond this many root mean squares are left out of the variances (hot pixels)
OUTLIER = 8.0
#: lag-1 correlation of second differences: -2/3 for white noise of any distribution;
#: the blend is full up to WHITE and fades out by NOT_WHITE (see :func:`whiteness`)
WHITE, NOT_WHITE = -0.6, -0.5


def blind_spot_weights(image: Any, prediction: Any, centre_gains: Any = None) -> BlendWeights:
    """Per-channel weight ``w`` of the noisy pixel in ``prediction + w * (image - prediction)``.

    With ``r`` the mean of ``(image - prediction)**2``, ``s`` the noise variance
    (:func:`pixel_noise_variance`) and ``a`` the prediction's centre gain (the share
    of each pixel's own value it kept, :func:`centre_gain`; 0 for a strict blind
    spot), the prediction's error apart from that share is ``e = r - (1 - a)**2 s``
    and the weight that minimises the expected squared error is

        ``w = (e - a (1 - a) s) / (e + (1 - a)**2 s)``,

    clipped to 0..1 (with ``a = 0``: ``1 - s / r``). A residual no larger than the
    noise gives 0 (the prediction alone). Pixels whose residual exceeds ``OUTLIER``
    root mean squares (hot pixels) are left out of ``r`` and ``s``, their 3 x 3
    neighbourhoods out of ``s``. The blend assumes
    pixel-wise independent noise: where the image's :func:`whiteness` says its
    high frequencies are not white noise (spatially correlated noise, or structure
    that swamps the noise, as in a noise-free image), ``w`` fades linearly to 0
    between ``WHITE`` and ``NOT_WHITE``.

    Parameters
    ----------
    image, prediction : ndarray
        ``(C, *spatial)``, the same shape.
    centre_gains : sequence of float, optional
        ``a`` per channel; None: 0 (the prediction never saw each pixel's value).

    Returns
    -------
    BlendWeights
        The weights and the residual bounds (``CLIP`` root mean squares).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> clean = np.add.outer(np.arange(256.0), np.zeros(256))
    >>> noise = 2.0 * rng.standard_normal(clean.shape)             # noise variance 4
    >>> guess = clean + 1.0 * rng.standard_normal(clean.shape)     # error variance 1
    >>> blend = blind_spot_weights((clean + noise)[None], guess[None])
    >>> round(blend.weights[0], 1), round(blend.limits[0], 0)      # 1 / (1 + 4), 4 sqrt(5)
    (0.2, 9.0)
    >>> leaky = guess + 0.2 * noise                                # keeps 20% of the noise
    >>> blend = blind_spot_weights((clean + noise)[None], leaky[None], [0.2])
    >>> round(blend.weights[0], 2)                                 # (1 - .64) / (1 + 2.56)
    0.1
    """
    x = np.asarray(image, dtype=np.float64)
    mu = np.asarray(prediction, dtype=np.float64)
    if x.shape != mu.shape:
        raise ValueError(f"image {x.shape} and prediction {mu.shape} must have the same shape")
    a = np.zeros(len(x)) if centre_gains is None else np.asarray(centre_gains, dtype=np.float64)
    if a.shape != (len(x),):
        raise ValueError(f"centre_gains needs one value per channel ({len(x)}), got {a.shape}")
    keep, residual = _inliers(x - mu)
    noise = np.asarray(pixel_noise_variance(x, keep))
    error = np.maximum(residual - (1.0 - a) ** 2 * noise, 0.0)
    total = error + (1.0 - a) ** 2 * noise
    safe = np.where(total > 0, total, 1.0)
    w = np.where(total > 0, (error - a * (1.0 - a) * noise) / safe, 0.0)
    white = np.asarray(whiteness(x, keep))
    trust = np.clip((NOT_WHITE - white) / (NOT_WHITE - WHITE), 0.0, 1.0)
    return BlendWeights(tuple(float(v) for v in np.clip(w, 0.0, 1.0) * trust),
                        tuple(float(v) for v in CLIP * np.sqrt(residual)),
                        tuple(float(v) for v in a), tuple(float(v) for v in white))  # fmt: skip


def whiteness(image: Any, keep: Any = None) -> tuple[float, ...]:
    """Per-channel lag-1 correlation of the image's second differences along Y and X.

    For pixel-wise independent noise of any distribution the second difference
    ``x[i-1] - 2 x[i] + x[i+1]`` has correlation exactly ``-2/3`` with its neighbour's
    (covariance ``-4 s`` over variance ``6 s``). Smooth structure pulls it towards
    +1 and spatially correlated noise towards 0 (Gaussian-blurred noise, sd 0.8 px:
    -0.1), so a value near ``-2/3`` says the high frequencies are white noise:
    -0.667 on fluorescence images with photon noise, -0.62 to -0.67 on natural
    images with Gaussian noise.

    Parameters
    ----------
    image : ndarray
        ``(C, *spatial)``, Y and X >= 4.
    keep : ndarray of bool, optional
        Pixels to use (the image's shape); products touching a left-out pixel are
        dropped.

    Returns
    -------
    tuple of float
        One correlation per channel (0 where the image is constant).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(whiteness(rng.poisson(3.0, (1, 256, 256)))[0], 2)
    -0.67
    """
    x = np.asarray(image, dtype=np.float64)
    k = np.ones(x.shape, bool) if keep is None else np.asarray(keep, dtype=bool)
    products = np.zeros(len(x))
    squares = np.zeros(len(x))
    for axis in (-1, -2):
        xs, ks = np.moveaxis(x, axis, -1), np.moveaxis(k, axis, -1)
        d = xs[..., :-2] - 2.0 * xs[..., 1:-1] + xs[..., 2:]
        ok = ks[..., :-2] & ks[..., 1:-1] & ks[..., 2:]
        both = (ok[..., :-1] & ok[..., 1:]).reshape(len(x), -1)
        first, second = d[..., :-1].reshape(len(x), -1), d[..., 1:].reshape(len(x), -1)
        products += np.where(both, first * second, 0.0).sum(axis=1)
        squares += np.where(both, first**2, 0.0).sum(axis=1)
    return tuple(float(p / q) if q > 0 else 0.0 for p, q in zip(products, squares))


def _inliers(residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels whose residual is within ``OUTLIER`` root mean squares, and their mean square.

    Per channel, two passes (the second measures the root mean square without the
    outliers the first found). Hot pixels and cosmic-ray hits follow neither the
    noise model nor the network's linear response; left in, they inflate both
    variances.
    """
    squares = residual.reshape(len(residual), -1) ** 2
    keep = np.ones(squares.shape, dtype=bool)
    for _ in range(2):
        keep = squares <= OUTLIER**2 * _masked_mean(squares, keep)[:, None]
    return keep.reshape(residual.shape), _masked_mean(squares, keep)


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-row mean of ``values`` where ``mask`` (rows: channels); 0 for an empty row."""
    return np.where(mask, values, 0.0).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)


def centre_gain(
    predict: Callable[[np.ndarray], Any], image: Any, *, seed: int = 0
) -> tuple[float, ...]:
    """Per-channel mean of ``d prediction[i] / d image[i]``: the share of a pixel kept.

    How much of each pixel's own value the prediction keeps, by a random probe:
    ``image + eps * b`` with ``b`` a seeded +-1 pattern and ``eps`` a tenth of the
    noise's standard deviation; ``mean(b * (f(image + eps b) - f(image))) / eps`` is
    the mean diagonal of ``f``'s Jacobian (its other entries average out: ``b``'s
    signs are independent). Run on a central crop of at most 128 x 128 pixels
    (8 x 128 x 128 voxels in 3D): the gain is a property of the network, not of
    the place.

    Parameters
    ----------
    predict : callable
        ``(C, *spatial)`` float32 array -> prediction of the same shape (float32,
        deterministic).
    image : ndarray
        ``(C, *spatial)``.
    seed : int
        Seed of the probe pattern.

    Returns
    -------
    tuple of float
        One gain per channel (0 for a strict blind spot, 1 for the identity).

    Examples
    --------
    >>> from scipy import ndimage as ndi
    >>> ring = np.ones((3, 3)) / 8.0
    >>> ring[1, 1] = 0.0
    >>> leak = lambda x: 0.3 * x + 0.7 * ndi.convolve(x, ring[None], mode="reflect")
    >>> x = np.random.default_rng(0).normal(size=(1, 128, 128))
    >>> round(centre_gain(leak, x)[0], 2)
    0.3
    """
    x = np.asarray(image, dtype=np.float32)
    crop = _central(x.shape[1:], PROBE_2D, PROBE_OTHER, PROBE_YX)
    x = np.ascontiguousarray(x[(slice(None), *crop)])
    scale = np.sqrt(np.asarray(pixel_noise_variance(x)))
    spread = x.reshape(len(x), -1).std(axis=1)
    eps = np.where(scale > 0, 0.1 * scale, 1e-3 * np.where(spread > 0, spread, 1.0))
    eps = eps.astype(np.float32).reshape((-1,) + (1,) * (x.ndim - 1))
    b = np.random.default_rng(seed).choice(np.array([-1.0, 1.0], np.float32), size=x.shape)
    base = np.asarray(predict(x), dtype=np.float64)
    probed = np.asarray(predict(x + eps * b), dtype=np.float64)
    gain = (b * (probed - base)).reshape(len(x), -1).mean(axis=1) / eps.ravel()
    return tuple(float(g) for g in gain)


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
    along Y and X and ``SAMPLE_OTHER`` along every other axis of a 3D one: enough
    pixels for two variances, few enough for block-wise prediction to read the
    region of its written output in the client. In memory and block-wise alike the
    weights come from this region of the whole image's prediction (no second pass).

    Examples
    --------
    >>> blend_weight_region((1000, 3000))
    (slice(0, 1000, None), slice(476, 2524, None))
    >>> blend_weight_region((40, 1000, 300))
    (slice(12, 28, None), slice(244, 756, None), slice(0, 300, None))
    """
    return _central(spatial_shape, SAMPLE_2D, SAMPLE_OTHER, SAMPLE_YX)


def _central(shape: tuple[int, ...], cap_2d: int, cap_other: int, cap_yx: int) -> tuple[slice, ...]:
    """Central slices of at most ``cap_2d`` per axis in 2D; ``cap_other`` then ``cap_yx`` in 3D."""
    if len(shape) == 2:
        caps: tuple[int, ...] = (cap_2d, cap_2d)
    else:
        caps = (cap_other,) * (len(shape) - 2) + (cap_yx, cap_yx)
    out = []
    for n, cap in zip(shape, caps):
        size = min(int(n), cap)
        start = (int(n) - size) // 2
        out.append(slice(start, start + size))
    return tuple(out)
