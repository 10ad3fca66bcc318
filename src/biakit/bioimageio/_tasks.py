"""What each workflow puts into a package: processing, channel names, task config.

An exporter is a function ``workflow -> TaskSpec`` registered per task with
:func:`register_exporter`; a new workflow (classification, frame prediction)
registers its own from its module or a test. The network itself, its axes,
test tensors, README and weights are common (:mod:`biakit.bioimageio._export`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from biakit.errors import ParameterError


@dataclass
class TaskSpec:
    """The task-dependent part of a package.

    Attributes
    ----------
    preprocessing, postprocessing : list
        bioimage.io processing descriptions (``bioimageio.spec.model.v0_5``), in order.
    in_channels, out_channels : list of str
        Channel names of the input and output tensor.
    output_id : str
        Id of the output tensor (``"probabilities"``, ``"restored"``, ...).
    output_description : str
        One line about the output tensor.
    scale : tuple of int
        Output pixels per input pixel along each spatial axis (super-resolution).
    config : dict
        Task-specific entries of ``config.biakit`` (post-processing parameters, ...).
    tags : list of str
        Extra bioimage.io tags.
    fixed_shape : tuple of int
        Fixed spatial input size (classification: the network's ``input_shape``);
        empty: sizes ``min + k * step`` from the network's divisor.
    output_space : bool
        Whether the output has the input's spatial axes (``False``: ``(batch, channel)``).
    note : str
        What a user must know about the input (appended to the description and README).
    fit_sample : callable, optional
        ``(C, *spatial) -> (C, *fixed_shape)``: brings the export's sample to ``fixed_shape``.
    frames : tuple of int
        ``(frames in, frames out)``: input and output get a time axis of these
        fixed sizes before the channel axis (frame prediction); empty: none.
    network : callable, optional
        ``workflow -> NetworkSource``: the module the package ships, when it is not
        the workflow's network as it is (e.g. wrapped for a time axis).
    make_test_input : callable, optional
        ``(workflow, sample, mins, steps) -> (1, ...)`` float32 test input, for
        inputs that are not one image (e.g. the frames of a movie).
    reference : callable, optional
        ``test input without batch -> biakit's own output without batch``, for the
        README's reproducibility line (default: the workflow's ``predict_maps``).
    """

    preprocessing: list[Any]
    postprocessing: list[Any]
    in_channels: list[str]
    out_channels: list[str]
    output_id: str
    output_description: str
    scale: tuple[int, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    fixed_shape: tuple[int, ...] = ()
    output_space: bool = True
    note: str = ""
    fit_sample: Callable[[Any], Any] | None = None
    frames: tuple[int, ...] = ()
    network: Callable[[Any], Any] | None = None
    make_test_input: Callable[..., Any] | None = None
    reference: Callable[[Any], Any] | None = None


EXPORTERS: dict[str, Callable[[Any], TaskSpec]] = {}


def register_exporter(task: str) -> Callable[[Callable[[Any], TaskSpec]], Callable]:
    """Register ``fn(workflow) -> TaskSpec`` as the exporter of ``task``."""

    def wrap(fn: Callable[[Any], TaskSpec]) -> Callable[[Any], TaskSpec]:
        EXPORTERS[task] = fn
        return fn

    return wrap


def task_spec(workflow: Any) -> TaskSpec:
    """Return the :class:`TaskSpec` of a trained workflow (raises for tasks without an exporter)."""
    task = getattr(workflow, "task", None)
    if task not in EXPORTERS:
        raise ParameterError(
            f"no bioimage.io export for task {task!r} ({type(workflow).__name__}); "
            f"exportable tasks: {', '.join(sorted(EXPORTERS))}"
        )
    return EXPORTERS[task](workflow)


def space_axes(ndim: int) -> list[str]:
    """Axis ids of the spatial axes (``["y", "x"]`` or ``["z", "y", "x"]``)."""
    return ["z", "y", "x"][-ndim:]


def ensure_float32() -> Any:
    """Return the ``ensure_dtype`` float32 step that starts every biakit preprocessing."""
    from bioimageio.spec.model import v0_5

    return v0_5.EnsureDtypeDescr(kwargs=v0_5.EnsureDtypeKwargs(dtype="float32"))


def normalizer_ops(normalizer: Any, ndim: int, dtype: Any = None) -> list[Any]:
    """Express a :class:`~biakit.nn.datasets.Normalizer` with bioimage.io operations.

    ``percentile`` -> ``scale_range`` (per sample and channel), ``zscore`` ->
    ``zero_mean_unit_variance``, ``range`` -> ``scale_linear``, ``none`` -> nothing.
    ``dtype`` (of the images) resolves ``range`` without ``value_range``.
    """
    import numpy as np
    from bioimageio.spec.model import v0_5

    axes = [v0_5.AxisId(a) for a in space_axes(ndim)]
    if normalizer.kind == "percentile":
        kwargs = v0_5.ScaleRangeKwargs(
            axes=axes, min_percentile=normalizer.low, max_percentile=normalizer.high,
            eps=normalizer.eps,
        )  # fmt: skip
        return [v0_5.ScaleRangeDescr(kwargs=kwargs)]
    if normalizer.kind == "zscore":
        kwargs = v0_5.ZeroMeanUnitVarianceKwargs(axes=axes, eps=normalizer.eps)
        return [v0_5.ZeroMeanUnitVarianceDescr(kwargs=kwargs)]
    if normalizer.kind == "range":
        vmin, vmax = normalizer._range(np.dtype(dtype if dtype is not None else np.float32))
        return [scale_linear([1.0 / (vmax - vmin)], [-vmin / (vmax - vmin)])]
    return []


def scale_linear(gain: list[float], offset: list[float]) -> Any:
    """``out = gain * x + offset``, one value or one per channel."""
    from bioimageio.spec.model import v0_5

    if len(gain) == 1:
        return v0_5.ScaleLinearDescr(
            kwargs=v0_5.ScaleLinearKwargs(gain=float(gain[0]), offset=float(offset[0]))
        )
    kwargs = v0_5.ScaleLinearAlongAxisKwargs(axis=v0_5.AxisId("channel"),
                                             gain=[float(g) for g in gain],
                                             offset=[float(o) for o in offset])  # fmt: skip
    return v0_5.ScaleLinearDescr(kwargs=kwargs)


def _names(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def _common(workflow: Any, dtype: Any) -> tuple[list[Any], list[str]]:
    ndim = int(workflow.network_config.ndim)
    pre = [ensure_float32(), *normalizer_ops(workflow.config.normalizer, ndim, dtype)]
    return pre, _names("channel", workflow.in_channels)


@register_exporter("semantic")
def _semantic(workflow: Any, dtype: Any = None) -> TaskSpec:
    from bioimageio.spec.model import v0_5

    pre, names = _common(workflow, dtype)
    n = int(workflow.network_config.out_channels)
    return TaskSpec(
        pre, [v0_5.SoftmaxDescr(kwargs=v0_5.SoftmaxKwargs(axis=v0_5.AxisId("channel")))],
        names, _names("class", n), "probabilities",
        "class probabilities (softmax over channels); labels = argmax over channels",
        config={"postprocess": {"labels": "argmax over channels"},
                "thresholds": workflow.thresholds},
        tags=["semantic-segmentation"],
    )  # fmt: skip


@register_exporter("instance")
def _instance(workflow: Any, dtype: Any = None) -> TaskSpec:
    from bioimageio.spec.model import v0_5

    pre, names = _common(workflow, dtype)
    cfg = workflow.config
    return TaskSpec(
        pre, [v0_5.SigmoidDescr()], names,
        _names("map", int(workflow.network_config.out_channels)), "maps",
        f"instance maps ({cfg.encoding.mode}, sigmoid); biakit decodes them into labels "
        "with config.biakit.postprocess",
        config={"postprocess": {"encoding": cfg.encoding.model_dump(mode="json"),
                                "thresholds": workflow.thresholds}},
        tags=["instance-segmentation"],
    )  # fmt: skip


@register_exporter("detection")
def _detection(workflow: Any, dtype: Any = None) -> TaskSpec:
    from bioimageio.spec.model import v0_5

    pre, names = _common(workflow, dtype)
    return TaskSpec(
        pre, [v0_5.SigmoidDescr()], names,
        _names("heatmap", int(workflow.network_config.out_channels)), "heatmaps",
        "object heat maps (sigmoid); points = local maxima above the tuned threshold "
        "(config.biakit.postprocess)",
        config={"postprocess": {"peak_finding": workflow.thresholds}},
        tags=["detection", "spot-detection"],
    )  # fmt: skip


@register_exporter("denoise")
def _denoise(workflow: Any, dtype: Any = None) -> TaskSpec:
    if workflow.config.norm_scope == "image":
        return _denoise_per_image(workflow, dtype)
    norm = workflow.training["normalization"]
    offset, scale = norm["input"]["offset"], norm["input"]["scale"]
    pre = [
        ensure_float32(),
        scale_linear([1.0 / s for s in scale], [-o / s for o, s in zip(offset, scale)]),
    ]
    t_offset, t_scale = norm["target"]["offset"], norm["target"]["scale"]
    names = _names("channel", workflow.in_channels)
    steps, note = _biakit_steps(workflow)
    return TaskSpec(
        pre, [scale_linear(list(t_scale), list(t_offset))], names, names, "restored",
        f"denoised image ({workflow.config.algorithm}), in the intensities of the training "
        "targets",
        config={"normalization": norm, **steps}, tags=["denoising", "restoration"],
        note=note,
    )  # fmt: skip


def _denoise_per_image(workflow: Any, dtype: Any = None) -> TaskSpec:
    """Describe a denoiser that normalises each image itself (``norm_scope="image"``).

    The package normalises per sample; its output stays in those normalised
    intensities (bioimage.io has no post-processing that undoes a per-sample
    normalisation): ``output * scale + offset`` with the input's statistics gives
    biakit's result.
    """
    pre, names = _common(workflow, dtype)
    steps, note = _biakit_steps(workflow)
    return TaskSpec(
        pre, [], names, names, "restored",
        f"denoised image ({workflow.config.algorithm}), in the input's normalised intensities; "
        "biakit maps it back with the input's own normalisation statistics",
        config={"postprocess": {"denormalize": "input statistics of config.biakit.config."
                                               "normalizer"}, **steps},
        tags=["denoising", "restoration"], note=note,
    )  # fmt: skip


def _biakit_steps(workflow: Any) -> tuple[dict[str, bool], str]:
    """Return what biakit adds around this denoiser's network (TTA, blind-spot blend), a note."""
    tta = workflow.config.resolved_tta
    blend = bool(workflow.config.resolved_blend_input)
    notes = []
    if tta:
        what = "all flips and 90-degree rotations" if tta is True else (
            "the four 90-degree rotations of YX" if tta == 4
            else f"{tta} of its flips and 90-degree rotations (nn.infer.tta_transforms)"
        )  # fmt: skip
        notes.append(f"averages this model's prediction over {what} (config.tta)")
    if blend:
        notes.append("gives each pixel's own noisy value back to the blind-spot prediction, "
                     "weighted by the noise variance measured on the image (config.blend_input, "
                     "biakit.nn.infer.blind_spot_weights)")  # fmt: skip
    note = f"biakit {' and '.join(notes)}; the package runs the network alone." if notes else ""
    return {"tta_in_biakit": bool(tta), "blend_input_in_biakit": blend}, note


