"""Per-block tasks of :func:`biakit.distributed.predict_blockwise` and their planning.

Each task reads its block with the model's halo from a :class:`LazySource`,
predicts, crops to the block's core and writes it into the output arrays. Pixel
classifiers use the feature bank's halo; networks their receptive field rounded up
to the divisor (every read starts on the pooling grid of a whole-image
prediction), with intensity statistics of the whole image (or frame) computed
once before the blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from biakit.errors import DataError, ParameterError

from ._engine import round_up
from ._output import ZarrTarget

#: network tasks predicted block-wise and the activation of their maps
NET_TASKS = {"semantic": "softmax", "instance": "sigmoid", "detection": "sigmoid",
             "denoise": None, "super_resolution": None, "isotropic": None}  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """Geometry of a block-wise prediction (per frame).

    Attributes
    ----------
    spatial : tuple of int
        Spatial shape of the input.
    halo, divisor, scale : tuple of int
        Context read around a block, grid of block starts, output pixels per input pixel.
    n_out : int
        Output channels (maps).
    bytes_per_voxel : float
        Working set per input voxel (for the automatic block shape).
    """

    spatial: tuple[int, ...]
    halo: tuple[int, ...]
    divisor: tuple[int, ...]
    scale: tuple[int, ...]
    n_out: int
    bytes_per_voxel: float


@dataclass(frozen=True)
class View:
    """``(C, *spatial)`` array-like of a source (for the normaliser's statistics)."""

    source: Any
    dtype: Any

    @property
    def shape(self) -> tuple[int, ...]:
        """``(C, *spatial)``."""
        s = tuple(self.source.shape)
        return s if "C" in self.source.axes else (1, *s)

    @property
    def ndim(self) -> int:
        """Axes, ``C`` included."""
        return len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        key = (slice(None),) * len(self.shape) if key is Ellipsis else tuple(key)
        return read_channels(self.source, key[1:], key[0]).astype(self.dtype, copy=False)


def read_channels(source: Any, region: tuple[slice, ...], channels: Any = slice(None)) -> Any:
    """``(C, *region)`` of a source with or without a ``C`` axis."""
    if "C" in source.axes:
        return source.read((channels, *region))
    return source.read(tuple(region))[None][channels]


def model_kind(model: Any) -> str:
    """``"pixel"`` (a fitted PixelClassifier) or ``"network"`` (a trained workflow)."""
    if hasattr(model, "spec_") and hasattr(model, "predict_proba"):
        return "pixel"
    if getattr(model, "task", None) in NET_TASKS and getattr(model, "model", None) is not None:
        return "network"
    raise ParameterError(
        f"model: expected a fitted PixelClassifier or a trained {', '.join(NET_TASKS)} "
        f"workflow, got {type(model).__name__}"
    )


def check_spatial(model: Any, kind: str, source: Any) -> tuple[int, ...]:
    """Spatial shape of one frame; DataError unless it has the model's dimensions."""
    ndim = int(model.ndim_) if kind == "pixel" else int(model.input_ndim)
    axes = "".join(a for a in source.axes if a in "ZYX")
    if len(axes) != ndim:
        what = "pixel classifier" if kind == "pixel" else f"{model.task} model"
        hint = ""
        if getattr(model, "stack_planes", False) and len(axes) == ndim + 1 and "Z" in axes:
            hint = (  # block-wise: frames or planes, not both
                "; block-wise, a 2D denoising model restores a Z-stack plane by plane but "
                "not a time-lapse of Z-stacks: predict it read whole (e.g. TIFF) or "
                "frame by frame"
            )
        raise DataError(
            f"image has {len(axes)} spatial axes ({source.meta.axes}, shape {source.shape}); "
            f"the {what} takes {ndim}D images: give the input's axes (axes= / --axes, "
            f"e.g. {'T' + 'ZYX'[3 - ndim :]!r} for a time-lapse){hint}"
        )
    return tuple(int(n) for n in source.shape[-ndim:])


def make_plan(model: Any, kind: str, source: Any, spacing: Any) -> Plan:
    """Halo, divisor, scale and output channels of ``model`` on one frame of ``source``."""
    spatial = check_spatial(model, kind, source)
    ndim = len(spatial)
    if kind == "pixel":
        from biakit.features import feature_halo

        sp = model.spacing_ if spacing is None else spacing
        halo = tuple(int(h) for h in feature_halo(model.spec_, ndim, sp))
        n_out = len(model.classes_)
        return Plan(spatial, halo, (1,) * ndim, (1,) * ndim, n_out, 4.0 * (n_out + 8))
    cfg = model.model.config
    if model.task == "isotropic":
        from ._predict_iso import iso_plan

        return iso_plan(cfg, spatial, model.config.factor)
    divisor = tuple(int(d) for d in np.broadcast_to(np.asarray(getattr(cfg, "divisor", 1)), ndim))
    halo = tuple(int(h) for h in np.broadcast_to(np.asarray(cfg.halo), ndim))
    scale = tuple(int(f) for f in getattr(cfg, "factors", (1,) * ndim))
    n_out = int(cfg.out_channels)
    return Plan(spatial, halo, divisor, scale, n_out, 4.0 * (n_out + 8) * 64)


@dataclass(frozen=True)
class PixelTask:
    """Task: class probabilities, classes (and uncertainty) of one block."""

    source: Any
    classifier: Any
    spacing: Any
    maps: ZarrTarget
    labels: ZarrTarget
    uncertainty: ZarrTarget | None

    def __call__(self, block: Any) -> None:
        from biakit.pixel import uncertainty_from_proba

        region = read_channels(self.source, block.read)
        channel_axis = 0 if region.shape[0] > 1 else None
        image = region if channel_axis == 0 else region[0]
        spatial = image.shape[-len(block.read) :]
        proba = self.classifier.predict_proba(
            image, spacing=self.spacing, channel_axis=channel_axis, block_shape=spatial
        )[block.crop]
        self.maps.write((slice(None), *block.write), np.moveaxis(proba, -1, 0))
        classes = np.asarray(self.classifier.classes_)
        self.labels.write(block.write, classes[np.argmax(proba, axis=-1)])
        if self.uncertainty is not None:
            self.uncertainty.write((slice(None), *block.write), uncertainty_from_proba(proba)[None])


@dataclass(frozen=True)
class NetTask:
    """Task: a network's maps (and most probable class) of one block."""

    source: Any
    model: Any
    stats_in: Any
    stats_out: Any
    activation: str | None
    scale: tuple[int, ...]
    halo: tuple[int, ...]
    options: dict[str, Any]
    maps: ZarrTarget
    labels: ZarrTarget | None

    def __call__(self, block: Any) -> None:
        from biakit.nn.datasets import denormalize_with_stats, normalize_with_stats
        from biakit.nn.infer import predict_tiled, predict_tiled_scaled

        raw = read_channels(self.source, block.read)
        x = normalize_with_stats(raw, self.stats_in)
        opts = dict(self.options)
        if any(s != 1 for s in self.scale):
            opts.pop("tta", None)  # super-resolution ignores it, as its predict_maps does
            shape = tuple(int(n) for n in x.shape[1:])
            y = predict_tiled_scaled(self.model, x, tile_shape=shape, **opts)
        else:
            opts.setdefault("tile_shape", tile(x.shape[1:], self.model.config.divisor))
            y = predict_tiled(self.model, x, overlap=self.halo, blending="none",
                              activation=self.activation, **opts)  # fmt: skip
        crop = tuple(slice(c.start * f, c.stop * f) for c, f in zip(block.crop, self.scale))
        y = y[(slice(None), *crop)]
        if self.stats_out is not None:
            y = denormalize_with_stats(y, self.stats_out)
        write = tuple(slice(w.start * f, w.stop * f) for w, f in zip(block.write, self.scale))
        self.maps.write((slice(None), *write), y)
        if self.labels is not None:
            self.labels.write(write, np.argmax(y, axis=0).astype(np.uint8))


def tile(shape: Sequence[int], divisor: Any) -> tuple[int, ...]:
    """One tile over the whole (divisor-padded) region."""
    div = np.broadcast_to(np.asarray(divisor, int), (len(shape),))
    return tuple(round_up(n, d) for n, d in zip(shape, div))


def net_stats(workflow: Any, src: Any) -> tuple[Any, Any]:
    """Input / output normalisation statistics of a network on one image (or frame)."""
    if workflow.task == "denoise":  # its own statistics or the training set's
        return workflow.norm_stats(View(src, np.float32))
    if workflow.task == "super_resolution":
        stats = workflow.config.normalizer.stats(View(src, np.float32))
        return stats, stats
    return workflow.config.normalizer.stats(View(src, src.dtype)), None
