"""Validated configuration of a 2D / 3D U-Net and its tiling geometry (divisor, halo).

The receptive field is derived analytically from the architecture, axis by axis.
An output pixel ``p`` depends on input pixels ``p + lo .. p + hi`` (``lo <= 0 <= hi``,
taken over every alignment of ``p`` on the pooling grid).  Walking through the network
with ``s`` the size of one feature pixel in input pixels (``s = 1`` at full resolution):

* a 3x3(x3) convolution widens the interval by ``s`` on each side (a double conv
  block by ``2 s``; the 1x1 residual projection and 1x1 convs add nothing);
* a max-pool with kernel = stride = ``f`` adds ``(f - 1) s`` on the right, then ``s *= f``;
* a blur-pool (``pool="blur"``, N2V2) along an axis with ``f = 2``: the stride-1 max-pool
  (window 2) adds ``s`` on the right, the binomial blur ``[1, 2, 1] / 4`` at the same
  scale adds ``s`` on both sides, then subsampling by 2 makes ``s *= 2``; in all
  ``(-s, +2 s)``, one ``s`` more on each side than a plain max-pool (coarse pixel ``j``
  reads fine pixels ``2 j - 1 .. 2 j + 2``, centred like the max-pool window
  ``2 j .. 2 j + 1``).  Along an axis with ``f = 1`` (anisotropic Z) it adds nothing;
* a transposed conv with kernel = stride = ``f`` adds ``(f - 1) s_fine`` on the left;
* a linear interpolation by 2 (``align_corners=False``) mixes the two nearest coarse
  pixels and adds ``2 s_fine`` on the left and ``s_fine`` on the right;
* concatenating a skip connection takes the union of both intervals; attention gates
  are point-wise in the skip and the up-sampled gating signal, so they add nothing.
  Without the top skip (``skip_top=False``, N2V2) the finest decoder block sees the
  up-sampled path alone: no union at that level (the skip's interval is always inside
  the deep path's, so the halo is the same, but the derivation does not rely on it).

``halo = max(-lo, hi)`` per axis.  Tiles whose origins are multiples of ``divisor``
(so that pooling windows line up) and that carry ``halo`` pixels of context give
exactly the whole-image result in their centre when normalisation is local
(``norm="batch"`` in eval mode, or ``"none"``); ``"instance"`` and ``"group"`` norms
use statistics of the whole tile, so tiling is only approximately seamless there
(see :attr:`UNetConfig.is_local`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_AXES = {2: "YX", 3: "ZYX"}


class UNetConfig(BaseModel):
    """Architecture of a U-Net (Ronneberger 2015) or 3D U-Net (Cicek 2016).

    Parameters
    ----------
    ndim : {2, 3}
        Number of spatial axes: ``(Y, X)`` or ``(Z, Y, X)``.
    in_channels, out_channels : int
        Input channels and output channels (logits, no activation).
    depth : int
        Number of pooling steps (the network has ``depth + 1`` resolution levels).
    base_filters : int
        Feature channels at full resolution; doubled at each level.
    norm : {"batch", "group", "instance", "none"}
        Normalisation after every 3x3(x3) convolution.
    norm_groups : int or None
        Groups for ``norm="group"``; must divide ``base_filters``.  ``None``: the
        largest divisor of the channel count that is at most 8.
    dropout : float
        Dropout probability between the two convolutions of every block, in [0, 1).
    residual : bool
        Residual blocks (He 2016) with a 1x1 projection where the channel count changes.
    attention : bool
        Attention gates (Oktay 2018) on the skip connections.
    z_pool : tuple of bool or None
        3D only, one entry per pooling step: ``False`` pools with kernel (1, 2, 2),
        keeping the Z resolution (anisotropic stacks).  ``None``: pool Z everywhere.
    upsampling : {"transposed", "interpolation"}
        Transposed convolution, or bi/tri-linear interpolation followed by a 1x1 conv.
    skip_top : bool
        Keep the skip connection of the top (full-resolution) level.  ``False`` removes
        it, as N2V2 does (Hoeck 2022): the finest decoder block sees only up-sampled
        features, which suppresses the checkerboard artefacts of blind-spot training.
    pool : {"max", "blur"}
        Down-sampling.  ``"max"``: max-pooling with kernel = stride = pooling factor.
        ``"blur"``: N2V2's max-blur-pool (Zhang 2019, Hoeck 2022): max-pool with window 2
        and stride 1, a fixed (not trained) binomial blur ``[1, 2, 1] / 4`` per pooled
        axis, then subsampling by 2; an axis that is not pooled (``z_pool`` False) is
        neither max-pooled nor blurred.  Same parameters as ``"max"``, larger halo.
    init : {"kaiming", "torch"}
        Initial weights of a new network.  ``"kaiming"``: Kaiming-normal convolution
        weights (fan-in, ReLU gain, He 2015), zero biases; ``"torch"``: PyTorch's own
        layer defaults (Kaiming-uniform with ``a = sqrt(5)``: weights about 2.4x smaller,
        small uniform biases).  Loaded weights replace either, so the choice only matters
        for training from scratch: the denoising task defaults to ``"torch"`` (N2V and
        CARE learn faster from the small output layer), the others to ``"kaiming"``
        (segmentation learns faster from it).

    Notes
    -----
    The defaults (``skip_top=True``, ``pool="max"``) build exactly the network of the
    first release, with the same weights, so the registered architecture ``"unet"``
    stays at version 1: model folders written before these options existed load
    unchanged (their configs lack the fields and get the defaults; ``init`` changes only
    the starting weights of training, never the function of saved weights).

    Examples
    --------
    >>> cfg = UNetConfig(ndim=3, depth=3, z_pool=(False, True, True))
    >>> cfg.divisor
    (4, 8, 8)
    >>> cfg.check_patch((16, 64, 64))
    >>> cfg.halo
    (27, 51, 51)
    >>> UNetConfig(depth=2, skip_top=False, pool="blur").halo  # N2V2
    (26, 26)

    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    ndim: Literal[2, 3] = 2
    in_channels: int = Field(1, ge=1)
    out_channels: int = Field(2, ge=1)
    depth: int = Field(4, ge=1)
    base_filters: int = Field(32, ge=1)
    norm: Literal["batch", "group", "instance", "none"] = "batch"
    norm_groups: int | None = Field(None, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    residual: bool = False
    attention: bool = False
    z_pool: tuple[bool, ...] | None = None
    upsampling: Literal["transposed", "interpolation"] = "transposed"
    skip_top: bool = True
    pool: Literal["max", "blur"] = "max"
    init: Literal["kaiming", "torch"] = "kaiming"

    @model_validator(mode="after")
    def _cross_checks(self) -> UNetConfig:
        if self.z_pool is not None:
            if self.ndim != 3:
                raise ValueError(
                    f"z_pool is only valid for ndim=3, got ndim={self.ndim}; "
                    "remove z_pool for 2D networks"
                )
            if len(self.z_pool) != self.depth:
                raise ValueError(
                    f"z_pool needs one entry per pooling step: got {len(self.z_pool)} "
                    f"entries for depth={self.depth}"
                )
        if self.norm == "group" and self.norm_groups is not None:
            if self.base_filters % self.norm_groups:
                raise ValueError(
                    f"norm_groups={self.norm_groups} does not divide base_filters="
                    f"{self.base_filters}; use a divisor of base_filters or norm_groups=None"
                )
        return self

    @property
    def axes(self) -> str:
        """Names of the spatial axes, ``"YX"`` or ``"ZYX"``."""
        return _AXES[self.ndim]

    @property
    def pool_factors(self) -> tuple[tuple[int, ...], ...]:
        """Pooling factor per axis, one tuple per pooling step (finest first)."""
        z_pool = self.z_pool if self.z_pool is not None else (True,) * self.depth
        if self.ndim == 2:
            return ((2, 2),) * self.depth
        return tuple((2 if z else 1, 2, 2) for z in z_pool)

    @property
    def divisor(self) -> tuple[int, ...]:
        """Per spatial axis, the number patch and tile sizes must be a multiple of."""
        out = [1] * self.ndim
        for factors in self.pool_factors:
            out = [o * f for o, f in zip(out, factors)]
        return tuple(out)

    @property
    def receptive_field(self) -> tuple[tuple[int, int], ...]:
        """Per axis, the offsets ``(lo, hi)`` of input pixels an output pixel depends on."""
        return tuple(
            _receptive_field_1d(
                [f[axis] for f in self.pool_factors], self.upsampling, self.pool, self.skip_top
            )
            for axis in range(self.ndim)
        )

    @property
    def halo(self) -> tuple[int, ...]:
        """Context (pixels per axis) a tile needs for seamless tiled inference."""
        return tuple(max(-lo, hi) for lo, hi in self.receptive_field)

    @property
    def is_local(self) -> bool:
        """Whether outputs depend only on the receptive field (no per-image norm statistics)."""
        return self.norm in ("batch", "none")

    def groups_for(self, channels: int) -> int:
        """Return the number of group-norm groups for a layer with ``channels`` channels."""
        limit = self.norm_groups if self.norm_groups is not None else 8
        return max(g for g in range(1, min(limit, channels) + 1) if channels % g == 0)

    def check_patch(self, patch_shape: tuple[int, ...]) -> None:
        """Raise ``ValueError`` unless every spatial size is a positive multiple of ``divisor``.

        Parameters
        ----------
        patch_shape : tuple of int
            Spatial shape ``(Y, X)`` or ``(Z, Y, X)`` (no channel axis).

        Raises
        ------
        ValueError
            Naming the axis, the size, the required multiple and the nearest valid sizes.

        Examples
        --------
        >>> try:
        ...     UNetConfig(depth=4).check_patch((96, 100))
        ... except ValueError as err:
        ...     print(err)
        patch size 100 along X is not a multiple of 16 (2**4 pooling steps); use 96 or 112

        """
        shape = tuple(int(s) for s in patch_shape)
        if len(shape) != self.ndim:
            raise ValueError(
                f"patch shape {shape} has {len(shape)} axes; expected {self.ndim} spatial "
                f"axes ({self.axes}) for ndim={self.ndim}"
            )
        for name, size, div in zip(self.axes, shape, self.divisor):
            if size >= div and size % div == 0:
                continue
            below, above = (size // div) * div, (size // div + 1) * div
            use = f"{below} or {above}" if below > 0 else f"{above}"
            steps = div.bit_length() - 1
            raise ValueError(
                f"patch size {size} along {name} is not a multiple of {div} "
                f"(2**{steps} pooling steps); use {use}"
            )


def _receptive_field_1d(
    factors: list[int], upsampling: str, pool: str = "max", skip_top: bool = True
) -> tuple[int, int]:
    """Receptive field ``(lo, hi)`` along one axis; see the module docstring."""
    s, lo, hi = 1, 0, 0
    skips = []
    for f in factors:  # encoder: double conv, then down-sampling
        lo, hi = lo - 2 * s, hi + 2 * s
        skips.append((lo, hi))
        hi += (f - 1) * s  # max-pool window (stride f, or stride 1 for blur-pool)
        if f > 1 and pool == "blur":
            lo, hi = lo - s, hi + s  # binomial [1, 2, 1] blur before subsampling
        s *= f
    lo, hi = lo - 2 * s, hi + 2 * s  # bottleneck
    for level in reversed(range(len(factors))):
        f = factors[level]
        s //= f
        if f > 1 and upsampling == "transposed":
            lo -= (f - 1) * s
        elif f > 1:  # linear interpolation by 2, align_corners=False
            lo, hi = lo - 2 * s, hi + s
        if level > 0 or skip_top:
            skip_lo, skip_hi = skips[level]
            lo, hi = min(lo, skip_lo), max(hi, skip_hi)
        lo, hi = lo - 2 * s, hi + 2 * s
    return lo, hi
