"""Tiny models and a synthetic blob-segmentation dataset for the trainer tests."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset


class BlobDataset(Dataset):
    """Noisy images of 1-3 bright discs with their masks; sample ``i`` depends on (seed, epoch, i).

    ``torch_noise`` adds noise from torch's *global* generator and ``numpy_noise``
    from NumPy's global one, so exact resume must restore those states too.
    """

    def __init__(self, n=16, size=16, seed=0, torch_noise=0.0, numpy_noise=0.0):
        self.n, self.size, self.seed, self.epoch = n, size, seed, 0
        self.torch_noise, self.numpy_noise = torch_noise, numpy_noise
        self.epochs_seen = []

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.epochs_seen.append(epoch)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.default_rng([self.seed, self.epoch, i])
        yy, xx = np.mgrid[: self.size, : self.size]
        mask = np.zeros((self.size, self.size), bool)
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(3, self.size - 3, 2)
            r = rng.uniform(2, 4)
            mask |= (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
        image = mask.astype(np.float32) + rng.normal(0, 0.3, mask.shape).astype(np.float32)
        if self.numpy_noise:
            image += self.numpy_noise * np.random.standard_normal(mask.shape).astype(np.float32)  # noqa: NPY002
        x = torch.from_numpy(image)[None]
        if self.torch_noise:
            x = x + self.torch_noise * torch.randn_like(x)
        return x, torch.from_numpy(mask.astype(np.int64))


def tiny_net(norm=True, dropout=0.1, out_channels=2):
    layers = [nn.Conv2d(1, 8, 3, padding=1)]
    if norm:
        layers.append(nn.BatchNorm2d(8))
    layers += [nn.ReLU(), nn.Dropout2d(dropout), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()]
    layers.append(nn.Conv2d(8, out_channels, 1))
    return nn.Sequential(*layers)


@pytest.fixture
def blobs():
    return BlobDataset


@pytest.fixture
def make_net():
    def make(seed=0, **kwargs):
        torch.manual_seed(seed)
        return tiny_net(**kwargs)

    return make


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one thread avoids OpenMP spin-waiting on busy shared cores (10x faster)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
