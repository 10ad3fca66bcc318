"""Multi-step (roll-out) training of a frame predictor: a wrapper network and its loss.

A frame predictor maps ``n_input`` frames to the next ``n_output``; longer
horizons feed its predictions back. Trained only on one pass, its errors
compound over such roll-outs (it never saw its own output as input).
:class:`RolloutNet` wraps the network so that its forward pass *is* the
roll-out: the base network is applied autoregressively until ``k`` frames are
made, gradients flowing through the fed-back predictions. The trainer's loss
on a ``k``-frame target then trains the whole roll-out. ``k`` follows a
schedule: ``start`` frames at the first training batch (one pass: teacher
forcing), growing linearly to ``frames`` over ``ramp_steps`` batches; in
evaluation mode (validation) it is always ``frames``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def rollout(base: nn.Module, x: torch.Tensor, *, n_input: int, n_output: int, channels: int,
            frames: int) -> torch.Tensor:  # fmt: skip
    """Apply ``base`` autoregressively: ``(B, n_input * C, *S)`` -> ``(B, frames * C, *S)``.

    Every pass sees the last ``n_input`` frames (given or predicted) and adds
    ``n_output``; the result is cut to ``frames``.

    Examples
    --------
    >>> class Plus1(nn.Module):          # "predicts" last frame + 1, one frame per pass
    ...     def forward(self, x):
    ...         return x[:, -1:] + 1
    >>> rollout(Plus1(), torch.zeros(1, 2, 1, 1), n_input=2, n_output=1, channels=1,
    ...         frames=3).flatten().tolist()
    [1.0, 2.0, 3.0]
    """
    b, _, *spatial = x.shape
    seq = x.reshape(b, n_input, channels, *spatial)
    outs, made = [], 0
    while made < frames:
        pred = base(seq[:, -n_input:].reshape(b, n_input * channels, *spatial))
        pred = pred.reshape(b, n_output, channels, *spatial)
        outs.append(pred)
        made += n_output
        if made < frames:
            seq = torch.cat([seq[:, -n_input:], pred], dim=1)
    out = torch.cat(outs, dim=1)[:, :frames]
    return out.reshape(b, frames * channels, *spatial)


class RolloutNet(nn.Module):
    """A frame predictor rolled out over ``k`` frames per forward pass (see the module text).

    Parameters
    ----------
    base : torch.nn.Module
        The frame predictor, ``(B, n_input * C, *S)`` -> ``(B, n_output * C, *S)``
        (its ``config`` is exposed as this module's, for the trainer).
    n_input, n_output, channels : int
        The base network's frames in / out and channels per frame.
    frames : int
        Frames of the full roll-out (evaluation mode, end of the schedule).
    start : int
        Frames at the first training batch.
    ramp_steps : int
        Training batches over which ``k`` grows linearly from ``start`` to
        ``frames`` (0: ``frames`` from the start). The count is a buffer
        (``seen``), saved in checkpoints, so a resumed run continues the schedule.

    Examples
    --------
    >>> net = RolloutNet(nn.Conv2d(2, 1, 1), n_input=2, n_output=1, channels=1, frames=4,
    ...                  start=1, ramp_steps=3)
    >>> [net.frames_now() for _ in range(5) if net(torch.zeros(1, 2, 4, 4)) is not None]
    [2, 3, 4, 4, 4]
    >>> _ = net.eval(); net.frames_now()
    4
    """

    def __init__(self, base: nn.Module, *, n_input: int, n_output: int, channels: int,
                 frames: int, start: int, ramp_steps: int) -> None:  # fmt: skip
        super().__init__()
        self.base = base
        self.n_input, self.n_output, self.channels = int(n_input), int(n_output), int(channels)
        self.frames, self.start, self.ramp_steps = int(frames), int(start), int(ramp_steps)
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))

    @property
    def config(self) -> Any:
        """The base network's config."""
        return getattr(self.base, "config", None)

    def frames_now(self) -> int:
        """Frames the next forward pass makes (the schedule in training, ``frames`` otherwise)."""
        if not self.training or self.ramp_steps <= 0:
            return self.frames
        done = min(int(self.seen) / self.ramp_steps, 1.0)
        return int(self.start + (self.frames - self.start) * done)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Roll the base network out over :meth:`frames_now` frames."""
        frames = self.frames_now()
        if self.training and torch.is_grad_enabled():
            self.seen += 1
        return rollout(self.base, x, n_input=self.n_input, n_output=self.n_output,
                       channels=self.channels, frames=frames)  # fmt: skip


class DihedralTTA(nn.Module):
    """Test-time augmentation: the mean of ``base`` over flips (and quarter turns in YX).

    Every input frame gets the same transform; the outputs are transformed back
    and averaged: 8 passes in 2D (the dihedral group), 8 in 3D (flips of Z, Y,
    X only, as in training). Exact for an equivariant network; otherwise it
    averages out orientation-specific errors.

    Examples
    --------
    >>> net = DihedralTTA(nn.Conv2d(1, 1, 3, padding=1, bias=False))
    >>> x = torch.randn(1, 1, 6, 6)
    >>> bool(torch.allclose(net(x), net(x.flip(-1)).flip(-1), atol=1e-6))   # equivariant now
    True
    """

    def __init__(self, base: nn.Module, ndim: int = 2) -> None:
        super().__init__()
        self.base, self.ndim = base, int(ndim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Average of the back-transformed predictions of the transformed ``x``."""
        total = None
        for flips, turns in _transforms(self.ndim):
            y = x.flip(flips) if flips else x
            y = torch.rot90(y, turns, dims=(-2, -1)) if turns else y
            out = self.base(y)
            out = torch.rot90(out, -turns, dims=(-2, -1)) if turns else out
            out = out.flip(flips) if flips else out
            total = out if total is None else total + out
        return total / len(_transforms(self.ndim))


def _transforms(ndim: int) -> list[tuple[tuple[int, ...], int]]:
    """(flipped axes, quarter turns in YX) of the TTA: 8 in 2D, the 8 flips in 3D."""
    if ndim == 2:
        return [(f, k) for f in ((), (-1,)) for k in range(4)]
    axes = (-3, -2, -1)
    return [(tuple(a for j, a in enumerate(axes) if (i >> j) & 1), 0) for i in range(8)]


class RolloutLoss(nn.Module):
    """Mean squared (``"mse"``) or absolute (``"mae"``) error on the frames a roll-out made.

    The target holds the schedule's longest roll-out; a shorter prediction
    (early in the schedule) is compared with the target's first frames.

    Examples
    --------
    >>> RolloutLoss("mae")(torch.zeros(1, 2, 1, 1), torch.ones(1, 4, 1, 1)).item()
    1.0
    """

    def __init__(self, kind: str = "mse") -> None:
        super().__init__()
        self.kind = kind

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the loss of ``pred`` against the first frames of ``target``."""
        diff = pred.float() - target[:, : pred.shape[1]].float()
        return (diff * diff).mean() if self.kind == "mse" else diff.abs().mean()
