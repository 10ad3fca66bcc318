"""The :class:`Pipeline` object: an ordered list of named steps run on one image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biakit.axes import default_axes, to_canonical
from biakit.errors import PipelineError
from biakit.pipeline._config import PipelineConfig, StepConfig, load_config, parse_config
from biakit.pipeline._steps import STEPS, accepts_spacing


@dataclass(frozen=True)
class PipelineResult:
    """Output of :meth:`Pipeline.run` on one image.

    Attributes
    ----------
    labels : numpy.ndarray
        Instance labels (int32, 0 = background), same spatial shape as the input
        (with a leading T axis for time-lapse input).
    mask : numpy.ndarray
        Foreground mask (``labels > 0``).
    image : numpy.ndarray
        The pre-processed single-channel image the segmentation was made on.
    raw : numpy.ndarray
        The input channel before pre-processing (measure intensities on this).
    spacing : tuple of float
        Spatial pixel spacing (Z, Y, X or Y, X).
    axes : str
        Axes of ``labels`` (``"YX"``, ``"ZYX"``, ``"TYX"`` or ``"TZYX"``).

    """

    labels: np.ndarray
    mask: np.ndarray
    image: np.ndarray
    raw: np.ndarray
    spacing: tuple[float, ...]
    axes: str

    @property
    def n_objects(self) -> int:
        """Number of objects (over all frames for time-lapse)."""
        return int(np.unique(self.labels[self.labels > 0]).size)


DEFAULT_STEPS: list[dict[str, Any]] = [
    {"step": "gaussian", "sigma": 1.0},
    {"step": "threshold", "method": "otsu"},
    {"step": "fill_holes"},
    {"step": "split_touching"},
    {"step": "remove_small_objects", "min_size": 20},
    {"step": "relabel_sequential"},
]


class Pipeline:
    """A classical segmentation pipeline: pre-process, segment, post-process.

    Parameters
    ----------
    steps : sequence
        Steps as ``{"step": name, **params}`` dictionaries, ``(name, params)``
        pairs, bare names or :class:`StepConfig` objects.
    name : str
        Name used in reports.
    channel : int, optional
        Channel to segment when images have a ``C`` axis (default 0).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((64, 64), np.float32)
    >>> image[10:20, 10:20] = 1.0
    >>> image[40:55, 30:50] = 1.0
    >>> result = Pipeline.default().run(image)
    >>> result.n_objects
    2

    """

    def __init__(
        self,
        steps: Sequence[Any],
        *,
        name: str = "pipeline",
        channel: int | None = None,
    ) -> None:
        items = [_as_step_dict(s) for s in steps]
        self.config = parse_config({"name": name, "channel": channel, "steps": items})

    @classmethod
    def from_config(cls, config: PipelineConfig) -> Pipeline:
        """Build a pipeline from a validated config."""
        pipe = cls.__new__(cls)
        pipe.config = config
        return pipe

    @classmethod
    def from_yaml(cls, path: str | Path) -> Pipeline:
        """Read a pipeline from a YAML file (see :mod:`biakit.pipeline`)."""
        return cls.from_config(load_config(path))

    @classmethod
    def default(cls) -> Pipeline:
        """Smoothing, Otsu threshold, hole filling, touching-object split, size filter."""
        return cls(DEFAULT_STEPS, name="default")

    @property
    def steps(self) -> list[StepConfig]:
        """The validated steps."""
        return list(self.config.steps)

    def __repr__(self) -> str:
        names = ", ".join(s.step for s in self.config.steps)
        return f"Pipeline(name={self.config.name!r}, steps=[{names}])"

    def run(
        self,
        image: Any,
        *,
        axes: str | None = None,
        spacing: Sequence[float] | None = None,
    ) -> PipelineResult:
        """Run every step on one image.

        Parameters
        ----------
        image : array_like
            2D or 3D image, optionally with ``C`` and ``T`` axes named in ``axes``.
        axes : str, optional
            Axes of ``image`` (e.g. ``"TCZYX"``); by default ``"YX"`` or ``"ZYX"``.
        spacing : sequence of float, optional
            Physical spacing of the spatial axes; the config's ``spacing`` wins.

        Returns
        -------
        PipelineResult
            Labels, mask and pre-processed image.

        """
        array = np.asarray(image)
        if axes is None:
            if array.ndim not in (2, 3):
                raise PipelineError(
                    f"a {array.ndim}-D image needs explicit axes (e.g. axes='TCZYX'); got none"
                )
            axes = default_axes(array.ndim)
        array, axes = to_canonical(array, axes)
        if "C" in axes:
            array = _select_channel(array, axes, self.config.channel)
            axes = axes.replace("C", "")
        spatial = axes.replace("T", "")
        spacing = _resolve_spacing(self.config.spacing or spacing, spatial)
        if "T" in axes:
            frames = [self._run_spatial(frame, spacing) for frame in array]
            return PipelineResult(
                labels=np.stack([f.labels for f in frames]),
                mask=np.stack([f.mask for f in frames]),
                image=np.stack([f.image for f in frames]),
                raw=array,
                spacing=spacing,
                axes="T" + spatial,
            )
        result = self._run_spatial(array, spacing)
        return PipelineResult(result.labels, result.mask, result.image, array, spacing, spatial)

    def _run_spatial(self, image: np.ndarray, spacing: tuple[float, ...]) -> PipelineResult:
        state: dict[str, Any] = {"image": image.astype(np.float32, copy=False)}
        state["mask"] = state["labels"] = None
        for index, cfg in enumerate(self.config.steps, start=1):
            _apply_step(state, index, cfg, spacing)
        labels = state["labels"]
        if labels is None:
            if state["mask"] is None:
                raise PipelineError("the pipeline made no mask or labels; add a segmentation step")
            from biakit.segment import label

            labels = label(state["mask"])
        labels = np.asarray(labels).astype(np.int32, copy=False)
        axes = "ZYX"[-image.ndim :]
        return PipelineResult(labels, labels > 0, state["image"], image, spacing, axes)


def _apply_step(state: dict[str, Any], index: int, cfg: StepConfig, spacing: tuple) -> None:
    spec = STEPS[cfg.step]
    field = spec.reads
    if field == "objects":
        field = "labels" if state["labels"] is not None else "mask"
    if field == "labels" and state["labels"] is None and state["mask"] is not None:
        from biakit.segment import label  # a labels step after a mask: connected components

        state["labels"] = label(state["mask"])
    data = state[field]
    if data is None:
        raise PipelineError(
            f"step {index} ({cfg.step!r}) needs a {spec.reads} input but no earlier step made one; "
            "put a segmentation step such as 'threshold' before it"
        )
    kwargs = dict(cfg.params)
    if accepts_spacing(cfg.step):
        kwargs.setdefault("spacing", spacing)
    for param, source in spec.state_kwargs:
        kwargs[param] = state[source]
    out = np.asarray(spec.function(data, **kwargs))
    target = spec.writes
    if target == "auto":
        target = "mask" if out.dtype == bool else "labels"
    if target == "image":
        state["image"] = out
    elif target == "mask":
        state["mask"], state["labels"] = out.astype(bool, copy=False), None
    else:
        state["labels"], state["mask"] = out, out > 0


def _as_step_dict(step: Any) -> Any:
    if isinstance(step, StepConfig):
        return {"step": step.step, "params": step.params}
    if isinstance(step, tuple) and len(step) == 2:
        return {"step": step[0], "params": dict(step[1])}
    return step


def _select_channel(array: np.ndarray, axes: str, channel: int | None) -> np.ndarray:
    c_axis = axes.index("C")
    n = array.shape[c_axis]
    channel = 0 if channel is None else channel
    if channel >= n:
        raise PipelineError(f"channel {channel} requested but the image has {n} channel(s)")
    return np.take(array, channel, axis=c_axis)


def _resolve_spacing(spacing: Sequence[float] | None, spatial: str) -> tuple[float, ...]:
    if spacing is None:
        return (1.0,) * len(spatial)
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != len(spatial):
        raise PipelineError(
            f"spacing {spacing} has {len(spacing)} values "
            f"but the image has spatial axes {spatial!r}"
        )
    return spacing
