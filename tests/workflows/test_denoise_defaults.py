"""Denoising defaults of issue 11: test-time augmentation, masked fraction, prefetched patches."""

import numpy as np
import pytest

from biakit.data import noisy_clean_pair
from biakit.io import ImageMeta, read_image, write_image
from biakit.workflows import DenoiseConfig, Denoiser
from biakit.workflows import denoise as denoise_module

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny(denoise_tiny):
    """The workflows' tiny config with 8 patches an epoch for 2 epochs (TTA needs a trained net)."""
    return {**denoise_tiny, "samples_per_epoch": 8, "train": {**denoise_tiny["train"], "epochs": 2}}


@pytest.fixture(scope="module")
def noisy():
    return noisy_clean_pair((48, 48), noise="gaussian", level=0.2, seed=0)[0]


@pytest.fixture(scope="module")
def n2v(noisy, tiny):
    den = Denoiser(DenoiseConfig(**tiny))
    den.train([noisy])
    return den


def _dihedral(image):
    """The 8 flips / rotations of a (Y, X) image with their inverses."""
    out = []
    for k in range(4):
        for flip in (False, True):

            def fwd(a, k=k, flip=flip):
                a = np.rot90(a, k, axes=(-2, -1))
                return a[..., ::-1] if flip else a

            def inv(a, k=k, flip=flip):
                a = a[..., ::-1] if flip else a
                return np.rot90(a, -k, axes=(-2, -1))

            out.append((fwd, inv))
    return out


def test_tta_is_the_mean_of_the_transformed_predictions(n2v, noisy):
    # the network's prediction (the blind-spot blend is a linear step after it, tested alone)
    opts = {"amp": "none", "tile_shape": (48, 48), "blending": "none", "blend_input": False}
    each = [
        inv(n2v.predict_maps(np.ascontiguousarray(fwd(noisy)), tta=False, **opts))
        for fwd, inv in _dihedral(noisy)
    ]
    eight = n2v.predict_maps(noisy, tta=True, **opts)
    plain = n2v.predict_maps(noisy, tta=False, **opts)
    np.testing.assert_allclose(eight, np.mean(each, axis=0), atol=1e-5)
    assert np.abs(eight - plain).max() > 1e-3  # the average is not the plain prediction
    # the N2V default: the four turns (rot90 by 0..3 quarters), in memory and to disk
    turns = np.mean(each[0::2], axis=0)
    np.testing.assert_allclose(n2v.predict_maps(noisy, **opts), turns, atol=1e-5)
    np.testing.assert_allclose(n2v.predict_maps(noisy, tta=4, **opts), turns, atol=1e-6)
    assert np.abs(turns - eight).max() > 1e-4  # four transforms, not eight
    half_turn = np.mean([each[0], each[4]], axis=0)  # the first two: identity, 180 degrees
    np.testing.assert_allclose(n2v.predict_maps(noisy, tta=2, **opts), half_turn, atol=1e-5)


def test_predict_to_disk_follows_the_tta_default(n2v, noisy, tmp_path):
    write_image(tmp_path / "in" / "a.tif", noisy, ImageMeta("YX"))
    assert not n2v.predict_to_disk(tmp_path / "in", tmp_path / "out", overlay=False).failures
    written, _ = read_image(tmp_path / "out" / "a_denoised.tif")
    np.testing.assert_allclose(written, n2v.predict(noisy), atol=1e-5)
    n2v.predict_to_disk(tmp_path / "in", tmp_path / "off", overlay=False, tta=False)
    plain, _ = read_image(tmp_path / "off" / "a_denoised.tif")
    np.testing.assert_allclose(plain, n2v.predict(noisy, tta=False), atol=1e-5)


def test_tta_default_per_algorithm_and_dimensionality():
    assert DenoiseConfig().resolved_tta == 4 == DenoiseConfig(algorithm="n2v2").resolved_tta
    assert not DenoiseConfig(algorithm="structn2v").resolved_tta  # rotations turn the noise
    assert not DenoiseConfig(algorithm="care").resolved_tta
    assert not DenoiseConfig(algorithm="n2n").resolved_tta
    assert not DenoiseConfig(patch_shape=(16, 32, 32)).resolved_tta  # 16 passes in 3D
    assert DenoiseConfig(algorithm="care", tta=True).resolved_tta
    assert not DenoiseConfig(tta=False).resolved_tta
    assert DenoiseConfig(tta=8).resolved_tta == 8 and DenoiseConfig(tta=True).resolved_tta is True
    with pytest.raises(ValueError, match="tta"):
        DenoiseConfig(tta=17)


def test_default_mask_fraction_is_honoured():
    from biakit.nn.targets import n2v_mask

    cfg = DenoiseConfig()
    patch = np.random.default_rng(0).random((1, 256, 256)).astype(np.float32)
    _, mask = n2v_mask(patch, cfg.masking(), seed=1)
    assert mask.mean() == pytest.approx(cfg.mask_fraction, rel=0.1)


def test_prefetched_training_equals_training_without(noisy, tiny, monkeypatch):
    """Patches made in a background thread are the same patches: identical weights."""
    den = Denoiser(DenoiseConfig(**tiny))
    den.train([noisy])
    assert denoise_module._can_prefetch(den.config)
    monkeypatch.setattr(denoise_module, "_can_prefetch", lambda cfg: False)
    ref = Denoiser(DenoiseConfig(**tiny))
    ref.train([noisy])
    for (name, a), b in zip(den.model.state_dict().items(), ref.model.state_dict().values()):
        assert torch.equal(a, b), name
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not denoise_module._can_prefetch(DenoiseConfig(**tiny))
    assert not denoise_module._can_prefetch(DenoiseConfig(**{**tiny, "train": {"num_workers": 1}}))


def test_n2v_validates_on_fewer_patches(tiny):
    assert denoise_module._val_samples(DenoiseConfig(samples_per_epoch=256)) == 16
    assert denoise_module._val_samples(DenoiseConfig(algorithm="care", samples_per_epoch=256)) == 64
    assert denoise_module._val_samples(DenoiseConfig(**tiny)) == 4
