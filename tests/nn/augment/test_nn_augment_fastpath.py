"""Flips and 90-degree turns only: no affine map is built, the result is a pure dihedral copy."""

import numpy as np
import pytest

from biakit.nn.augment import AugmentConfig, Augmenter


def _dihedral(image: np.ndarray) -> list[np.ndarray]:
    """The 8 flips / 90-degree rotations of the last two axes, by hand."""
    out = []
    for k in range(4):
        r = np.rot90(image, k, axes=(-2, -1))
        out += [r, r[..., ::-1]]
    return out


@pytest.mark.parametrize("p", [0.5, 1.0])
def test_flip_rotate_only_gives_dihedral_copies_without_resampling(p):
    aug = Augmenter(AugmentConfig(p=p), ndim=2)
    image = np.arange(2 * 5 * 5, dtype=np.float32).reshape(2, 5, 5)
    target = image[:1] * 2.0
    seen = set()
    for seed in range(40):
        params = aug.sample((5, 5), seed)
        assert params.matrix is None and params.offset is None and not params.resamples
        out, t = aug(image, target, rng=seed, target_kind="continuous")
        match = [i for i, d in enumerate(_dihedral(image)) if np.array_equal(out, d)]
        assert len(match) == 1
        assert np.array_equal(t, _dihedral(target)[match[0]])  # the same transform
        assert out.flags.c_contiguous and out.dtype == np.float32
        assert not np.shares_memory(out, image)
        seen.add(match[0])
    if p < 1:
        assert len(seen) == 8  # all eight appear


def test_sampled_affine_parts_still_resample():
    aug = Augmenter(AugmentConfig(rotation=30, p=1.0), ndim=2)
    params = aug.sample((16, 16), 0)
    assert params.matrix is not None and params.resamples
    shifted = Augmenter(AugmentConfig(translation=0.2, p=1.0), ndim=2).sample((16, 16), 0)
    assert shifted.offset is not None and shifted.resamples
    np.testing.assert_allclose(shifted.matrix, np.eye(2))


def test_rotation_enabled_but_not_drawn_is_identity():
    aug = Augmenter(AugmentConfig(rotation=30, p=0.5), ndim=2)
    image = np.random.default_rng(0).random((1, 8, 8), dtype=np.float32)
    plain = [s for s in range(30) if aug.sample((8, 8), s).matrix is None]
    assert plain  # some samples draw no rotation: they take the shortcut
    for s in plain:
        out, _ = aug(image, None, rng=s)
        assert any(np.array_equal(out, d) for d in _dihedral(image))


def test_elastic_without_affine_uses_identity_map():
    aug = Augmenter(AugmentConfig(flip=False, rotate90=False, elastic=2.0, p=1.0), ndim=2)
    params = aug.sample((16, 16), 3)
    assert params.matrix is None and params.elastic and params.resamples
    image = np.random.default_rng(1).random((1, 16, 16), dtype=np.float32)
    out, _ = aug.apply(image, None, params)
    assert out.shape == image.shape and not np.array_equal(out, image)
