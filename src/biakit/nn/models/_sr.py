"""Super-resolution networks: EDSR-lite (Lim 2017) and RCAN-lite (Zhang 2018), 2D and 3D.

Both map a low-resolution image ``(B, C, *spatial)`` to ``(B, C_out, *spatial * scale)``
with a per-axis ``scale`` (``(2, 2)``, ``(4, 4)``, or ``(4, 1, 1)`` to restore the axial
resolution of an anisotropic stack). Up-sampling is a convolution followed by a
pixel shuffle (sub-pixel convolution, Shi 2016) initialised with ICNR (Aitken 2017),
so the untrained network up-samples like nearest neighbour and no transposed
convolution leaves checkerboards. With ``residual_input`` the network predicts a
correction to the linear interpolation of its input (in = out channels).

The context a tile needs is ``halo`` low-resolution pixels per axis (one per 3x3(x3)
convolution before the shuffle, plus the final convolution's pixel rounded up);
RCAN's channel attention pools over the whole tile, so it is not exactly local.

>>> import torch
>>> net = EDSRLite(EDSRConfig(ndim=2, scale=2, n_features=8, n_blocks=2))
>>> net(torch.zeros(1, 1, 16, 12)).shape
torch.Size([1, 1, 32, 24])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from biakit.nn.models._sr_config import EDSRConfig, RCANConfig, SRConfig


def pixel_shuffle_nd(x: torch.Tensor, factors: tuple[int, ...]) -> torch.Tensor:
    """Rearrange ``(B, C * prod(factors), *S)`` into ``(B, C, *(S * factors))``.

    The channel layout is ``(C, f0, f1, ...)``, the same as
    :func:`torch.nn.functional.pixel_shuffle` in 2D, for any number of axes and
    per-axis factors.

    Examples
    --------
    >>> x = torch.arange(8.0).reshape(1, 4, 1, 2)
    >>> pixel_shuffle_nd(x, (2, 2)).equal(F.pixel_shuffle(x, 2))
    True
    """
    b, cr, *spatial = x.shape
    n = len(factors)
    c = cr // math.prod(factors)
    x = x.reshape(b, c, *factors, *spatial)
    order = [0, 1]
    for axis in range(n):
        order += [2 + n + axis, 2 + axis]
    x = x.permute(*order)
    return x.reshape(b, c, *(s * f for s, f in zip(spatial, factors)))


def icnr_(conv: nn.Module, factors: tuple[int, ...]) -> nn.Module:
    """Initialise a sub-pixel convolution so that its shuffle starts as nearest neighbour.

    The ``prod(factors)`` output channels that land in one high-resolution cell
    share one kernel (Kaiming-initialised) and one bias (zero), in place
    (Aitken 2017, ICNR).
    """
    r = math.prod(factors)
    weight = conv.weight
    base = torch.empty(weight.shape[0] // r, *weight.shape[1:])
    nn.init.kaiming_normal_(base)
    with torch.no_grad():
        weight.copy_(base.repeat_interleave(r, dim=0))
        if conv.bias is not None:
            conv.bias.zero_()
    return conv


def _conv(ndim: int, cin: int, cout: int, kernel: int = 3) -> nn.Module:
    conv = nn.Conv2d if ndim == 2 else nn.Conv3d
    return conv(cin, cout, kernel, padding=kernel // 2)


class _ResBlock(nn.Module):
    def __init__(self, ndim: int, features: int, res_scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(ndim, features, features), nn.ReLU(inplace=True), _conv(ndim, features, features)
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + (out if self.res_scale == 1.0 else self.res_scale * out)


class _ChannelAttention(nn.Module):
    def __init__(self, ndim: int, features: int, reduction: int) -> None:
        super().__init__()
        hidden = max(features // reduction, 1)
        self.fc = nn.Sequential(
            _conv(ndim, features, hidden, 1), nn.ReLU(inplace=True),
            _conv(ndim, hidden, features, 1), nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=tuple(range(2, x.ndim)), keepdim=True)
        return x * self.fc(pooled)


class _RCAB(_ResBlock):
    def __init__(self, ndim: int, features: int, reduction: int) -> None:
        super().__init__(ndim, features, 1.0)
        self.body.append(_ChannelAttention(ndim, features, reduction))


class _Group(nn.Module):
    def __init__(self, cfg: RCANConfig) -> None:
        super().__init__()
        blocks = [_RCAB(cfg.ndim, cfg.n_features, cfg.reduction) for _ in range(cfg.n_blocks)]
        self.body = nn.Sequential(*blocks, _conv(cfg.ndim, cfg.n_features, cfg.n_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _SRNet(nn.Module):
    """Head, body (built by subclasses), global skip, sub-pixel up-sampler, tail."""

    config_class: type[SRConfig] = SRConfig

    def __init__(self, config: SRConfig | Mapping[str, Any]) -> None:
        super().__init__()
        if isinstance(config, Mapping):
            config = self.config_class.model_validate(dict(config))
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"config must be an {self.config_class.__name__}, got {type(config).__name__}"
            )
        self.config = config
        nd, feat, factors = config.ndim, config.n_features, config.factors
        self.head = _conv(nd, config.in_channels, feat)
        self.body = nn.Sequential(*self._blocks(config), _conv(nd, feat, feat))
        self.upsample = _conv(nd, feat, feat * math.prod(factors))
        icnr_(self.upsample, factors)
        self.tail = _conv(nd, feat, config.out_channels)

    def _blocks(self, config: Any) -> list[nn.Module]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, C, *S)`` to ``(B, C_out, *(S * scale))``."""
        cfg = self.config
        features = self.head(x)
        features = features + self.body(features)
        out = self.tail(pixel_shuffle_nd(self.upsample(features), cfg.factors))
        if cfg.residual_input:
            mode = "bilinear" if cfg.ndim == 2 else "trilinear"
            size = tuple(s * f for s, f in zip(x.shape[2:], cfg.factors))
            out = out + F.interpolate(x, size=size, mode=mode, align_corners=False)
        return out


class EDSRLite(_SRNet):
    """EDSR-lite super-resolution network (see :class:`EDSRConfig`)."""

    config_class = EDSRConfig

    def _blocks(self, config: Any) -> list[nn.Module]:
        return [_ResBlock(config.ndim, config.n_features, config.res_scale)
                for _ in range(config.n_blocks)]  # fmt: skip


class RCANLite(_SRNet):
    """RCAN-lite super-resolution network (see :class:`RCANConfig`).

    Examples
    --------
    >>> net = RCANLite(RCANConfig(ndim=3, scale=(2, 1, 1), n_features=8, n_groups=1, n_blocks=1))
    >>> net(torch.zeros(1, 1, 4, 8, 8)).shape
    torch.Size([1, 1, 8, 8, 8])
    """

    config_class = RCANConfig

    def _blocks(self, config: Any) -> list[nn.Module]:
        return [_Group(config) for _ in range(config.n_groups)]