def _super_resolution(workflow: Any, dtype: Any = None) -> TaskSpec:
    pre, names = _common(workflow, dtype)
    factors = tuple(int(f) for f in workflow.network_config.factors)
    return TaskSpec(
        pre, [], names, names, "restored",
        f"super-resolved image ({'x'.join(map(str, factors))}), in normalised intensities; "
        "biakit maps it back with the input's normalisation statistics",
        scale=factors,
        config={"postprocess": {"denormalize": "input statistics of config.biakit.config."
                                               "normalizer"}},
        tags=["super-resolution", "restoration"],
    )  # fmt: skip


register_exporter("super_resolution")(_super_resolution)


@register_exporter("isotropic")
def _isotropic(workflow: Any, dtype: Any = None) -> TaskSpec:
    spec = _super_resolution(workflow, dtype)
    spec.output_description = (
        "one restored XZ or YZ slice (axial axis first); biakit averages restored XZ and YZ "
        "slices of a stack"
    )
    spec.config["postprocess"]["stack"] = "mean of restored XZ and YZ slices"
    spec.tags = ["isotropic-reconstruction", "restoration"]
    return spec


def _channel_ids(names: list[str], prefix: str) -> list[str]:
    """Return ``names`` if all are valid bioimage.io identifiers, else ``prefix0, ...``."""
    from bioimageio.spec.model import v0_5

    try:
        ids = [str(v0_5.Identifier(n)) for n in names]
    except ValueError:
        return _names(prefix, len(names))
    return ids if len(set(ids)) == len(ids) else _names(prefix, len(names))


