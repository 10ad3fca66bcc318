import dask.array as da
import numpy as np
import pytest

from biakit.blocks import get_halo
from biakit.features import (
    FeatureSpec,
    FilterSpec,
    compute_features,
    compute_features_at,
    compute_features_blockwise,
    feature_halo,
    preset,
)

SPEC2 = FeatureSpec(
    [
        FilterSpec("intensity"),
        FilterSpec("gaussian", (0.7, 2.0)),
        FilterSpec("sobel", (1.0,)),
        FilterSpec("hessian", (1.0, 2.0)),
        FilterSpec("laplacian", (1.0,)),
        FilterSpec("dog", (1.0, 2.0)),
        FilterSpec("structure_tensor", (1.0,)),
        FilterSpec("variance", (1.0,)),
        FilterSpec("median", (1.0,)),
        FilterSpec("entropy", (1.0,)),
        FilterSpec("neighbours", (2.0,)),
        FilterSpec("gabor", (1.0,)),
        FilterSpec("membrane", (), {"patch_size": 7}),
    ],
    ndim=2,
)


def test_halo_declared_for_blocks():
    spec = preset("fast", 3)
    assert get_halo(compute_features, 3, spec=spec, spacing=(3, 1, 1)) == feature_halo(
        spec, 3, (3, 1, 1)
    )
    assert feature_halo(spec, 3, (3.0, 1.0, 1.0)) == (7, 18, 18)


def _map_overlap(img, spec, chunks, spacing=None):
    halo = feature_halo(spec, img.ndim, spacing)
    n = spec.n_features()
    arr = da.from_array(img, chunks=chunks)
    trim = tuple(slice(h, -h) for h in halo)
    return da.map_overlap(
        lambda b: compute_features(b, spec, spacing=spacing)[trim],
        arr,
        depth=dict(enumerate(halo)),
        boundary="reflect",
        trim=False,
        new_axis=img.ndim,
        chunks=(*arr.chunks, (n,)),
        dtype=np.float32,
        allow_rechunk=True,
    ).compute()


def test_dask_map_overlap_equals_whole_2d():
    img = np.random.default_rng(0).random((70, 64)).astype(np.float32)
    whole = compute_features(img, SPEC2)
    np.testing.assert_allclose(_map_overlap(img, SPEC2, (35, 32)), whole, atol=1e-5)
    np.testing.assert_allclose(
        compute_features_blockwise(img, SPEC2, chunks=(35, 32)).compute(), whole, atol=1e-5
    )


@pytest.mark.parametrize("derivatives", ["finite", "gaussian"])
def test_dask_map_overlap_equals_whole_3d_anisotropic(derivatives):
    img = np.random.default_rng(1).random((24, 40, 44)).astype(np.float32)
    spec = FeatureSpec(
        [FilterSpec("gaussian", (1.0, 3.0)), FilterSpec("hessian", (1.0, 3.0)),
         FilterSpec("gradient_magnitude", (2.0,)), FilterSpec("structure_tensor", (1.0,))],
        ndim=3, derivatives=derivatives,
    )  # fmt: skip
    sp = (3.0, 1.0, 1.0)
    whole = compute_features(img, spec, spacing=sp)
    blocks = compute_features_blockwise(img, spec, chunks=(12, 20, 22), spacing=sp).compute()
    np.testing.assert_allclose(blocks, whole, atol=1e-5)


def test_compute_features_at_equals_whole():
    rng = np.random.default_rng(2)
    img = rng.random((200, 180)).astype(np.float32)
    spec = preset("fast", 2)
    whole = compute_features(img, spec)
    coords = np.concatenate(
        [rng.integers(10, 30, (20, 2)), rng.integers(150, 180, (20, 2)), [[0, 0], [199, 179]]]
    )
    got = compute_features_at(img, spec, coords)
    np.testing.assert_allclose(got, whole[tuple(coords.T)], atol=1e-6)
    # dense coordinates fall back to one whole-image computation
    dense = np.argwhere(np.ones((200, 180), bool))[::7]
    np.testing.assert_allclose(compute_features_at(img, spec, dense), whole[tuple(dense.T)])
    assert compute_features_at(img, spec, np.zeros((0, 2), int)).shape == (0, spec.n_features())


def test_compute_features_at_multichannel_3d():
    rng = np.random.default_rng(3)
    img = rng.random((30, 40, 50, 2)).astype(np.float32)
    spec = preset("fast", 3)
    sp = (2.0, 1.0, 1.0)
    whole = compute_features(img, spec, spacing=sp, channel_axis=-1)
    coords = rng.integers(0, 30, (15, 3))
    got = compute_features_at(img, spec, coords, spacing=sp, channel_axis=-1)
    np.testing.assert_allclose(got, whole[tuple(coords.T)], atol=1e-6)


def test_compute_features_at_errors():
    img = np.zeros((10, 10), np.float32)
    spec = preset("fast", 2)
    with pytest.raises(ValueError, match="coords must be an integer array of shape"):
        compute_features_at(img, spec, np.zeros((3, 3), int))
    with pytest.raises(ValueError, match="coords must lie inside the image"):
        compute_features_at(img, spec, [[10, 0]])


def test_blockwise_small_chunks_are_merged():
    img = np.random.default_rng(4).random((70, 66)).astype(np.float32)
    spec = preset("fast", 2)  # halo 18 > the 6- and 2-pixel last chunks
    got = compute_features_blockwise(img, spec, chunks=32)
    np.testing.assert_allclose(got.compute(), compute_features(img, spec), atol=1e-5)
    assert all(min(c) > 18 for c in got.chunks[:2])
