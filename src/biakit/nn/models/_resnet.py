"""A small ResNet-style classifier for 2D and 3D images (global average pooling).

Basic residual blocks (He et al. 2016, "Deep residual learning for image
recognition"): ``relu(bn(conv(relu(bn(conv(x))))) + skip(x))`` with a 1x1(x1)
strided projection on the skip when the shape changes. The logits do not
depend on the input size (global average pooling), so grey or multi-channel
images of any size above :attr:`ResNetConfig.divisor` are accepted.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from biakit.nn.models._resnet_config import ResNetConfig


def _layers(ndim: int, norm: str = "batch") -> tuple[type, Any]:
    conv = nn.Conv2d if ndim == 2 else nn.Conv3d
    if norm == "group":
        return conv, lambda c: nn.GroupNorm(math.gcd(8, c), c)
    return conv, nn.BatchNorm2d if ndim == 2 else nn.BatchNorm3d


class BasicBlock(nn.Module):
    """Two 3x3(x3) convolutions with batch norm and a residual connection."""

    def __init__(self, ndim: int, cin: int, cout: int, stride: int, norm: str = "batch") -> None:
        super().__init__()
        conv, norm = _layers(ndim, norm)
        self.conv1 = conv(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = norm(cout)
        self.conv2 = conv(cout, cout, 3, padding=1, bias=False)
        self.bn2 = norm(cout)
        self.act = nn.ReLU(inplace=True)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(conv(cin, cout, 1, stride=stride, bias=False), norm(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``relu(residual(x) + skip(x))``."""
        out = self.act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act(out + self.skip(x))


class ResNetSmall(nn.Module):
    """Small ResNet: stem, residual stages, global average pooling, linear head.

    Input ``(B, in_channels, *spatial)``, output logits ``(B, out_channels)``.

    Examples
    --------
    >>> net = ResNetSmall(ResNetConfig(out_channels=3, base_filters=4, stages=(1, 1)))
    >>> net(torch.zeros(2, 1, 16, 16)).shape
    torch.Size([2, 3])
    """

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = config
        conv, norm = _layers(config.ndim, config.norm)
        widths = config.widths
        self.stem = nn.Sequential(
            conv(
                config.in_channels, widths[0], 3, stride=config.stem_stride, padding=1, bias=False
            ),
            norm(widths[0]),
            nn.ReLU(inplace=True),
        )
        blocks: list[nn.Module] = []
        cin = widths[0]
        for i, (n, cout) in enumerate(zip(config.stages, widths)):
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(BasicBlock(config.ndim, cin, cout, stride, config.norm))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(cin, config.out_channels)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled features ``(B, widths[-1])``."""
        out = self.blocks(self.stem(x))
        return out.flatten(2).mean(dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the class logits ``(B, out_channels)``."""
        if x.dim() != self.config.ndim + 2 or x.shape[1] != self.config.in_channels:
            raise ValueError(
                f"input shape {tuple(x.shape)}: expected (B, {self.config.in_channels}, "
                f"{'Z, ' if self.config.ndim == 3 else ''}Y, X)"
            )
        return self.head(self.dropout(self.features(x)))
