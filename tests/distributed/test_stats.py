"""Chunk-wise global statistics equal the in-memory values exactly."""

import numpy as np
import pytest
from skimage import filters

from biakit.distributed import global_statistics
from biakit.errors import ParameterError

RNG = np.random.default_rng(3)
IMAGES = {
    "float32": RNG.normal(100, 30, (45, 61)).astype(np.float32),
    "float64": RNG.normal(0, 1, (45, 61)),
    "uint8": RNG.integers(0, 256, (45, 61)).astype(np.uint8),
    "uint16": RNG.integers(0, 4000, (45, 61)).astype(np.uint16),
    "int16": RNG.integers(-300, 300, (9, 10, 11)).astype(np.int16),
}


@pytest.mark.parametrize("kind", sorted(IMAGES))
def test_percentiles_equal_numpy_exactly(kind):
    image = IMAGES[kind]
    q = [0.0, 1.0, 37.5, 99.8, 100.0]
    stats = global_statistics(image, block_shape=16, percentiles=q)
    assert stats["percentiles"] == [float(v) for v in np.percentile(image, q)]
    assert (stats["min"], stats["max"]) == (float(image.min()), float(image.max()))


@pytest.mark.parametrize("method", ["otsu", "yen", "triangle"])
@pytest.mark.parametrize("kind", ["float32", "uint8", "uint16"])
def test_histogram_thresholds_equal_scikit_image(method, kind):
    image = IMAGES[kind]
    stats = global_statistics(image, block_shape=(16, 20), threshold=method)
    assert stats["threshold"] == float(getattr(filters, f"threshold_{method}")(image))


def test_mean_threshold_within_float32_rounding():
    image = IMAGES["float32"]
    value = global_statistics(image, block_shape=16, threshold="mean")["threshold"]
    assert value == pytest.approx(float(image.mean(dtype=np.float64)), rel=1e-12)


def test_li_is_refused_with_the_alternatives():
    with pytest.raises(ParameterError, match="block-wise thresholds are otsu, yen, triangle"):
        global_statistics(IMAGES["uint8"], block_shape=16, threshold="li")
