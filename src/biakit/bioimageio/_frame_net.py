"""The network of a frame-prediction package: a time axis in and out, roll-out, blend.

biakit's video networks (SimVP, ConvLSTM) take the frames stacked on the channel
axis, ``(B, n_input * C, *S)``. A bioimage.io package declares a time axis
instead: :class:`FrameForecaster` wraps such a network as ``(B, T, C, *S) ->
(B, horizon, C, *S)``, rolls it out autoregressively beyond ``n_output`` frames
and shrinks horizon ``h`` toward persistence (``last + a_h * (pred_h - last)``)
as :meth:`biakit.workflows.FramePredictor.forecast` does; with ``tta`` every
network pass is the mean over flips and quarter turns of its input frames (the
workflow's ``config.tta``: 8 passes, the dihedral group in 2D, the flips of Z, Y,
X in 3D).

This module imports only PyTorch: its source is copied verbatim into the
package's architecture file (no ``from __future__`` import, so it can follow
other code there).
"""

import torch
from torch import nn


class FrameForecaster(nn.Module):
    """``(B, T, C, *S)`` frames -> the next ``horizon`` frames ``(B, horizon, C, *S)``.

    Parameters
    ----------
    net : torch.nn.Module
        Video network ``(B, n_input * C, *S) -> (B, n_output * C, *S)``.
    n_input, n_output : int
        Frames the network sees / predicts at once; the last ``n_input`` frames
        of the input are used.
    horizon : int
        Frames returned (rolled out in steps of ``n_output``).
    blend : sequence of float
        Per-horizon weight toward the network (``a_h``; the last one repeats);
        empty: no blend.
    tta : bool
        Average every pass over the 8 flips / quarter turns of its input.
    ndim : int
        Spatial axes of a frame (for ``tta``).
    hold : sequence of bool
        Per horizon (the last one repeats): hold the network's last direct frame
        (frame ``n_output``) instead of rolling out; empty: roll out everywhere.
    anchor_sigma : float
        The blend's anchor is the last frame smoothed by a Gaussian of this many
        pixels (spatial axes, edges repeated, truncated at 4 sigma; 0: the frame).

    Examples
    --------
    >>> net = nn.Conv2d(2, 1, 1)  # 2 frames of 1 channel in, 1 frame out
    >>> FrameForecaster(net, 2, 1, horizon=3)(torch.zeros(1, 4, 1, 8, 8)).shape
    torch.Size([1, 3, 1, 8, 8])
    """

    def __init__(self, net: nn.Module, n_input: int, n_output: int, horizon: int,
                 blend: tuple = (), tta: bool = False, ndim: int = 2,
                 hold: tuple = (), anchor_sigma: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        self.net, self.tta = net, bool(tta)
        self.transforms = _transforms(int(ndim)) if self.tta else [((), 0)]
        self.n_input, self.n_output, self.horizon = int(n_input), int(n_output), int(horizon)
        weights = [float(blend[min(k, len(blend) - 1)]) for k in range(self.horizon)] if len(
            blend) else []  # fmt: skip
        self.blended = bool(weights)
        self.anchor_sigma = float(anchor_sigma)
        self.sources = [min(k, self.n_output - 1) if hold and hold[min(k, len(hold) - 1)] else k
                        for k in range(self.horizon)]  # fmt: skip
        self.register_buffer("weights", torch.tensor(weights or [1.0]), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict the ``horizon`` frames after ``x`` ``(B, T, C, *S)``."""
        b, c, spatial = x.shape[0], x.shape[2], x.shape[3:]
        seq, out = x[:, -self.n_input :], []
        for _ in range(-(-(max(self.sources) + 1) // self.n_output)):
            flat = seq[:, -self.n_input :].reshape(b, self.n_input * c, *spatial)
            pred = self._pass(flat).reshape(b, self.n_output, c, *spatial)
            out.append(pred)
            seq = torch.cat([seq, pred], dim=1)
        frames = torch.cat(out, dim=1)[:, self.sources]
        if self.blended:
            last = _gaussian(x[:, -1:], self.anchor_sigma) if self.anchor_sigma > 0 else x[:, -1:]
            shape = (1, self.horizon) + (1,) * (x.dim() - 2)
            frames = last + self.weights.to(x.dtype).reshape(shape) * (frames - last)
        return frames

    def _pass(self, x: torch.Tensor) -> torch.Tensor:
        """One network pass, averaged over the transforms of ``x`` (one without ``tta``)."""
        total = None
        for flips, turns in self.transforms:
            y = x.flip(flips) if flips else x
            y = torch.rot90(y, turns, dims=(-2, -1)) if turns else y
            out = self.net(y)
            out = torch.rot90(out, -turns, dims=(-2, -1)) if turns else out
            out = out.flip(flips) if flips else out
            total = out if total is None else total + out
        return total if len(self.transforms) == 1 else total / len(self.transforms)


def _transforms(ndim: int) -> list:
    """(flipped axes, quarter turns in YX): 8 in 2D (dihedral group), the 8 flips in 3D."""
    if ndim == 2:
        return [(f, k) for f in ((), (-1,)) for k in range(4)]
    axes = (-3, -2, -1)
    return [(tuple(a for j, a in enumerate(axes) if (i >> j) & 1), 0) for i in range(8)]


def _gaussian(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian of ``sigma`` pixels over the spatial axes of ``(B, 1, C, *S)`` (edges repeated)."""
    b, _, c, *spatial = x.shape
    radius = int(4.0 * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(x.dtype)
    y = x.reshape(b * c, 1, *spatial)
    conv = torch.nn.functional.conv2d if len(spatial) == 2 else torch.nn.functional.conv3d
    for axis in range(len(spatial)):
        shape = [1, 1] + [1] * len(spatial)
        shape[2 + axis] = 2 * radius + 1
        pad = [0, 0] * len(spatial)
        pad[2 * (len(spatial) - 1 - axis)] = pad[2 * (len(spatial) - 1 - axis) + 1] = radius
        y = conv(torch.nn.functional.pad(y, pad, mode="replicate"), kernel.reshape(shape))
    return y.reshape(b, 1, c, *spatial)
