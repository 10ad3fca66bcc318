"""Shared test settings and fixtures (synthetic balls with exact ground truth)."""

import os

import numpy as np
import pytest

import biakit  # noqa: F401  (first: its OpenMP wait policy must precede torch's import)

os.environ.setdefault("MPLBACKEND", "Agg")


def make_balls(shape, centers, radius, spacing=None):
    """Label image of balls (physical centres and radius); earlier balls win overlaps."""
    spacing = np.ones(len(shape)) if spacing is None else np.asarray(spacing, float)
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    out = np.zeros(shape, dtype=np.int32)
    for i, c in enumerate(centers, 1):
        d2 = sum((g * s - ci) ** 2 for g, s, ci in zip(grids, spacing, c))
        out[(d2 < radius**2) & (out == 0)] = i
    return out


def best_iou(pred, truth_obj):
    ids = np.unique(pred[truth_obj])
    ids = ids[ids > 0]
    if ids.size == 0:
        return 0.0
    return max(((pred == j) & truth_obj).sum() / ((pred == j) | truth_obj).sum() for j in ids)


@pytest.fixture
def balls():
    return make_balls


@pytest.fixture
def iou():
    return best_iou


@pytest.fixture
def one_torch_thread():
    """Run on one torch thread (tiny networks: thread overhead dominates), then restore."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
