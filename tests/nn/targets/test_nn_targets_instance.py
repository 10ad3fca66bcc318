import math

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import measure

from biakit.blocks import GLOBAL, apply_blockwise, get_halo
from biakit.data import synthetic_nuclei
from biakit.errors import DataError, ParameterError
from biakit.nn.targets import (
    CHANNELS,
    InstanceEncoding,
    contour_mask,
    instance_targets,
    unet_weight_map,
)

TWO = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 1, 2, 2, 0],
        [0, 1, 1, 1, 2, 2, 0],
        [0, 1, 1, 1, 2, 2, 0],
        [0, 0, 0, 0, 0, 0, 0],
    ],
    dtype=np.uint8,
)


def _reference_distance(labels, spacing):
    """Per-object EDT on the whole image (independent of the bounding-box code)."""
    out = np.zeros(labels.shape)
    for i in np.unique(labels[labels > 0]):
        obj = labels == i
        d = ndi.distance_transform_edt(obj, sampling=spacing)
        out[obj] = d[obj] / d[obj].max()
    return out


def test_encoding_channels_and_validation():
    assert InstanceEncoding().mode == "fg_contour_distance"
    for mode, names in CHANNELS.items():
        enc = InstanceEncoding(mode=mode)
        assert enc.channels == names and enc.n_channels == len(names)
        assert enc.channels[:2] == ("foreground", "contour")
        assert "distance" not in [enc.channels[i] for i in enc.binary_channels]
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        InstanceEncoding(colour="red")
    with pytest.raises(ValueError, match="contour_width"):
        InstanceEncoding(contour_width=0)
    with pytest.raises(ValueError, match="mode"):
        InstanceEncoding(mode="stardist")
    with pytest.raises(ValueError, match="spacing must be positive finite numbers"):
        InstanceEncoding(spacing=(1.0, -1.0))
    with pytest.raises(ValueError, match="spacing must be a number or hold 2 or 3 values"):
        InstanceEncoding(spacing=(1.0,))
    with pytest.raises(ValueError, match="spacing must be positive finite numbers"):
        InstanceEncoding(spacing=0.0)


def test_contours_hand_checked():
    expected = np.array(
        [
            [0, 0, 0, 0, 0, 0, 0],
            [0, 1, 1, 1, 1, 1, 0],
            [0, 1, 0, 1, 1, 1, 0],
            [0, 1, 1, 1, 1, 1, 0],
            [0, 0, 0, 0, 0, 0, 0],
        ]
    )
    t = instance_targets(TWO, InstanceEncoding(mode="fg_contour"))
    assert t.dtype == np.float32 and t.shape == (2, 5, 7)
    np.testing.assert_array_equal(t[0], TWO > 0)
    np.testing.assert_array_equal(t[1], expected)
    # the image border is not a boundary: only the side facing background is contour
    edge = np.zeros((3, 5), dtype=np.int32)
    edge[:, :3] = 4
    np.testing.assert_array_equal(contour_mask(edge)[:, :3], [[0, 0, 1]] * 3)
    # width 2 = city-block distance <= 2 from a differently labelled pixel
    square = np.zeros((9, 9), dtype=np.int32)
    square[1:8, 1:8] = 1
    ring = contour_mask(square, width=2)
    inner = np.zeros_like(ring)
    inner[3:6, 3:6] = True
    np.testing.assert_array_equal(ring, (square > 0) & ~inner)


def test_distance_exact_per_object_hand_checked():
    row = np.array([[0, 1, 1, 1, 2, 2, 0]])
    t = instance_targets(row, InstanceEncoding(mode="fg_contour_distance"))
    # object 1: 1, 2, 1 -> /2; object 2: both pixels touch something else -> 1, 1
    np.testing.assert_allclose(t[2, 0], [0, 0.5, 1, 0.5, 1, 1, 0])
    # anisotropic: a (3, 1, 5) box, z spacing 2: only x offers a boundary inside the image
    box = np.zeros((3, 1, 7), dtype=np.int32)
    box[:, :, 1:6] = 1
    t3 = instance_targets(box, InstanceEncoding(spacing=(2.0, 1.0, 1.0)))
    np.testing.assert_allclose(t3[2, 1, 0], [0, 1 / 3, 2 / 3, 1, 2 / 3, 1 / 3, 0])


