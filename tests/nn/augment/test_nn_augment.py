"""Geometry of biakit.nn.augment: label safety, exactness, alignment, determinism, errors."""

import itertools

import numpy as np
import pytest
from scipy import ndimage as ndi

from biakit.nn.augment import AugmentConfig, Augmenter, AugmentParams, elastic_field
from biakit.nn.augment._geometry import forward_matrix, inverse_affine

LABEL_VALUES = np.array([0, 3, 7, 12, 1000])


def blocky_labels(shape, seed=0, block=4):
    """Piecewise-constant labels with values from LABEL_VALUES (every value present)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, len(LABEL_VALUES), [max(1, n // block) for n in shape])
    coarse.flat[: len(LABEL_VALUES)] = np.arange(len(LABEL_VALUES))
    labels = LABEL_VALUES[coarse]
    for axis in range(len(shape)):
        labels = np.repeat(labels, block, axis=axis)
    return labels.astype(np.int32)


SHAPES = {2: (48, 40), 3: (12, 24, 20)}
GEOMETRY = {
    "rotation": {"rotation": 40.0},
    "translation": {"translation": 0.2},
    "zoom": {"zoom": (0.7, 1.4)},
    "shear": {"shear": 0.3},
    "elastic": {"elastic": 2.0, "elastic_sigma": 4.0},
    "all": {
        "rotation": 40.0,
        "translation": 0.2,
        "zoom": (0.7, 1.4),
        "shear": 0.3,
        "elastic": 2.0,
        "elastic_sigma": 4.0,
    },
}


@pytest.mark.parametrize(
    ("ndim", "name"), [(nd, name) for nd in (2, 3) for name in GEOMETRY] + [(3, "tilt")]
)
@pytest.mark.parametrize("mode", ["constant", "reflect"])
def test_label_values_preserved(ndim, name, mode):
    kw = {"tilt": 20.0} if name == "tilt" else GEOMETRY[name]
    aug = Augmenter(AugmentConfig(p=1.0, order=3, target_mode=mode, **kw), ndim=ndim)
    labels = blocky_labels(SHAPES[ndim])
    image = labels[None].astype(np.float32)
    for seed in range(3):
        img_out, lab_out = aug(image, labels, rng=np.random.default_rng(seed))
        assert lab_out.dtype == labels.dtype
        assert lab_out.shape == labels.shape and img_out.shape == image.shape
        assert set(np.unique(lab_out)) <= set(LABEL_VALUES)
        assert not np.array_equal(lab_out, labels)  # the transform did something
        # Cubic interpolation of the image makes values no label ever had.
        assert not set(np.unique(img_out)) <= set(LABEL_VALUES.astype(np.float32))


def dihedral_2d(a):
    """All 8 flips/rotations of the last two axes, computed with NumPy."""
    out = []
    for k in range(4):
        r = np.rot90(a, k, axes=(-2, -1))
        out += [r, np.flip(r, -1)]
    return out


def test_flips_rot90_exact_vs_numpy_2d():
    aug = Augmenter(AugmentConfig(flip=True, rotate90=True, p=0.5), ndim=2)
    labels = blocky_labels((16, 16))
    image = np.random.default_rng(1).random((2, 16, 16), dtype=np.float32)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        params = aug.sample((16, 16), rng)
        img_out, lab_out = aug.apply(image, labels, params)
        expected = np.rot90(np.flip(labels, params.flip_axes), params.rot90)
        np.testing.assert_array_equal(lab_out, expected)
        np.testing.assert_array_equal(
            img_out,
            np.rot90(np.flip(image, [a + 1 for a in params.flip_axes]), params.rot90, axes=(1, 2)),
        )
        matches = [i for i, d in enumerate(dihedral_2d(labels)) if np.array_equal(d, lab_out)]
        assert matches
        seen.add(matches[0])
    assert seen == set(range(8))  # every one of the 8 symmetries occurs


def test_flips_rot90_exact_vs_numpy_3d_and_flip_z():
    labels = blocky_labels((8, 12, 12))
    image = labels[None].astype(np.float32)
    for flip_z in (True, False):
        aug = Augmenter(AugmentConfig(flip_z=flip_z, p=0.5), ndim=3)
        rng = np.random.default_rng(0)
        z_flipped = False
        for _ in range(30):
            params = aug.sample(labels.shape, rng)
            z_flipped |= 0 in params.flip_axes
            img_out, lab_out = aug.apply(image, labels, params)
            expected = np.rot90(np.flip(labels, params.flip_axes), params.rot90, axes=(1, 2))
            np.testing.assert_array_equal(lab_out, expected)
            np.testing.assert_array_equal(img_out[0], expected.astype(np.float32))
        assert z_flipped == flip_z


def test_rot90_keeps_non_square_shapes():
    aug = Augmenter(AugmentConfig(p=1.0), ndim=2)
    labels = blocky_labels((16, 24))
    for seed in range(10):
        params = aug.sample(labels.shape, seed)
        assert params.rot90 == 2
        _, out = aug.apply(labels[None].astype(np.float32), labels, params)
        assert out.shape == labels.shape


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("mode", ["constant", "reflect"])
def test_image_and_target_stay_aligned(ndim, mode):
    cfg = AugmentConfig(order=0, target_mode=mode, p=1.0, **GEOMETRY["all"])
    aug = Augmenter(cfg, ndim=ndim)
    labels = blocky_labels(SHAPES[ndim], seed=3)
    image = labels[None].astype(np.float32)
    for seed in range(3):
        img_out, lab_out = aug(image, labels, rng=seed)
        if mode == "reflect":
            np.testing.assert_array_equal(img_out[0], lab_out)
        else:  # constant: the target is 0 where the image was reflected from outside
            inside = lab_out > 0
            assert inside.mean() > 0.1
            np.testing.assert_array_equal(img_out[0][inside], lab_out[inside])


def test_continuous_target_uses_linear_interpolation_and_follows_image():
    cfg = AugmentConfig(order=1, p=1.0, brightness=0.0, **GEOMETRY["all"])
    aug = Augmenter(cfg, ndim=2)
    image = np.random.default_rng(0).random((1, 48, 40), dtype=np.float32)
    target = np.concatenate([image, 2 * image])
    img_out, tgt_out = aug(image, target, rng=1, target_kind="continuous")
    assert tgt_out.dtype == np.float32 and tgt_out.shape == (2, 48, 40)
    np.testing.assert_allclose(tgt_out[0], img_out[0], atol=1e-6)  # reflect, same order
    np.testing.assert_allclose(tgt_out[1], 2 * img_out[0], atol=1e-5)
    # Linear interpolation: new values appear, all within the input's range.
    assert len(np.unique(tgt_out[0])) > len(np.unique(image)) * 0.9
    assert tgt_out.min() >= image.min() - 1e-6 and tgt_out.max() <= 2 * image.max() + 1e-6


def test_translation_matches_numpy_shift():
    labels = blocky_labels((32, 32), block=2)
    aug = Augmenter(AugmentConfig(flip=False, rotate90=False), ndim=2)
    params = AugmentParams(shape=(32, 32), matrix=np.eye(2), offset=np.array([-3.0, 5.0]))
    img_out, lab_out = aug.apply(labels[None].astype(np.float32), labels, params)
    np.testing.assert_array_equal(lab_out[3:, :-5], labels[:-3, 5:])  # out[o] = in[o + offset]
    np.testing.assert_array_equal(lab_out[:3], 0)  # constant 0 outside
    np.testing.assert_array_equal(img_out[0, 3:, :-5], labels[:-3, 5:])


@pytest.mark.parametrize("angle", [-25.0, 33.0])
def test_rotation_matches_scipy_rotate(angle):
    image = np.random.default_rng(0).random((1, 40, 40), dtype=np.float32)
    matrix, offset = inverse_affine(forward_matrix(2, rotation=angle), np.zeros(2), (40, 40))
    params = AugmentParams(shape=(40, 40), matrix=matrix, offset=offset)
    out, _ = Augmenter(AugmentConfig(order=1), ndim=2).apply(image, None, params)
    ref = ndi.rotate(image[0], angle, reshape=False, order=1, mode="reflect")
    np.testing.assert_allclose(out[0], ref, atol=1e-5)


def test_zoom_magnifies_about_the_centre():
    # Pixels 15..25 (edges 14.5, 25.5) about the centre 20, zoomed by 1.8: edges at
    # 20 -+ 5.5 * 1.8 = 10.1, 29.9, so output pixels 11..29.
    labels = np.zeros((41, 41), np.int32)
    labels[15:26, 15:26] = 1
    matrix, offset = inverse_affine(forward_matrix(2, zoom=1.8), np.zeros(2), (41, 41))
    params = AugmentParams(shape=(41, 41), matrix=matrix, offset=offset)
    _, out = Augmenter(ndim=2).apply(labels[None].astype(np.float32), labels, params)
    ys, xs = np.nonzero(out)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (11, 29, 11, 29)


def test_elastic_field_statistics():
    # Unit-variance knot noise, Gaussian-upsampled: std alpha everywhere and the
    # correlation of Gaussian-smoothed white noise, exp(-lag^2 / (4 sigma^2)).
    alpha, sigma = 3.0, 4.0
    d = elastic_field((256, 256), alpha, sigma, np.random.default_rng(0))
    assert d.shape == (2, 256, 256)
    assert abs(d.std() - alpha) < 0.15
    assert abs(d[:, :8].std() - alpha) < 0.4  # also at the border
    assert abs(d.mean()) < 0.3
    for lag in (2, 4, 8):
        corr = np.mean(d[..., :-lag] * d[..., lag:]) / d.var()
        assert corr == pytest.approx(np.exp(-(lag**2) / (4 * sigma**2)), abs=0.06)


def test_identity_config_returns_inputs_unchanged():
    aug = Augmenter(AugmentConfig(flip=False, rotate90=False, p=1.0), ndim=3)
    labels = blocky_labels((8, 12, 16)).astype(np.uint16)
    image = np.random.default_rng(0).random((2, 8, 12, 16), dtype=np.float32)
    img_out, lab_out = aug(image, labels, rng=0)
    np.testing.assert_array_equal(img_out, image)
    np.testing.assert_array_equal(lab_out, labels)
    assert lab_out.dtype == np.uint16 and img_out.dtype == np.float32
    img_out[...] = -1  # outputs are copies
    lab_out[...] = 0
    assert image.min() >= 0 and labels.max() == 1000


def test_p_zero_disables_everything():
    cfg = AugmentConfig(
        p=0.0, tilt=10, brightness=0.5, contrast=0.5, gamma=(0.5, 2), blur=2,
        gaussian_noise=0.3, poisson_noise=0.3, **GEOMETRY["all"],
    )  # fmt: skip
    aug = Augmenter(cfg, ndim=3)
    labels = blocky_labels((8, 12, 12))
    image = np.random.default_rng(0).random((1, 8, 12, 12), dtype=np.float32)
    for seed in range(5):
        img_out, lab_out = aug(image, labels, rng=seed)
        np.testing.assert_array_equal(img_out, image)
        np.testing.assert_array_equal(lab_out, labels)


def test_determinism_and_seed_dependence():
    cfg = AugmentConfig(p=0.8, brightness=0.2, gaussian_noise=0.1, cutout=0.5, **GEOMETRY["all"])
    aug = Augmenter(cfg, ndim=2)
    labels = blocky_labels((48, 40))
    image = np.random.default_rng(0).random((1, 48, 40), dtype=np.float32)
    a = aug(image, labels, rng=np.random.default_rng(7))
    b = aug(image, labels, rng=np.random.default_rng(7))
    c = aug(image, labels, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # One generator advances: consecutive calls differ.
    rng = np.random.default_rng(7)
    assert not np.array_equal(aug(image, labels, rng=rng)[0], aug(image, labels, rng=rng)[0])


def test_bool_target_and_no_target():
    aug = Augmenter(AugmentConfig(p=1.0, rotation=30), ndim=2)
    mask = blocky_labels((32, 32)) > 5
    _, mask_out = aug(mask[None].astype(np.float32), mask, rng=0)
    assert mask_out.dtype == bool and mask_out.any()
    img_only, none = aug(np.ones((1, 32, 32)), None, rng=0)
    assert none is None and img_only.dtype == np.float32


def test_config_round_trip_and_dict_input():
    cfg = AugmentConfig(rotation=10, zoom=[0.9, 1.1])
    assert AugmentConfig(**cfg.model_dump()) == cfg
    aug = Augmenter(cfg.model_dump(), ndim=2)
    assert aug.config == cfg and "Augmenter(" in repr(aug)
    assert not AugmentConfig().has_geometry and cfg.has_geometry


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rotation": -1}, "rotation"),
        ({"rotation": 200}, "rotation"),
        ({"zoom": (1.2, 0.8)}, "zoom must be a"),
        ({"zoom": (0.0, 1.0)}, "zoom must be a"),
        ({"gamma": (-1.0, 2.0)}, "gamma must be a"),
        ({"contrast": 1.0}, "contrast"),
        ({"p": 1.5}, "p\n"),
        ({"cutout_size": 0}, "cutout_size"),
        ({"elastic_sigma": 0}, "elastic_sigma"),
        ({"order": 2}, "order"),
        ({"target_mode": "wrap"}, "target_mode"),
        ({"rotations": 3}, "rotations"),
    ],
)
def test_bad_config_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AugmentConfig(**kwargs)


def test_augmenter_argument_errors():
    with pytest.raises(ValueError, match="ndim must be 2 or 3"):
        Augmenter(ndim=4)
    with pytest.raises(ValueError, match=r"tilt .* needs ndim=3"):
        Augmenter(AugmentConfig(tilt=5), ndim=2)
    with pytest.raises(TypeError, match="config must be an AugmentConfig"):
        Augmenter("flip", ndim=2)


@pytest.mark.parametrize(
    ("image_shape", "target", "kind", "error", "match"),
    [
        ((16, 16), None, "labels", ValueError, r"image must have shape \(C, Y, X\)"),
        ((1, 16, 16), np.zeros((16, 12), int), "labels", ValueError, "does not match image"),
        ((1, 16, 16), np.zeros((1, 16, 16), int), "labels", ValueError, r"shape \(Y, X\)"),
        ((1, 16, 16), np.zeros((16, 16)), "labels", TypeError, "needs an integer target"),
        ((1, 16, 16), np.zeros((16, 16), np.float32), "continuous", ValueError, r"\(Ct, Y, X\)"),
        ((1, 16, 16), np.zeros((1, 16, 16), int), "continuous", TypeError, "needs a float"),
        ((1, 16, 16), np.zeros((16, 16), int), "mask", ValueError, "target_kind must be"),
    ],
)
def test_call_errors(image_shape, target, kind, error, match):
    aug = Augmenter(ndim=2)
    with pytest.raises(error, match=match):
        aug(np.zeros(image_shape, np.float32), target, rng=0, target_kind=kind)


def test_rng_sample_and_apply_errors():
    aug = Augmenter(ndim=3)
    image = np.zeros((1, 4, 8, 8), np.float32)
    with pytest.raises(ValueError, match=r"\(C, Z, Y, X\)"):
        aug(np.zeros((1, 8, 8)), None, rng=0)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        aug(image, None, rng=None)
    with pytest.raises(TypeError, match="image must be numeric"):
        aug(np.full((1, 4, 8, 8), "a"), None, rng=0)
    with pytest.raises(ValueError, match="shape must have 3 spatial axes"):
        aug.sample((8, 8), 0)
    params = aug.sample((4, 8, 6), 0)
    with pytest.raises(ValueError, match="params were sampled for spatial shape"):
        aug.apply(image, None, params)


def test_all_dihedral_helpers_are_distinct():
    # Sanity of the reference used above: an asymmetric array has 8 distinct images.
    a = np.arange(16).reshape(4, 4)
    outs = dihedral_2d(a)
    assert all(not np.array_equal(x, y) for x, y in itertools.combinations(outs, 2))


def test_hand_built_params_with_partial_geometry():
    labels = blocky_labels((16, 16), block=2)
    aug = Augmenter(AugmentConfig(elastic=1.5, elastic_sigma=3.0), ndim=2)
    shift_only = AugmentParams(shape=(16, 16), offset=np.array([0.0, 2.0]))
    assert shift_only.resamples
    _, out = aug.apply(labels[None].astype(np.float32), labels, shift_only)
    np.testing.assert_array_equal(out[:, :-2], labels[:, 2:])
    warped = AugmentParams(shape=(16, 16), elastic=True, seed=5)
    _, lab_out = aug.apply(labels[None].astype(np.float32), labels, warped)
    assert not np.array_equal(lab_out, labels)
    assert set(np.unique(lab_out)) <= set(LABEL_VALUES)
    assert not AugmentParams(shape=(16, 16)).resamples
