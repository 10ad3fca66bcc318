"""Validated configs of the next-frame (video) prediction networks (no PyTorch needed).

A video network maps ``n_input`` frames of ``in_channels`` channels, stacked on
the channel axis as ``(B, n_input * C, *spatial)`` (frame-major: index ``t * C +
c``), to the next ``n_output`` frames ``(B, n_output * C, *spatial)``. See
:mod:`biakit.nn.models._simvp` and :mod:`biakit.nn.models._convlstm`.

>>> cfg = SimVPConfig(n_input=4, n_output=2, n_s=4)
>>> cfg.divisor, cfg.frames_in, cfg.frames_out
((4, 4), 4, 2)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class VideoNetConfig(BaseModel):
    """Options shared by the frame-prediction networks.

    Parameters
    ----------
    ndim : {2, 3}
        Spatial axes of a frame.
    in_channels, out_channels : int
        Channels per frame (equal: the network predicts frames like its inputs).
    n_input : int
        Frames the network sees (``T``).
    n_output : int
        Frames it predicts at once (``K``); longer horizons are rolled out
        autoregressively by the workflow.
    residual : bool
        Predict the change from the last input frame (the output starts as
        persistence, copy-last-frame) instead of the frames themselves.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ndim: Literal[2, 3] = 2
    in_channels: int = Field(1, ge=1)
    out_channels: int = Field(1, ge=1)
    n_input: int = Field(4, ge=1)
    n_output: int = Field(4, ge=1)
    residual: bool = True

    @model_validator(mode="after")
    def _check_channels(self) -> VideoNetConfig:
        if self.in_channels != self.out_channels:
            raise ValueError(
                f"out_channels={self.out_channels} differs from in_channels={self.in_channels}; "
                "a frame predictor outputs frames with the input's channels"
            )
        return self

    @property
    def frames_in(self) -> int:
        """Input frames ``T``."""
        return self.n_input

    @property
    def frames_out(self) -> int:
        """Output frames ``K``."""
        return self.n_output

    @property
    def divisor(self) -> tuple[int, ...]:
        """Frame sizes must be multiples of this (the workflow pads whole frames)."""
        return (1,) * self.ndim

    @property
    def is_local(self) -> bool:
        """Frames are predicted whole (padded), never tiled."""
        return False

    def check_patch(self, patch_shape: tuple[int, ...]) -> None:
        """Raise ``ValueError`` unless ``patch_shape`` has ``ndim`` multiples of ``divisor``."""
        shape = tuple(int(s) for s in patch_shape)
        if len(shape) != self.ndim or min(shape) < 1:
            raise ValueError(
                f"patch shape {shape}: expected {self.ndim} positive sizes for ndim={self.ndim}"
            )
        if any(s % d for s, d in zip(shape, self.divisor)):
            fixed = tuple(-(-s // d) * d for s, d in zip(shape, self.divisor))
            raise ValueError(
                f"patch shape {shape}: every size must be a multiple of {self.divisor} "
                f"(the network's down-sampling); e.g. {fixed}"
            )


class SimVPConfig(VideoNetConfig):
    """SimVP (Gao et al., CVPR 2022): per-frame conv encoder, translator, per-frame decoder.

    Parameters
    ----------
    hid_s : int
        Channels of the spatial encoder / decoder (per frame).
    hid_t : int
        Channels of the translator, which sees all input frames' features stacked.
    n_s : int
        Encoder (and decoder) layers; every second one (the 2nd, 4th, ...)
        halves (doubles) the resolution, so frames shrink by ``2 ** (n_s // 2)``.
    n_t : int
        Inception-like residual blocks of the translator.
    kernels : tuple of int
        Kernel sizes of the translator's parallel grouped convolutions (odd).
    groups : int
        Groups of those convolutions.
    norm : {"none", "group"}
        GroupNorm after every convolution as in SimVP, or none (default: the
        network is then local, so crops in training and whole frames in
        prediction see the same function).

    The defaults are CPU-sized (SimVP's Moving-MNIST model has ``hid_s=64,
    hid_t=512, n_t=8``): at 64 x 64 crops a training step takes about 0.6x the time of
    ``hid_t=128, n_t=4``, and the translator still sees +-24 pixels (kernel 7 at
    1/4 resolution, 2 blocks). Small frames with fine detail want a finer latent:
    on 32 x 32 moving digits (10 -> 10 frames, equal training steps) ``n_s=2,
    hid_t=128`` (16 x 16 latent, OpenSTL's ``hid_t = 0.8 * n_input * hid_s``)
    scored 10% lower MSE than the defaults (8 x 8 latent), level with a ConvLSTM
    at 16 x 16 (``benchmarks/bench_frame_prediction.py --part digits``).

    Examples
    --------
    >>> SimVPConfig(n_s=2).divisor
    (2, 2)
    """

    architecture: Literal["simvp"] = "simvp"
    hid_s: int = Field(16, ge=1)
    hid_t: int = Field(64, ge=2)
    n_s: int = Field(4, ge=1)
    n_t: int = Field(2, ge=1)
    kernels: tuple[int, ...] = (3, 5, 7)
    groups: int = Field(4, ge=1)
    norm: Literal["none", "group"] = "none"

    @model_validator(mode="after")
    def _check_simvp(self) -> SimVPConfig:
        if not self.kernels or any(k < 1 or k % 2 == 0 for k in self.kernels):
            raise ValueError(f"kernels must be odd positive sizes, got {self.kernels}")
        if (self.hid_t // 2) % self.groups:
            raise ValueError(
                f"groups={self.groups} must divide hid_t // 2 = {self.hid_t // 2}; "
                "change hid_t or groups"
            )
        return self

    @property
    def divisor(self) -> tuple[int, ...]:
        """``2 ** (n_s // 2)`` per axis."""
        return (2 ** (self.n_s // 2),) * self.ndim


class ConvLSTMConfig(VideoNetConfig):
    """ConvLSTM (Shi et al., NeurIPS 2015) encoder-forecaster, a recurrent baseline.

    Each frame is embedded by a ``patch``-strided convolution, passed through
    ``n_layers`` ConvLSTM cells, and read out by a convolution and a pixel
    shuffle; after the ``n_input`` frames it feeds its own predictions back.

    Parameters
    ----------
    hidden : int
        Hidden channels of every cell.
    n_layers : int
        Stacked cells.
    kernel : int
        Odd kernel size of the gates' convolution.
    patch : int
        Down-sampling of the embedding (frames must be multiples of it).

    Examples
    --------
    >>> ConvLSTMConfig(patch=4).divisor
    (4, 4)
    """

    architecture: Literal["convlstm"] = "convlstm"
    hidden: int = Field(32, ge=1)
    n_layers: int = Field(2, ge=1)
    kernel: int = Field(3, ge=1)
    patch: int = Field(2, ge=1)

    @model_validator(mode="after")
    def _check_kernel(self) -> ConvLSTMConfig:
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel must be odd, got {self.kernel}")
        return self

    @property
    def divisor(self) -> tuple[int, ...]:
        """``patch`` per axis."""
        return (self.patch,) * self.ndim