@pytest.mark.parametrize(("shape", "spacing"), [((96, 96), None), ((16, 48, 48), (2.0, 1.0, 1.0))])
def test_distance_and_centre_match_reference(shape, spacing):
    labels = synthetic_nuclei(shape, n_objects=12, touching=0.5, spacing=spacing, seed=3).labels
    enc = InstanceEncoding(mode="fg_contour_distance_centre", spacing=spacing)
    t = instance_targets(labels, enc)
    ref = _reference_distance(labels, (1.0,) * len(shape) if spacing is None else spacing)
    np.testing.assert_allclose(t[2], ref, atol=1e-6)
    assert np.all(t[2][labels == 0] == 0) and np.all(t[2][labels > 0] > 0)
    centre = t[3] > 0
    assert np.all(t[2][centre] >= enc.centre_threshold)
    # exactly one connected blob per object, inside the object, holding its innermost pixel
    blobs = measure.label(np.where(centre, labels, 0), connectivity=1)
    ids = np.unique(labels[labels > 0])
    assert blobs.max() == ids.size
    for i in ids:
        assert np.unique(blobs[(labels == i) & centre]).size == 1
        peak = ndi.maximum_position(t[2], labels, i)
        assert centre[peak]


def test_relabelling_does_not_change_targets():
    other = np.where(TWO == 1, 900, np.where(TWO == 2, 5, 0)).astype(np.int64)
    enc = InstanceEncoding(mode="fg_contour_distance_centre")
    np.testing.assert_array_equal(instance_targets(other, enc), instance_targets(TWO, enc))
    empty = instance_targets(np.zeros((4, 4), np.uint8), enc)
    assert empty.shape == (4, 4, 4) and not empty.any()


def test_scalar_spacing_and_float_labels_follow_the_shared_rule():
    scalar = InstanceEncoding(mode="fg_contour_distance_centre", spacing=0.5)
    pair = InstanceEncoding(mode="fg_contour_distance_centre", spacing=(0.5, 0.5))
    assert scalar.spacing == 0.5 and pair.spacing == (0.5, 0.5)
    ref = instance_targets(TWO, pair)
    np.testing.assert_array_equal(instance_targets(TWO, scalar), ref)
    np.testing.assert_array_equal(instance_targets(TWO.astype(np.float32), pair), ref)


def test_instance_targets_errors_and_halo():
    enc = InstanceEncoding()
    with pytest.raises(DataError, match=r"labels hold non-integer values \(e\.g\. 0\.5\)"):
        instance_targets(TWO * 0.5, enc)
    with pytest.raises(DataError, match=r"labels must be an integer label image.*dtype bool"):
        instance_targets(TWO > 0, enc)
    with pytest.raises(DataError, match="labels must be a non-empty 2D or 3D"):
        instance_targets(np.ones(5, dtype=int), enc)
    with pytest.raises(DataError, match="labels have negative values"):
        instance_targets(-np.ones((3, 3), dtype=int), enc)
    with pytest.raises(ParameterError, match=r"enc.spacing has 3 value\(s\) .* 2 spatial axes"):
        instance_targets(TWO, InstanceEncoding(spacing=(1.0, 1.0, 1.0)))
    with pytest.raises(TypeError, match="enc must be an InstanceEncoding"):
        instance_targets(TWO, "fg_contour")
    assert get_halo(instance_targets, 2) == GLOBAL
    with pytest.raises(ValueError, match="whole image"):
        apply_blockwise(instance_targets, TWO, chunks=3, enc=enc)


def _reference_weights(labels, w0, sigma, spacing):
    ids = np.unique(labels[labels > 0])
    dist = np.stack([ndi.distance_transform_edt(labels != i, sampling=spacing) for i in ids])
    dist.sort(axis=0)
    border = w0 * np.exp(-((dist[0] + dist[1]) ** 2) / (2 * sigma**2))
    return 1.0 + np.where(labels == 0, border, 0.0)


def test_weight_map_hand_checked():
    labels = np.zeros((5, 9), dtype=np.int32)
    labels[:, :4], labels[:, 5:] = 1, 2
    w = unet_weight_map(labels, w0=10, sigma=5)
    assert w.dtype == np.float32
    assert w[2, 4] == pytest.approx(1 + 10 * math.exp(-4 / 50), rel=1e-6)  # d1 = d2 = 1
    assert np.all(w[labels > 0] == 1)
    # far from two objects the weight falls back to w_c
    big = np.zeros((80, 80), dtype=np.int32)
    big[2:8, 2:8], big[2:8, 10:16] = 1, 2
    wb = unet_weight_map(big, w0=10, sigma=3)
    assert wb[5, 9] == pytest.approx(1 + 10 * math.exp(-9 / 18), rel=1e-6)  # d1 = 2, d2 = 1
    assert wb[75, 75] == pytest.approx(1.0, abs=1e-6)
    # one object: no border term; balanced class weights n / (2 n_class)
    one = (big == 1).astype(np.int32)
    wo = unet_weight_map(one, class_weights="balanced")
    assert wo[0, 0] == pytest.approx(6400 / (2 * (6400 - 36)))
    assert wo[4, 4] == pytest.approx(6400 / 72)
    wc = unet_weight_map(big, w0=0, class_weights=(0.5, 2.0))
    assert set(np.unique(wc).tolist()) == {0.5, 2.0}


