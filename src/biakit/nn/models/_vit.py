"""A tiny vision transformer classifier for 2D and 3D images.

Patch embedding (a convolution with kernel = stride = ``patch_size``), fixed
sine-cosine position codes per axis (as in MAE, He 2022, and "Better plain ViT
baselines", Beyer 2022), pre-norm transformer blocks (Vaswani 2017;
Dosovitskiy 2021: ``x + attn(ln(x))``, ``x + mlp(ln(x))``), then mean pooling of
the tokens or a class token, layer norm and a linear head. No learned position
table, so inputs of any size that is a multiple of ``patch_size`` are accepted.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from biakit.nn.models._vit_config import ViTConfig


def sincos_position_codes(grid: tuple[int, ...], dim: int) -> torch.Tensor:
    """Return fixed position codes ``(prod(grid), dim)`` of a patch grid (row-major tokens).

    Each axis gets ``2 n`` features: ``sin(p * w_k)`` then ``cos(p * w_k)``
    with ``w_k = 10000 ** (-k / n)``, ``k = 0..n-1``, ``n = dim // (2 * len(grid))``;
    the ``dim - 2 n len(grid)`` features left over are zero.

    Examples
    --------
    >>> sincos_position_codes((2, 3), 8).shape
    torch.Size([6, 8])
    """
    nd = len(grid)
    n = dim // (2 * nd)
    if n < 1:
        raise ValueError(f"dim={dim} must be at least {2 * nd} for a {nd}D grid")
    omega = 1.0 / 10000.0 ** (torch.arange(n, dtype=torch.float32) / n)
    coords = torch.meshgrid(*[torch.arange(g, dtype=torch.float32) for g in grid], indexing="ij")
    parts = []
    for c in coords:
        angle = c.reshape(-1, 1) * omega.reshape(1, -1)
        parts += [torch.sin(angle), torch.cos(angle)]
    parts.append(torch.zeros(len(parts[0]), dim - 2 * n * nd))
    return torch.cat(parts, dim=1)


class Attention(nn.Module):
    """Multi-head self-attention (scaled dot product) on tokens ``(B, N, D)``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the attended tokens, same shape as ``x``."""
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        hidden = max(1, round(dim * mlp_ratio))
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the updated tokens ``(B, N, D)``."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTTiny(nn.Module):
    """Tiny vision transformer: patch embedding, transformer blocks, pooling, linear head.

    Input ``(B, in_channels, *spatial)`` with every spatial size a multiple of
    ``patch_size``; output logits ``(B, out_channels)``.

    Examples
    --------
    >>> net = ViTTiny(ViTConfig(out_channels=3, embed_dim=16, depth=1, heads=2))
    >>> net(torch.zeros(2, 1, 16, 16)).shape
    torch.Size([2, 3])
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        conv = nn.Conv2d if config.ndim == 2 else nn.Conv3d
        dim = config.embed_dim
        self.embed = conv(config.in_channels, dim, config.patch_size, stride=config.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if config.pool == "cls" else None
        self.blocks = nn.Sequential(
            *[
                Block(dim, config.heads, config.mlp_ratio, config.dropout)
                for _ in range(config.depth)
            ]
        )
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(dim, config.out_channels)
        self._codes: dict[tuple[int, ...], torch.Tensor] = {}
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        fan_in = self.embed.weight[0].numel()  # patch embedding as a linear layer
        nn.init.trunc_normal_(self.embed.weight, std=math.sqrt(1.0 / fan_in))
        nn.init.zeros_(self.embed.bias)
        nn.init.zeros_(self.head.weight)
        if self.cls_token is not None:
            nn.init.trunc_normal_(self.cls_token, std=0.02)

    def _position_codes(self, grid: tuple[int, ...], x: torch.Tensor) -> torch.Tensor:
        if grid not in self._codes:
            self._codes[grid] = sincos_position_codes(grid, self.config.embed_dim)
        return self._codes[grid].to(device=x.device, dtype=x.dtype)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens after the transformer blocks ``(B, N, embed_dim)`` (class token first)."""
        cfg = self.config
        if x.dim() != cfg.ndim + 2 or x.shape[1] != cfg.in_channels:
            raise ValueError(
                f"input shape {tuple(x.shape)}: expected (B, {cfg.in_channels}, "
                f"{'Z, ' if cfg.ndim == 3 else ''}Y, X)"
            )
        if any(s % cfg.patch_size for s in x.shape[2:]):
            raise ValueError(
                f"input shape {tuple(x.shape)}: spatial sizes must be multiples of "
                f"patch_size={cfg.patch_size}"
            )
        t = self.embed(x)
        grid = tuple(t.shape[2:])
        t = t.flatten(2).transpose(1, 2) + self._position_codes(grid, t)
        if self.cls_token is not None:
            t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1).to(t.dtype), t], dim=1)
        return self.blocks(t)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled, normalised features ``(B, embed_dim)``."""
        t = self.tokens(x)
        return self.norm(t[:, 0] if self.cls_token is not None else t.mean(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the class logits ``(B, out_channels)``."""
        return self.head(self.dropout(self.features(x)))
