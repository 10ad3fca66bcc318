"""Intensity transforms and the preview of biakit.nn.augment."""

import matplotlib.image as mpimg
import numpy as np
import pytest
from scipy import ndimage as ndi

from biakit.nn.augment import AugmentConfig, Augmenter, AugmentParams, save_preview

SHAPE = (24, 20)


def _image(seed=0, channels=2, shape=SHAPE, low=-1.0, high=3.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, (channels, *shape)).astype(np.float32)


def _apply(**params):
    aug = Augmenter(AugmentConfig(flip=False, rotate90=False), ndim=2)
    image = _image()
    out, _ = aug.apply(image, None, AugmentParams(shape=SHAPE, **params))
    return image, out


def test_brightness_shifts_by_fraction_of_channel_range():
    image, out = _apply(brightness=0.1)
    span = image.max(axis=(1, 2)) - image.min(axis=(1, 2))
    np.testing.assert_allclose(
        out - image, 0.1 * span[:, None, None] * np.ones_like(image), atol=1e-5
    )


def test_contrast_scales_about_the_mean():
    image, out = _apply(contrast=1.5)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), image.mean(axis=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 1.5 * image.std(axis=(1, 2)), rtol=1e-5)


def test_gamma_on_normalised_range_is_sign_safe():
    image, out = _apply(gamma=2.0)
    assert image.min() < 0  # negative data
    lo = image.min(axis=(1, 2), keepdims=True)
    span = image.max(axis=(1, 2), keepdims=True) - lo
    np.testing.assert_allclose(out, ((image - lo) / span) ** 2 * span + lo, atol=1e-5)
    # Range preserved, order preserved, no NaN.
    np.testing.assert_allclose(out.min(axis=(1, 2)), image.min(axis=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(out.max(axis=(1, 2)), image.max(axis=(1, 2)), atol=1e-5)
    assert np.all(np.argsort(out[0], axis=None) == np.argsort(image[0], axis=None))


def test_blur_equals_gaussian_filter_per_channel():
    image, out = _apply(blur=1.3)
    for c in range(2):
        np.testing.assert_allclose(out[c], ndi.gaussian_filter(image[c], 1.3), atol=1e-6)


def test_gaussian_noise_std_is_fraction_of_range():
    aug = Augmenter(AugmentConfig(flip=False, rotate90=False), ndim=2)
    image = np.zeros((1, 200, 200), np.float32)
    image[0, 0, 0] = 2.0  # range 2
    out, _ = aug.apply(image, None, AugmentParams(shape=(200, 200), gaussian_noise=0.05))
    assert (out - image).std() == pytest.approx(0.1, rel=0.03)
    assert abs((out - image).mean()) < 0.003


def test_poisson_noise_follows_shot_noise_statistics():
    # Channel range [1, 3]; the half at 2.0 holds 0.5 * peak photons with peak = 1 / s^2.
    aug = Augmenter(AugmentConfig(flip=False, rotate90=False), ndim=2)
    image = np.full((1, 200, 200), 2.0, np.float32)
    image[0, 0, 0], image[0, 0, 1] = 1.0, 3.0
    s = 0.1
    out, _ = aug.apply(image, None, AugmentParams(shape=(200, 200), poisson_noise=s, seed=3))
    photons = (out[0, 1:] - 1.0) / 2.0 * (1 / s**2)
    assert photons.mean() == pytest.approx(50, rel=0.01)
    assert photons.var() == pytest.approx(50, rel=0.05)
    np.testing.assert_allclose(photons, np.round(photons), atol=1e-3)  # integer counts
    # A constant channel is left alone.
    flat = np.full((1, 8, 8), 5.0, np.float32)
    out, _ = aug.apply(flat, None, AugmentParams(shape=(8, 8), poisson_noise=0.5))
    np.testing.assert_array_equal(out, flat)


def test_cutout_zeroes_one_box_only():
    image, out = _apply(cutout=((2, 7), (5, 9)))
    assert np.all(out[:, 2:7, 5:9] == 0)
    mask = np.ones(SHAPE, bool)
    mask[2:7, 5:9] = False
    np.testing.assert_array_equal(out[:, mask], image[:, mask])


@pytest.mark.parametrize("ndim", [2, 3])
def test_intensity_transforms_never_touch_the_target(ndim):
    cfg = AugmentConfig(
        flip=False, rotate90=False, p=1.0, brightness=0.3, contrast=0.3, gamma=(0.5, 2.0),
        blur=1.5, gaussian_noise=0.1, poisson_noise=0.2, cutout=1.0,
    )  # fmt: skip
    aug = Augmenter(cfg, ndim=ndim)
    shape = (6, 16, 16) if ndim == 3 else (16, 16)
    image = np.random.default_rng(0).random((1, *shape), dtype=np.float32)
    labels = (image[0] * 5).astype(np.int64)
    continuous = image.copy()
    for seed in range(3):
        img_out, lab_out = aug(image, labels, rng=seed)
        assert not np.allclose(img_out, image)
        np.testing.assert_array_equal(lab_out, labels)
        img_out, cont_out = aug(image, continuous, rng=seed, target_kind="continuous")
        np.testing.assert_array_equal(cont_out, continuous)
        assert np.isfinite(img_out).all()


def test_cutout_probability_and_size():
    aug = Augmenter(AugmentConfig(flip=False, rotate90=False, cutout=0.5, cutout_size=0.25), ndim=2)
    rng = np.random.default_rng(0)
    boxes = [aug.sample((40, 80), rng).cutout for _ in range(400)]
    hits = [b for b in boxes if b is not None]
    assert len(hits) / 400 == pytest.approx(0.5, abs=0.07)
    for (y0, y1), (x0, x1) in hits:
        assert 1 <= y1 - y0 <= 10 and 1 <= x1 - x0 <= 20
        assert 0 <= y0 and y1 <= 40 and 0 <= x0 and x1 <= 80


def test_probability_p_is_respected():
    aug = Augmenter(AugmentConfig(flip=False, rotate90=False, brightness=0.2, p=0.3), ndim=2)
    rng = np.random.default_rng(0)
    applied = np.mean([aug.sample(SHAPE, rng).brightness != 0 for _ in range(1000)])
    assert applied == pytest.approx(0.3, abs=0.05)


@pytest.mark.parametrize("ndim", [2, 3])
def test_save_preview_writes_png(tmp_path, ndim):
    shape = (6, 24, 24) if ndim == 3 else (24, 24)
    image = np.random.default_rng(0).random((1, *shape), dtype=np.float32)
    labels = (image[0] > 0.5).astype(np.int32) * 4
    aug = Augmenter(AugmentConfig(rotation=20, brightness=0.2, p=1.0), ndim=ndim)
    path = save_preview([image, image], [labels, labels], aug, tmp_path / "sub" / "p.png", n=3)
    png = mpimg.imread(path)
    assert png.shape[:2] == (660, 880)  # 3 rows x 4 columns of 2.2 inch at 100 dpi
    assert [p.name for p in path.parent.iterdir()] == ["p.png"]  # no temporary left
    again = save_preview(image, image, aug, path, n=1, target_kind="continuous")
    assert again == path
    save_preview(image, None, aug, tmp_path / "q.png", n=2, seed=1)
    assert mpimg.imread(tmp_path / "q.png").shape[:2] == (440, 440)  # 2 rows x 2 columns


def test_save_preview_errors(tmp_path):
    aug = Augmenter(ndim=2)
    image = np.zeros((1, 8, 8), np.float32)
    with pytest.raises(TypeError, match="aug must be an Augmenter"):
        save_preview([image], None, "aug", tmp_path / "a.png")
    with pytest.raises(ValueError, match="n must be at least 1"):
        save_preview([image], None, aug, tmp_path / "a.png", n=0)
    with pytest.raises(ValueError, match="images is empty"):
        save_preview([], None, aug, tmp_path / "a.png")
    with pytest.raises(ValueError, match="targets has 2 entries but images has 1"):
        save_preview([image], [image[0], image[0]], aug, tmp_path / "a.png")
    save_preview([image], None, aug, tmp_path / "a.png")
    with pytest.raises(FileExistsError, match="already exists"):
        save_preview([image], None, aug, tmp_path / "a.png", overwrite=False)
