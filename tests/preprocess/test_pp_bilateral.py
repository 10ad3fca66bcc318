import itertools

import numpy as np
import pytest

from biakit.preprocess import bilateral


def _naive(img, sigma_color, sigma_px, truncate=3.0):
    """Direct definition: loop over window offsets inside the truncation ellipsoid."""
    radius = [max(1, int(np.ceil(truncate * s))) for s in sigma_px]
    pad = np.pad(img.astype(np.float64), [(r, r) for r in radius], mode="symmetric")
    num = np.zeros(img.shape)
    den = np.zeros(img.shape)
    for d in itertools.product(*[range(-r, r + 1) for r in radius]):
        dist2 = sum((di / s) ** 2 for di, s in zip(d, sigma_px))
        if dist2 > truncate**2 + 1e-9:
            continue
        sl = tuple(slice(r + di, r + di + n) for r, di, n in zip(radius, d, img.shape))
        v = pad[sl]
        w = np.exp(-0.5 * dist2) * np.exp(-((v - img) ** 2) / (2 * sigma_color**2))
        num += w * v
        den += w
    return num / den


@pytest.mark.parametrize("shape, sig", [((17, 23), (1.0, 1.0)), ((6, 11, 12), (0.5, 1.0, 1.0))])
def test_bilateral_matches_direct_definition(shape, sig):
    img = np.random.default_rng(0).random(shape)
    out = bilateral(img, 0.3, sig)
    np.testing.assert_allclose(out, _naive(img, 0.3, sig), atol=2e-6)


def test_bilateral_spacing_and_default_sigma_color():
    img = np.random.default_rng(1).random((6, 10, 10)).astype(np.float32)
    out = bilateral(img, 0.2, 1.0, spacing=(2.0, 1.0, 1.0))
    np.testing.assert_allclose(out, _naive(img, 0.2, (0.5, 1.0, 1.0)), atol=2e-6)
    np.testing.assert_allclose(bilateral(img), bilateral(img, float(img.std())), atol=1e-7)
    flat = np.full((5, 5), 3.0)
    np.testing.assert_array_equal(bilateral(flat), flat)


def test_bilateral_preserves_edges_smooths_noise():
    rng = np.random.default_rng(3)
    clean = np.zeros((32, 32))
    clean[:, 16:] = 1
    noisy = clean + rng.normal(0, 0.05, clean.shape)
    out = bilateral(noisy, 0.2, 2.0)
    assert np.abs(out - clean).mean() < 0.5 * np.abs(noisy - clean).mean()
    assert out[:, 17:].mean() - out[:, :15].mean() > 0.95  # edge contrast kept


def test_bilateral_errors():
    img = np.zeros((8, 8))
    with pytest.raises(ValueError, match="sigma_color must be positive"):
        bilateral(img, -1.0)
    with pytest.raises(ValueError, match="sigma_spatial must be positive"):
        bilateral(img, 0.1, 0.0)
    with pytest.raises(ValueError, match="truncate must be positive"):
        bilateral(img, 0.1, 1.0, truncate=-1)
