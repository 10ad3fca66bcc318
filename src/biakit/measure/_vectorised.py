"""Per-object statistics for all labels at once with ``np.bincount`` (no Python loop)."""

from __future__ import annotations

import numpy as np


def compact_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relabel to consecutive ids ``1..n`` (0 stays background).

    Returns the compact label image (int32 or int64) and the original ids
    (sorted) so that compact id ``k`` is original id ``ids[k - 1]``.
    """
    flat = labels.ravel()
    top = int(flat.max()) if flat.size else 0
    if top <= 2 * flat.size + 1024:  # lookup table no larger than the image
        present = np.bincount(flat.astype(np.intp, copy=False), minlength=top + 1) > 0
        present[0] = False
        ids = np.flatnonzero(present)
        dtype = np.int32 if ids.size < 2**31 - 1 else np.int64
        lut = np.zeros(top + 1, dtype=dtype)
        lut[ids] = np.arange(1, ids.size + 1, dtype=dtype)
        compact = lut[flat].reshape(labels.shape)
    else:
        ids, inverse = np.unique(flat, return_inverse=True)
        if ids[0] == 0:
            ids = ids[1:]
        else:
            inverse = inverse + 1
        compact = inverse.astype(np.int64).reshape(labels.shape)
    if ids.size == 0 or int(ids[-1]) < 2**63:
        ids = ids.astype(np.int64)
    return compact, ids


def moment_features(
    lab: np.ndarray,
    fg: np.ndarray,
    shape: tuple[int, ...],
    counts: np.ndarray,
    spacing: np.ndarray,
) -> dict[str, np.ndarray]:
    """Centroid, inertia axis lengths and eccentricity of every object.

    ``lab`` holds the compact label (1..n) of each foreground pixel, ``fg`` its
    flat index. Coordinates are pixel indices times ``spacing``, as in
    ``skimage.measure.regionprops(spacing=...)``.
    """
    n, ndim = counts.size, len(shape)
    coords = np.unravel_index(fg, shape)
    centre = np.stack(
        [np.bincount(lab, weights=c, minlength=n + 1)[1:] / counts for c in coords], axis=1
    )
    # centred physical coordinates (two-pass for numerical stability)
    d = [(c - centre[lab - 1, a]) * spacing[a] for a, c in enumerate(coords)]
    cov = np.empty((n, ndim, ndim))
    for a in range(ndim):
        for b in range(a, ndim):
            cov[:, a, b] = cov[:, b, a] = np.bincount(lab, d[a] * d[b], minlength=n + 1)[1:]
    cov /= counts[:, None, None]
    eig = np.clip(np.linalg.eigvalsh(cov), 0.0, None) if n else np.zeros((0, ndim))
    # a solid ellipse/ellipsoid with semi-axis r has variance r^2 / (ndim + 2) along it
    lengths = 2.0 * np.sqrt((ndim + 2) * eig)
    major, minor = eig[:, -1], eig[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        ecc = np.where(major > 0, np.sqrt(np.clip(1.0 - minor / major, 0.0, 1.0)), 0.0)
    out = {f"centroid_{a}": centre[:, i] * spacing[i] for i, a in enumerate("zyx"[3 - ndim :])}
    out.update(major_axis_length=lengths[:, -1], minor_axis_length=lengths[:, 0], eccentricity=ecc)
    return out


def intensity_features(
    lab: np.ndarray, values: np.ndarray, counts: np.ndarray, pixel_size: float
) -> dict[str, np.ndarray]:
    """Mean, min, max, std, median and integrated intensity of one channel.

    ``values`` is the (float64) intensity of each foreground pixel, aligned with
    ``lab``. One sort by (label, value) gives min, max and median together.
    """
    n = counts.size
    sums = np.bincount(lab, weights=values, minlength=n + 1)[1:]
    mean = sums / counts
    var = np.bincount(lab, weights=(values - mean[lab - 1]) ** 2, minlength=n + 1)[1:] / counts
    ordered = values[np.lexsort((values, lab))]
    size = counts.astype(np.int64)
    start = np.cumsum(size) - size
    last = start + size - 1
    lo, hi = start + (size - 1) // 2, start + size // 2
    return {
        "mean_intensity": mean,
        "min_intensity": ordered[start],
        "max_intensity": ordered[last],
        "std_intensity": np.sqrt(var),
        "median_intensity": 0.5 * (ordered[lo] + ordered[hi]),
        "integrated_intensity": sums * pixel_size,
    }
