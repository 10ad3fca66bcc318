"""Registry of the functions a pipeline can call, by name.

Each step names a public biakit function and says which part of the pipeline
state it reads (``image``, ``mask``, ``labels`` or ``objects`` = labels when
there are any, else the mask) and what it produces.  Parameters are validated
against the function's own signature with a pydantic model built from it, so
the registry never drifts from the code.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import pydantic

StateField = Literal["image", "mask", "labels", "objects"]


@dataclass(frozen=True)
class StepSpec:
    """How a named step maps onto a biakit function.

    Attributes
    ----------
    name : str
        Step name used in configs.
    target : str
        ``"module:function"`` of the implementation.
    reads : str
        State field passed as the first argument.
    writes : str
        State field the result goes to; ``"auto"`` means mask for a boolean
        result and labels otherwise.
    state_kwargs : tuple of (str, str)
        Extra keyword arguments taken from the state (parameter, field).
    summary : str
        One line shown by ``biakit pipeline steps``.

    """

    name: str
    target: str
    reads: StateField
    writes: Literal["image", "mask", "labels", "auto"]
    summary: str
    state_kwargs: tuple[tuple[str, str], ...] = ()

    @property
    def function(self) -> Callable[..., Any]:
        """The implementing function (imported on first use)."""
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


def _spec(
    name: str, module: str, reads: StateField, writes: Any, summary: str, **kw: Any
) -> StepSpec:
    target = f"biakit.{module}:{kw.pop('func', name)}"
    return StepSpec(name, target, reads, writes, summary, **kw)


_I, _M, _L, _O = "image", "mask", "labels", "objects"
STEPS: dict[str, StepSpec] = {
    s.name: s
    for s in [
        # pre-processing: image -> image
        _spec("gaussian", "preprocess", _I, _I, "Gaussian smoothing (sigma in physical units)"),
        _spec("median", "preprocess", _I, _I, "median filter"),
        _spec("bilateral", "preprocess", _I, _I, "edge-preserving bilateral filter"),
        _spec("nl_means", "preprocess", _I, _I, "non-local means denoising"),
        _spec("rolling_ball", "preprocess", _I, _I, "rolling-ball background subtraction"),
        _spec("tophat", "preprocess", _I, _I, "white / black top-hat background correction"),
        _spec("normalize_percentile", "preprocess", _I, _I, "percentile normalisation to [0, 1]"),
        _spec("clahe", "preprocess", _I, _I, "contrast-limited adaptive histogram equalisation"),
        _spec("gamma", "preprocess", _I, _I, "gamma correction"),
        _spec("richardson_lucy", "preprocess", _I, _I, "Richardson-Lucy deconvolution"),
        # segmentation: image -> mask / labels
        _spec("threshold", "segment", _I, _M, "global threshold (otsu, li, triangle, yen, ...)"),
        _spec("threshold_local", "segment", _I, _M, "local threshold (niblack, sauvola, adaptive)"),
        _spec("label", "segment", _M, _L, "connected-component labelling"),
        _spec(
            "pixel_classifier",
            "pixel",
            _I,
            _M,
            "foreground from a trained pixel classifier (model folder)",
            func="segment_with_model",
        ),
        _spec("watershed_distance", "segment", _M, _L, "distance-transform watershed split"),
        # post-processing: mask / labels -> same
        _spec("remove_small_objects", "postprocess", _O, "auto", "drop objects below a size"),
        _spec("remove_large_objects", "postprocess", _O, "auto", "drop objects above a size"),
        _spec("fill_holes", "postprocess", _O, "auto", "fill holes inside objects"),
        _spec("opening", "postprocess", _O, "auto", "morphological opening per object"),
        _spec("closing", "postprocess", _O, "auto", "morphological closing per object"),
        _spec("split_touching", "postprocess", _O, _L, "separate touching objects"),
        _spec(
            "merge_oversplit",
            "postprocess",
            _L,
            _L,
            "merge neighbours across weak boundaries",
            state_kwargs=(("image", "image"),),
        ),
        _spec("clear_border", "postprocess", _L, _L, "remove objects touching the border"),
        _spec("expand_labels", "postprocess", _L, _L, "grow labels without overlap"),
        _spec("relabel_sequential", "postprocess", _L, _L, "renumber labels 1..N"),
    ]
}


def step_names() -> list[str]:
    """All registered step names, sorted."""
    return sorted(STEPS)


@cache
def params_model(name: str) -> type[pydantic.BaseModel]:
    """Pydantic model of the user-settable parameters of step ``name``.

    Built from the function signature: the first (data) argument and the
    arguments the pipeline fills from its state are left out; unknown
    parameters are rejected.
    """
    spec = STEPS[name]
    sig = _signature(spec.function)
    filled = {p for p, _ in spec.state_kwargs} | {"spacing"}
    fields: dict[str, Any] = {}
    params = list(sig.parameters.values())[1:]
    for p in params:
        if p.name in filled or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = p.annotation
        if annotation is inspect.Parameter.empty or isinstance(annotation, str):
            annotation = Any
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (annotation, default)
    config = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    return pydantic.create_model(f"{name}_params", __config__=config, **fields)


def _signature(func: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(func, eval_str=True)
    except (NameError, TypeError):  # annotations that only exist for type checkers
        return inspect.signature(func)


def accepts_spacing(name: str) -> bool:
    """Whether the step's function takes a ``spacing`` argument."""
    return "spacing" in _signature(STEPS[name].function).parameters
