"""Motion and appearance statistics estimated from unambiguous links."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

_MAD = 1.4826  # MAD -> sd of a normal distribution


@dataclass(frozen=True)
class Motion:
    """What the linker knows about the data (physical units, per frame).

    ``drift``: mean displacement; ``sigma``: per-axis sd of a step around it;
    ``spacing_nn``: median distance between a detection and its nearest
    neighbour in the same frame; ``size_sd`` / ``intensity_sd``: spread of the
    log area ratio / intensity difference between linked detections (NaN when
    unknown); ``radius``: median equivalent radius of the objects (NaN for
    points); ``n_pairs``: unambiguous links the estimate rests on;
    ``long_step``: 99th percentile of their step length around the drift (NaN
    with fewer than 20), which catches a minority of fast objects.
    """

    drift: np.ndarray
    sigma: float
    spacing_nn: float
    size_sd: float
    intensity_sd: float
    radius: float
    n_pairs: int
    long_step: float = float("nan")


def frame_slices(t: np.ndarray) -> dict[int, np.ndarray]:
    """Node indices of each frame (``t`` need not be sorted)."""
    order = np.argsort(t, kind="stable")
    frames, starts = np.unique(t[order], return_index=True)
    return dict(zip(frames.tolist(), np.split(order, starts[1:])))


def _robust_sd(values: np.ndarray, floor: float) -> float:
    if values.size < 3:
        return float("nan")
    return max(float(_MAD * np.median(np.abs(values - np.median(values)))), floor)


def _trimmed_rms(values: np.ndarray, floor: float) -> float:
    """Root mean square without the largest 2 %.

    Robust to a few wrong pairs, and (unlike the MAD) not fooled when most
    values are equal, e.g. noise-free steps of several populations.
    """
    mag = np.sort(np.abs(values))
    keep = mag[: max(int(np.ceil(0.98 * mag.size)), 1)]
    return max(float(np.sqrt(np.mean(keep**2))), floor)


def _mutual_pairs(x: np.ndarray, by_frame: dict[int, np.ndarray]):
    """Mutual nearest neighbours of consecutive frames, and in-frame NN distances."""
    pairs, nn = [], []
    trees = {f: cKDTree(x[idx]) for f, idx in by_frame.items()}
    for f, idx in by_frame.items():
        if idx.size > 1:
            nn.append(trees[f].query(x[idx], k=2)[0][:, 1])
        nxt = by_frame.get(f + 1)
        if nxt is None:
            continue
        _, j = trees[f + 1].query(x[idx])
        _, i_back = trees[f].query(x[nxt])
        mutual = i_back[j] == np.arange(idx.size)
        pairs.append(np.stack([idx[mutual], nxt[j[mutual]]], axis=1))
    pairs_arr = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
    return pairs_arr, (np.concatenate(nn) if nn else np.zeros(0))


def estimate_motion(
    t: np.ndarray, x: np.ndarray, features: dict[str, np.ndarray], floor: float = 0.0
) -> Motion:
    """Estimate drift, step size and appearance spreads from the detections.

    Unambiguous links are mutual nearest neighbours of consecutive frames
    closer than half the median in-frame nearest-neighbour distance (all
    mutual pairs when that leaves fewer than 3). ``sigma`` is at least
    ``floor`` (the localisation precision, e.g. half a pixel).

    Examples
    --------
    >>> t = np.repeat(np.arange(4), 2)
    >>> x = np.array([[0.0, 0], [50, 50]] * 4) + np.repeat(np.arange(4.0), 2)[:, None]
    >>> m = estimate_motion(t, x, {})
    >>> m.drift.tolist(), m.n_pairs
    ([1.0, 1.0], 6)
    """
    ndim = x.shape[1]
    pairs, nn = _mutual_pairs(x, frame_slices(t))
    spacing_nn = float(np.median(nn)) if nn.size else float("inf")
    step = x[pairs[:, 1]] - x[pairs[:, 0]]
    dist = np.sqrt((step**2).sum(axis=1))
    good = dist < spacing_nn / 2
    if good.sum() >= 3:
        pairs, step = pairs[good], step[good]
    scale = spacing_nn if np.isfinite(spacing_nn) else 1.0
    if pairs.shape[0]:
        drift = np.median(step, axis=0)
        sigma = _trimmed_rms((step - drift).ravel(), 1e-3 * scale)
    else:
        drift, sigma = np.zeros(ndim), 0.1 * scale
    sigma = max(sigma, floor)
    size_sd = intensity_sd = radius = float("nan")
    area = features.get("area")
    if area is not None and pairs.shape[0]:
        a = np.maximum(np.asarray(area, np.float64), 1e-12)
        size_sd = _robust_sd(np.log(a[pairs[:, 1]] / a[pairs[:, 0]]), 0.2)
    if area is not None and area.size:
        unit = np.pi if ndim == 2 else 4 * np.pi / 3
        radius = float(np.median(np.asarray(area, np.float64) / unit) ** (1 / ndim))
    inten = features.get("mean_intensity")
    if inten is not None and pairs.shape[0]:
        diff = inten[pairs[:, 1]] - inten[pairs[:, 0]]
        floor = 0.05 * float(np.median(np.abs(inten))) + 1e-12
        intensity_sd = _robust_sd(diff, floor)
    long_step = float("nan")
    if pairs.shape[0] >= 20:
        long_step = float(np.percentile(np.sqrt(((step - drift) ** 2).sum(axis=1)), 99))
    return Motion(
        np.asarray(drift, float),
        float(sigma),
        spacing_nn,
        size_sd,
        intensity_sd,
        radius,
        int(pairs.shape[0]),
        long_step,
    )
