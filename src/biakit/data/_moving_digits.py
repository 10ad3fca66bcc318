"""Tiny moving-digits sequences (a small Moving MNIST) for frame-prediction checks.

Digits are scikit-learn's 8x8 handwritten digits (``sklearn.datasets.load_digits``,
shipped with scikit-learn, no download), enlarged by ``digit_scale`` (pixel
replication) and moved at constant ``speed`` in a random direction inside a
square canvas, bouncing off its borders (the velocity component reverses).
Overlapping digits combine by their maximum, as in Moving MNIST (Srivastava
et al., ICML 2015).
"""

from __future__ import annotations

import numpy as np


def moving_digits(
    n_sequences: int,
    n_frames: int = 20,
    *,
    canvas: int = 32,
    n_digits: int = 2,
    digit_scale: int = 2,
    speed: float = 2.0,
    seed: int = 0,
) -> np.ndarray:
    """Return bouncing-digit movies ``(n_sequences, n_frames, canvas, canvas)`` in ``[0, 1]``.

    Parameters
    ----------
    n_sequences : int
        Number of movies.
    n_frames : int
        Frames per movie (e.g. 20: 10 to see, 10 to predict).
    canvas : int
        Side of the square frames in pixels.
    n_digits : int
        Digits per movie.
    digit_scale : int
        Enlargement of the 8x8 digits (2: 16x16 pixels).
    speed : float
        Pixels per frame; positions are rounded to whole pixels when drawn.
    seed : int
        Seed of the digits' choice, start positions and directions.

    Returns
    -------
    numpy.ndarray
        float32 movies; each digit's intensity is its 0-16 grey level / 16.

    Raises
    ------
    ValueError
        If a count is not positive, or a digit does not fit the canvas.

    Examples
    --------
    >>> movies = moving_digits(2, 5, canvas=24, seed=0)
    >>> movies.shape, movies.dtype, float(movies.max()) <= 1.0
    ((2, 5, 24, 24), dtype('float32'), True)
    """
    from sklearn.datasets import load_digits

    for name, value in (("n_sequences", n_sequences), ("n_frames", n_frames),
                        ("n_digits", n_digits), ("digit_scale", digit_scale)):  # fmt: skip
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    side = 8 * digit_scale
    if side > canvas:
        raise ValueError(
            f"digits of {side} pixels (8 x digit_scale={digit_scale}) do not fit canvas={canvas}; "
            "use a larger canvas or a smaller digit_scale"
        )
    if speed < 0:
        raise ValueError(f"speed must be >= 0, got {speed}")
    digits = load_digits().images.astype(np.float32) / 16.0
    digits = np.kron(digits, np.ones((digit_scale, digit_scale), np.float32))
    rng = np.random.default_rng(seed)
    out = np.zeros((n_sequences, n_frames, canvas, canvas), np.float32)
    room = canvas - side
    for s in range(n_sequences):
        for _ in range(n_digits):
            digit = digits[rng.integers(len(digits))]
            pos = rng.uniform(0, room, size=2)
            angle = rng.uniform(0, 2 * np.pi)
            vel = speed * np.array([np.sin(angle), np.cos(angle)])
            for t in range(n_frames):
                y, x = np.rint(pos).astype(int)
                view = out[s, t, y : y + side, x : x + side]
                np.maximum(view, digit, out=view)
                pos, vel = _bounce(pos + vel, vel, room)
    return out


def _bounce(pos: np.ndarray, vel: np.ndarray, room: float) -> tuple[np.ndarray, np.ndarray]:
    """Reflect positions that left ``[0, room]`` back inside and reverse their velocity."""
    pos, vel = pos.copy(), vel.copy()
    for axis in range(len(pos)):
        if pos[axis] < 0:
            pos[axis], vel[axis] = -pos[axis], -vel[axis]
        elif pos[axis] > room:
            pos[axis], vel[axis] = 2 * room - pos[axis], -vel[axis]
    return np.clip(pos, 0, room), vel