@register_exporter("classification")
def _classification(workflow: Any, dtype: Any = None) -> TaskSpec:
    from bioimageio.spec.model import v0_5

    from biakit.workflows.classification import fit_shape

    pre, names = _common(workflow, dtype)
    cfg = workflow.config
    shape = tuple(int(s) for s in cfg.input_shape)
    n = int(workflow.network_config.out_channels)
    classes = list(workflow.class_names) or _names("class", n)
    size = "x".join(map(str, shape))
    how = ("resized with linear interpolation, aspect not kept" if cfg.resize == "resize"
           else "centred and padded with the image's median or cropped centrally")  # fmt: skip
    note = (f"The input must already have the spatial size {size} (biakit: {how}, "
            f"resize={cfg.resize!r}); the package does not resize images.")  # fmt: skip
    return TaskSpec(
        pre, [v0_5.SoftmaxDescr(kwargs=v0_5.SoftmaxKwargs(axis=v0_5.AxisId("channel")))],
        names, _channel_ids(classes, "class"), "probabilities",
        "class probabilities (softmax over channels, one per class, named by the channel "
        "names); class = argmax over channels",
        config={"postprocess": {"class": "argmax over channels"}, "class_names": classes,
                "input": {"shape": list(shape), "resize": cfg.resize, "note": note}},
        tags=["classification", "image-classification"], fixed_shape=shape,
        output_space=False, note=note,
        fit_sample=lambda a: fit_shape(a, shape, cfg.resize),
    )  # fmt: skip
