"""SimVP (Gao et al., CVPR 2022): next-frame prediction without recurrence, 2D and 3D.

Three parts, all convolutional:

* **encoder**, applied to every input frame on its own: ``n_s`` conv / SiLU layers,
  every second one strided (resolution ``/ 2``);
* **translator**, applied once to the features of all ``n_input`` frames stacked
  on the channel axis: inception-like residual blocks (a 1x1 reduction, then
  grouped convolutions of several kernel sizes summed) that learn the motion, and
  a 1x1 projection to the features of ``n_output`` frames;
* **decoder**, applied to every output frame: the encoder mirrored (sub-pixel
  up-sampling), plus the last input frame's full-resolution features (skip),
  and a 1x1 read-out.

SimVP normalises with GroupNorm; here that is optional (``norm="group"``) and off
by default: the network trains on crops and predicts whole frames, and GroupNorm's
statistics over the whole input differ between a crop full of cells and a
mostly empty frame (every layer here is local, so crops and frames agree).

All ``n_output`` frames come out of one forward pass. With ``residual`` the
read-out is added to the last input frame, so the network starts near
persistence (copy-last-frame) and learns the change; its read-out starts at zero,
so the untrained network *is* persistence.

>>> import torch
>>> net = SimVP(SimVPConfig(n_input=3, n_output=2, hid_s=4, hid_t=8, n_s=2, n_t=1, groups=2))
>>> net(torch.zeros(1, 3, 16, 12)).shape
torch.Size([1, 2, 16, 12])
"""

from __future__ import annotations

import torch
from torch import nn

from biakit.nn.models._sr import pixel_shuffle_nd
from biakit.nn.models._video_config import SimVPConfig


def _conv(ndim: int) -> type[nn.Module]:
    return nn.Conv2d if ndim == 2 else nn.Conv3d


class ConvSC(nn.Module):
    """Conv (stride 1 or 2, or x2 sub-pixel up-sampling) + optional GroupNorm + SiLU."""

    def __init__(self, ndim: int, cin: int, cout: int, *, down: bool = False,
                 up: bool = False, norm: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.ndim, self.up = ndim, up
        conv = _conv(ndim)
        width = cout * 2**ndim if up else cout
        self.conv = conv(cin, width, 3, stride=2 if down else 1, padding=1)
        self.norm = nn.GroupNorm(2 if cout % 2 == 0 else 1, cout) if norm else nn.Identity()
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer."""
        y = self.conv(x)
        if self.up:
            y = pixel_shuffle_nd(y, (2,) * self.ndim)
        return self.act(self.norm(y))


class InceptionBlock(nn.Module):
    """Residual block: 1x1 reduction, summed grouped convolutions of several sizes, 1x1 back."""

    def __init__(self, ndim: int, channels: int, kernels: tuple[int, ...], groups: int,
                 norm: bool = False) -> None:  # fmt: skip
        super().__init__()
        conv, mid = _conv(ndim), channels // 2
        self.reduce = conv(channels, mid, 1)
        self.branches = nn.ModuleList(
            conv(mid, mid, k, padding=k // 2, groups=groups) for k in kernels
        )
        self.norm = nn.GroupNorm(groups, mid) if norm else nn.Identity()
        self.act = nn.SiLU()
        self.expand = conv(mid, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        y = self.reduce(x)
        y = sum(branch(y) for branch in self.branches)
        return x + self.expand(self.act(self.norm(y)))


class SimVP(nn.Module):
    """SimVP network: ``(B, n_input * C, *S)`` -> ``(B, n_output * C, *S)``.

    Parameters
    ----------
    config : SimVPConfig
        Architecture; spatial sizes must be multiples of ``config.divisor``.
    """

    def __init__(self, config: SimVPConfig) -> None:
        super().__init__()
        self.config = cfg = config
        nd, hs, gn = cfg.ndim, cfg.hid_s, cfg.norm == "group"
        strided = [i % 2 == 1 for i in range(cfg.n_s)]
        self.encoder = nn.ModuleList(
            ConvSC(nd, cfg.in_channels if i == 0 else hs, hs, down=s, norm=gn)
            for i, s in enumerate(strided)
        )
        conv = _conv(nd)
        self.translator = nn.Sequential(
            conv(cfg.n_input * hs, cfg.hid_t, 1),
            *(InceptionBlock(nd, cfg.hid_t, cfg.kernels, cfg.groups, gn) for _ in range(cfg.n_t)),
            conv(cfg.hid_t, cfg.n_output * hs, 1),
        )
        self.decoder = nn.ModuleList(ConvSC(nd, hs, hs, up=s, norm=gn) for s in reversed(strided))
        self.readout = conv(hs, cfg.out_channels, 1)
        if cfg.residual:  # start exactly at persistence (copy-last-frame)
            nn.init.zeros_(self.readout.weight)
            nn.init.zeros_(self.readout.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict the next ``n_output`` frames of ``x``."""
        cfg = self.config
        b, _, *spatial = x.shape
        c, t, k = cfg.in_channels, cfg.n_input, cfg.n_output
        frames = x.reshape(b * t, c, *spatial)
        h = frames
        for i, layer in enumerate(self.encoder):
            h = layer(h)
            if i == 0:
                skip = h
        small = h.shape[2:]
        z = self.translator(h.reshape(b, t * cfg.hid_s, *small))
        h = z.reshape(b * k, cfg.hid_s, *small)
        last_skip = skip.reshape(b, t, cfg.hid_s, *spatial)[:, -1:]
        last_skip = last_skip.expand(b, k, cfg.hid_s, *spatial).reshape(b * k, cfg.hid_s, *spatial)
        for i, layer in enumerate(self.decoder):
            if i == len(self.decoder) - 1:
                h = h + last_skip
            h = layer(h)
        out = self.readout(h).reshape(b, k, c, *spatial)
        if cfg.residual:
            out = out + x.reshape(b, t, c, *spatial)[:, -1:]
        return out.reshape(b, k * c, *spatial)