@pytest.mark.parametrize("spacing", [None, (2.0, 1.0, 1.0)])
def test_weight_map_matches_brute_force(spacing):
    shape = (48, 48) if spacing is None else (16, 40, 40)
    labels = synthetic_nuclei(
        shape, n_objects=10, radius=(4.0, 8.0), touching=0.3, spacing=spacing, seed=1
    ).labels
    sp = (1.0,) * len(shape) if spacing is None else spacing
    w = unet_weight_map(labels, w0=10, sigma=4, spacing=spacing)
    np.testing.assert_allclose(w, _reference_weights(labels, 10, 4, sp), atol=1e-3 * 10)


def test_weight_map_errors():
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        unet_weight_map(TWO, sigma=0)
    with pytest.raises(ValueError, match="w0 must be a finite number >= 0"):
        unet_weight_map(TWO, w0=-1)
    with pytest.raises(ValueError, match="class_weights must be None, 'balanced'"):
        unet_weight_map(TWO, class_weights="inverse")
    with pytest.raises(ValueError, match="class_weights must be None, 'balanced' or two"):
        unet_weight_map(TWO, class_weights=(1.0, 2.0, 3.0))
    with pytest.raises(ParameterError, match="spacing must be positive finite numbers"):
        unet_weight_map(TWO, spacing=(1.0, 0.0))
    with pytest.raises(DataError, match="integer label image"):
        unet_weight_map(TWO > 0)
    assert unet_weight_map(TWO, spacing=2.0)[0, 0] == pytest.approx(
        1 + 10 * math.exp(-((2 * math.sqrt(2) + 2 * math.sqrt(17)) ** 2) / 50), rel=1e-5
    )


def test_instance_loss_hand_computed():
    torch = pytest.importorskip("torch")
    from biakit.nn.targets import InstanceLoss, instance_loss

    enc = InstanceEncoding(mode="fg_contour_distance_centre")
    x = torch.tensor([2.0, -1.0, 0.5, 0.0, 1.5, -2.0, 0.3, -0.7]).reshape(1, 4, 1, 2)
    y = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.8, 0.2, 0.0, 1.0]).reshape(1, 4, 1, 2)

    def bce(z, t, pw=1.0):
        s = 1 / (1 + math.exp(-z))
        return -(pw * t * math.log(s) + (1 - t) * math.log(1 - s))

    xs, ys = x.flatten().tolist(), y.flatten().tolist()
    binary = [0, 1, 2, 3, 6, 7]  # flat indices of fg, contour and centre pixels
    sig = [1 / (1 + math.exp(-z)) for z in xs[4:6]]
    mse = ((sig[0] - 0.8) ** 2 + (sig[1] - 0.2) ** 2) / 2
    expected = sum(bce(xs[i], ys[i]) for i in binary) / 6 + mse
    loss = instance_loss(enc)
    assert isinstance(loss, InstanceLoss)
    assert float(loss(x, y)) == pytest.approx(expected, rel=1e-6)
    # per-channel pos_weight (fg, contour, centre) and a foreground Dice term
    pws = [1.0, 1.0, 3.0, 3.0, None, None, 2.0, 2.0]
    bce_w = sum(bce(xs[i], ys[i], pws[i]) for i in binary) / 6
    p = [1 / (1 + math.exp(-z)) for z in xs[:2]]
    dice = (2 * p[0] + 1) / (sum(p) + 1 + 1)
    weighted = instance_loss(enc, pos_weight=(1, 3, 2), dice_weight=0.5, distance_weight=2.0)
    assert float(weighted(x, y)) == pytest.approx(bce_w + 2 * mse + 0.5 * (1 - dice), rel=1e-6)
    # gradients flow; a perfect prediction of binary targets has a near-zero loss
    x.requires_grad_(True)
    loss(x, y).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    plain = instance_loss(InstanceEncoding(mode="fg_contour"), pos_weight=2.0)
    assert float(plain(torch.full((2, 2, 3, 3), 30.0), torch.ones(2, 2, 3, 3))) < 1e-10


def test_instance_loss_errors():
    torch = pytest.importorskip("torch")
    from biakit.nn.targets import instance_loss

    enc = InstanceEncoding(mode="fg_contour_distance")
    with pytest.raises(TypeError, match="enc must be an InstanceEncoding"):
        instance_loss("fg_contour")
    with pytest.raises(ValueError, match=r"pos_weight must be one positive number or one per"):
        instance_loss(enc, pos_weight=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="dice_weight must be a finite number >= 0"):
        instance_loss(enc, dice_weight=-1)
    loss = instance_loss(enc)
    with pytest.raises(ValueError, match=r"logits must have shape \(B, 3, \*spatial\)"):
        loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="target shape"):
        loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
