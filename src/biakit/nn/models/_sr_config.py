"""Validated configs of the super-resolution networks (no PyTorch needed).

See :mod:`biakit.nn.models._sr` for the networks and the geometry they imply.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SRConfig(BaseModel):
    """Options shared by the super-resolution networks.

    Parameters
    ----------
    ndim : {2, 3}
        Spatial axes of the input.
    in_channels, out_channels : int
        Channels of the low-resolution input and of the output.
    scale : int or tuple of int
        Up-sampling factor, one per spatial axis (a single number: every axis).
    n_features : int
        Feature channels of the body.
    n_blocks : int
        Residual blocks (EDSR) or blocks per residual group (RCAN).
    residual_input : bool
        Add the linear interpolation of the input to the output (needs
        ``in_channels == out_channels``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ndim: Literal[2, 3] = 2
    in_channels: int = Field(1, ge=1)
    out_channels: int = Field(1, ge=1)
    scale: int | tuple[int, ...] = 2
    n_features: int = Field(32, ge=1)
    n_blocks: int = Field(8, ge=1)
    residual_input: bool = True

    @field_validator("scale")
    @classmethod
    def _positive(cls, value: int | tuple[int, ...]) -> int | tuple[int, ...]:
        values = (value,) if isinstance(value, int) else value
        if not values or any(int(v) < 1 for v in values):
            raise ValueError(f"scale must be positive integers, got {value!r}")
        return value

    @model_validator(mode="after")
    def _check(self) -> SRConfig:
        if not isinstance(self.scale, int) and len(self.scale) != self.ndim:
            raise ValueError(
                f"scale {self.scale} has {len(self.scale)} factors; expected {self.ndim} "
                "(one per spatial axis) or a single number"
            )
        if self.residual_input and self.in_channels != self.out_channels:
            raise ValueError(
                f"residual_input needs in_channels == out_channels, got {self.in_channels} "
                f"and {self.out_channels}; set residual_input=False"
            )
        return self

    @property
    def factors(self) -> tuple[int, ...]:
        """Up-sampling factor per spatial axis."""
        return (self.scale,) * self.ndim if isinstance(self.scale, int) else tuple(self.scale)

    @property
    def divisor(self) -> tuple[int, ...]:
        """Input sizes need no particular multiple."""
        return (1,) * self.ndim

    @property
    def n_convs(self) -> int:
        """3x3(x3) convolutions at low resolution before the shuffle."""
        return 2 * self.n_blocks + 3

    @property
    def halo(self) -> tuple[int, ...]:
        """Low-resolution context per axis a tile needs (see the module docstring)."""
        return tuple(self.n_convs + math.ceil(1 / f) for f in self.factors)

    @property
    def is_local(self) -> bool:
        """Whether outputs depend only on the receptive field."""
        return True

    def check_patch(self, patch_shape: tuple[int, ...]) -> None:
        """Raise ``ValueError`` unless ``patch_shape`` has ``ndim`` positive sizes."""
        shape = tuple(int(s) for s in patch_shape)
        if len(shape) != self.ndim or min(shape) < 1:
            raise ValueError(
                f"patch shape {shape}: expected {self.ndim} positive sizes for ndim={self.ndim}"
            )


class EDSRConfig(SRConfig):
    """EDSR-lite: residual blocks without batch norm, residual scaling ``res_scale``.

    Examples
    --------
    >>> EDSRConfig(ndim=3, scale=(4, 1, 1), n_blocks=4).halo
    (12, 12, 12)
    """

    architecture: Literal["edsr_lite"] = "edsr_lite"
    res_scale: float = Field(0.1, gt=0, le=1)


class RCANConfig(SRConfig):
    """RCAN-lite: residual groups of residual channel-attention blocks.

    Examples
    --------
    >>> cfg = RCANConfig(n_groups=2, n_blocks=3)
    >>> cfg.n_convs, cfg.is_local
    (17, False)
    """

    architecture: Literal["rcan_lite"] = "rcan_lite"
    n_groups: int = Field(3, ge=1)
    n_blocks: int = Field(4, ge=1)
    reduction: int = Field(8, ge=1)

    @property
    def n_convs(self) -> int:
        """Two per block and one per group, plus head, body tail and up-sampling convs."""
        return self.n_groups * (2 * self.n_blocks + 1) + 3

    @property
    def is_local(self) -> bool:
        """Channel attention averages over the whole tile: tiling is approximate."""
        return False
