"""Pieces of the frame-prediction workflow: movie layout, training windows, baselines, scores.

A movie is ``(T, *spatial)`` or ``(T, C, *spatial)``; inside the workflow it is
always ``(T, C, *spatial)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biakit.errors import DataError


def as_movie(movie: Any, ndim: int, name: str = "movie") -> tuple[np.ndarray, bool]:
    """Return ``(movie as (T, C, *spatial) float32, whether it had a channel axis)``.

    Examples
    --------
    >>> m, had_c = as_movie(np.zeros((5, 8, 8), np.uint8), 2)
    >>> m.shape, m.dtype, had_c
    ((5, 1, 8, 8), dtype('float32'), False)
    """
    array = np.asarray(movie)
    if array.dtype.kind not in "biuf":
        raise DataError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if array.ndim == ndim + 1:
        array, had_c = array[:, None], False
    elif array.ndim == ndim + 2:
        had_c = True
    else:
        raise DataError(
            f"{name} has shape {array.shape}; expected a {ndim}D movie (T, *spatial) with "
            f"{ndim + 1} axes or (T, C, *spatial) with {ndim + 2}"
        )
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise DataError(f"{name} contains NaN or Inf values; replace them before prediction")
    return array, had_c


def movie_list(movies: Any, ndim: int, name: str) -> list[np.ndarray]:
    """Return ``movies`` (a list of arrays) as ``(T, C, *spatial)`` movies with equal channels.

    Examples
    --------
    >>> [m.shape for m in movie_list([np.zeros((3, 4, 4))], 2, "images")]
    [(3, 1, 4, 4)]
    """
    if movies is None or hasattr(movies, "shape") or isinstance(movies, str | bytes):
        raise DataError(f"{name} must be a list of movies (one (T, *spatial) array per movie)")
    out = [as_movie(m, ndim, f"{name}[{i}]")[0] for i, m in enumerate(movies)]
    if not out:
        raise DataError(f"{name} is empty; give at least one movie")
    for i, m in enumerate(out):
        if m.shape[1] != out[0].shape[1]:
            raise DataError(
                f"{name}[{i}] has {m.shape[1]} channel(s) per frame, {name}[0] has "
                f"{out[0].shape[1]}; all movies need the same channels"
            )
    return out


def persistence_forecast(context: Any, horizon: int) -> np.ndarray:
    """Copy-last-frame forecast: ``horizon`` copies of ``context[-1]``.

    Examples
    --------
    >>> persistence_forecast(np.arange(6.0).reshape(3, 2), 2)
    array([[4., 5.],
           [4., 5.]])
    """
    ctx = np.asarray(context, dtype=np.float64)
    _check_context(ctx, horizon, 1)
    return np.repeat(ctx[-1:], horizon, axis=0)


def linear_forecast(context: Any, horizon: int) -> np.ndarray:
    """Linear extrapolation of the last two frames: ``x[-1] + h (x[-1] - x[-2])``, h = 1..horizon.

    Examples
    --------
    >>> linear_forecast(np.array([[1.0], [3.0]]), 2)
    array([[5.],
           [7.]])
    """
    ctx = np.asarray(context, dtype=np.float64)
    _check_context(ctx, horizon, 2)
    steps = np.arange(1, horizon + 1).reshape(-1, *([1] * (ctx.ndim - 1)))
    return ctx[-1] + steps * (ctx[-1] - ctx[-2])


def _check_context(ctx: np.ndarray, horizon: int, need: int) -> None:
    if ctx.ndim < 2 or len(ctx) < need:
        raise DataError(f"context has shape {ctx.shape}; need at least {need} frame(s) (T first)")
    if int(horizon) < 1:
        raise DataError(f"horizon must be >= 1, got {horizon}")


def frame_scores(truth: np.ndarray, pred: np.ndarray, data_range: float) -> dict[str, float]:
    """PSNR (dB), SSIM, MSE and MAE of one ``(C, *spatial)`` frame, SSIM averaged over channels.

    Examples
    --------
    >>> s = frame_scores(np.zeros((1, 8, 8)), np.full((1, 8, 8), 0.1), 1.0)
    >>> round(s["psnr"], 6), round(s["mse"], 6), round(s["mae"], 6)
    (20.0, 0.01, 0.1)
    """
    from biakit.metrics.restoration import psnr, ssim

    t, p = np.asarray(truth, np.float64), np.asarray(pred, np.float64)
    win = min(7, *t.shape[1:])
    win -= 1 - win % 2
    pairs = zip(t, p) if win >= 3 else ()
    ssims = [ssim(a, b, data_range=data_range, win_size=win) for a, b in pairs]
    diff = t - p
    return {
        "psnr": psnr(t, p, data_range=data_range),
        "ssim": float(np.mean(ssims)) if ssims else float("nan"),
        "mse": float(np.mean(diff * diff)),
        "mae": float(np.mean(np.abs(diff))),
    }


def default_data_range(movie: Any) -> float:
    """Unsigned integers: the dtype's maximum (255 for uint8); else the movie's max - min."""
    array = np.asarray(movie)
    if array.dtype.kind == "u":
        return float(np.iinfo(array.dtype).max)
    if array.dtype == bool:
        return 1.0
    span = float(array.max() - array.min())
    return span if span > 0 else 1.0


class FrameWindows:
    """Map-style dataset of ``(n_input frames, next n_output frames)`` random crops.

    Parameters
    ----------
    movies : list of numpy.ndarray
        Normalised movies ``(T, C, *spatial)``; frames smaller than ``patch_shape``
        are reflect-padded.
    n_input, n_output : int
        Frames in and out of a window (a window spans ``n_input + n_output`` frames).
    patch_shape : tuple of int
        Spatial crop.
    samples_per_epoch : int
        Length of the dataset.
    foreground_fraction : float
        Fraction of crops centred on a foreground pixel (Otsu threshold of the
        movie's maximum projection over time and channels).
    flip, rotate90 : bool
        Random flips of every spatial axis / quarter turns in YX, the same for
        every frame of a window.
    seed : int
        Item ``i`` of epoch ``e`` is drawn with ``default_rng((seed, e, i))``.

    Examples
    --------
    >>> movie = np.zeros((6, 1, 16, 16), np.float32)
    >>> ds = FrameWindows([movie], 3, 2, (8, 8), samples_per_epoch=4)
    >>> x, y = ds[0]
    >>> tuple(x.shape), tuple(y.shape), len(ds)
    ((3, 8, 8), (2, 8, 8), 4)
    """

    def __init__(self, movies: list[np.ndarray], n_input: int, n_output: int,
                 patch_shape: tuple[int, ...], *, samples_per_epoch: int = 64,
                 foreground_fraction: float = 0.0, flip: bool = False, rotate90: bool = False,
                 seed: int = 0) -> None:  # fmt: skip
        span = n_input + n_output
        self.movies, self.windows, self.fg = [], [], []
        for i, m in enumerate(movies):
            if len(m) < span:
                raise DataError(
                    f"movie {i} has {len(m)} frames; a training window needs n_input + n_output "
                    f"(or + rollout.frames) = {span}; use a longer movie or fewer frames"
                )
            m = _pad_to(np.asarray(m, dtype=np.float32), patch_shape)
            self.movies.append(m)
            self.windows += [(i, s) for s in range(len(m) - span + 1)]
            self.fg.append(_foreground(m) if foreground_fraction > 0 else None)
        self.n_input, self.n_output, self.patch = n_input, n_output, tuple(patch_shape)
        self.samples, self.fg_fraction = int(samples_per_epoch), float(foreground_fraction)
        self.flip, self.rotate90, self.seed, self.epoch = flip, rotate90, seed, 0

    def __len__(self) -> int:
        return self.samples

    def set_epoch(self, epoch: int) -> None:
        """Draw other crops in the next epoch (called by the trainer)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        import torch

        rng = np.random.default_rng((self.seed, self.epoch, int(index)))
        m_idx, start = self.windows[rng.integers(len(self.windows))]
        movie, fg = self.movies[m_idx], self.fg[m_idx]
        spatial = movie.shape[2:]
        if fg is not None and len(fg) and rng.random() < self.fg_fraction:
            centre = fg[rng.integers(len(fg))]
            corner = [int(np.clip(c - p // 2, 0, n - p))
                      for c, p, n in zip(centre, self.patch, spatial)]  # fmt: skip
        else:
            corner = [int(rng.integers(n - p + 1)) for p, n in zip(self.patch, spatial)]
        box = tuple(slice(c, c + p) for c, p in zip(corner, self.patch))
        window = movie[(slice(start, start + self.n_input + self.n_output), slice(None), *box)]
        window = self._augment(window, rng)
        c = window.shape[1]
        x = window[: self.n_input].reshape(self.n_input * c, *self.patch)
        y = window[self.n_input :].reshape(self.n_output * c, *self.patch)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))

    def _augment(self, window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        nd = len(self.patch)
        if self.flip:
            axes = [2 + a for a in range(nd) if rng.random() < 0.5]
            if axes:
                window = np.flip(window, axis=axes)
        if self.rotate90 and self.patch[-1] == self.patch[-2]:
            window = np.rot90(window, k=int(rng.integers(4)), axes=(-2, -1))
        return window


def _pad_to(movie: np.ndarray, patch: tuple[int, ...]) -> np.ndarray:
    """Reflect-pad (edge-pad when tiny) the spatial axes up to ``patch``."""
    spatial = movie.shape[2:]
    extra = [max(p - n, 0) for p, n in zip(patch, spatial)]
    if not any(extra):
        return movie
    mode = "reflect" if all(e < n for e, n in zip(extra, spatial)) else "edge"
    return np.pad(movie, [(0, 0), (0, 0), *((0, e) for e in extra)], mode=mode)


def _foreground(movie: np.ndarray, max_points: int = 100_000) -> np.ndarray:
    """Coordinates above the Otsu threshold of the maximum projection (a seeded subsample)."""
    from skimage.filters import threshold_otsu

    proj = movie.max(axis=(0, 1))
    if proj.max() <= proj.min():
        return np.zeros((0, proj.ndim), int)
    coords = np.argwhere(proj > threshold_otsu(proj))
    if len(coords) > max_points:
        coords = coords[np.random.default_rng(0).choice(len(coords), max_points, replace=False)]
    return coords


def pad_to_multiple(frames: np.ndarray, divisor: tuple[int, ...]) -> tuple[np.ndarray, tuple]:
    """Pad ``(T, C, *spatial)`` at the end of each spatial axis to multiples of ``divisor``.

    Returns the padded array and the slices that crop an output back.

    Examples
    --------
    >>> padded, crop = pad_to_multiple(np.zeros((2, 1, 5, 8)), (4, 4))
    >>> padded.shape, padded[crop].shape
    ((2, 1, 8, 8), (2, 1, 5, 8))
    """
    spatial = frames.shape[2:]
    extra = [(-n) % d for n, d in zip(spatial, divisor)]
    crop = (slice(None), slice(None), *(slice(0, n) for n in spatial))
    if not any(extra):
        return frames, crop
    mode = "reflect" if all(e < n for e, n in zip(extra, spatial)) else "edge"
    return np.pad(frames, [(0, 0), (0, 0), *((0, e) for e in extra)], mode=mode), crop


def montage(truth: np.ndarray, pred: np.ndarray, gap: int = 2) -> np.ndarray:
    """Grey uint8 grid: one row per frame, columns truth | prediction | absolute error.

    Frames are ``(H, *spatial)`` (first channel, middle Z slice of 3D); truth and
    prediction share the truth's 1-99.8 percentile display range, the error is
    shown on the same scale.

    Examples
    --------
    >>> montage(np.zeros((2, 4, 4)), np.ones((2, 4, 4))).shape
    (10, 16)
    """
    t, p = np.asarray(truth, np.float64), np.asarray(pred, np.float64)
    if t.ndim == 4:
        t, p = t[:, t.shape[1] // 2], p[:, p.shape[1] // 2]
    lo, hi = np.percentile(t, (1.0, 99.8))
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    to8 = lambda v: np.clip(v * scale, 0, 255).astype(np.uint8)  # noqa: E731
    rows = []
    for a, b in zip(t, p):
        cells = [to8(a - lo), to8(b - lo), to8(np.abs(a - b))]
        sep = np.full((a.shape[0], gap), 255, np.uint8)
        rows.append(np.concatenate([cells[0], sep, cells[1], sep, cells[2]], axis=1))
        rows.append(np.full((gap, rows[-1].shape[1]), 255, np.uint8))
    return np.concatenate(rows[:-1], axis=0)
