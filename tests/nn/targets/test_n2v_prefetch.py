"""N2VDataset's background prefetch: the same samples as without it, in any order."""

import pickle

import numpy as np
import pytest

from biakit.nn.targets import N2VDataset, N2VMasking

torch = pytest.importorskip("torch")


class _Epochs:
    """A tiny base dataset whose samples depend on (epoch, i), like PatchDataset's."""

    def __init__(self, n=24):
        self.n, self.epoch = n, 0

    def __len__(self):
        return self.n

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __getitem__(self, i):
        rng = np.random.default_rng([self.epoch, int(i)])
        x = torch.from_numpy(rng.random((1, 16, 16)).astype(np.float32))
        return x, x


def _all(ds, order):
    return {int(i): ds[int(i)] for i in order}


def test_prefetch_gives_the_samples_made_on_request():
    masking = N2VMasking(mask_fraction=0.05)
    plain = N2VDataset(_Epochs(), masking, seed=7)
    fast = N2VDataset(_Epochs(), masking, seed=7, prefetch=True)
    order = np.random.default_rng(0).permutation(24)
    for epoch in (0, 1):
        plain.set_epoch(epoch)
        fast.set_epoch(epoch)
        want, got = _all(plain, order), _all(fast, order)
        for i in order:
            assert torch.equal(want[i][0], got[i][0]) and torch.equal(want[i][1], got[i][1])
        fast._thread.join()  # the thread made the rest of the epoch and stopped
        assert not fast._ready  # every prefetched sample was handed out exactly once
    assert not torch.equal(want[0][0], plain.__class__(_Epochs(), masking, seed=7)[0][0])


def test_repeated_index_and_new_epoch_drop_old_samples():
    ds = N2VDataset(_Epochs(), N2VMasking(mask_fraction=0.05), seed=1, prefetch=True)
    ds.set_epoch(0)
    first = ds[3]
    assert torch.equal(ds[3][0], first[0])  # asked twice: made again, the same
    ds.set_epoch(1)
    reference = N2VDataset(_Epochs(), N2VMasking(mask_fraction=0.05), seed=1)
    reference.set_epoch(1)
    assert torch.equal(ds[3][0], reference[3][0]) and not torch.equal(ds[3][0], first[0])


def test_pickled_copy_does_not_prefetch():
    ds = N2VDataset(_Epochs(), N2VMasking(mask_fraction=0.05), seed=2, prefetch=True)
    ds.set_epoch(1)
    copy = pickle.loads(pickle.dumps(ds))
    assert copy.prefetch is False and copy._thread is None and copy.epoch == 1
    assert torch.equal(copy[5][0], ds[5][0])
    copy.set_epoch(2)
    assert copy._thread is None
