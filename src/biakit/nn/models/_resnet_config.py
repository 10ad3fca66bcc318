"""Validated config of the small ResNet-style classifier (no PyTorch needed).

See :mod:`biakit.nn.models._resnet` for the network.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ResNetConfig(BaseModel):
    """A small ResNet (He 2016) for image classification, 2D or 3D.

    A 3x3(x3) stem convolution, then ``len(stages)`` stages of basic residual
    blocks (two 3x3 convolutions with batch norm and a skip); every stage after
    the first halves the spatial size (stride 2) and doubles the filters.
    Global average pooling and a linear layer give ``out_channels`` logits, so
    any input size that survives the down-sampling works.

    Parameters
    ----------
    ndim : {2, 3}
        Spatial axes of the input.
    in_channels : int
        Channels of the input (grey: 1, RGB: 3, ...).
    out_channels : int
        Number of classes (logits out).
    base_filters : int
        Filters of the stem and the first stage.
    stem_stride : {1, 2}
        Stride of the stem convolution: 2 halves the resolution at once (about
        3-4x less compute; crops of 32-64 pixels keep enough detail), 1 keeps
        full resolution for small inputs or fine texture.
    stages : tuple of int
        Residual blocks per stage.
    dropout : float
        Dropout probability before the linear layer.
    norm : {"batch", "group"}
        Batch norm (running statistics in eval mode) or group norm (8 groups or
        fewer; the same function in training and prediction, whatever the batch).

    Examples
    --------
    >>> cfg = ResNetConfig(ndim=3, out_channels=4, stages=(1, 1, 1))
    >>> cfg.divisor, cfg.widths
    ((8, 8, 8), (16, 32, 64))
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    architecture: Literal["resnet_small"] = "resnet_small"
    ndim: Literal[2, 3] = 2
    in_channels: int = Field(1, ge=1)
    out_channels: int = Field(2, ge=2)
    base_filters: int = Field(16, ge=1)
    stem_stride: Literal[1, 2] = 2
    stages: tuple[int, ...] = (1, 1, 1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    norm: Literal["batch", "group"] = "batch"

    @model_validator(mode="after")
    def _check(self) -> ResNetConfig:
        if not self.stages or min(self.stages) < 1 or len(self.stages) > 6:
            raise ValueError(f"stages must hold 1 to 6 positive block counts, got {self.stages}")
        return self

    @property
    def widths(self) -> tuple[int, ...]:
        """Filters of each stage."""
        return tuple(self.base_filters * 2**i for i in range(len(self.stages)))

    @property
    def divisor(self) -> tuple[int, ...]:
        """Total down-sampling per axis (the input should be at least this large)."""
        return (self.stem_stride * 2 ** (len(self.stages) - 1),) * self.ndim

    def check_patch(self, patch_shape: tuple[int, ...]) -> None:
        """Raise ``ValueError`` unless ``patch_shape`` has ``ndim`` sizes >= ``divisor``."""
        shape = tuple(int(s) for s in patch_shape)
        if len(shape) != self.ndim:
            raise ValueError(
                f"input shape {shape}: expected {self.ndim} sizes for ndim={self.ndim}"
            )
        small = [s for s, d in zip(shape, self.divisor) if s < d]
        if small:
            raise ValueError(
                f"input shape {shape} is smaller than the network's down-sampling "
                f"{self.divisor}; use a larger input_shape or fewer stages"
            )
