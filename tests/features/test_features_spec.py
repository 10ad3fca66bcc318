import json

import numpy as np
import pytest

from biakit.features import (
    FILTER_NAMES,
    FeatureSpec,
    FilterSpec,
    compute_features,
    feature_halo,
    preset,
    skimage_equivalent_spec,
)


@pytest.mark.parametrize("name", ["ilastik", "weka", "fast"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_presets_build_and_names_unique(name, ndim):
    spec = preset(name, ndim)
    names = spec.names()
    assert len(names) == len(set(names)) == spec.n_features()
    assert spec.n_features(3) == 3 * spec.n_features()
    assert spec.names(2)[0] == "c0_" + names[0]
    assert FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_names_are_stable():
    spec = FeatureSpec(
        [
            FilterSpec("gaussian", (1, 2)),
            FilterSpec("hessian", (2.0,)),
            FilterSpec("dog", (1.0, 2.0)),
            FilterSpec("dog", (1.0,), {"ratio": 0.66}),
            FilterSpec("membrane"),
        ],
        ndim=2,
    )
    assert spec.names() == [
        "gaussian_s1.0", "gaussian_s2.0", "hessian_eig1_s2.0", "hessian_eig2_s2.0",
        "dog_s1.0_2.0", "dog_s1.0_0.66", "membrane_sum", "membrane_mean", "membrane_std",
        "membrane_median", "membrane_max", "membrane_min",
    ]  # fmt: skip
    assert preset("ilastik", 3).n_features() == 70
    assert skimage_equivalent_spec(2).n_features() == 24
    assert skimage_equivalent_spec(3).n_features() == 30


def test_all_filters_2d_3d_shapes_and_finite():
    rng = np.random.default_rng(0)
    for ndim, shape in [(2, (24, 30)), (3, (10, 12, 14))]:
        filters = [
            FilterSpec(n, () if n in ("intensity", "membrane") else (1.0, 2.0))
            for n in FILTER_NAMES
            if ndim in FilterSpec(n, () if n in ("intensity", "membrane") else (1.0, 2.0)).dims
        ]
        for deriv in ("finite", "gaussian"):
            spec = FeatureSpec(filters, ndim=ndim, derivatives=deriv)
            f = compute_features(rng.random(shape), spec)
            assert f.shape == (*shape, spec.n_features()) and f.dtype == np.float32
            assert f.flags.c_contiguous and np.isfinite(f).all()


def test_multichannel():
    rng = np.random.default_rng(1)
    img = rng.random((3, 20, 22)).astype(np.float32)
    spec = preset("fast", 2)
    f = compute_features(img, spec, channel_axis=0)
    n = spec.n_features()
    for c in range(3):
        np.testing.assert_array_equal(f[..., c * n : (c + 1) * n], compute_features(img[c], spec))
    f_last = compute_features(np.moveaxis(img, 0, -1), spec, channel_axis=-1)
    np.testing.assert_array_equal(f, f_last)


def test_out_parameter():
    img = np.random.default_rng(2).random((16, 18)).astype(np.float32)
    spec = preset("fast", 2)
    out = np.zeros((16, 18, spec.n_features()), np.float32)
    assert compute_features(img, spec, out=out) is out
    with pytest.raises(ValueError, match="out must be a float32 array of shape"):
        compute_features(img, spec, out=np.zeros((16, 18, 2), np.float32))


def test_error_paths():
    with pytest.raises(ValueError, match="unknown filter name 'gauss'; valid names: intensity"):
        FilterSpec("gauss", (1.0,))
    with pytest.raises(ValueError, match="must be > 0"):
        FilterSpec("gaussian", (-1.0,))
    with pytest.raises(ValueError, match="needs at least one sigma"):
        FilterSpec("gaussian", ())
    with pytest.raises(ValueError, match="takes no sigmas"):
        FilterSpec("intensity", (1.0,))
    with pytest.raises(ValueError, match="unknown params"):
        FilterSpec("entropy", (1.0,), {"nbins": 3})
    with pytest.raises(ValueError, match="needs >= 2 sigmas"):
        FilterSpec("dog", (1.0,))
    with pytest.raises(ValueError, match="'gabor' supports only 2-D"):
        FeatureSpec([FilterSpec("gabor", (1.0,))], ndim=3)
    with pytest.raises(ValueError, match="'membrane' supports only 2-D"):
        compute_features(np.zeros((8, 8, 8)), FeatureSpec([FilterSpec("membrane")]))
    img = np.zeros((8, 8))
    spec = preset("fast", 2)
    with pytest.raises(ValueError, match=r"spacing .* has 3 entries but the image has 2"):
        compute_features(img, spec, spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="spacing must be positive"):
        feature_halo(spec, 2, spacing=(0, 1))
    with pytest.raises(ValueError, match="spec is for 2-D images"):
        compute_features(np.zeros((4, 8, 8)), spec)
    with pytest.raises(ValueError, match="2 or 3 spatial axes"):
        compute_features(np.zeros(8), FeatureSpec([FilterSpec("gaussian", 1.0)]))
    with pytest.raises(ValueError, match="channel_axis 5 is out of range"):
        compute_features(img, spec, channel_axis=5)
    with pytest.raises(TypeError, match="numeric"):
        compute_features(np.zeros((8, 8), dtype=object), spec)
    with pytest.raises(ValueError, match="unknown preset 'foo'; valid presets"):
        preset("foo")
    with pytest.raises(ValueError, match="ndim must be 2 or 3"):
        preset("fast", 4)
    with pytest.raises(ValueError, match="derivatives must be one of"):
        FeatureSpec([FilterSpec("gaussian", 1.0)], derivatives="sobel")
    with pytest.raises(ValueError, match="duplicate feature names"):
        FeatureSpec([FilterSpec("gaussian", 1.0), FilterSpec("gaussian", 1.0)])
    with pytest.raises(ValueError, match="pass ndim=2 or 3"):
        FeatureSpec([FilterSpec("hessian", 1.0)]).names()
    with pytest.raises(ValueError, match="at least one FilterSpec"):
        FeatureSpec([])
    with pytest.raises(TypeError, match="FilterSpec objects"):
        FeatureSpec(["gaussian"])
    with pytest.raises(ValueError, match="expected a dict"):
        FeatureSpec.from_dict({"x": 1})
    with pytest.raises(ValueError, match="at least one of intensity"):
        skimage_equivalent_spec(2, intensity=False, edges=False, texture=False)
