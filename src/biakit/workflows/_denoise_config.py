"""Pydantic configuration of the denoising workflow (:class:`DenoiseConfig`).

One YAML file describes a training job::

    task: denoise
    algorithm: n2v                     # n2v | n2v2 | structn2v (self-supervised) | care | n2n
    data:
      images: data/noisy               # folder or glob: the images to denoise
      targets: data/clean              # care: clean images, n2n: second noisy images (by name)
      test_images: data/test/noisy     # optional, with test_targets (clean): test metrics
      test_targets: data/test/clean
    output: models/denoise
    patch_shape: [64, 64]
    norm_scope: image                  # image: each image's own statistics | dataset: pooled
    model: {depth: 2, base_filters: 32}
    train: {epochs: 30, batch_size: 16, lr: 0.0004}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from biakit.nn.datasets._normalize import Normalizer
from biakit.nn.models._config import UNetConfig
from biakit.workflows._config import (
    WorkflowConfig,
    _resolve,
    model_section,
    register_task_config,
)

#: algorithms trained on the noisy images alone (blind-spot masking)
SELF_SUPERVISED = ("n2v", "n2v2", "structn2v")
#: blind-spot algorithms whose prediction can take the noisy pixel back (see blend_input)
BLIND_SPOT_BLEND = ("n2v", "n2v2")
#: U-Net defaults of the denoising task (CAREamics' N2V: depth 2, 32 filters). PyTorch's
#: default initialisation, not Kaiming-normal: its smaller output layer starts near the
#: mean; after the same steps N2V reached +2.2-2.4 dB and CARE +0.9-1.0 dB (issue 11, 2 seeds)
DENOISE_MODEL_DEFAULTS = {"depth": 2, "base_filters": 32, "init": "torch"}
#: masked pixels per patch: 1.5% (Krull 2019's 64 per 64x64 patch), not CAREamics' 0.2%: more
#: loss pixels per step; after 400 steps +0.33 dB on the BSD68-style set (2 seeds, issue 11)
DEFAULT_MASK_FRACTION = 0.015
#: N2V2's network (Hoeck 2022): no top skip, blur-pool, bilinear up-sampling (no checkerboards)
N2V2_MODEL = {"skip_top": False, "pool": "blur", "upsampling": "interpolation"}


class DenoiseDataOptions(BaseModel):
    """Where the noisy images (and, for CARE / N2N, their targets) are, paired by name."""

    model_config = ConfigDict(extra="forbid")

    images: str
    targets: str | None = None
    test_images: str | None = None
    test_targets: str | None = None

    @model_validator(mode="after")
    def _test_pair(self) -> DenoiseDataOptions:
        if (self.test_images is None) != (self.test_targets is None):
            raise ValueError("give both test_images and test_targets (clean images), or neither")
        return self

    def resolved(self, base: Path) -> DenoiseDataOptions:
        """Return a copy with relative paths taken relative to ``base`` (the YAML's folder)."""
        fields = {k: v for k, v in self.model_dump().items() if isinstance(v, str)}
        return self.model_copy(update={k: _resolve(v, base) for k, v in fields.items()})


class DenoiseConfig(WorkflowConfig):
    """Everything a denoising run needs: N2V / N2V2 / structN2V, CARE or Noise2Noise.

    * ``n2v``: blind-spot training on the noisy images themselves: per patch
      ``mask_fraction`` of the pixels (1.5% by default; CAREamics masks 0.2%) are
      replaced (``replacement``, default ``"uniform"``: a random neighbour within
      ``radius``) and the loss is the squared error at those pixels only
      (:func:`biakit.nn.targets.n2v_loss`), linear beyond ``huber_delta`` image
      standard deviations (Huber), so hot pixels cannot dominate training.
    * ``n2v2``: the same with ``"median"`` replacement, a U-Net without its top
      skip connection, blur-pool down-sampling and bilinear up-sampling, against
      checkerboard artefacts (with transposed convolutions and no top skip the output
      repeats every 2 pixels: ``benchmarks/bench_n2v2_checkerboard.py``).
    * ``structn2v``: also masks a line of ``struct_length`` pixels along
      ``struct_axis`` (default the last axis, X) for noise correlated along it.
    * ``care``: supervised, from noisy / clean pairs; ``n2n``: from pairs of
      independent noisy images of the same scene. Both use ``train.loss``
      (``"mse"`` or ``"mae"``).

    The network maps the images' ``C`` channels to ``C`` channels
    (``model.out_channels`` follows the training images); by default a U-Net of
    depth 2 with 32 filters that starts from PyTorch's initialisation
    (``model.init="torch"``, see :class:`biakit.nn.models.UNetConfig`). Intensities are
    normalised per image (``norm_scope="image"``, ``normalizer`` z-score by default):
    each image with its own statistics, a target with its input's, and the output is
    mapped back with the input's, so the restoration follows any gain / offset of the
    input (as in CSBDeep's CARE). ``norm_scope="dataset"`` pools the statistics of the
    training set, separately for inputs and targets, and maps outputs back with the
    targets' (CAREamics' and N2V's way). ``tta`` (default: the four 90-degree turns
    of YX for 2D ``n2v`` / ``n2v2``, see :attr:`resolved_tta`) averages each prediction
    over flips and turns of YX. ``blend_input`` (default: on for ``n2v`` /
    ``n2v2``, see :attr:`resolved_blend_input`) gives the blind-spot prediction each
    pixel's own value back, weighted by the noise variance measured on the image.

    Examples
    --------
    >>> cfg = DenoiseConfig(algorithm="n2v2", patch_shape=(32, 32))
    >>> cfg.replacement, cfg.model.depth, cfg.model.init, cfg.normalizer.kind, cfg.train.loss
    ('median', 2, 'torch', 'zscore', 'mse')
    >>> cfg.mask_fraction, cfg.resolved_tta, cfg.norm_scope, cfg.resolved_blend_input
    (0.015, 4, 'image', True)
    """

    task: Literal["denoise"] = "denoise"
    name: str = "denoise"
    algorithm: Literal["n2v", "n2v2", "structn2v", "care", "n2n"] = "n2v"
    patch_shape: tuple[int, ...] = (64, 64)
    foreground_fraction: float = Field(0.0, ge=0.0, le=1.0)
    mask_fraction: float = Field(
        DEFAULT_MASK_FRACTION, gt=0.0, le=0.5, description="masked pixels per patch"
    )
    replacement: Literal["uniform", "median"] | None = Field(
        None, description="default: 'median' for n2v2, else 'uniform'"
    )
    radius: int = Field(5, ge=1, description="half-size of the replacement window")
    struct_axis: int | None = Field(None, description="structn2v: spatial axis of the line")
    struct_length: int = Field(5, ge=3, description="structn2v: masked line length (odd)")
    tta: bool | Annotated[int, Field(ge=1, le=16)] | None = Field(
        None,
        description="average predictions over flips and 90-degree rotations (true: all, 8 "
        "in 2D; a number: that many, 4 = the four turns); default: 4 for 2D n2v / n2v2, off "
        "otherwise",
    )
    huber_delta: float | None = Field(
        3.0,
        gt=0.0,
        description="n2v / n2v2 / structn2v: the masked-pixel loss is squared up to this "
        "residual (in normalised units: image standard deviations with the default z-score) "
        "and linear beyond, so rare outliers (hot pixels, cosmic rays) cannot dominate "
        "training; null: squared error",
    )
    blend_input: bool | None = Field(
        None,
        description="n2v / n2v2: give each pixel's own noisy value back to the blind-spot "
        "prediction, weighted by the measured noise variance; default: on for n2v / n2v2",
    )
    normalizer: Normalizer = Field(default_factory=lambda: Normalizer(kind="zscore"))
    norm_scope: Literal["image", "dataset"] = Field(
        "image",
        description="'image': every image is normalised with its own statistics (targets "
        "with their input's) and the output mapped back with them, so a gain or offset "
        "change of the input (8 / 16 bit, another exposure, a contrast stretch) changes the "
        "output alike; 'dataset': statistics pooled over the training images, stored with "
        "the model, outputs on the training targets' scale (CAREamics, N2V)",
    )
    data: DenoiseDataOptions | None = None  # type: ignore[assignment]
    default_loss: ClassVar[str] = "mse"
    model_defaults: ClassVar[dict[str, Any]] = DENOISE_MODEL_DEFAULTS

    @model_validator(mode="before")
    @classmethod
    def _denoise_defaults(cls, data: Any) -> Any:
        """Task defaults of the U-Net (N2V2: no top skip, blur pooling, bilinear up-sampling)."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        model = model_section(data)
        if model is not None:
            model.pop("out_channels", None)  # follows the images' channels
            if data.get("algorithm") == "n2v2":
                for key, value in N2V2_MODEL.items():
                    model.setdefault(key, value)
            data["model"] = model
        return data

    @model_validator(mode="after")
    def _check_denoise(self) -> DenoiseConfig:
        algo = self.algorithm
        if self.replacement is None:
            self.replacement = "median" if algo == "n2v2" else "uniform"
        if algo == "structn2v":
            axis = -1 if self.struct_axis is None else self.struct_axis
            if not -self.ndim <= axis < self.ndim:
                raise ValueError(
                    f"struct_axis={axis} is not a spatial axis of {self.ndim}D patches "
                    f"(use 0..{self.ndim - 1} or -1 for X)"
                )
            if self.struct_length % 2 == 0:
                raise ValueError(f"struct_length must be odd, got {self.struct_length}")
            self.struct_axis = axis
        elif self.struct_axis is not None:
            raise ValueError(
                f"struct_axis is used only by algorithm 'structn2v', not {algo!r}; leave it out"
            )
        if self.blend_input and algo not in BLIND_SPOT_BLEND:
            raise ValueError(
                f"blend_input works with algorithm 'n2v' or 'n2v2' (a blind-spot prediction of "
                f"pixel-wise independent noise), not {algo!r}; leave it out"
            )
        allowed = ("mse",) if algo in SELF_SUPERVISED else ("mse", "mae")
        if self.train.loss not in allowed:
            raise ValueError(
                f"train.loss={self.train.loss!r} does not fit algorithm {algo!r}; "
                f"use {' or '.join(map(repr, allowed))}"
            )
        if self.data is not None:
            supervised = algo not in SELF_SUPERVISED
            if supervised and self.data.targets is None:
                raise ValueError(
                    f"data.targets is missing: algorithm {algo!r} trains on pairs "
                    "(care: clean images, n2n: second noisy images)"
                )
            if not supervised and self.data.targets is not None:
                raise ValueError(
                    f"data.targets must be left out: algorithm {algo!r} is self-supervised "
                    "(it trains on the noisy images alone); use 'care' or 'n2n' for pairs"
                )
        return self

    @property
    def self_supervised(self) -> bool:
        """Whether the algorithm trains on the noisy images alone (N2V family)."""
        return self.algorithm in SELF_SUPERVISED

    @property
    def resolved_tta(self) -> bool | int:
        """What prediction averages over: ``tta``, else the default (False, or a count).

        By default the four 90-degree turns of YX for 2D ``n2v`` and ``n2v2``. TTA
        gave +0.25-0.34 dB on the BSD68-style set and +0.9-1.7 dB on Poisson-Gaussian
        ``img2d.tif`` with all eight flips / turns (2 seeds each, issue 11); the four
        turns keep 6/7 of that at half the passes (transform-specific errors average
        out as ``1/n``: measured 0.01-0.03 dB under the eight on both sets after
        default training). ``tta=True`` takes all eight. Off for ``structn2v`` (a
        rotation turns noise correlated along X into noise along Y, which the network
        never saw), for CARE / N2N and in 3D (16 forward passes per tile).
        """
        if self.tta is not None:
            return self.tta
        return 4 if self.algorithm in ("n2v", "n2v2") and self.ndim == 2 else False

    @property
    def resolved_blend_input(self) -> bool:
        """Whether prediction gives each pixel's own value back (``blend_input``, else the default).

        By default on for ``n2v`` and ``n2v2``: the blind-spot prediction is mixed with
        the noisy pixel by the weight that minimises the expected squared error given the
        noise variance measured on the image and the share of the pixel the network kept
        (:func:`biakit.nn.infer.blind_spot_weights`, :func:`~biakit.nn.infer.centre_gain`);
        +0.6 dB for N2V and +0.2 dB for N2V2 on the BSD68-style set, within +-0.1 dB on
        Poisson-noise fluorescence images, where N2V alone is already close; faded out
        where the noise is not white (:func:`~biakit.nn.infer.whiteness`; issue 11). Off
        for ``structn2v`` (its noise is correlated, the noise estimate assumes independent
        pixels) and for CARE / N2N (their networks see the pixel).
        """
        if self.blend_input is not None:
            return self.blend_input
        return self.algorithm in BLIND_SPOT_BLEND

    @property
    def out_channels(self) -> int:
        """The images' channels; 1 until :meth:`network_config` knows them."""
        return int(self.model.in_channels)

    def network_config(self, in_channels: int) -> UNetConfig:
        """Return the network's config: ``in_channels`` channels in, the same number out."""
        net = super().network_config(in_channels)
        return UNetConfig.model_validate({**net.model_dump(), "out_channels": in_channels})

    def masking(self) -> Any:
        """Return the :class:`biakit.nn.targets.N2VMasking` of the N2V algorithms."""
        from biakit.nn.targets import N2VMasking

        return N2VMasking(
            mask_fraction=self.mask_fraction, replacement=self.replacement, radius=self.radius,
            struct_axis=self.struct_axis if self.algorithm == "structn2v" else None,
            struct_length=self.struct_length,
        )  # fmt: skip


register_task_config(DenoiseConfig)
