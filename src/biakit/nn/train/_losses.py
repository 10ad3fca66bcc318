"""Training losses for segmentation and regression (:func:`make_loss`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LOSSES = ("ce", "dice", "ce_dice", "bce", "mse", "mae")
IGNORE_INDEX = -1


def _weights_for(weights: torch.Tensor | None, n: int, loss: str) -> torch.Tensor | None:
    if weights is not None and weights.numel() != n:
        raise ValueError(
            f"class_weights has {weights.numel()} entries but the {loss} loss got logits with "
            f"{n} channels; give one weight per output channel"
        )
    return weights


class _Weighted(nn.Module):
    def __init__(self, class_weights: Sequence[float] | None) -> None:
        super().__init__()
        w = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", w, persistent=False)


class CrossEntropyLoss(_Weighted):
    """Class-weighted cross-entropy on logits ``(B, C, *spatial)``, int targets ``(B, *spatial)``.

    Pixels labelled ``-1`` are ignored. The mean is weighted:
    ``sum_i w[y_i] * -log softmax(x_i)[y_i] / sum_i w[y_i]``.
    """

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the scalar loss."""
        if logits.shape[1] < 2:
            raise ValueError(
                f"loss='ce' needs logits with >= 2 channels, got shape {tuple(logits.shape)}; "
                "use loss='bce' for a single output channel"
            )
        w = _weights_for(self.class_weights, logits.shape[1], "ce")
        return F.cross_entropy(logits.float(), target.long(), weight=w, ignore_index=IGNORE_INDEX)


class DiceLoss(_Weighted):
    """Soft Dice loss: ``1 - mean_c (2 sum p_c t_c + s) / (sum p_c + sum t_c + s)``.

    Sums run over the batch and all pixels. Multi-class (``C >= 2``): ``p`` is
    the softmax and ``t`` the one-hot integer target (``-1`` pixels ignored);
    ``exclude_background`` drops class 0 from the mean and ``class_weights``
    turn it into a weighted mean. Binary (``C == 1``): ``p`` is the sigmoid
    and the target holds 0/1 values, shaped ``(B, *spatial)`` or like the logits.
    """

    def __init__(
        self,
        class_weights: Sequence[float] | None = None,
        smooth: float = 1.0,
        exclude_background: bool = False,
    ) -> None:
        super().__init__(class_weights)
        self.smooth = float(smooth)
        self.exclude_background = bool(exclude_background)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the scalar loss."""
        logits = logits.float()
        dims = (0, *range(2, logits.ndim))
        if logits.shape[1] == 1:
            prob = torch.sigmoid(logits)
            onehot = target.float().reshape(prob.shape)
            valid = onehot >= 0
            prob, onehot = prob * valid, onehot * valid
        else:
            prob = torch.softmax(logits, dim=1)
            target = target.long()
            valid = (target != IGNORE_INDEX).unsqueeze(1)
            onehot = F.one_hot(target.clamp_min(0), logits.shape[1]).movedim(-1, 1).float()
            prob, onehot = prob * valid, onehot * valid
        inter = (prob * onehot).sum(dims)
        denom = prob.sum(dims) + onehot.sum(dims)
        dice = (2 * inter + self.smooth) / (denom + self.smooth).clamp_min(1e-12)
        w = _weights_for(self.class_weights, logits.shape[1], "dice")
        w = torch.ones_like(dice) if w is None else w.to(dice)
        if self.exclude_background and logits.shape[1] > 1:
            dice, w = dice[1:], w[1:]
        return 1 - (dice * w).sum() / w.sum()


class CEDiceLoss(nn.Module):
    """Weighted cross-entropy plus ``dice_weight`` times the soft Dice loss."""

    def __init__(
        self,
        class_weights: Sequence[float] | None = None,
        smooth: float = 1.0,
        exclude_background: bool = False,
        dice_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.ce = CrossEntropyLoss(class_weights)
        self.dice = DiceLoss(class_weights, smooth, exclude_background)
        self.dice_weight = float(dice_weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the scalar loss."""
        return self.ce(logits, target) + self.dice_weight * self.dice(logits, target)


class BCELoss(_Weighted):
    """Binary cross-entropy on logits; ``class_weights`` are per-channel ``pos_weight``.

    An integer target ``(B, *spatial)`` is accepted for one-channel logits.
    """

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the scalar loss."""
        logits = logits.float()
        target = target.float().reshape(logits.shape)
        w = _weights_for(self.class_weights, logits.shape[1], "bce")
        if w is not None:
            w = w.reshape(-1, *([1] * (logits.ndim - 2)))
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=w)


class _Regression(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        output = output.float()
        if target.shape != output.shape:
            if target.numel() != output.numel():
                raise ValueError(
                    f"loss={self.kind!r}: target shape {tuple(target.shape)} does not match the "
                    f"output shape {tuple(output.shape)}"
                )
            target = target.reshape(output.shape)
        target = target.float()
        fn = F.mse_loss if self.kind == "mse" else F.l1_loss
        return fn(output, target)


def make_loss(
    name: str,
    class_weights: Sequence[float] | None = None,
    *,
    smooth: float = 1.0,
    exclude_background: bool = False,
    dice_weight: float = 1.0,
) -> nn.Module:
    """Build a loss module ``loss(logits (B, C, *spatial), target) -> scalar``.

    Parameters
    ----------
    name : {"ce", "dice", "ce_dice", "bce", "mse", "mae"}
        ``ce``: cross-entropy (int targets, ``-1`` ignored); ``dice``: soft Dice
        (softmax for ``C >= 2``, sigmoid for ``C == 1``); ``ce_dice``: CE +
        ``dice_weight`` * Dice; ``bce``: binary cross-entropy with logits;
        ``mse`` / ``mae``: mean squared / absolute error (regression).
    class_weights : sequence of float, optional
        One weight per output channel (CE, Dice weighted class mean, BCE
        ``pos_weight``). Not accepted by ``mse`` / ``mae``.
    smooth : float
        Dice smoothing.
    exclude_background : bool
        Leave class 0 out of the multi-class Dice mean.
    dice_weight : float
        Weight of the Dice term in ``ce_dice``.

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> loss = make_loss("ce", class_weights=[1.0, 2.0])
    >>> logits = torch.zeros(1, 2, 2, 2)
    >>> round(float(loss(logits, torch.tensor([[[0, 1], [1, -1]]]))), 4)
    0.6931
    """
    if name not in LOSSES:
        raise ValueError(f"loss={name!r} is not known; expected one of {', '.join(LOSSES)}")
    if name in ("mse", "mae"):
        if class_weights is not None:
            raise ValueError(f"class_weights are not used by loss={name!r}; remove them")
        return _Regression(name)
    if name == "ce":
        return CrossEntropyLoss(class_weights)
    if name == "dice":
        return DiceLoss(class_weights, smooth, exclude_background)
    if name == "ce_dice":
        return CEDiceLoss(class_weights, smooth, exclude_background, dice_weight)
    return BCELoss(class_weights)
