"""Building blocks of the U-Net, written once for 2D and 3D (``ndim`` picks the layer type)."""

from __future__ import annotations

import torch
from torch import nn

from biakit.nn.models._config import UNetConfig

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_CONV_T = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
_POOL = {2: nn.MaxPool2d, 3: nn.MaxPool3d}
_F_POOL = {2: nn.functional.max_pool2d, 3: nn.functional.max_pool3d}
_F_CONV = {2: nn.functional.conv2d, 3: nn.functional.conv3d}
_BATCH = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_INSTANCE = {2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}


def conv(cfg: UNetConfig, c_in: int, c_out: int, kernel: int = 3, bias: bool = True) -> nn.Module:
    """Convolution with 'same' padding for odd ``kernel``."""
    return _CONV[cfg.ndim](c_in, c_out, kernel, padding=kernel // 2, bias=bias)


def norm_layer(cfg: UNetConfig, channels: int) -> nn.Module:
    """Build the normalisation chosen by ``cfg.norm`` (identity for ``"none"``)."""
    if cfg.norm == "batch":
        return _BATCH[cfg.ndim](channels)
    if cfg.norm == "instance":
        return _INSTANCE[cfg.ndim](channels, affine=True)
    if cfg.norm == "group":
        return nn.GroupNorm(cfg.groups_for(channels), channels)
    return nn.Identity()


class ConvBlock(nn.Module):
    """Two 3x3(x3) conv -> norm -> ReLU layers, optionally residual (He 2016).

    The residual form is ``relu(norm(conv(relu(norm(conv(x))))) + proj(x))`` with
    ``proj`` a 1x1 convolution when the channel count changes, else identity.
    Dropout (if any) sits between the two convolutions.
    """

    def __init__(self, cfg: UNetConfig, c_in: int, c_out: int) -> None:
        super().__init__()
        bias = cfg.norm == "none"
        self.conv1 = conv(cfg, c_in, c_out, bias=bias)
        self.norm1 = norm_layer(cfg, c_out)
        self.drop = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.conv2 = conv(cfg, c_out, c_out, bias=bias)
        self.norm2 = norm_layer(cfg, c_out)
        self.act = nn.ReLU(inplace=True)
        self.residual = cfg.residual
        self.proj: nn.Module = nn.Identity()
        if cfg.residual and c_in != c_out:
            self.proj = conv(cfg, c_in, c_out, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        y = self.drop(self.act(self.norm1(self.conv1(x))))
        y = self.norm2(self.conv2(y))
        if self.residual:
            y = y + self.proj(x)
        return self.act(y)


class AttentionGate(nn.Module):
    """Additive attention gate (Oktay 2018) on a skip connection.

    ``alpha = sigmoid(psi(relu(W_x x + W_g g)))`` and the gate returns ``x * alpha``.
    The gating signal ``g`` is the up-sampled decoder feature at the skip's resolution
    (the common single-resolution form), so the gate is point-wise and does not
    enlarge the receptive field.
    """

    def __init__(self, cfg: UNetConfig, channels: int) -> None:
        super().__init__()
        inter = max(1, channels // 2)
        self.w_x = nn.Sequential(conv(cfg, channels, inter, 1), norm_layer(cfg, inter))
        self.w_g = nn.Sequential(conv(cfg, channels, inter, 1), norm_layer(cfg, inter))
        self.psi = nn.Sequential(conv(cfg, inter, 1, 1), nn.Sigmoid())
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Weight the skip features ``x`` by attention coefficients computed with ``g``."""
        return x * self.psi(self.act(self.w_x(x) + self.w_g(g)))


class BlurPool(nn.Module):
    """N2V2's max-blur-pool (Zhang 2019, Hoeck 2022) by ``factors`` (each 1 or 2).

    Along every axis with factor 2: a max-pool with window 2 and stride 1, then a fixed
    binomial blur ``[1, 2, 1] / 4`` applied depthwise (each channel alone), then
    subsampling by 2.  Axes with factor 1 are left alone.  Coarse pixel ``j`` reads
    fine pixels ``2 j - 1 .. 2 j + 2``: centred like the plain max-pool window
    ``2 j .. 2 j + 1``.  At the borders the max-pool window is cut to the pixels that
    exist (as if padded with ``-inf``), so no extra padding enters the blur.

    The kernel is a non-persistent buffer: it follows ``.to()`` / ``.double()``, is not
    trained (not a parameter) and is not in the ``state_dict``.

    Examples
    --------
    >>> pool = BlurPool(2, (2, 2))
    >>> pool(torch.ones(1, 3, 8, 8)).shape
    torch.Size([1, 3, 4, 4])
    >>> pool.kernel.flatten().tolist()
    [0.0625, 0.125, 0.0625, 0.125, 0.25, 0.125, 0.0625, 0.125, 0.0625]

    """

    def __init__(self, ndim: int, factors: tuple[int, ...]) -> None:
        super().__init__()
        if len(factors) != ndim or any(f not in (1, 2) for f in factors):
            raise ValueError(
                f"BlurPool needs one factor of 1 or 2 per spatial axis ({ndim}), got {factors}"
            )
        self.factors = tuple(int(f) for f in factors)
        self.padding = tuple(f - 1 for f in self.factors)
        self.max_pool = _F_POOL[ndim]
        self.conv = _F_CONV[ndim]
        kernel = torch.ones(())
        for f in self.factors:
            taps = torch.tensor([0.25, 0.5, 0.25]) if f == 2 else torch.ones(1)
            kernel = kernel[..., None] * taps
        self.register_buffer("kernel", kernel[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Down-sample ``x``: stride-1 max-pool, depthwise blur, subsampling."""
        # Padding f - 1 on both sides keeps one extra pixel on the left, m[-1] = x[0],
        # so that the valid 3-tap blur at 2 j reads m[2 j - 1 .. 2 j + 1].
        x = self.max_pool(x, kernel_size=self.factors, stride=1, padding=self.padding)
        weight = self.kernel.to(x.dtype).expand(x.shape[1], *self.kernel.shape[1:])
        return self.conv(x, weight, stride=self.factors, groups=x.shape[1])


class Down(nn.Module):
    """Down-sampling by ``factors`` (e.g. (1, 2, 2) keeps Z).

    ``cfg.pool == "max"``: max-pooling with kernel = stride = ``factors``;
    ``"blur"``: :class:`BlurPool`.  Neither has parameters.
    """

    def __init__(self, cfg: UNetConfig, factors: tuple[int, ...]) -> None:
        super().__init__()
        self.pool: nn.Module
        if cfg.pool == "blur":
            self.pool = BlurPool(cfg.ndim, factors)
        else:
            self.pool = _POOL[cfg.ndim](kernel_size=factors, stride=factors)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Down-sample ``x``."""
        return self.pool(x)


class Up(nn.Module):
    """Up-sampling by ``factors`` that also maps ``c_in`` to ``c_out`` channels.

    Either a transposed convolution (kernel = stride = ``factors``) or bi/tri-linear
    interpolation (``align_corners=False``) followed by a 1x1 convolution.
    """

    def __init__(self, cfg: UNetConfig, c_in: int, c_out: int, factors: tuple[int, ...]) -> None:
        super().__init__()
        self.interpolate = cfg.upsampling == "interpolation"
        self.mode = "bilinear" if cfg.ndim == 2 else "trilinear"
        if self.interpolate:
            self.conv = conv(cfg, c_in, c_out, kernel=1)
        else:
            self.conv = _CONV_T[cfg.ndim](c_in, c_out, kernel_size=factors, stride=factors)

    def forward(self, x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
        """Up-sample ``x`` to spatial ``size``."""
        if self.interpolate:
            x = nn.functional.interpolate(x, size=size, mode=self.mode, align_corners=False)
        return self.conv(x)


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal (fan-in, ReLU) convolution weights, zero biases, unit norm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm)) or (
            isinstance(m, (nn.InstanceNorm2d, nn.InstanceNorm3d)) and m.affine
        ):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
