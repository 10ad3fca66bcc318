"""Validated config of the tiny vision transformer classifier (no PyTorch needed).

See :mod:`biakit.nn.models._vit` for the network.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ViTConfig(BaseModel):
    """A tiny vision transformer (Dosovitskiy 2021) for image classification, 2D or 3D.

    The image is cut into non-overlapping ``patch_size`` patches (a strided
    convolution embeds each into ``embed_dim`` features), fixed sine-cosine
    position codes are added (Beyer 2022, "Better plain ViT baselines"), then
    ``depth`` pre-norm transformer blocks (multi-head self-attention and a GELU
    MLP) and a linear head on the mean of the tokens (``pool="mean"``) or on a
    learned class token (``pool="cls"``). The position codes are computed for
    the input's patch grid, so any input size divisible by ``patch_size`` works.

    Parameters
    ----------
    ndim : {2, 3}
        Spatial axes of the input.
    in_channels : int
        Channels of the input (grey: 1, RGB: 3, ...).
    out_channels : int
        Number of classes (logits out).
    patch_size : int
        Side of a (square / cubic) patch in pixels; every input size must be a multiple.
    embed_dim : int
        Features per token; a multiple of ``heads``.
    depth : int
        Transformer blocks.
    heads : int
        Attention heads per block.
    mlp_ratio : float
        Hidden width of the MLP relative to ``embed_dim``.
    pool : {"mean", "cls"}
        Mean of the patch tokens, or a learned class token.
    dropout : float
        Dropout in the MLPs and before the linear head.

    Examples
    --------
    >>> cfg = ViTConfig(out_channels=3, patch_size=4)
    >>> cfg.divisor, cfg.n_tokens((32, 32))
    ((4, 4), 64)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    architecture: Literal["vit_tiny"] = "vit_tiny"
    ndim: Literal[2, 3] = 2
    in_channels: int = Field(1, ge=1)
    out_channels: int = Field(2, ge=2)
    patch_size: int = Field(4, ge=1, le=64)
    embed_dim: int = Field(64, ge=4)
    depth: int = Field(4, ge=1, le=24)
    heads: int = Field(4, ge=1)
    mlp_ratio: float = Field(2.0, gt=0.0)
    pool: Literal["mean", "cls"] = "mean"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _check(self) -> ViTConfig:
        if self.embed_dim % self.heads:
            raise ValueError(
                f"embed_dim={self.embed_dim} is not a multiple of heads={self.heads}; "
                "choose embed_dim = k * heads"
            )
        if self.embed_dim < 2 * self.ndim:
            raise ValueError(
                f"embed_dim={self.embed_dim} must be at least {2 * self.ndim} for the "
                f"{self.ndim}D sine-cosine position codes"
            )
        return self

    @property
    def divisor(self) -> tuple[int, ...]:
        """Every input size must be a multiple of this (the patch size) per axis."""
        return (self.patch_size,) * self.ndim

    def n_tokens(self, shape: tuple[int, ...]) -> int:
        """Return the number of patch tokens of an input of spatial ``shape``."""
        n = 1
        for s in shape:
            n *= int(s) // self.patch_size
        return n

    def check_patch(self, patch_shape: tuple[int, ...]) -> None:
        """Raise ``ValueError`` unless ``patch_shape`` has ``ndim`` multiples of ``patch_size``."""
        shape = tuple(int(s) for s in patch_shape)
        if len(shape) != self.ndim:
            raise ValueError(
                f"input shape {shape}: expected {self.ndim} sizes for ndim={self.ndim}"
            )
        bad = [s for s in shape if s < self.patch_size or s % self.patch_size]
        if bad:
            raise ValueError(
                f"input shape {shape} is not a multiple of model.patch_size={self.patch_size}; "
                "choose an input_shape divisible by it or another patch_size"
            )
