import numba
import numpy as np

from biakit.features import compute_features_at, preset
from biakit.features._jit import njit_cached


def test_cached_when_a_cache_folder_is_writable(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))

    @njit_cached()
    def add(a, b):
        return a + b

    assert add(2, 3) == 5
    assert type(add._cache).__name__ == "FunctionCache"


def test_falls_back_to_no_cache_when_nothing_is_writable(monkeypatch):
    from numba.core import caching

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])

    @njit_cached(fastmath=True)
    def twice(x):
        return 2 * x

    assert twice(4.0) == 8.0
    assert type(twice._cache).__name__ == "NullCache"


def test_features_at_many_scattered_pixels_equal_whole_image():
    from biakit.features import compute_features

    rng = np.random.default_rng(0)
    image = rng.random((300, 260)).astype(np.float32)
    coords = np.stack([rng.integers(0, 300, 40), rng.integers(0, 260, 40)], axis=1)
    spec = preset("fast", ndim=2)
    whole = compute_features(image, spec)[tuple(coords.T)]
    np.testing.assert_allclose(compute_features_at(image, spec, coords), whole, atol=1e-6)
