import numpy as np
import pytest
from scipy import ndimage as ndi

from biakit.blocks import GLOBAL, apply_blockwise, declare_halo, get_halo, sigma_halo


@declare_halo(lambda ndim, sigma=1.0: sigma_halo(sigma, ndim))
def smooth(image, sigma=1.0):
    return ndi.gaussian_filter(image.astype(np.float32), sigma)


@declare_halo(GLOBAL)
def minus_mean(image):
    return image - image.mean()


@declare_halo(2)
def box(image):
    return ndi.uniform_filter(image, 5)


def test_sigma_halo_values():
    assert sigma_halo(1.0, 2) == (4, 4)
    assert sigma_halo((0.3, 2.0, 2.0), 3) == (2, 8, 8)
    assert sigma_halo(1.0, 2, truncate=3.0) == (3, 3)


@pytest.mark.parametrize("shape", [(70, 90), (20, 33, 41)])
def test_blockwise_equals_whole(shape):
    image = np.random.default_rng(0).random(shape).astype(np.float32)
    out = apply_blockwise(smooth, image, chunks=16, sigma=1.5).compute()
    np.testing.assert_allclose(out, smooth(image, sigma=1.5), atol=1e-6)
    np.testing.assert_allclose(
        apply_blockwise(box, image, chunks=10).compute(), box(image), atol=1e-6
    )


def test_constant_halo():
    assert get_halo(box, 3) == (2, 2, 2)


def test_global_refused():
    with pytest.raises(ValueError, match=r"minus_mean needs the whole image"):
        apply_blockwise(minus_mean, np.zeros((8, 8)), chunks=4)
    assert get_halo(minus_mean, 2) == GLOBAL


def test_undeclared_refused():
    with pytest.raises(TypeError, match=r"declares no halo"):
        get_halo(np.abs, 2)


def test_blocks_smaller_than_halo_still_exact():
    image = np.random.default_rng(1).random((30, 30))
    out = apply_blockwise(smooth, image, chunks=4, sigma=2.0).compute()
    np.testing.assert_allclose(out, smooth(image, sigma=2.0), atol=1e-6)


def test_wrong_halo_length_refused():
    @declare_halo(lambda ndim: (1,))
    def bad(image):
        return image

    with pytest.raises(ValueError, match=r"halo of bad has 1 entries for a 2-D block"):
        get_halo(bad, 2)


@pytest.mark.parametrize(
    ("shape", "block", "halo"), [((37, 50), (16, 16), (4, 4)), ((9, 20, 21), (4, 8, 8), (2, 5, 5))]
)
def test_iter_blocks_reproduces_whole_image(shape, block, halo):
    from biakit.blocks import iter_blocks

    image = np.random.default_rng(2).random(shape).astype(np.float32)
    sigma = min(halo) / 4
    out = np.full(shape, np.nan, np.float32)
    count = np.zeros(shape, int)
    for b in iter_blocks(shape, block, halo):
        out[b.write] = smooth(image[b.read], sigma=sigma)[b.crop]
        count[b.write] += 1
    assert np.all(count == 1)
    np.testing.assert_allclose(out, smooth(image, sigma=sigma), atol=1e-6)


def test_iter_blocks_errors():
    from biakit.blocks import iter_blocks

    with pytest.raises(ValueError, match=r"need the same length"):
        list(iter_blocks((4, 4), (2,), (0, 0)))
    with pytest.raises(ValueError, match=r"block_shape must be >= 1"):
        list(iter_blocks((4, 4), (0, 2), (0, 0)))
