import math

import numpy as np
import pytest
import torch

from biakit.nn.train import make_loss


def _np_log_softmax(x, axis=1):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def test_ce_uniform_logits_is_log2():
    loss = make_loss("ce")
    assert float(loss(torch.zeros(2, 2, 3, 3), torch.ones(2, 3, 3, dtype=torch.long))) == (
        pytest.approx(math.log(2), abs=1e-6)
    )


def test_ce_class_weights_and_ignore_index_by_hand():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 2, 2)).astype(np.float32)
    target = rng.integers(0, 3, size=(2, 2, 2))
    target[0, 0, 0] = -1
    target[1, 1, 1] = -1
    w = np.array([0.5, 2.0, 1.0])
    logp = _np_log_softmax(logits.astype(np.float64))
    num = den = 0.0
    for b, y, x in np.ndindex(target.shape):
        c = target[b, y, x]
        if c >= 0:
            num += -w[c] * logp[b, c, y, x]
            den += w[c]
    got = make_loss("ce", class_weights=w.tolist())(torch.from_numpy(logits), torch.tensor(target))
    assert float(got) == pytest.approx(num / den, rel=1e-5)


def test_dice_multiclass_by_hand():
    # p = 0.5 everywhere; target [0, 1, 1, 1]; smooth 0:
    # class 0: 2*0.5 / (2 + 1) = 1/3, class 1: 2*1.5 / (2 + 3) = 3/5
    logits = torch.zeros(1, 2, 2, 2)
    target = torch.tensor([[[0, 1], [1, 1]]])
    assert float(make_loss("dice", smooth=0.0)(logits, target)) == pytest.approx(1 - 7 / 15)
    excl = make_loss("dice", smooth=0.0, exclude_background=True)
    assert float(excl(logits, target)) == pytest.approx(1 - 3 / 5)
    weighted = make_loss("dice", class_weights=[1.0, 3.0], smooth=0.0)
    assert float(weighted(logits, target)) == pytest.approx(1 - (1 / 3 + 3 * 3 / 5) / 4)
    # smooth = 1: class 0: (1 + 1) / (3 + 1), class 1: (3 + 1) / (5 + 1)
    assert float(make_loss("dice")(logits, target)) == pytest.approx(1 - (0.5 + 2 / 3) / 2)


def test_dice_ignores_minus_one_and_perfect_prediction_is_zero():
    logits = torch.zeros(1, 2, 2, 2)
    target = torch.tensor([[[0, 1], [1, -1]]])
    # 3 valid pixels: class 0: 2*0.5/(1.5+1) = 0.4, class 1: 2*1/(1.5+2) = 4/7
    assert float(make_loss("dice", smooth=0.0)(logits, target)) == pytest.approx(
        1 - (0.4 + 4 / 7) / 2
    )
    target = torch.tensor([[[0, 1], [1, 0]]])
    perfect = 50 * torch.nn.functional.one_hot(target, 2).movedim(-1, 1).float()
    assert float(make_loss("dice", smooth=0.0)(perfect, target)) == pytest.approx(0, abs=1e-6)


def test_dice_binary_sigmoid_by_hand():
    # p = 0.5; target [1, 0, 1, 1]; smooth 1: (2*1.5 + 1) / (2 + 3 + 1) = 2/3
    logits = torch.zeros(1, 1, 2, 2)
    target = torch.tensor([[[1, 0], [1, 1]]])
    assert float(make_loss("dice")(logits, target)) == pytest.approx(1 / 3)
    assert float(make_loss("dice")(logits, target[:, None].float())) == pytest.approx(1 / 3)


def test_ce_dice_is_sum():
    rng = np.random.default_rng(1)
    logits = torch.tensor(rng.normal(size=(2, 3, 4, 4)), dtype=torch.float32)
    target = torch.tensor(rng.integers(0, 3, size=(2, 4, 4)))
    w = [1.0, 2.0, 0.5]
    both = make_loss("ce_dice", w)(logits, target)
    parts = make_loss("ce", w)(logits, target) + make_loss("dice", w)(logits, target)
    assert float(both) == pytest.approx(float(parts), rel=1e-6)


def test_bce_with_pos_weight_by_hand():
    x = np.array([[-1.0, 0.5, 2.0, 0.0]])
    t = np.array([[0.0, 1.0, 1.0, 0.0]])
    sig = 1 / (1 + np.exp(-x))
    plain = -(t * np.log(sig) + (1 - t) * np.log(1 - sig)).mean()
    weighted = -(3.0 * t * np.log(sig) + (1 - t) * np.log(1 - sig)).mean()
    logits = torch.tensor(x, dtype=torch.float32).reshape(1, 1, 2, 2)
    target = torch.tensor(t).reshape(1, 2, 2).long()  # int (B, Y, X) accepted
    assert float(make_loss("bce")(logits, target)) == pytest.approx(plain, rel=1e-5)
    assert float(make_loss("bce", [3.0])(logits, target)) == pytest.approx(weighted, rel=1e-5)


def test_mse_mae_by_hand():
    out = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    tgt = torch.tensor([[[[1.0, 0.0], [5.0, 3.0]]]])
    assert float(make_loss("mse")(out, tgt)) == pytest.approx((0 + 4 + 4 + 1) / 4)
    assert float(make_loss("mae")(out, tgt)) == pytest.approx((0 + 2 + 2 + 1) / 4)
    assert float(make_loss("mae")(out, tgt[:, 0])) == pytest.approx(5 / 4)  # (B, Y, X) accepted


def test_loss_errors():
    with pytest.raises(ValueError, match="loss='focal' is not known"):
        make_loss("focal")
    with pytest.raises(ValueError, match="class_weights are not used by loss='mse'"):
        make_loss("mse", [1.0, 2.0])
    with pytest.raises(ValueError, match="class_weights has 3 entries but the ce loss got logits"):
        make_loss("ce", [1.0, 1.0, 1.0])(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2).long())
    with pytest.raises(ValueError, match="loss='ce' needs logits with >= 2 channels"):
        make_loss("ce")(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2).long())
    with pytest.raises(ValueError, match=r"loss='mse': target shape \(1, 3\) does not match"):
        make_loss("mse")(torch.zeros(1, 2), torch.zeros(1, 3))
