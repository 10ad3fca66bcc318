"""Training loss for :func:`biakit.nn.targets.instance_targets` encodings."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from biakit.nn.targets._instance import InstanceEncoding


class InstanceLoss(nn.Module):
    """BCE-with-logits on the binary channels, MSE on the distance, optional Dice.

    ``loss = mean BCE(binary logits, binary targets)  (pos_weight per channel)
    + distance_weight * mean (sigmoid(distance logit) - distance target)**2
    + dice_weight * (1 - soft Dice(sigmoid(foreground logit), foreground))``.

    The BCE mean runs over the batch, the binary channels and all pixels; the
    soft Dice is ``(2 sum p t + 1) / (sum p + sum t + 1)`` over the whole batch.
    See :func:`instance_loss` for the parameters.
    """

    def __init__(
        self,
        enc: InstanceEncoding,
        pos_weight: float | Sequence[float] | None = None,
        dice_weight: float = 0.0,
        distance_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if not isinstance(enc, InstanceEncoding):
            raise TypeError(f"enc must be an InstanceEncoding, got {type(enc).__name__}")
        self.n_channels = enc.n_channels
        self.binary = list(enc.binary_channels)
        self.distance = enc.channels.index("distance") if "distance" in enc.channels else None
        pw = None
        if pos_weight is not None:
            pw = torch.as_tensor(pos_weight, dtype=torch.float32).flatten()
            if pw.numel() == 1:
                pw = pw.repeat(len(self.binary))
            if pw.numel() != len(self.binary) or not bool(torch.all(pw > 0)):
                raise ValueError(
                    f"pos_weight must be one positive number or one per binary channel "
                    f"({len(self.binary)} for mode={enc.mode!r}), got {pos_weight!r}"
                )
        self.register_buffer("pos_weight", pw, persistent=False)
        for name, value in (("dice_weight", dice_weight), ("distance_weight", distance_weight)):
            if not (float(value) >= 0 and torch.isfinite(torch.tensor(float(value)))):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        self.dice_weight = float(dice_weight)
        self.distance_weight = float(distance_weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the scalar loss of ``logits`` and ``target``, both ``(B, C, *spatial)``."""
        if logits.ndim < 3 or logits.shape[1] != self.n_channels:
            raise ValueError(
                f"logits must have shape (B, {self.n_channels}, *spatial) for this encoding, "
                f"got {tuple(logits.shape)}"
            )
        if target.shape != logits.shape:
            raise ValueError(
                f"target shape {tuple(target.shape)} does not match logits {tuple(logits.shape)}"
            )
        logits, target = logits.float(), target.float()
        pw = None
        if self.pos_weight is not None:
            pw = self.pos_weight.to(logits.device).reshape(-1, *([1] * (logits.ndim - 2)))
        loss = F.binary_cross_entropy_with_logits(
            logits[:, self.binary], target[:, self.binary], pos_weight=pw
        )
        if self.distance is not None and self.distance_weight > 0:
            pred = torch.sigmoid(logits[:, self.distance])
            loss = loss + self.distance_weight * F.mse_loss(pred, target[:, self.distance])
        if self.dice_weight > 0:
            p, t = torch.sigmoid(logits[:, 0]), target[:, 0]
            dice = (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
            loss = loss + self.dice_weight * (1 - dice)
        return loss


def instance_loss(
    enc: InstanceEncoding,
    pos_weight: float | Sequence[float] | None = None,
    *,
    dice_weight: float = 0.0,
    distance_weight: float = 1.0,
) -> InstanceLoss:
    """Build the loss for a network trained on ``instance_targets(labels, enc)``.

    Parameters
    ----------
    enc : InstanceEncoding
        The encoding of the targets (channel layout).
    pos_weight : float or sequence of float, optional
        BCE weight of positive pixels, one number or one per binary channel
        (foreground, contour[, centre]); e.g. ``(1, 5)`` to stress thin contours.
    dice_weight : float
        Weight of a soft Dice term on the foreground channel (0 = off).
    distance_weight : float
        Weight of the MSE term on the distance channel.

    Returns
    -------
    InstanceLoss
        ``loss(logits, target) -> scalar``, usable as ``Trainer(loss_fn=...)``.

    Raises
    ------
    TypeError, ValueError
        For a wrong ``enc``, ``pos_weight`` or weights; at call time for
        logits / targets of the wrong shape.

    Examples
    --------
    >>> import torch
    >>> loss = instance_loss(InstanceEncoding(mode="fg_contour"))
    >>> round(float(loss(torch.zeros(1, 2, 4, 4), torch.ones(1, 2, 4, 4))), 4)  # log 2
    0.6931
    """
    return InstanceLoss(enc, pos_weight, dice_weight, distance_weight)
