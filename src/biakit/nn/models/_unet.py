"""U-Net (Ronneberger 2015) and 3D U-Net (Cicek 2016), one implementation for 2D and 3D."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from biakit.nn.models._config import UNetConfig
from biakit.nn.models._layers import AttentionGate, ConvBlock, Down, Up, conv, init_weights


class UNet(nn.Module):
    """Encoder-decoder network with skip connections, returning per-pixel logits.

    ``depth`` pooling steps, ``base_filters * 2**level`` channels per level, 'same'
    padding (output shape = input shape), a final 1x1 convolution to ``out_channels``
    and no output activation.  Spatial sizes must be multiples of ``config.divisor``.
    N2V2 (Hoeck 2022) is ``skip_top=False, pool="blur"``: no full-resolution skip
    connection and max-blur-pool down-sampling (see :class:`UNetConfig`).  New weights
    follow ``config.init``: Kaiming-normal (:func:`init_weights`) or PyTorch's defaults.

    Parameters
    ----------
    config : UNetConfig or mapping
        The architecture; a mapping is validated into a :class:`UNetConfig`.

    Attributes
    ----------
    config : UNetConfig
        The validated configuration (save it next to the weights).

    Examples
    --------
    >>> import torch
    >>> model = UNet(UNetConfig(ndim=2, in_channels=1, out_channels=3, depth=2, base_filters=4))
    >>> model(torch.zeros(1, 1, 32, 32)).shape
    torch.Size([1, 3, 32, 32])

    """

    def __init__(self, config: UNetConfig | Mapping[str, Any]) -> None:
        super().__init__()
        if isinstance(config, Mapping):
            config = UNetConfig.model_validate(dict(config))
        if not isinstance(config, UNetConfig):
            raise TypeError(
                f"config must be a UNetConfig or a mapping, got {type(config).__name__}"
            )
        self.config = config
        channels = [config.base_filters * 2**level for level in range(config.depth + 1)]
        factors = config.pool_factors
        self.encoders = nn.ModuleList()
        c_prev = config.in_channels
        for c in channels[:-1]:
            self.encoders.append(ConvBlock(config, c_prev, c))
            c_prev = c
        self.downs = nn.ModuleList(Down(config, f) for f in factors)
        self.bottleneck = ConvBlock(config, channels[-2], channels[-1])
        self.ups = nn.ModuleList(
            Up(config, channels[i + 1], channels[i], factors[i]) for i in range(config.depth)
        )
        skipped = [i > 0 or config.skip_top for i in range(config.depth)]
        self.gates = nn.ModuleList(
            AttentionGate(config, channels[i]) if config.attention and skipped[i] else nn.Identity()
            for i in range(config.depth)
        )
        self.decoders = nn.ModuleList(
            ConvBlock(config, (1 + skipped[i]) * channels[i], channels[i])
            for i in range(config.depth)
        )
        self.head = conv(config, channels[0], config.out_channels, kernel=1)
        if config.init == "kaiming":
            init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, in_channels, *spatial)`` to logits ``(B, out_channels, *spatial)``.

        Raises
        ------
        ValueError
            If ``x`` has the wrong number of axes or channels, or a spatial size that is
            not a multiple of ``config.divisor``.

        """
        cfg = self.config
        if not (torch.jit.is_tracing() or torch.compiler.is_compiling()):
            if x.ndim != cfg.ndim + 2 or x.shape[1] != cfg.in_channels:
                raise ValueError(
                    f"input has shape {tuple(x.shape)}; expected (batch, {cfg.in_channels}, "
                    f"{', '.join(cfg.axes)}) for this {cfg.ndim}D U-Net"
                )
            cfg.check_patch(tuple(x.shape[2:]))
        skips: list[torch.Tensor | None] = []
        sizes = []
        for level, (encoder, down) in enumerate(zip(self.encoders, self.downs)):
            x = encoder(x)
            sizes.append(tuple(x.shape[2:]))
            skips.append(x if level > 0 or cfg.skip_top else None)
            x = down(x)
        x = self.bottleneck(x)
        for i in reversed(range(cfg.depth)):
            x = self.ups[i](x, sizes[i])
            skip = skips[i]
            if skip is not None:
                if cfg.attention:
                    skip = self.gates[i](skip, x)
                x = torch.cat([skip, x], dim=1)
            x = self.decoders[i](x)
        return self.head(x)


def unet(ndim: int = 2, in_channels: int = 1, out_channels: int = 2, **kwargs: Any) -> UNet:
    """Build a :class:`UNet` for the common case; extra keywords go to :class:`UNetConfig`.

    Parameters
    ----------
    ndim : {2, 3}
        Number of spatial axes.
    in_channels, out_channels : int
        Input channels and output logits.
    **kwargs
        Any other :class:`UNetConfig` field (``depth``, ``base_filters``, ``norm``, ...).

    Returns
    -------
    model : UNet
        A freshly initialised network.

    Examples
    --------
    >>> model = unet(ndim=3, depth=2, base_filters=4, z_pool=(False, True))
    >>> model.config.divisor
    (2, 4, 4)

    """
    cfg = UNetConfig(ndim=ndim, in_channels=in_channels, out_channels=out_channels, **kwargs)
    return UNet(cfg)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Count the (trainable) parameters of ``model``.

    Examples
    --------
    >>> from torch import nn
    >>> count_parameters(nn.Conv2d(1, 4, 3))
    40

    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
