import socket

import numpy as np
import pytest
from scipy import ndimage as ndi


def _close_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    """Label pairs whose 1-pixel dilations (full connectivity) meet.

    Equivalently: pairs with fewer than two background pixels between them
    (Chebyshev distance <= 2), found by dilating each label by 2 pixels.
    """
    structure = ndi.generate_binary_structure(labels.ndim, labels.ndim)
    pairs = set()
    for k, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        big = tuple(slice(max(s.start - 2, 0), s.stop + 2) for s in box)
        grown = ndi.binary_dilation(labels[big] == k, structure, iterations=2)
        for other in np.unique(labels[big][grown]).tolist():
            if other not in (0, k):
                pairs.add((min(k, other), max(k, other)))
    return pairs


def _adjacent_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    """Label pairs in direct face contact (4-connected in 2D, 6-connected in 3D)."""
    out = set()
    for axis in range(labels.ndim):
        a = np.moveaxis(labels, axis, 0)
        lo, hi = a[:-1].ravel(), a[1:].ravel()
        sel = (lo != hi) & (lo > 0) & (hi > 0)
        out |= {(min(p, q), max(p, q)) for p, q in zip(lo[sel].tolist(), hi[sel].tolist())}
    return out


@pytest.fixture
def close_pairs():
    return _close_pairs


@pytest.fixture
def adjacent_pairs():
    return _adjacent_pairs


@pytest.fixture
def no_network(monkeypatch):
    """Make any attempt to open a network connection fail loudly."""

    def refuse(*args, **kwargs):
        raise OSError("network access attempted during an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
