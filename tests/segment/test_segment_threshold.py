import numpy as np
import pytest
from skimage import data, filters

from biakit.blocks import GLOBAL, apply_blockwise, get_halo
from biakit.segment import GLOBAL_METHODS, threshold, threshold_local, threshold_value

SKIMAGE = {
    "otsu": filters.threshold_otsu,
    "li": filters.threshold_li,
    "triangle": filters.threshold_triangle,
    "yen": filters.threshold_yen,
    "mean": filters.threshold_mean,
}


@pytest.fixture(scope="module")
def coins():
    return data.coins()[::2, ::2]


@pytest.mark.parametrize("method", sorted(SKIMAGE))
def test_global_equals_skimage(coins, method):
    expected = SKIMAGE[method](coins)
    assert threshold_value(coins, method) == pytest.approx(expected)
    np.testing.assert_array_equal(threshold(coins, method), coins > expected)


def test_global_3d_float(seed=0):
    image = np.random.default_rng(seed).normal(size=(8, 20, 20))
    image[:, 5:15, 5:15] += 4
    assert threshold_value(image, "otsu") == pytest.approx(filters.threshold_otsu(image))
    assert threshold(image).shape == image.shape


def test_otsu_hand_case():
    # two equal populations at 0 and 10: any threshold in [0, 10) separates them
    image = np.array([[0, 0, 10], [0, 10, 10]], dtype=float)
    np.testing.assert_array_equal(threshold(image), image > 5)


def test_manual_and_constant_and_bool():
    image = np.array([[1.0, 5.0], [2.0, 9.0]])
    np.testing.assert_array_equal(threshold(image, "manual", value=2), image > 2)
    assert threshold_value(np.full((4, 4), 3.0), "yen") == 3.0
    assert not threshold(np.full((4, 4), 3.0), "li").any()
    mask = np.zeros((6, 6), bool)
    mask[:3] = True
    np.testing.assert_array_equal(threshold(mask, "otsu"), mask)
    assert threshold(mask, "MEAN").sum() == 18


def test_halo_declarations():
    assert get_halo(threshold, 2, method="otsu") == GLOBAL
    assert get_halo(threshold, 3, method="manual", value=1.0) == (0, 0, 0)
    assert get_halo(threshold_local, 2, method="niblack", window_size=7) == (3, 3)
    assert get_halo(threshold_local, 2, method="adaptive", window_size=15) == (9, 9)
    assert get_halo(threshold_local, 3, method="sauvola", window_size=(3, 5, 5)) == (1, 2, 2)


def test_manual_threshold_blockwise():
    image = np.random.default_rng(1).random((32, 32))
    out = apply_blockwise(threshold, image, chunks=8, method="manual", value=0.5).compute()
    np.testing.assert_array_equal(out, image > 0.5)
    with pytest.raises(ValueError, match="whole image"):
        apply_blockwise(threshold, image, chunks=8, method="otsu")


@pytest.mark.parametrize(
    ("method", "reference"),
    [
        ("niblack", lambda im, w: filters.threshold_niblack(im, w, k=0.3)),
        ("sauvola", lambda im, w: filters.threshold_sauvola(im, w, k=0.3)),
        ("adaptive", lambda im, w: filters.threshold_local(im, w, method="gaussian")),
    ],
)
def test_local_equals_skimage_2d_3d(coins, method, reference):
    k = None if method == "adaptive" else 0.3
    out = threshold_local(coins, method, window_size=11, k=k)
    np.testing.assert_array_equal(out, coins > reference(coins, 11))
    vol = np.random.default_rng(2).random((10, 16, 16))
    out3 = threshold_local(vol, method, window_size=5, k=k, offset=0.05)
    np.testing.assert_array_equal(out3, vol > reference(vol, 5) - 0.05)


@pytest.mark.parametrize("method", ["niblack", "sauvola", "adaptive"])
@pytest.mark.parametrize("shape", [(48, 40), (16, 24, 24)])
def test_local_blockwise_equals_whole(method, shape):
    image = np.random.default_rng(3).random(shape)
    whole = threshold_local(image, method, window_size=7)
    blocks = apply_blockwise(
        threshold_local, image, chunks=12, boundary="none", method=method, window_size=7
    )
    np.testing.assert_array_equal(blocks.compute(), whole)


def test_local_detects_dim_object_on_ramp():
    _, xx = np.mgrid[:64, :64]
    image = xx / 64.0
    image[20:30, 40:50] += 0.3
    image[20:30, 5:15] += 0.3
    # a pixel is foreground when it is 0.05 above its Gaussian-weighted neighbourhood
    mask = threshold_local(image, "adaptive", window_size=31, offset=-0.05)
    assert mask[25, 10] and mask[25, 45]
    assert not mask[50, 10:55].any()
    assert not (image > filters.threshold_otsu(image))[25, 10]  # a global threshold misses it


def test_threshold_errors():
    image = np.random.default_rng(4).random((8, 8))
    with pytest.raises(ValueError, match="method must be one of 'otsu', 'li'"):
        threshold(image, "kittler")
    with pytest.raises(ValueError, match="needs value"):
        threshold(image, "manual")
    with pytest.raises(ValueError, match="only used with"):
        threshold(image, "otsu", value=0.3)
    with pytest.raises(TypeError, match="value must be a number"):
        threshold(image, "manual", value="high")
    with pytest.raises(ValueError, match="must be 2D or 3D"):
        threshold(np.zeros(5), "otsu")
    with pytest.raises(ValueError, match="NaN"):
        threshold(np.full((3, 3), np.nan), "otsu")
    with pytest.raises(TypeError, match="numeric array"):
        threshold(np.array([["a", "b"]]), "otsu")
    with pytest.raises(TypeError, match="real-valued"):
        threshold(np.ones((3, 3), complex), "otsu")
    with pytest.raises(ValueError, match="empty"):
        threshold(np.zeros((0, 3)), "otsu")
    assert "manual" in GLOBAL_METHODS


def test_threshold_local_errors():
    image = np.random.default_rng(5).random((8, 8))
    with pytest.raises(ValueError, match="method must be one of 'niblack'"):
        threshold_local(image, "bernsen")
    with pytest.raises(ValueError, match="window_size must be an odd"):
        threshold_local(image, window_size=4)
    with pytest.raises(ValueError, match="window_size must be an odd"):
        threshold_local(image, window_size=(3, 3, 3))
    with pytest.raises(ValueError, match="k and r are not used"):
        threshold_local(image, "adaptive", k=0.2)
    with pytest.raises(ValueError, match="r is only used"):
        threshold_local(image, "niblack", r=0.5)
    with pytest.raises(ValueError, match="r must be a finite number > 0"):
        threshold_local(image, "sauvola", r=0.0)
    with pytest.raises(TypeError, match="offset must be a number"):
        threshold_local(image, offset=None)
