"""Every per-pixel function with a finite halo gives the same result block-wise as whole."""

import numpy as np
import pytest

from biakit import preprocess as pp
from biakit.blocks import GLOBAL, apply_blockwise, get_halo

R2 = np.random.default_rng(0).random((40, 44)).astype(np.float32)
R3 = np.random.default_rng(1).random((14, 24, 26)).astype(np.float32)

CASES = [
    (pp.gaussian, {"sigma": 1.5}, R2, 16, "reflect"),
    (pp.gaussian, {"sigma": 1.0, "spacing": (2.0, 1.0, 1.0)}, R3, (6, 12, 12), "reflect"),
    (pp.median, {"radius": 2}, R2, 16, "reflect"),
    (pp.median, {"size": 3, "footprint": "box"}, R3, (5, 8, 9), "reflect"),
    (pp.bilateral, {"sigma_color": 0.3, "sigma_spatial": 1.0}, R2, 16, "reflect"),
    (pp.bilateral, {"sigma_color": 0.3, "sigma_spatial": (0.5, 1, 1)}, R3, (5, 8, 9), "reflect"),
    (pp.nl_means, {"sigma": 0.1}, R2, (20, 22), "none"),
    (pp.rolling_ball, {"radius": 4, "method": "exact"}, R2, 16, "none"),
    (pp.estimate_background, {"radius": 3}, R3, (5, 8, 9), "none"),
    (pp.tophat, {"radius": 3}, R2, 16, "reflect"),
    (pp.tophat, {"radius": 2, "kind": "black"}, R3, (5, 8, 9), "reflect"),
    (pp.normalize_percentile, {"low_value": 0.1, "high_value": 0.9}, R2, 16, "reflect"),
    (pp.gamma, {"gamma": 0.7}, R3, (5, 8, 9), "reflect"),
    (pp.rescale_intensity, {"in_range": (0.2, 0.8)}, R2, 16, "reflect"),
    (pp.richardson_lucy, {"sigma": 1.0, "iterations": 3}, R2, (20, 22), "none"),
    (pp.richardson_lucy, {"sigma": (0.4, 0.5, 0.5), "iterations": 2}, R3, (7, 12, 13), "none"),
]


@pytest.mark.parametrize(
    "func, params, image, chunks, boundary",
    CASES,
    ids=[f"{c[0].__name__}-{c[2].ndim}d" for c in CASES],
)
def test_blockwise_equals_whole(func, params, image, chunks, boundary):
    halo = get_halo(func, image.ndim, **params)
    assert halo != GLOBAL
    out = apply_blockwise(func, image, chunks=chunks, boundary=boundary, **params).compute()
    np.testing.assert_allclose(out, func(image, **params), rtol=1e-5, atol=1e-5)


def test_halos_are_the_documented_values():
    assert get_halo(pp.gaussian, 3, sigma=1.0, spacing=(2.0, 0.5, 0.5)) == (2, 8, 8)
    assert get_halo(pp.median, 2, radius=2) == (2, 2)
    assert get_halo(pp.tophat, 3, radius=2, footprint="disk") == (0, 4, 4)
    assert get_halo(pp.bilateral, 2, sigma_color=0.1, sigma_spatial=1.0) == (3, 3)
    assert get_halo(pp.nl_means, 2, sigma=0.1) == (9, 9)
    assert get_halo(pp.rolling_ball, 2, radius=5) == (5, 5)
    assert get_halo(pp.richardson_lucy, 2, sigma=1.0, iterations=5) == (40, 40)
    assert get_halo(pp.normalize_percentile, 3, low_value=0, high_value=1) == (0, 0, 0)


@pytest.mark.parametrize(
    "func, params",
    [
        (pp.normalize_percentile, {}),
        (pp.clahe, {}),
        (pp.bilateral, {}),
        (pp.nl_means, {}),
        (pp.rescale_intensity, {"in_range": "image"}),
        (pp.rolling_ball, {"radius": 60}),
        (pp.flip, {"axis": 0}),
        (pp.rotate90, {}),
        (pp.rotate, {"angle": 10}),
        (pp.resample, {"spacing": (1, 1), "new_spacing": (2, 2)}),
        (pp.rescale_to_isotropic, {"spacing": (1, 2)}),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_global_steps_refuse_blockwise(func, params):
    assert get_halo(func, 2, **params) == GLOBAL
    with pytest.raises(ValueError, match="needs the whole image"):
        apply_blockwise(func, R2, chunks=16, **params)
