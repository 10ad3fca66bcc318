"""Shared fixtures of the workflow tests: tiny frame-prediction and denoising set-ups."""

import copy

import numpy as np
import pytest

_FRAME_TINY = {
    "n_input": 3,
    "n_output": 2,
    "patch_shape": (16, 16),
    "samples_per_epoch": 8,
    "model": {"hid_s": 4, "hid_t": 8, "n_s": 2, "n_t": 1, "groups": 2},
    "train": {"epochs": 2, "batch_size": 4, "device": "cpu", "plot_every": 0, "amp": "none"},
}

_DENOISE_TINY = {
    "patch_shape": (32, 32),
    "samples_per_epoch": 4,
    "mask_fraction": 0.02,
    "model": {"depth": 1, "base_filters": 4},
    "train": {"epochs": 1, "batch_size": 2, "device": "cpu", "plot_every": 0},
}


def _moving_square(n_frames=10, shape=(20, 24), step=1, seed=0):
    """Seeded noise around 10 with a 6 x 6 square (+50) moving ``step`` columns a frame."""
    rng = np.random.default_rng(seed)
    movie = rng.normal(10.0, 1.0, size=(n_frames, *shape)).astype(np.float32)
    y0, x0 = rng.integers(2, 6, size=2)
    for t in range(n_frames):
        x = (x0 + step * t) % (shape[1] - 6)
        movie[t, y0 : y0 + 6, x : x + 6] += 50.0
    return movie


@pytest.fixture(scope="module")
def frame_tiny():
    """Keyword arguments of a tiny, fast ``FramePredictionConfig`` (a fresh copy per module)."""
    return copy.deepcopy(_FRAME_TINY)


@pytest.fixture(scope="module")
def denoise_tiny():
    """Keyword arguments of a tiny, fast ``DenoiseConfig`` (one epoch; a fresh copy)."""
    return copy.deepcopy(_DENOISE_TINY)


@pytest.fixture(scope="session")
def moving_square():
    """``moving_square(n_frames=10, shape=(20, 24), step=1, seed=0)``: a (T, Y, X) movie."""
    return _moving_square


@pytest.fixture(scope="module")
def frame_workflow():
    """Register the frame-prediction workflow for the module's tests."""
    from biakit.workflows import register_workflow
    from biakit.workflows.frame_prediction import FramePredictor

    register_workflow(FramePredictor)
