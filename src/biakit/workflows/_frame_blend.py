"""Per-horizon blend of a forecast toward persistence, fitted on held-out frames.

Beyond the network's ``n_output`` frames a horizon may also *hold* the
network's last direct frame instead of rolling out (feeding predictions back
drifts; the furthest direct forecast, shrunk toward persistence, often does
not): :func:`choose_hold` picks per horizon whichever scored better on the
held-out forecasts, :func:`horizon_sources` says which roll-out frame gives
each horizon.

The blend's anchor may be a denoised last frame (:func:`smooth_anchor`, a
Gaussian of ``sigma`` pixels chosen on the held-out forecasts, 0: the frame
itself): much of the change between noisy frames is noise, which copying the
last frame repeats.

The forecast at horizon ``h`` becomes ``last + a_h * (pred_h - last)``:
``a_h = 1`` trusts the network, ``a_h = 0`` is persistence (copy-last-frame).
For one forecast ``f`` with ``d = pred - last`` and ``e = truth - last``
(summed over pixels), the blend's squared error is the quadratic
``ee_f - 2 a de_f + a^2 dd_f``; :func:`fit_blend` picks ``a_h`` from these
per-forecast sums so that on the frames it was fitted on the blend is never
worse than persistence, both in pooled MSE and in mean per-frame PSNR, and its
gain there is positive by a margin of standard errors (so a horizon where the
network helps some forecasts and hurts others stays near persistence).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biakit.errors import DataError

#: candidate weights searched (the pooled least-squares optimum is added to them)
_GRID = np.linspace(0.0, 1.0, 201)


def forecast_sums(pred: Any, last: Any, truth: Any) -> np.ndarray:
    """Per-horizon sums ``(dd, de, ee)`` of one forecast, shape ``(3, horizon)``.

    Parameters
    ----------
    pred, truth : array_like
        ``(horizon, ...)`` forecast and true frames.
    last : array_like
        ``(1, ...)`` the last frame before the forecast.

    Examples
    --------
    >>> forecast_sums(np.full((1, 2), 2.0), np.zeros((1, 2)), np.ones((1, 2)))
    array([[8.],
           [4.],
           [2.]])
    """
    pred, last, truth = (np.asarray(a, dtype=np.float64) for a in (pred, last, truth))
    if pred.shape != truth.shape or last.shape != (1, *pred.shape[1:]):
        raise DataError(
            f"forecast_sums: pred {pred.shape} and truth {truth.shape} must match and last "
            f"{last.shape} must be (1, ...) like one of their frames"
        )
    axes = tuple(range(1, pred.ndim))
    d, e = pred - last, truth - last
    return np.stack([np.sum(d * d, axis=axes), np.sum(d * e, axis=axes), np.sum(e * e, axis=axes)])


def fit_blend(sums: list[np.ndarray], margin: float = 1.0) -> list[float]:
    """Blend weights per horizon from the per-forecast sums of :func:`forecast_sums`.

    For each horizon, ``a`` lies in ``[0, min(1, 2 DE / DD)]`` (``DD``, ``DE``:
    the sums over forecasts; beyond that bound the pooled MSE would exceed
    persistence's) and maximises the mean over forecasts of ``-log(MSE_f(a))``,
    i.e. the mean per-frame PSNR, among 201 evenly spaced candidates and the
    pooled least-squares optimum ``DE / DD``. With two or more forecasts a
    candidate also needs its per-forecast PSNR gains ``g_f`` over persistence
    to clear zero by ``margin`` standard errors, ``mean(g) - margin * sd(g) /
    sqrt(n) >= 0``: the held-out forecasts are few, and a gain that is positive
    on average but not consistently is not trusted (``margin=0``: the mean
    alone). ``a = 0`` (persistence, gain 0 everywhere) is a candidate, so the
    fitted blend is never worse than persistence on these forecasts. A horizon
    where no change is predicted (``DD = 0``) gets 1.

    Parameters
    ----------
    sums : list of numpy.ndarray
        One ``(3, h_f)`` array per forecast (forecasts may be shorter than others).
    margin : float
        Standard errors by which the mean per-forecast gain must stay above zero.

    Returns
    -------
    list of float
        One weight per horizon, up to the longest forecast.

    Examples
    --------
    >>> one = forecast_sums(np.full((2, 3), 2.0), np.zeros((1, 3)), np.ones((2, 3)))
    >>> fit_blend([one])                       # overshoot by 2x: halve the change
    [0.5, 0.5]
    """
    if margin < 0:
        raise ValueError(f"fit_blend: margin={margin} must be >= 0 (standard errors)")
    if not sums:
        return []
    horizon = max(s.shape[1] for s in sums)
    weights = []
    for h in range(horizon):
        per = np.array([s[:, h] for s in sums if s.shape[1] > h])  # (n_forecasts, 3)
        weights.append(_fit_one(per[:, 0], per[:, 1], per[:, 2], margin))
    return weights


def _fit_one(dd: np.ndarray, de: np.ndarray, ee: np.ndarray, margin: float) -> float:
    """Return the weight of one horizon from per-forecast ``dd``, ``de``, ``ee``."""
    big_dd, big_de = float(dd.sum()), float(de.sum())
    if big_dd <= 0:
        return 1.0
    upper = min(1.0, 2.0 * big_de / big_dd)
    if upper <= 0:
        return 0.0
    cands = np.unique(np.append(_GRID[_GRID <= upper], [min(big_de / big_dd, upper), upper]))
    mse = ee[None] - 2 * cands[:, None] * de[None] + cands[:, None] ** 2 * dd[None]
    tiny = 1e-12 * max(float(ee.mean()), 1e-30)
    log_mse = np.log(np.maximum(mse, 0.0) + tiny)
    score = -log_mse.mean(axis=1)
    ok = ee > 0
    if margin > 0 and ok.sum() >= 2:  # gains per forecast (log units) must clear the margin
        gain = np.log(ee[ok] + tiny)[None] - log_mse[:, ok]
        low = gain.mean(axis=1) - margin * gain.std(axis=1, ddof=1) / np.sqrt(ok.sum())
        score = np.where((low >= 0) | (cands == 0), score, -np.inf)
    best = int(np.argmax(score))  # first maximum: the smallest weight among ties
    return round(float(cands[best]), 4)


def blend_gains(sums: list[np.ndarray], weights: list[float]) -> list[float]:
    """Mean PSNR gain (dB) over persistence per horizon of the blend ``weights`` on ``sums``.

    Frames where persistence or the blend is exact are left out.

    Examples
    --------
    >>> one = forecast_sums(np.full((1, 3), 2.0), np.zeros((1, 3)), np.ones((1, 3)))
    >>> blend_gains([one], [1.0]), blend_gains([one], [0.0])   # overshoot: as bad as no change
    ([0.0], [0.0])
    """
    out = []
    for h, a in enumerate(weights):
        per = np.array([s[:, h] for s in sums if s.shape[1] > h])
        mse = per[:, 2] - 2 * a * per[:, 1] + a * a * per[:, 0]
        ok = (mse > 1e-12 * per[:, 2]) & (per[:, 2] > 0)
        gain = np.mean(10 * np.log10(per[ok, 2] / mse[ok])) if ok.any() else 0.0
        out.append(round(float(gain), 3))
    return out


def blend_forecast(pred: np.ndarray, last: np.ndarray, weights: list[float] | None) -> np.ndarray:
    """``last + a_h * (pred_h - last)`` per horizon; horizons past the weights use the last one.

    Examples
    --------
    >>> blend_forecast(np.full((3, 1), 4.0), np.zeros((1, 1)), [1.0, 0.5]).ravel().tolist()
    [4.0, 2.0, 2.0]
    """
    if not weights:
        return pred
    a = np.array([weights[min(k, len(weights) - 1)] for k in range(len(pred))], pred.dtype)
    return last + a.reshape(-1, *[1] * (pred.ndim - 1)) * (pred - last)


def holdout_band(movies: list[np.ndarray], fraction: float,
                 min_width: int = 1) -> tuple[list[np.ndarray], list[np.ndarray]]:  # fmt: skip
    """Split every ``(T, C, *spatial)`` movie into a training part and a held-out band.

    The band is the last ``fraction`` of the last spatial axis (the right-most
    columns, at least ``min_width``); the training part is the rest. Nothing
    of the band is used for training: forecasts of the band, from the band
    alone, fit the blend and give the validation loss.

    Examples
    --------
    >>> train, band = holdout_band([np.zeros((5, 1, 8, 20))], 0.25)
    >>> train[0].shape, band[0].shape
    ((5, 1, 8, 15), (5, 1, 8, 5))
    """
    train, band = [], []
    for i, m in enumerate(movies):
        width = m.shape[-1]
        cut = width - max(round(fraction * width), min_width)
        if cut < 1:
            raise DataError(
                f"movie {i} is {width} pixels wide: too narrow to hold out "
                f"blend_holdout={fraction} of it (a band of at least {min_width} pixels) and "
                "train on the rest; give validation movies or set blend_holdout: 0"
            )
        train.append(m[..., :cut])
        band.append(m[..., cut:])
    return train, band


def held_forecast(pred: np.ndarray, n_output: int) -> np.ndarray:
    """``pred`` with every frame after the first ``n_output`` replaced by frame ``n_output``.

    Examples
    --------
    >>> held_forecast(np.arange(5.0).reshape(5, 1), 2).ravel().tolist()
    [0.0, 1.0, 1.0, 1.0, 1.0]
    """
    if len(pred) <= n_output:
        return pred
    rest = np.repeat(pred[n_output - 1 : n_output], len(pred) - n_output, axis=0)
    return np.concatenate([pred[:n_output], rest])


def horizon_sources(hold: list[bool] | None, horizon: int, n_output: int) -> list[int]:
    """Index of the roll-out frame that gives each of ``horizon`` frames.

    Horizon ``k`` (0-based) takes roll-out frame ``k``, or frame ``n_output - 1``
    (the network's last direct frame) where ``hold[k]`` is true; horizons past
    ``hold`` follow its last entry.

    Examples
    --------
    >>> horizon_sources([False, False, False, True], 6, 2)
    [0, 1, 2, 1, 1, 1]
    >>> horizon_sources(None, 3, 2)
    [0, 1, 2]
    """
    out = []
    for k in range(horizon):
        held = bool(hold[min(k, len(hold) - 1)]) if hold else False
        out.append(min(k, n_output - 1) if held else k)
    return out


def choose_hold(roll: list[np.ndarray], held: list[np.ndarray],
                n_output: int) -> tuple[list[bool], list[float], list[float]]:  # fmt: skip
    """Per horizon: roll out or hold, whichever blend gains more on the fitted forecasts.

    ``roll`` and ``held`` are the :func:`forecast_sums` of the same forecasts, as
    rolled out and as held (:func:`held_forecast`). Each gets its own
    :func:`fit_blend` weights; past ``n_output`` a horizon holds when its
    blended gain (:func:`blend_gains`) is higher held than rolled out.

    Returns
    -------
    hold : list of bool
    weights, gains : list of float
        The chosen blend weight and mean PSNR gain (dB) per horizon.

    Examples
    --------
    >>> last, truth = np.zeros((1, 2)), np.ones((3, 2))
    >>> pred = np.array([[1.0, 1.0], [1.0, 0.9], [4.0, -3.0]])  # the roll-out drifts at h = 3
    >>> s = lambda p: [forecast_sums(p, last, truth)]
    >>> choose_hold(s(pred), s(held_forecast(pred, 2)), 2)[0]
    [False, False, True]
    """
    w_roll, w_held = fit_blend(roll), fit_blend(held)
    g_roll, g_held = blend_gains(roll, w_roll), blend_gains(held, w_held)
    hold = [k >= n_output and g_held[k] > g_roll[k] for k in range(len(w_roll))]
    weights = [w_held[k] if h else w_roll[k] for k, h in enumerate(hold)]
    gains = [g_held[k] if h else g_roll[k] for k, h in enumerate(hold)]
    return hold, weights, gains


#: anchor smoothing candidates (pixels) tried when fitting the blend
ANCHOR_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0)


def smooth_anchor(last: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth the last frame ``(1, C, *spatial)`` by a Gaussian of ``sigma`` pixels.

    Spatial axes only, edge values repeated (``mode="nearest"``, as PyTorch's
    ``replicate`` padding in exported packages); ``sigma`` 0 returns ``last``.

    Examples
    --------
    >>> smooth_anchor(np.array([[[0.0, 3.0, 0.0]]]), 0.0).ravel().tolist()
    [0.0, 3.0, 0.0]
    >>> smooth_anchor(np.array([[[0.0, 3.0, 0.0]]]), 1.0).round(2).ravel().tolist()
    [0.73, 1.2, 0.73]
    """
    if sigma <= 0:
        return last
    from scipy import ndimage as ndi

    sigmas = (0.0, 0.0) + (float(sigma),) * (last.ndim - 2)
    return ndi.gaussian_filter(last, sigmas, mode="nearest").astype(last.dtype, copy=False)


def persistence_gains(forecasts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                      anchor_sigma: float, weights: list[float]) -> list[float]:  # fmt: skip
    """Mean PSNR gain (dB) over copying the last frame, per horizon, of the anchored blend.

    ``forecasts``: ``(pred, last, truth)`` per forecast, as in :func:`forecast_sums`.

    Examples
    --------
    >>> f = [(np.ones((1, 1, 2)), np.zeros((1, 1, 2)), np.full((1, 1, 2), 0.5))]
    >>> persistence_gains(f, 0.0, [0.5])   # the blend hits the truth: capped at 60 dB
    [60.0]
    """
    anchors = [smooth_anchor(last, anchor_sigma)[0] for _, last, _ in forecasts]
    out = []
    for h in range(len(weights)):
        g = []
        for (pred, last, truth), anchor in zip(forecasts, anchors):
            if h < len(pred):
                f = anchor + weights[h] * (pred[h] - anchor)
                err_p = float(np.mean((truth[h] - last[0]) ** 2))
                err_f = max(float(np.mean((truth[h] - f) ** 2)), err_p * 1e-6)
                if err_p > 0:
                    g.append(10 * np.log10(err_p / err_f))
        out.append(round(float(np.mean(g)), 3) if g else 0.0)
    return out
